"""Step "sync": scanner triggers, their repair and the EEG clock fit."""

from __future__ import annotations

from typing import Any

from ..atomic import atomic_write_json
from ..errors import InputError
from ..progress import Progress
from .params import Param
from .spec import Figure, OutputFile, QCSpec, StepResult, StepSpec

TEACHING = (
    "The scanner sends a trigger at every volume (sometimes every slice). The EEG amplifier "
    "runs on its own clock, which drifts by some parts per million against the scanner's. "
    "This step finds the triggers, repairs missing/extra/duplicated ones, and fits "
    "t_EEG = alpha * t_MRI + beta robustly, so every slice's artifact can be placed with "
    "sub-sample precision. 10 ppm of drift over a 20-minute run is 12 ms: more than a "
    "whole slice at typical slice rates, which is why aligning only the first trigger fails."
)

PARAMS = (
    Param("tr", "float", None, "Nominal repetition time of the scanner. Auto: the BOLD sidecar's "
          "RepetitionTime; without one the median trigger spacing (then the drift cannot be measured).",
          label="TR", unit="s", minimum=0.05, maximum=30.0, optional=True),
    Param("volume_trigger", "str", None, "Marker name of the volume triggers (e.g. R128, Scanner/Scan Start). "
          "Auto: detected from the markers.", label="volume trigger", optional=True),
    Param("slice_trigger", "str", None, "Marker name of the slice triggers (e.g. Scanner/s), if the "
          "scanner sends them. Auto: detected.", label="slice trigger", optional=True),
    Param("slices_per_volume", "int", None, "Evenly spaced slices per TR, when the BOLD sidecar has no "
          "SliceTiming. Auto: from the sidecar or the slice triggers.", label="slices per volume",
          minimum=1, maximum=1024, optional=True),
    Param("n_volumes", "int", None, "Volumes the scanner acquired, to check the trigger count against. "
          "Auto: the length of the BOLD series when one is open.", label="expected volumes",
          minimum=1, maximum=10_000_000, optional=True),
)

#: a TR that disagrees with the trigger spacing by more than this is a wrong TR, not a drift
MAX_TR_MISMATCH_PPM = 1000.0

QC = (
    QCSpec("volume_trigger", "Volume trigger"),
    QCSpec("n_triggers", "Triggers found", fmt="d"),
    QCSpec("n_missing", "Triggers missing (repaired)", fmt="d", warn_above=0),
    QCSpec("n_extra", "Extra triggers (removed)", fmt="d", warn_above=0),
    QCSpec("n_duplicates", "Duplicated triggers", fmt="d", warn_above=0),
    QCSpec("tr_s", "TR", "s", ".4f"),
    QCSpec("n_slices", "Slices per volume", fmt="d"),
    QCSpec("multiband", "Multiband factor", fmt="d"),
    QCSpec("alpha", "Clock ratio α", fmt=".9f"),
    QCSpec("beta_s", "Clock offset β", "s", ".6f"),
    QCSpec("drift_ppm", "Clock drift", "ppm", ".2f", help="EEG clock rate minus scanner clock rate."),
    QCSpec("drift_us_per_s", "Clock drift", "µs/s", ".2f"),
    QCSpec("drift_ppm_ci", "Drift 95 % interval", "ppm", ".2f"),
    QCSpec("mismatch_ms", "Accumulated mismatch over the run", "ms", ".2f",
           help="How far apart the two clocks end up if the drift is ignored."),
    QCSpec("jitter_us", "Trigger jitter (RMS)", "µs", ".1f", warn_above=200.0),
    QCSpec("max_residual_us", "Largest trigger residual", "µs", ".1f"),
    QCSpec("n_outliers", "Triggers down-weighted as outliers", fmt="d"),
    QCSpec("n_input", "Trigger markers in the file", fmt="d"),
    QCSpec("n_expected", "BOLD volumes expected", fmt="d"),
    QCSpec("n_runs", "Runs", fmt="d"),
    QCSpec("tr_known", "Nominal TR known"),
    QCSpec("kind", "One trigger per"),
    QCSpec("slice_trigger", "Slice trigger"),
    QCSpec("n_slots", "Slice slots per volume", fmt="d"),
    QCSpec("slot_period_s", "Slot period", "s", ".4f"),
    QCSpec("dead_time_s", "Dead time per volume", "s", ".4f"),
    QCSpec("timing_source", "Slice timing from"),
    QCSpec("drift_ppm_true", "True drift", "ppm", ".2f"),
    QCSpec("drift_error_ppm", "Drift error vs truth", "ppm", ".3f", warn_above=1.0, warn_below=-1.0),
    QCSpec("beta_error_us", "Offset error vs truth", "µs", ".1f"),
)


