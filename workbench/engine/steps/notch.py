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
#: (measured after gradient correction on phantoms with 50 or 60 Hz mains, TR 1.5-2 s, 20-32
#: slices: mains 9.4-13.1 dB; residue lines of the volume comb at the other candidate up to
#: 6.8 dB, and up to 6.8 dB at 50/60 Hz with the mains removed. 10 dB missed two of four.)
MIN_PEAK_DB = 8.0
#: ... and this far above the other candidate frequency (dB) to be detected
MIN_MARGIN_DB = 3.0
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


#: EEG recorded without scanning needed to decide the line frequency there (s), and the
#: shortest piece used; Welch windows of 1 s there (1 Hz resolution, neighbours 2-5 Hz)
MIN_QUIET_S = 1.5
MIN_PIECE_S = 1.0


def unscanned_segments(study: Any, n_times: int, sfreq: float) -> list[tuple[int, int]]:
    """Sample ranges of the EEG before the first and after the last volume (±0.2 s margin),
    each at least ``MIN_PIECE_S`` long; empty without a scanner timeline or with too little.

    Measured on ten phantoms (2 s lead-in): mains 17-21 dB over its neighbours there,
    the other candidate at most 3.6 dB; during the scan residue lines reached 10.4 dB.
    """
    sync = getattr(study, "sync", None)
    try:
        onsets = np.asarray(sync.volume_onsets(), float)
        period = float(sync.period_eeg)
    except (AttributeError, TypeError, ValueError):
        return []
    if len(onsets) == 0 or not period > 0:
        return []
    start = int((onsets.min() - 0.2) * sfreq)
    stop = int(np.ceil((onsets.max() + period + 0.2) * sfreq))
    pieces = [(0, min(start, n_times)), (max(stop, 0), n_times)]
    pieces = [(a, b) for a, b in pieces if b - a >= MIN_PIECE_S * sfreq]
    if sum(b - a for a, b in pieces) < MIN_QUIET_S * sfreq:
        return []
    return pieces


def line_peaks_segments(data: np.ndarray, sfreq: float, segments: list[tuple[int, int]],
                        freqs: tuple[float, ...] = (50.0, 60.0)) -> dict[float, float]:
    """:func:`line_peaks` on short pieces: 1 s Welch windows averaged over the pieces (weighted by
    length), neighbours 2-5 Hz away."""
    from scipy import signal

    total = None
    weight = 0
    for a, b in segments:
        f, p = signal.welch(np.asarray(data[:, a:b], float), sfreq, nperseg=int(sfreq), axis=-1)
        w = b - a
        total = p.mean(axis=0) * w if total is None else total + p.mean(axis=0) * w
        weight += w
    if total is None:
        return {}
    p = total / weight
    out = {}
    for lf in freqs:
        if lf >= sfreq / 2 - 5:
            continue
        at = np.abs(f - lf) <= 0.3
        near = (np.abs(f - lf) <= 5.0) & (np.abs(f - lf) >= 2.0)
        if at.any() and near.any():
            out[lf] = float(10 * np.log10(p[at].max() / max(np.median(p[near]), 1e-300)))
    return out


def _slice_rate(study: Any) -> float | None:
    """The slice (slot) rate on the EEG clock (Hz) when the study has a scanner timeline."""
    sync = getattr(study, "sync", None)
    try:
        period = float(sync.acquisition.slot_period) * float(sync.fit.alpha)
    except (AttributeError, TypeError, ValueError):
        return None
    return 1.0 / period if period > 0 else None


def slice_harmonic_residue(data: np.ndarray, sfreq: float, lf: float, peak_db: float,
                           slice_rate: float | None) -> str:
    """Why a peak at ``lf`` may be gradient residue rather than mains ("" when it is not).

    After gradient correction what is left of the artifact shows as lines at harmonics of
    the slice rate. When ``lf`` is one of them, mains must stand ``MIN_MARGIN_DB`` above the
    residue lines at the neighbouring harmonics (``lf`` ± the slice rate). Measured on
    phantoms: slice rate 20 Hz without mains, 60 Hz showed 10.4 dB (neighbours 5.5 and
    18.7 dB); slice rate 15 Hz with 60 Hz mains, 9.9 dB (neighbours 2.3 and 6.1 dB).
    """
    if not slice_rate or slice_rate <= 0:
        return ""
    k = lf / slice_rate
    if round(k) < 1 or abs(lf - round(k) * slice_rate) > 0.25:
        return ""
    nb = [f for f in (lf - slice_rate, lf + slice_rate) if 5.0 < f < sfreq / 2 - 3]
    if not nb:
        return ""
    near = line_peaks(data, sfreq, tuple(nb))
    if not near or peak_db - max(near.values()) >= MIN_MARGIN_DB:
        return ""
    return (f"the {lf:g} Hz peak ({peak_db:.1f} dB) is harmonic {round(k)} of the slice rate ({slice_rate:.2f} Hz) "
            f"and does not stand above the residue lines at its neighbouring harmonics "
            f"({', '.join(f'{f:.1f} Hz: {v:.1f} dB' for f, v in near.items())}): it may be gradient residue, "
            "not mains")


def _band_power(x: np.ndarray, sf: float, lo: float, hi: float) -> float:
    from scipy import signal

    f, p = signal.welch(x[:, : int(120 * sf)], sf, nperseg=int(min(x.shape[1], 4 * sf)), axis=-1)
    sel = (f >= lo) & (f <= hi)
    return float(p[:, sel].sum())


def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
    """Notch the mains frequency and its harmonics of the study's current EEG."""
    before = study.eeg  # a re-run starts from the EEG before the previous run (the runner)
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
    quiet = unscanned_segments(study, before.n_times, sf)
    where = "in the recording"
    if lf is None and quiet:
        # mains runs whether the scanner does or not; what a gradient correction leaves
        # (lines at harmonics of the slice and volume rates, some at 50 or 60 Hz) exists only
        # during the scan: decide on the EEG recorded without scanning when there is enough
        peaks = line_peaks_segments(data, sf, quiet)
        where = f"in the {sum(b - a for a, b in quiet) / sf:.1f} s recorded without scanning"
    if lf is None:
        if not peaks:
            raise InputError(study.eeg_path, f"sampling rate {sf:g} Hz too low to see 50/60 Hz line noise")
        lf = max(peaks, key=peaks.get)
        other = max([v for k, v in peaks.items() if k != lf], default=-np.inf)
        # mains stands out of its neighbours and is clearly stronger than the other candidate
        # (after gradient correction both can show as lines of the volume comb, a few dB high)
        if peaks[lf] < MIN_PEAK_DB or peaks[lf] - other < MIN_MARGIN_DB:
            messages.append(f"no line noise stands out {where} (50 Hz: {peaks.get(50.0, float('nan')):.1f} dB, "
                            f"60 Hz: {peaks.get(60.0, float('nan')):.1f} dB over their neighbours): nothing "
                            "filtered; give --line-freq to filter anyway")
            lf = None
        elif not quiet:
            residue = slice_harmonic_residue(data, sf, lf, peaks[lf], _slice_rate(study))
            if residue:
                messages.append(f"{residue}: nothing filtered; give --line-freq to filter anyway")
                lf = None
        if lf is not None:
            messages.append(f"mains {lf:g} Hz found {where} ({peaks[lf]:.1f} dB over its neighbours)")
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
