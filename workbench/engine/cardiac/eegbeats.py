"""Heartbeats from the EEG itself, when the ECG is absent, flat, saturated or unreadable.

In the scanner the pulse artifact is the strongest signal locked to the heartbeat on
the scalp. We low-pass the EEG (1–15 Hz, on a 100 Hz copy), take its leading principal
components, keep the one that repeats most regularly at a heart-rate period (the peak of
its autocorrelation at lags 0.3–2 s), find one energy peak per beat on it, then align
every beat on the component's average beat shape by cross-correlation. The beat times
mark the pulse artifact, not the R wave: they are shifted back by the artifact delay to
estimate R-peaks, and when an ECG exists the measured ECG→BCG lag is reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import signal

from ..errors import InputError
from .rpeaks import RPeaks, correct_beats, rr_report

__all__ = ["beats_from_eeg", "pulse_component", "MIN_PERIODICITY"]

#: below this autocorrelation peak no component is taken for a pulse
MIN_PERIODICITY = 0.3


def pulse_component(data: np.ndarray, sfreq: float, n_pcs: int = 6) -> tuple[np.ndarray, float, float, float]:
    """The most heartbeat-periodic principal component of the 1–15 Hz EEG.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        EEG (V).
    sfreq : float
        Sampling rate (Hz).
    n_pcs : int
        Leading components examined.

    Returns
    -------
    comp : ndarray
        The component's time course at ``sf_low`` Hz.
    sf_low : float
        Its sampling rate.
    periodicity : float
        Its autocorrelation peak in 0.3–2 s (0–1).
    period_s : float
        The lag of that peak (≈ the median RR).
    """
    step = max(1, int(sfreq // 100))
    sf = sfreq / step
    sos = signal.butter(3, [1.0, min(15.0, 0.45 * sf)], "bandpass", fs=sfreq, output="sos")
    x = signal.sosfiltfilt(sos, np.asarray(data, float), axis=-1)[:, ::step]
    x = x - x.mean(axis=1, keepdims=True)
    # robust to a few huge channels: scale each by its median absolute deviation
    scale = np.median(np.abs(x), axis=1, keepdims=True)
    x = x / np.maximum(scale, 1e-30)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    best = (np.zeros(x.shape[1]), 0.0, float("nan"))
    lo, hi = int(0.3 * sf), min(int(2.0 * sf), x.shape[1] // 2)
    if hi <= lo:
        raise InputError(None, "the EEG is too short to find heartbeats in it")
    for comp in vt[:n_pcs]:
        # periodicity of the component's energy (sign-free: the BCG is multiphasic)
        e = comp ** 2
        e = e - e.mean()
        f = np.fft.rfft(e, 2 * len(e))
        ac = np.fft.irfft(f * np.conj(f))[: len(e)]
        ac = ac / max(ac[0], 1e-300)
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > best[1]:
            best = (comp, float(ac[k]), k / sf)
    return best[0], sf, best[1], best[2]


def beats_from_eeg(
    data: np.ndarray,
    sfreq: float,
    delay_s: float = 0.21,
    ecg_rpeaks: np.ndarray | None = None,
) -> RPeaks:
    """Estimate heartbeats from the pulse artifact of the EEG.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        EEG channels (V), gradient-corrected.
    sfreq : float
        Sampling rate (Hz).
    delay_s : float
        Assumed R-peak → artifact delay used to place the estimated R-peaks.
    ecg_rpeaks : ndarray | None
        R-peaks from a (poor) ECG, to measure the ECG→BCG lag.

    Returns
    -------
    RPeaks
        ``source="eeg"``; ``report["bcg_lag_s"]`` is the measured lag when ``ecg_rpeaks`` is
        given; ``quality`` is the component's periodicity.

    Raises
    ------
    InputError
        When no component repeats at a heart-rate period (no usable pulse artifact).
    """
    comp, sf, periodicity, period = pulse_component(data, sfreq)
    if periodicity < MIN_PERIODICITY:
        raise InputError(None, f"no usable pulse artifact in the EEG (periodicity {periodicity:.2f} "
                               f"< {MIN_PERIODICITY})")
    # one energy peak per beat: smoothed energy, peaks at least 0.6 period apart
    w = max(1, int(round(0.1 * sf)))
    e = np.convolve(comp ** 2, np.ones(w) / w, mode="same")
    pk, props = signal.find_peaks(e, distance=max(1, int(0.6 * period * sf)), height=0.0)
    h = props["peak_heights"]
    pk = pk[h > 0.2 * np.percentile(h, 90)]
    # align every beat on the average beat shape (cross-correlation within ±0.15 s)
    half = int(round(0.4 * sf))
    ok = pk[(pk - half >= 0) & (pk + half < len(comp))]
    if len(ok) < 4:
        raise InputError(None, "too few pulse beats in the EEG")
    seg = comp[ok[:, None] + np.arange(-half, half + 1)[None, :]]
    tmpl = seg.mean(axis=0)
    xc = np.correlate(comp, tmpl, mode="same")
    v = int(round(0.15 * sf))
    times = []
    for i in pk:
        a, b = max(i - v, 0), min(i + v + 1, len(xc))
        times.append((a + int(np.argmax(xc[a:b]))) / sf)
    t = np.unique(np.asarray(times))
    t, inserted, counts = correct_beats(t, interpolate=True)
    # the template's energy peak is the artifact's reference point; shift back to the R-peak
    t_r = t - delay_s
    keep = t_r >= 0
    t_r, inserted = t_r[keep], inserted[keep]
    report: dict[str, Any] = rr_report(t_r)
    report.update({f"beats_{k}": int(v) for k, v in counts.items()})
    report["beats_fixed"] = int(sum(counts.values()))
    report["periodicity"] = periodicity
    if ecg_rpeaks is not None and len(ecg_rpeaks):
        e_r = np.sort(np.asarray(ecg_rpeaks, float))
        j = np.clip(np.searchsorted(e_r, t, side="right") - 1, 0, len(e_r) - 1)
        lag = t - e_r[j]
        lag = lag[(lag > 0) & (lag < 0.6)]
        report["bcg_lag_s"] = float(np.median(lag)) if len(lag) else float("nan")
    return RPeaks(times=t_r, source="eeg", polarity=1, report=report, flags=inserted,
                  quality=periodicity, details={"component": comp, "sf_component": sf})