def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
    """Find and repair the scanner triggers of the current EEG and fit its clock."""
    from ..sync.sync import marker_resolution, synchronise

    eeg = study.eeg  # a Raw, or a header with markers (a recording whose signal is not needed)
    meta = study.bold_meta or {}
    bold = study.bold
    n_expected = params["n_volumes"]
    if n_expected is None and bold is not None and len(getattr(bold, "shape", ())) == 4:
        n_expected = int(bold.shape[3])
    if hasattr(eeg, "n_times"):
        markers, duration = eeg, eeg.n_times / eeg.info["sfreq"]
    else:
        markers, duration = eeg.markers, eeg.duration
    # the markers sit on EEG samples: the clock fit allows for their rounding
    resolution = marker_resolution(eeg) if getattr(eeg, "marker_unit", "s") == "s" else 0.0
    progress(0.1, "finding scanner triggers")
    res = synchronise(
        markers,
        tr=params["tr"],
        volume=params["volume_trigger"],
        slice=params["slice_trigger"],
        sidecar=meta,
        slices_per_volume=params["slices_per_volume"],
        n_expected=n_expected,
        duration_s=duration,
        source=study.eeg_path,
        resolution=resolution,
    )
    qc = res.qc()
    messages = []
    if qc.get("tr_known", True):
        drift = qc.get("drift_ppm")
        if isinstance(drift, float) and abs(drift) > MAX_TR_MISMATCH_PPM:
            given = "the TR parameter" if params["tr"] is not None else "RepetitionTime of the BOLD sidecar"
            where = study.eeg_path if params["tr"] is not None else study.files.get("bold_json")
            raise InputError(where, f"{given} ({qc['tr_s']:.6g} s) contradicts the volume triggers, which are "
                                    f"{qc['alpha'] * qc['tr_s']:.6g} s apart ({drift:+.0f} ppm, far beyond any "
                                    "clock drift); check the TR")
    else:
        # without a nominal TR the drift cannot be told from the TR itself: say so, no number
        for key in ("drift_ppm", "drift_us_per_s", "drift_ppm_ci", "mismatch_ms"):
            qc[key] = None
        messages.append("the clock drift is not measurable without a nominal TR (give the TR or a BOLD "
                        "sidecar); the EEG clock is taken as exact")
    full = dict(qc)
    return StepResult(
        qc=qc,
        provides={"sync": res},
        files=[OutputFile("sync", "qc", ".json", lambda path: atomic_write_json(path, full), role="qc")],
        figures=[Figure("Scanner triggers and the clock fit", lambda: _figure(res),
                        "Top: interval between consecutive triggers (repaired ones marked). Bottom: "
                        "residual of each trigger from the fitted clock line, in µs.")],
        details={"sync": res},
        messages=messages,
    )


def _figure(res: Any) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import numpy as np
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(8, 4.5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1)
    train = res.train
    t = np.asarray(train.onsets, float)
    if t.size > 1:
        filled = np.asarray(train.filled, bool)
        dt = np.diff(t)
        ref = float(np.median(dt))
        dev = (dt - ref) * 1e6
        ax1.plot(t[1:], dev, ".", ms=3, label="recorded")
        if filled[1:].any():
            ax1.plot(t[1:][filled[1:]], dev[filled[1:]], "rx", ms=6, label="repaired")
            ax1.legend(loc="upper right", fontsize=8)
        ax1.set_ylabel("interval − median (µs)")
        ax1.set_title(f"Trigger intervals (median {ref * 1e3:.3f} ms; the EEG sample grid quantises them)")
        resid = np.zeros_like(t)
        for r in range(train.n_runs):
            sel = np.asarray(train.run) == r
            resid[sel] = (t[sel] - res.fit.eeg_time(np.asarray(train.index)[sel] * res.fit.tr_s, run=r)) * 1e6
        ax2.plot(t[~filled], resid[~filled], ".", ms=3)
        ax2.axhline(0, color="k", lw=0.5)
        ax2.set_ylabel("residual (µs)")
        ax2.set_xlabel("EEG time (s)")
        drift = f"drift {res.fit.drift_ppm:.2f} ppm" if res.fit.tr_known else "drift not measurable"
        ax2.set_title(f"Residuals from t_EEG = α·t_MRI + β ({drift})")
    return fig


SPEC = StepSpec(
    id="sync",
    title="Scanner sync",
    label="Sync",
    stage="sync",
    teaching=TEACHING,
    params=PARAMS,
    requires=("eeg",),
    optional=("bold",),
    provides=("sync",),
    run=run,
    qc=QC,
)
