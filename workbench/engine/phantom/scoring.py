"""Scoring a step's result against the phantom's ground truth (after the step ran).

The runner calls :func:`score_step` when the study carries a
:class:`~workbench.engine.phantom.truth.GroundTruth`; no step and no algorithm ever sees
the truth. Each scorer returns scalar QC values (units in the key names) that the
runner records beside the step's own QC and shows in a separate "against the truth"
table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["score_step", "score_gradient", "score_cardiac", "TruthEEG", "truth_clock", "SCORERS"]


class TruthEEG:
    """Phantom truth seen as a Raw-like object: ``get_data(picks=names, start, stop)``.

    ``kind="gradient_free"`` is the recording minus the true gradient artifact and line
    noise (what a perfect gradient step leaves: BCG, blinks and drifts are still there;
    mains at a multiple of 1/TR is locked to the volume comb, so subtracting the
    scanner-locked template removes it too); ``kind="clean"`` is the true clean EEG.
    """

    def __init__(self, truth: Any, kind: str = "gradient_free") -> None:
        self.truth, self.kind = truth, kind
        self.ch_names = list(truth.ch_names)

    def get_data(self, picks: list[str], start: int = 0, stop: int | None = None) -> np.ndarray:
        missing = [n for n in picks if n not in self.ch_names]
        if missing:
            raise InputError(None, f"the ground truth lacks channels {missing[:5]}")
        idx = [self.ch_names.index(n) for n in picks]
        arrays = self.truth.arrays
        if self.kind == "clean":
            return np.asarray(arrays["clean"][idx, start:stop], np.float64)
        out = np.zeros((len(idx), (stop or arrays["clean"].shape[1]) - start))
        for k, a in arrays.items():
            if k not in ("gradient", "line"):
                out += np.asarray(a[idx, start:stop], np.float64)
        return out


def truth_clock(truth: Any) -> tuple[float | None, float | None]:
    """(alpha, beta) of ``t_EEG = alpha * t_MRI + beta`` from the ground truth."""
    for obj in (truth, getattr(truth, "index", None), getattr(truth, "meta", None)):
        if obj is None:
            continue
        get = obj.get if isinstance(obj, dict) else (lambda k, o=obj: getattr(o, k, None))
        a, b = get("alpha"), get("beta")
        if a is None:
            clock = get("clock")
            if isinstance(clock, dict):
                a, b = clock.get("alpha"), clock.get("beta")
        if a is not None:
            return float(a), (None if b is None else float(b))
    return None, None


def _score_sync(study: Any, result: Any) -> dict[str, Any]:
    a_true, b_true = truth_clock(study.truth)
    out: dict[str, Any] = {}
    qc = result.qc
    if a_true is not None and isinstance(qc.get("drift_ppm"), int | float):
        out["drift_ppm_true"] = (a_true - 1) * 1e6
        out["drift_error_ppm"] = qc["drift_ppm"] - out["drift_ppm_true"]
        if b_true is not None and isinstance(qc.get("beta_s"), int | float):
            out["beta_error_us"] = (qc["beta_s"] - b_true) * 1e6
    return out


def score_gradient(res: Any, truth: Any, kind: str = "gradient_free") -> dict[str, Any]:
    """NRMSE and correlation of a gradient correction against the truth.

    Parameters
    ----------
    res : GradientResult
        The correction (its ``raw`` is the corrected recording).
    truth : GroundTruth | Raw-like | ndarray
        The phantom truth, a Raw-like truth with the same channel names, or an array
        shaped like the EEG channels of the recording.
    kind : str
        ``"gradient_free"`` (the recording without gradient and line noise) or ``"clean"``.

    Returns
    -------
    dict
        ``nrmse``, ``nrmse_median_channel``, ``correlation`` and ``truth_per_channel``,
        over the scanning period, the truth low-passed like the output.
    """
    import mne

    from ..gradient.qc import truth_qc

    raw = res.raw
    eeg = mne.pick_types(raw.info, eeg=True, exclude="bads")
    names = [raw.ch_names[i] for i in eeg]
    s0, s1 = res.scan_span
    if hasattr(truth, "arrays") and hasattr(truth, "ch_names"):
        truth = TruthEEG(truth, kind)
    if not hasattr(truth, "get_data"):
        arr = np.asarray(truth)
        if arr.shape[0] != len(names):
            raise InputError(None, f"truth has {arr.shape[0]} rows; expected {len(names)} EEG channels")
    sfreq = float(raw.info["sfreq"])
    # a few channels at a time (every measure is per channel; the totals are sums): the whole
    # float64 truth, its filtered copy, the output and truth_qc's centred copies at once were
    # ~7 copies of the recording, 2.3 GB of a 240 s 34-channel 5 kHz batch subject's peak
    nrmse_ch: list[float] = []
    corr_ch: list[float] = []
    tt: list[float] = []
    block = 4
    for b0 in range(0, len(names), block):
        if hasattr(truth, "get_data"):
            t = truth.get_data(picks=names[b0:b0 + block], start=s0, stop=s1)
        else:
            t = np.asarray(arr[b0:b0 + block, s0:s1], np.float64)
        if res.params.lowpass is not None:
            t = mne.filter.filter_data(t.astype(np.float64), sfreq, None, res.params.lowpass, verbose=False)
        q = truth_qc(raw.get_data(picks=eeg[b0:b0 + block], start=s0, stop=s1), t)
        nrmse_ch += q["per_channel"]["nrmse"]
        corr_ch += q["per_channel"]["correlation"]
        tt += list(((t - t.mean(axis=1, keepdims=True)) ** 2).sum(axis=1))
    w = np.asarray(tt)
    return {"nrmse": float(np.sqrt((np.asarray(nrmse_ch) ** 2 * np.maximum(w, 1e-30)).sum() / max(w.sum(), 1e-30))),
            "nrmse_median_channel": float(np.median(nrmse_ch)), "correlation": float(np.mean(corr_ch)),
            "truth_per_channel": {"nrmse": nrmse_ch, "correlation": corr_ch}}


def _score_gradient(study: Any, result: Any) -> dict[str, Any]:
    res = result.details.get("gradient")
    truth = study.truth
    if res is None or not (hasattr(truth, "arrays") and hasattr(truth, "ch_names")):
        return {}
    tq = score_gradient(res, truth)
    res.qc["truth_per_channel"] = tq.pop("truth_per_channel")  # for the per-channel view
    return tq


def _true_electrodes(truth: Any, names: list[str]) -> np.ndarray | None:
    meta = getattr(truth, "meta", None) or {}
    el = (meta.get("dig_true_head_m") or {}).get("electrodes")
    if not el:
        return None
    try:
        return np.array([el[n] for n in names], float)
    except KeyError:
        return None


def _score_coreg(study: Any, result: Any) -> dict[str, Any]:
    co = result.details.get("coreg")
    true_t = getattr(study.truth, "head_mri_t", None)
    if co is None or true_t is None:
        return {}
    full = co.qc(np.asarray(true_t, float), _true_electrodes(study.truth, co.dig.eeg_names))
    keys = ("rotation_error_deg", "translation_error_mm", "tre_mean_mm", "tre_max_mm")
    return {k: full[k] for k in keys if k in full}


def _score_parametric_modulation(study: Any, result: Any) -> dict[str, Any]:
    fres = result.details.get("fusion")
    if fres is None:
        return {}
    try:
        from .score_fusion import score_parametric_modulation
    except ImportError:
        score_parametric_modulation = _pm_truth_qc
    return score_parametric_modulation(fres, study.truth, fres.qc.get("condition", ""))


def _pm_truth_qc(result: Any, truth: Any, condition: str) -> dict[str, Any]:
    """Localisation QC of a parametric-modulation result against phantom ground truth.

    For each source with an activation mask: mean z of the main and modulator contrasts
    in its mask; the distance (mm) from each map's peak to the nearest voxel of the
    condition's task source mask; the correlation of the EEG feature with the true
    trial amplitudes.
    """
    out: dict[str, Any] = {}
    sources = getattr(truth, "sources", None) or []
    z_main = np.asarray(result.maps["z_main"].dataobj, float)
    z_mod = np.asarray(result.maps["z_modulator"].dataobj, float)
    affine = result.maps["z_main"].affine
    target = None
    for src in sources:
        if not src.get("mask"):
            continue
        try:
            m = np.asarray(truth.load(f"masks/{src['name']}").dataobj) > 0
        except (OSError, KeyError, ValueError):  # a missing mask file only removes that row
            continue
        if m.shape != z_main.shape or not m.any():
            continue
        name = src["name"]
        out[f"z_main_mean_in_{name}"] = float(z_main[m].mean())
        out[f"z_modulator_mean_in_{name}"] = float(z_mod[m].mean())
        if src.get("role") == "task" and src.get("condition") == condition:
            target = m
    if target is not None:
        tgt = np.argwhere(target) @ affine[:3, :3].T + affine[:3, 3]
        for key, z in (("main", z_main), ("modulator", z_mod)):
            peak = np.array(np.unravel_index(int(np.argmax(z)), z.shape))
            xyz = affine[:3, :3] @ peak + affine[:3, 3]
            out[f"peak_distance_{key}_mm"] = float(np.min(np.linalg.norm(tgt - xyz, axis=1)))
    tev = getattr(truth, "events", None)
    feats = [row["feature"] for row in result.tables.get("trials", [])]
    if isinstance(tev, dict) and "amplitude" in tev and "condition" in tev:
        cond = np.asarray(tev["condition"]).astype(str)
        amps = np.asarray(tev["amplitude"], float)[cond == condition]
        if len(feats) == len(amps) and len(amps) > 2:
            out["feature_vs_true_amplitude_r"] = float(np.corrcoef(feats, amps)[0, 1])
    return out


def score_cardiac(study: Any, result: Any, band: tuple[float, float] = (0.5, 40.0)) -> dict[str, Any]:
    """R-peak F1 (±10 ms) and NRMSE of the BCG-corrected EEG against the phantom's truth.

    The target is the recording without gradient, line noise and BCG (clean EEG + blinks +
    drifts); both are band-passed to ``band`` (so the gradient step's low-pass and its small
    slice-harmonic residue weigh the same for every method). ``nrmse_before`` scores the
    EEG the step received, ``nrmse_aas``/``nrmse_obs`` each method the step ran.
    """
    from scipy import signal

    from ..cardiac.qc import match_beats

    card = result.details.get("cardiac")
    truth = study.truth
    out: dict[str, Any] = {}
    if card is None or not hasattr(truth, "arrays"):
        return out
    t_true = np.asarray(truth.rpeaks, float)
    n = card.before.n_times
    sf = float(card.before.info["sfreq"])
    t_true = t_true[(t_true >= 0) & (t_true <= (n - 1) / sf)]
    m = match_beats(card.rpeaks.times, t_true, 0.01)
    out.update({"rpeak_f1": m["f1"], "rpeak_sensitivity": m["sensitivity"], "rpeak_precision": m["precision"],
                "rpeak_error_ms": m["mean_abs_error_ms"]})
    names = [card.before.ch_names[i] for i in card.picks]
    keep = [i for i, nm in enumerate(names) if nm in truth.ch_names]
    if not keep:
        return out
    rows = [truth.ch_names.index(names[i]) for i in keep]
    sos = signal.butter(3, band, "bandpass", fs=sf, output="sos")
    main = card.bcg.params.method
    # a few channels at a time, sums accumulated: the whole-recording float64 target, its
    # filtered copy, the input and each method's output (sosfiltfilt pads and copies) held at
    # once were ~8 copies of the recording, 2.6 GB of a 240 s 34-channel 5 kHz batch subject's
    # 4.6 GB peak; per block the memory is that of BLOCK channels. Same numbers (summation order).
    err = {k: 0.0 for k in ("before", *card.compared)}
    den2, s_a, s_t, s_aa, s_tt, s_at = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    block = 4
    for b0 in range(0, len(keep), block):
        kb = keep[b0:b0 + block]
        target = np.zeros((len(kb), n))
        for k, a in truth.arrays.items():
            if k not in ("gradient", "line", "bcg"):
                target += np.asarray(a[rows[b0:b0 + block], :n], np.float64)
        tf = signal.sosfiltfilt(sos, target, axis=-1)
        del target
        den2 += float((tf ** 2).sum())
        before = card.before.get_data(picks=[int(card.picks[i]) for i in kb])
        err["before"] += float(((signal.sosfiltfilt(sos, before, axis=-1) - tf) ** 2).sum())
        for meth, c in card.compared.items():
            f = signal.sosfiltfilt(sos, before - c["artifact"][kb], axis=-1)
            err[meth] += float(((f - tf) ** 2).sum())
            if meth == main:  # correlation of the chosen method's output with the truth (all samples)
                s_a, s_t = s_a + float(f.sum()), s_t + float(tf.sum())
                s_aa, s_tt, s_at = s_aa + float((f * f).sum()), s_tt + float((tf * tf).sum()), s_at + float((f * tf).sum())
    den = max(float(np.sqrt(den2)), 1e-300)
    out["nrmse_before"] = float(np.sqrt(err["before"]) / den)
    for meth in card.compared:
        out[f"nrmse_{meth}"] = float(np.sqrt(err[meth]) / den)
    out["nrmse"] = out[f"nrmse_{main}"]
    N = float(len(keep) * n)
    cov = s_at - s_a * s_t / N
    out["correlation"] = float(cov / np.sqrt(max((s_aa - s_a**2 / N) * (s_tt - s_t**2 / N), 1e-300)))
    return out


def _score_cardiac(study: Any, result: Any) -> dict[str, Any]:
    return score_cardiac(study, result)


def _score_fmri_source(study: Any, result: Any) -> dict[str, Any]:
    """Localisation error and spatial dispersion of each fmri-source variant (mm).

    For every role source of the result's condition, at the latency of its largest evoked
    peak: the distance from each variant's peak source to the true position
    (``loc_error_mm_<source>_<variant>``) and the amplitude-weighted RMS distance of the
    whole source map from it (``dispersion_mm_<source>_<variant>``, Molins et al. 2008).
    For the ``eeg_invisible`` source (no scalp field), the distance of each variant's peak
    from it (``peak_distance_mm_<source>_<variant>``): no variant should put the EEG
    source there.
    """
    fres = result.details.get("fusion")
    live = getattr(fres, "live", None) or {}
    if fres is None or "amplitudes" not in live:
        return {}
    cond = fres.qc.get("condition")
    times = np.asarray(live["times"], float)
    pos = np.asarray(live["pos_mri"], float)
    out: dict[str, Any] = {}
    for src in getattr(study.truth, "sources", None) or []:
        if src.get("condition") != cond or not src.get("evoked_peaks_s"):
            continue
        lat = max(src["evoked_peaks_s"], key=lambda pk: abs(pk[2]))[0]
        i = int(np.argmin(np.abs(times - lat)))
        true = np.asarray(src["pos_mri_m"], float)
        d = np.linalg.norm(pos - true, axis=1) * 1e3
        for variant, amps in live["amplitudes"].items():
            a = np.asarray(amps)[:, i]
            k = int(np.argmax(a))
            if src.get("role") == "eeg_invisible":
                out[f"peak_distance_mm_{src['name']}_{variant}"] = float(d[k])
            else:
                out[f"loc_error_mm_{src['name']}_{variant}"] = float(d[k])
                out[f"dispersion_mm_{src['name']}_{variant}"] = float(np.sqrt(np.sum(a**2 * d**2) / max(np.sum(a**2), 1e-300)))
    return out


#: step id -> scorer(study, result) -> dict of truth QC
SCORERS: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "sync": _score_sync,
    "gradient": _score_gradient,
    "coreg": _score_coreg,
    "parametric-modulation": _score_parametric_modulation,
    "cardiac": _score_cardiac,
    "fmri-source": _score_fmri_source,
}


def score_step(step_id: str, study: Any, result: Any) -> dict[str, Any]:
    """Truth QC of one step's result (empty when the step has no scorer or no truth)."""
    fn = SCORERS.get(step_id)
    if fn is None or study.truth is None:
        return {}
    out = fn(study, result)
    return {k: v for k, v in out.items() if not (isinstance(v, float) and not np.isfinite(v))}
