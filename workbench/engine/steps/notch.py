"""Step "notch": line noise (50/60 Hz and harmonics) removed with MNE's notch filter."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..atomic import atomic_write_json
from ..errors import InputError
from ..progress import Progress
from .params import Param
from .spec import Figure, OutputFile, QCSpec, StepResult, StepSpec

TEACHING = (
    "Mains power leaks into every lead at 50 Hz (Europe, Asia) or 60 Hz (the Americas) and its "
    "harmonics. A notch filter removes a narrow band around each; the mains frequency is read from "
    "the spectrum (the stronger peak of the two over its neighbours) unless given. The spectrum "
    "should lose its narrow peaks and keep everything else."
)

PARAMS = (
    Param("line_freq", "float", None, "Mains frequency (Hz); 'auto' picks 50 or 60 Hz from the "
          "spectrum (no filtering when neither stands out).", unit="Hz", minimum=10.0, maximum=500.0,
          optional=True, none_label="auto", label="line frequency"),
    Param("max_freq", "float", 250.0, "Highest harmonic notched (Hz); harmonics at or above "
          "Nyquist are skipped.", unit="Hz", minimum=10.0, maximum=5000.0, label="up to"),
    Param("method", "choice", "fir", "'fir': MNE's zero-phase FIR notch (fast, removes a ~1 Hz "
          "band); 'spectrum_fit': MNE's sinusoid fitting (removes only the line, slower).",
          choices=("fir", "spectrum_fit"), label="notch method"),
)

QC = (
    QCSpec("line_freq_hz", "Line frequency", "Hz", ".0f"),
    QCSpec("line_detected", "Detected from the spectrum"),
    QCSpec("n_harmonics", "Frequencies notched", fmt="d"),
    QCSpec("line_peak_before_db", "Line peak before", "dB", ".1f",
           help="Power at the line frequency over the median of its ±3 Hz neighbours."),
    QCSpec("line_peak_after_db", "Line peak after", "dB", ".1f", warn_above=3.0),
    QCSpec("power_kept_1_40", "1-40 Hz power kept", "", ".3f", warn_below=0.9, warn_above=1.1),
)

#: the mains peak must stand this far above its ±1-3 Hz neighbours (dB) ...
MIN_PEAK_DB = 10.0
#: ... and this far above the other candidate frequency (dB) to be detected
MIN_MARGIN_DB = 6.0
#: channel types filtered
FILTERED_TYPES = ("eeg", "eog", "ecg", "emg")


def line_peaks(data: np.ndarray, sfreq: float, freqs: tuple[float, ...] = (50.0, 60.0)) -> dict[float, float]:
    """Peak (dB) of each candidate line frequency over the median power of its ±3 Hz neighbours.

    Welch spectrum (4 s windows, mean over channels) of at most 120 s of data.
    """
    from scipy import signal

    x = np.asarray(data, float)[:, : int(120 * sfreq)]
    nper = int(min(x.shape[1], 4 * sfreq))
    f, p = signal.welch(x, sfreq, nperseg=nper, axis=-1)
    p = p.mean(axis=0)
    out = {}
    for lf in freqs:
        if lf >= sfreq / 2 - 3:
            continue
        at = (f >= lf - 0.3) & (f <= lf + 0.3)
        near = (np.abs(f - lf) <= 3.0) & (np.abs(f - lf) >= 1.0)
        if not at.any() or not near.any():
            continue
        out[lf] = float(10 * np.log10(p[at].max() / max(np.median(p[near]), 1e-300)))
    return out


def _band_power(x: np.ndarray, sf: float, lo: float, hi: float) -> float:
    from scipy import signal

    f, p = signal.welch(x[:, : int(120 * sf)], sf, nperseg=int(min(x.shape[1], 4 * sf)), axis=-1)
    sel = (f >= lo) & (f <= hi)
    return float(p[:, sel].sum())


def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
    """Notch the mains frequency and its harmonics of the study's current EEG."""
    from ..cardiac.rerun import drop_replaced, input_eeg

    before = input_eeg(study, "notch")  # a re-run replaces the previous run (Apply in the views)
    sf = float(before.info["sfreq"])
    types = before.get_channel_types()
    picks = np.array([i for i, t in enumerate(types) if t in FILTERED_TYPES], int)
    if len(picks) == 0:
        raise InputError(study.eeg_path, "no EEG channels to filter")
    progress(0.05, "line frequency")
    data = before.get_data(picks=picks)
    peaks = line_peaks(data, sf)
    messages: list[str] = []
    lf = params["line_freq"]
    detected = lf is None
    if lf is None:
        if not peaks:
            raise InputError(study.eeg_path, f"sampling rate {sf:g} Hz too low to see 50/60 Hz line noise")
        lf = max(peaks, key=peaks.get)
        other = max([v for k, v in peaks.items() if k != lf], default=-np.inf)
        # mains stands out of its neighbours and is clearly stronger than the other candidate
        # (after gradient correction both can show as lines of the volume comb, a few dB high)
        if peaks[lf] < MIN_PEAK_DB or peaks[lf] - other < MIN_MARGIN_DB:
            messages.append(f"no line noise stands out (50 Hz: {peaks.get(50.0, float('nan')):.1f} dB, 60 Hz: "
                            f"{peaks.get(60.0, float('nan')):.1f} dB over their neighbours): nothing filtered; "
                            "give --line-freq to filter anyway")
            lf = None
    if lf is not None and lf >= sf / 2:
        raise InputError(study.eeg_path, f"line frequency {lf:g} Hz is above Nyquist ({sf / 2:g} Hz)")
    out = before.copy().load_data()
    freqs = np.arange(lf, min(params["max_freq"], sf / 2 - 1.0) + 1e-9, lf) if lf is not None else np.zeros(0)
    if len(freqs):
        progress(0.2, f"notch at {', '.join(f'{f:g}' for f in freqs[:4])}{'...' if len(freqs) > 4 else ''} Hz")
        out.notch_filter(freqs, picks=picks, method=params["method"], verbose="error")
    after = out.get_data(picks=picks)
    qc: dict[str, Any] = {"line_freq_hz": float(lf) if lf is not None else None, "line_detected": bool(detected and lf is not None),
                          "n_harmonics": int(len(freqs))}
    if lf is not None:
        qc["line_peak_before_db"] = line_peaks(data, sf, (lf,)).get(lf)
        qc["line_peak_after_db"] = line_peaks(after, sf, (lf,)).get(lf)
    qc["power_kept_1_40"] = _band_power(after, sf, 1, 40) / max(_band_power(data, sf, 1, 40), 1e-300)
    qc = {k: v for k, v in qc.items() if v is not None}
    drop_replaced(study, "notch")  # succeeded: the new version replaces the previous run's
    return StepResult(
        qc=qc,
        provides={"eeg": out},
        files=[
            OutputFile("notch", "eeg", ".fif", lambda path: _write(out, path), role="eeg"),
            OutputFile("notch", "qc", ".json", lambda path: atomic_write_json(path, qc), role="qc"),
        ],
        figures=[Figure("Spectrum before / after the notch", lambda: _psd(data, after, sf, freqs),
                        "Mean over channels; notched frequencies marked.")],
        details={"notch": {"freqs": freqs, "peaks_db": peaks}, "before": before},
        messages=messages,
    )


def _write(raw: Any, path: Any) -> None:
    from ..gradient.export import write_raw

    write_raw(raw, path)


def _psd(before: np.ndarray, after: np.ndarray, sf: float, freqs: np.ndarray) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from scipy import signal

    fig, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
    for x, lab, col in ((before, "before", "0.55"), (after, "after", "C0")):
        f, p = signal.welch(x[:, : int(120 * sf)], sf, nperseg=int(min(x.shape[1], 4 * sf)), axis=-1)
        sel = f <= min(sf / 2, max(freqs.max() + 20 if len(freqs) else 100, 100))
        ax.semilogy(f[sel], np.sqrt(p[:, sel].mean(0)) * 1e6, color=col, lw=0.8, label=lab)
    for f0 in freqs:
        ax.axvline(f0, color="C3", lw=0.5, ls="--")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("µV/√Hz")
    ax.legend()
    return fig


SPEC = StepSpec(
    id="notch",
    title="Line noise",
    stage="cleanup",
    teaching=TEACHING,
    params=PARAMS,
    requires=("eeg",),
    provides=("eeg",),
    run=run,
    qc=QC,
    order=0.0,
)
