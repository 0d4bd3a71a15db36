"""Pipeline step "gradient": gradient-artifact correction of ``ctx.state["raw"]`` (headless demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .registry import StepContext, StepSpec, register_step
from .step_sync import derivative_name

HELP = (
    "Every slice the scanner acquires induces a millivolt-sized artifact in the EEG, a hundred "
    "times the brain signal. Because the scanner repeats itself exactly, the artifact of each "
    "volume is estimated by averaging the same slice slot of neighbouring volumes, aligned to a "
    "fraction of a sample, fitted in amplitude and subtracted; a 70 Hz low-pass removes what is "
    "left at high frequencies. The spectrum should lose its peaks at the slice-rate harmonics "
    "while the 1-40 Hz EEG power stays."
)

_SCALARS = (
    "n_volumes",
    "n_corrected_channels",
    "skipped_channels",
    "f_slice_hz",
    "harmonic_fmax_hz",
    "harmonic_rms_before_uv",
    "harmonic_rms_after_uv",
    "harmonic_reduction_db",
    "comb_rms_before_uv",
    "comb_rms_after_uv",
    "comb_reduction_db",
    "power_kept_1_40",
    "nrmse",
    "nrmse_median_channel",
    "correlation",
    "max_shift_samples",
    "seconds",
)


class _TruthView:
    """Phantom truth seen as a Raw-like object: ``get_data(picks=names, start, stop)``.

    ``kind="gradient_free"`` is the recording minus the true gradient artifact and line
    noise (what a perfect gradient step leaves: BCG, blinks and drifts are still there;
    mains at a multiple of 1/TR is locked to the volume comb, so subtracting the
    scanner-locked template removes it too);
    ``kind="clean"`` is the true clean EEG.
    """

    def __init__(self, truth: Any, kind: str = "gradient_free") -> None:
        self.truth, self.kind = truth, kind
        self.ch_names = list(truth.ch_names)

    def get_data(self, picks: list[str], start: int = 0, stop: int | None = None) -> np.ndarray:
        idx = [self.ch_names.index(n) for n in picks]
        arrays = self.truth.arrays
        if self.kind == "clean":
            return np.asarray(arrays["clean"][idx, start:stop], np.float64)
        out = np.zeros((len(idx), (stop or arrays["clean"].shape[1]) - start))
        for k, a in arrays.items():
            if k not in ("gradient", "line"):
                out += np.asarray(a[idx, start:stop], np.float64)
        return out


def truth_eeg(truth: Any, raw: Any, kind: str = "gradient_free") -> Any:
    """The truth to score the gradient step against, from the phantom's ground truth."""
    if truth is None:
        return None
    if hasattr(truth, "arrays") and hasattr(truth, "ch_names"):
        if all(n in truth.ch_names for n in _eeg_names(raw)):
            return _TruthView(truth, kind)
        return None
    for key in ("clean_eeg", "eeg_clean"):
        obj = truth.get(key) if isinstance(truth, dict) else getattr(truth, key, None)
        if obj is not None and (hasattr(obj, "get_data") or isinstance(obj, np.ndarray)):
            return obj
    return None


def _eeg_names(raw: Any) -> list[str]:
    import mne

    return [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True, exclude="bads")]


def compact_qc(qc: dict[str, Any]) -> dict[str, Any]:
    """The scalar QC (for the project file and the report table)."""
    out = {k: qc[k] for k in _SCALARS if k in qc}
    s = qc.get("sync", {})
    for k in ("tr_s", "n_slices", "n_slots", "multiband", "timing_source", "drift_ppm"):
        if k in s:
            out[k] = s[k]
    return out


