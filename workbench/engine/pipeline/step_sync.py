"""Pipeline step "sync": scanner triggers, repair and the EEG clock fit (headless demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import atomic_write_json
from ..errors import InputError
from .registry import StepContext, StepSpec, register_step

HELP = (
    "The scanner sends a trigger at every volume (sometimes every slice). The EEG amplifier "
    "runs on its own clock, which drifts by some parts per million against the scanner's. "
    "This step finds the triggers, repairs missing/extra/duplicated ones, and fits "
    "t_EEG = alpha * t_MRI + beta robustly, so every slice's artifact can be placed with "
    "sub-sample precision."
)


def derivative_name(
    raw_path: Any, desc: str, suffix: str, ext: str, default: str = "sub-01"
) -> str:
    """BIDS-derivative file name ``<entities>_desc-<desc>_<suffix><ext>`` from the EEG file name."""
    stem = Path(str(raw_path)).name if raw_path else f"{default}_eeg"
    for e in (".vhdr", ".fif.gz", ".fif", ".edf", ".bdf", ".set"):
        if stem.endswith(e):
            stem = stem[: -len(e)]
    if stem.endswith("_eeg"):
        stem = stem[:-4]
    return f"{stem}_desc-{desc}_{suffix}{ext}"


def truth_clock(truth: Any) -> tuple[float | None, float | None]:
    """(alpha, beta) from the phantom's ground truth, when it carries them."""
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


def run_sync(
    ctx: StepContext, tr: float | None = None, volume: str | None = None, slice: str | None = None
) -> dict[str, Any]:  # noqa: A002
    from ..sync import synchronise

    raw = ctx.state.get("raw")
    if raw is None:
        raise InputError(None, "no EEG loaded: the sync step needs a recording")
    meta = ctx.state.get("bold_meta") or {}
    bold = ctx.state.get("bold")
    n_expected = (
        int(bold.shape[3]) if bold is not None and len(getattr(bold, "shape", ())) == 4 else None
    )
    res = synchronise(
        raw,
        tr=tr,
        volume=volume,
        slice=slice,
        sidecar=meta,
        n_expected=n_expected,
        duration_s=raw.n_times / raw.info["sfreq"],
        source=ctx.state.get("raw_path"),
    )
    ctx.state["sync"] = res
    qc = res.qc()
    a_true, b_true = truth_clock(ctx.state.get("truth"))
    if a_true is not None:
        qc["drift_ppm_true"] = (a_true - 1) * 1e6
        qc["drift_error_ppm"] = qc["drift_ppm"] - qc["drift_ppm_true"]
        if b_true is not None:
            qc["beta_error_us"] = (qc["beta_s"] - b_true) * 1e6
    out = Path(ctx.out_dir) / derivative_name(ctx.state.get("raw_path"), "sync", "eeg", ".json")
    atomic_write_json(out, qc)
    report = ctx.state.get("report")
    if report is not None:
        from ..report import add_qc_table, add_text

        add_text(report, "Scanner synchronisation", HELP, section="Sync")
        keys = (
            "volume_trigger",
            "slice_trigger",
            "n_triggers",
            "n_missing",
            "n_extra",
            "n_duplicates",
            "tr_s",
            "n_slices",
            "multiband",
            "alpha",
            "beta_s",
            "drift_ppm",
            "drift_ppm_ci",
            "mismatch_ms",
            "jitter_us",
            "drift_ppm_true",
            "drift_error_ppm",
            "beta_error_us",
        )
        add_qc_table(report, "Clock fit", {k: qc[k] for k in keys if k in qc}, section="Sync")
    if ctx.project is not None:
        ctx.project.record_step(
            "sync",
            {"tr": tr, "volume": volume, "slice": slice},
            inputs=[p for p in [ctx.state.get("raw_path")] if p],
            outputs=[out],
            qc=qc,
        )
    return qc


register_step(StepSpec(name="sync", stage="sync", run=run_sync, title="Scanner sync", help=HELP))
