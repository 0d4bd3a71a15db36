"""The pulse artifact kept out of the gradient templates (the gradient step's cardiac pass).

Why: the gradient templates are means of volume epochs. A heartbeat whose harmonics fall
near the volume lines k/TR (72 bpm at TR 2 s: its 5th harmonic is 12/TR; 60 or 75 bpm
likewise) repeats with the volumes for dozens of them, so the low band's 60-volume
templates take much of the BCG for artifact and subtract it. The cardiac step later finds
a BCG with holes at those lines, and the gradient step's own 1-40 Hz error is mostly that
BCG (90 s phantoms with an 80 µV BCG: NRMSE 0.042-0.066 at TR 2-3 s with the heart near
a line, 0.179 with a 30 µV BCG at 72 bpm; with the BCG taken out first, 0.02).

What: after a first correction, R-peaks are found on the corrected ECG; the pulse
artifact of every EEG channel is estimated as the R-locked mean of its neighbouring beats
(the cardiac step's AAS, :func:`..cardiac.bcg.remove_bcg`, on the first pass's output
low-passed at 40 Hz and decimated to ~250 Hz: the BCG lies below ~20 Hz). The gradient
correction then runs again on the recording minus that estimate, and the estimate is
added back afterwards: the gradient step removes the gradient, and leaves the BCG to the
cardiac step whole. Written here (not MNE's or FMRIB's) because no peer separates the
two by their different locking; the R-locked mean is the standard BCG template.

Cost: the template pass runs twice (the step takes ~1.7x as long) and the recording's
corrected channels are copied once. Without an ECG channel, or when its R-peaks are not
trustworthy, the pass is skipped and the QC says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: fewest beats for the estimate (the AAS window below needs 21; a short run keeps 1 pass)
MIN_BEATS = 30
#: the R-peak detector's quality (median QRS correlation) below which the pass is skipped
MIN_QUALITY = 0.5
#: the estimate's band (Hz) and the rate it is computed at (Hz, at least)
BAND_HZ = 40.0
WORK_RATE_HZ = 250.0
#: beats in the R-locked mean
WINDOW_BEATS = 21
#: estimate-and-correct rounds after the first pass (backfitting: each estimate from the
#: last pass's output with the estimate added back). A heart locked to the volumes is
#: taken out of the first pass's output too, so its estimate misses that part and more
#: rounds recover it: 72 bpm at TR 2 s with 1 % beat-to-beat variability, NRMSE 0.28 /
#: 0.21 / 0.16 / 0.09 after 1 / 2 / 3 / 5 rounds (0.04 without the pulse; 3 %: 0.077 /
#: 0.063 / 0.054 / 0.045). Each round is a full template pass, so one is kept for now
ITERATIONS = 1


@dataclass
class CardiacEstimate:
    """The pulse artifact estimated after the first pass.

    Attributes
    ----------
    coarse : ndarray | None
        (n_eeg, n_coarse): the estimate every ``step`` samples from ``start`` (decimated:
        it lies below 40 Hz); None when the pass was skipped.
    start, step : int
        Its first sample and spacing (samples of the recording).
    info : dict
        ``used`` (bool), ``reason`` (why not, or ""), ``beats``, ``quality``, ``hr_bpm``.
    """

    coarse: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)
    start: int = 0
    step: int = 1

    @property
    def artifact(self) -> np.ndarray | None:  # for the callers' "is there one" checks
        return self.coarse

    def add_to(self, data: np.ndarray, rows: np.ndarray, sign: float = 1.0) -> None:
        """``data[rows] += sign * estimate`` row by row (interpolated to every sample: a
        < 40 Hz signal at >= 250 Hz, linear interpolation is within 3 % at 40 Hz and 0.2 % at the
        BCG's 5-10 Hz; no full-rate copy)."""
        if self.coarse is None:
            return
        n = self.coarse.shape[1]
        stop = min(self.start + (n - 1) * self.step + 1, data.shape[1])
        grid = np.arange(stop - self.start, dtype=np.float64)
        coarse_t = np.arange(n, dtype=np.float64) * self.step
        for i, r in enumerate(rows):
            data[int(r), self.start : stop] += (sign * np.interp(grid, coarse_t, self.coarse[i])).astype(
                data.dtype, copy=False)


def ecg_row(types: list[str], picks: np.ndarray, data: np.ndarray,
            span: tuple[int, int]) -> int | None:
    """The first ECG channel among the corrected channels that is not flat over ``span``."""
    for i in picks:
        if types[int(i)] == "ecg" and np.ptp(data[int(i), span[0] : span[1]]) > 0:
            return int(i)
    return None


def estimate(data: np.ndarray, eeg: np.ndarray, ecg: int, sfreq: float,
             span: tuple[int, int], n_jobs: int = 2) -> CardiacEstimate:
    """The pulse artifact of the EEG rows of ``data`` (gradient-corrected once).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The recording after the first gradient pass (not modified).
    eeg : ndarray of int
        EEG rows to estimate.
    ecg : int
        The ECG row.
    sfreq : float
        Sampling rate (Hz).
    span : tuple of int
        The scanning period (samples); the estimate is zero outside it.
    n_jobs : int
        Threads.

    Returns
    -------
    CardiacEstimate
    """
    from ..cardiac.bcg import BCGParams, remove_bcg
    from ..cardiac.rpeaks import detect_rpeaks
    from ..errors import InputError
    from .correct import fir_same, lowpass_taps

    s0, s1 = int(span[0]), int(span[1])
    try:
        rp = detect_rpeaks(np.asarray(data[ecg], float), sfreq)
    except InputError as exc:
        return CardiacEstimate(None, {"used": False, "reason": f"no R-peaks on the ECG: {exc.problem}"})
    t = np.asarray(rp.times, float)
    t = t[(t >= s0 / sfreq) & (t < s1 / sfreq)]
    info: dict[str, Any] = {"beats": int(t.size), "quality": float(rp.quality),
                            "hr_bpm": float(60.0 / np.median(np.diff(t))) if t.size > 1 else 0.0}
    if t.size < MIN_BEATS:
        return CardiacEstimate(None, {**info, "used": False,
                                      "reason": f"{t.size} R-peaks in the scanning period (< {MIN_BEATS})"})
    if not rp.quality >= MIN_QUALITY:
        return CardiacEstimate(None, {**info, "used": False,
                                      "reason": f"ECG R-peaks not trustworthy (QRS quality {rp.quality:.2f})"})
    q = max(int(sfreq // WORK_RATE_HZ), 1)
    h = lowpass_taps(sfreq, BAND_HZ).astype(np.float32) if 2 * BAND_HZ < sfreq else None
    from concurrent.futures import ThreadPoolExecutor

    def low(r: int) -> np.ndarray:
        x = np.asarray(data[r, s0:s1], np.float32)
        return (fir_same(x, h) if h is not None else x)[::q]

    with ThreadPoolExecutor(max_workers=max(1, n_jobs)) as ex:
        dec = np.stack(list(ex.map(low, [int(r) for r in eeg])))
    try:
        est = remove_bcg(dec, sfreq / q, t - s0 / sfreq, BCGParams(method="aas", window=WINDOW_BEATS),
                         n_jobs=n_jobs).artifact
    except InputError as exc:
        return CardiacEstimate(None, {**info, "used": False, "reason": exc.problem})
    return CardiacEstimate(np.asarray(est, np.float32), {**info, "used": True, "reason": ""}, start=s0, step=q)