def run_gradient(
    ctx: StepContext,
    window: int = 20,
    align: bool = True,
    amplitude_fit: bool = True,
    wiener: bool = True,
    window_lf: int | None = 60,
    obs: bool = False,
    lowpass: float | None = 70.0,
) -> dict[str, Any]:
    import time

    from ..gradient import GradientParams, remove_gradient
    from ..gradient.export import write_raw

    raw = ctx.state.get("raw")
    if raw is None:
        raise InputError(None, "no EEG loaded: the gradient step needs a recording")
    params = GradientParams(
        window=window,
        align=align,
        amplitude_fit=amplitude_fit,
        wiener=wiener,
        window_lf=window_lf,
        obs=obs,
        lowpass=lowpass,
    )
    p = ctx.progress
    t0 = time.perf_counter()
    res = remove_gradient(
        raw,
        params=params,
        sync=ctx.state.get("sync"),
        sidecar=ctx.state.get("bold_meta"),
        truth=truth_eeg(ctx.state.get("truth"), raw),
        source=ctx.state.get("raw_path"),
        progress=p.sub(0.0, 0.8),
    )
    qc = compact_qc(res.qc)
    qc["seconds"] = time.perf_counter() - t0
    out_dir = Path(ctx.out_dir)
    fif = out_dir / derivative_name(ctx.state.get("raw_path"), "gradclean", "eeg", ".fif")
    p(0.82, "writing the cleaned EEG")
    write_raw(res.raw, fif)
    from ..atomic import atomic_write_json

    qc_file = out_dir / derivative_name(ctx.state.get("raw_path"), "gradclean", "qc", ".json")
    atomic_write_json(qc_file, res.qc)
    report = ctx.state.get("report")
    if report is not None:
        p(0.9, "report figures")
        _report(report, raw, res, qc)
    ctx.state["raw_before_gradient"] = raw
    ctx.state["raw"] = res.raw
    ctx.state["gradient"] = res
    if ctx.project is not None:
        ctx.project.record_step(
            "gradient",
            {
                "window": window,
                "align": align,
                "amplitude_fit": amplitude_fit,
                "wiener": wiener,
                "window_lf": window_lf,
                "obs": obs,
                "lowpass": lowpass,
            },
            inputs=[x for x in [ctx.state.get("raw_path")] if x],
            outputs=[fif, qc_file],
            qc=qc,
        )
    p(1.0, "gradient done")
    return qc


def _report(report: Any, raw: Any, res: Any, qc: dict[str, Any]) -> None:
    import mne

    from ..gradient.figures import psd_figure, template_figure
    from ..report import add_figure, add_qc_table, add_text

    add_text(report, "Gradient artifact", HELP, section="Gradient")
    add_qc_table(report, "Gradient QC", qc, section="Gradient")
    eeg = mne.pick_types(raw.info, eeg=True, exclude="bads")
    s0, s1 = res.scan_span
    s1 = min(s1, s0 + int(60 * raw.info["sfreq"]))
    sf = raw.info["sfreq"]
    f_slice = res.qc.get("f_slice_hz", 0.0)
    fmax = 0.9 * res.params.lowpass if res.params.lowpass else 250.0
    fig = psd_figure(
        raw.get_data(picks=eeg, start=s0, stop=s1),
        res.raw.get_data(picks=eeg, start=s0, stop=s1),
        sf,
        f_slice,
        res.sync.fit.tr_s,
        fmax=max(fmax, 3 * f_slice),
    )
    add_figure(report, fig, "Spectrum before / after", section="Gradient")
    ch = (
        int(eeg[int(np.argmax(res.qc["per_channel"]["harmonic_before_uv"]))])
        if len(eeg)
        else res.picks[0]
    )
    v = res.schedule.n_volumes // 2
    fig = template_figure(
        raw.get_data(picks=[ch])[0],
        res.schedule,
        v,
        sf,
        res.schedule.slot_offsets,
        raw.ch_names[ch],
        res.params.aas(),
    )
    add_figure(report, fig, "Template and aligned epochs", section="Gradient")
    pc = res.qc["per_channel"]
    rows = {
        n: f"{b:.1f} → {a:.2f} µV ({d:.1f} dB), kept {k:.2f}"
        for n, b, a, d, k in zip(
            pc["names"],
            pc["harmonic_before_uv"],
            pc["harmonic_after_uv"],
            pc["reduction_db"],
            pc["power_kept_1_40"],
        )
    }
    add_qc_table(report, "Per-channel harmonic residual", rows, section="Gradient")


register_step(
    StepSpec(
        name="gradient",
        stage="gradient",
        run=run_gradient,
        title="Gradient artifact",
        help=HELP,
        defaults={
            "window": 20,
            "align": True,
            "amplitude_fit": True,
            "wiener": True,
            "window_lf": 60,
            "obs": False,
            "lowpass": 70.0,
        },
    )
)
