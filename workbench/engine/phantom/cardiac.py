"""Heart: R-peaks with heart-rate variability, the ECG, and the ballistocardiogram.

The BCG is modelled as what it physically is: each heartbeat ejects blood into the
head and rocks it on the pillow; rotating a lead loop (area vector ``A_c``) in the
static field ``B0 ẑ`` induces ``EMF_c = -B0 ẑ · (ω(t) × A_c) = -B0 (ω_x A_y - ω_y A_x)``.
The angular velocity ``ω(t)`` follows each R-peak by ``bcg_delay_s`` (pulse transit
time) with two rotation axes of different time courses, so every channel sees its own
mixture (channel-specific shape); each beat varies in amplitude, latency and with
respiration.
"""

from __future__ import annotations

import numpy as np

from .config import PhantomConfig

__all__ = ["make_rpeaks", "ecg_waveform", "bcg_basis", "CardiacGenerator"]

B0 = 3.0  # T

# ECG waves relative to the R-peak: (latency s, width s, amplitude mV)
_ECG = ((-0.20, 0.025, 0.12), (-0.035, 0.010, -0.12), (0.0, 0.011, 1.0), (0.035, 0.012, -0.25),
        (0.26, 0.050, 0.30))
BEAT_SUPPORT = (-0.35, 0.80)  # s around the R-peak where a beat's ECG/BCG is non-zero


def make_rpeaks(cfg: PhantomConfig, rng: np.random.Generator) -> np.ndarray:
    """R-peak times (s, EEG clock) covering the recording.

    RR intervals: respiratory sinus arrhythmia (~0.25 Hz), Mayer waves (~0.1 Hz) and
    random beat-to-beat variation, with overall SD about ``hrv`` of the mean RR.
    """
    rr0 = 60.0 / cfg.heart_rate_bpm
    f_resp, ph1, ph2 = rng.uniform(0.22, 0.30), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
    t = -rng.uniform(0, rr0)
    peaks = []
    while t < cfg.duration_s + 1.0:
        peaks.append(t)
        rr = rr0 * (1 + cfg.hrv * (0.9 * np.sin(2 * np.pi * f_resp * t + ph1)
                                   + 0.6 * np.sin(2 * np.pi * 0.1 * t + ph2)
                                   + 0.5 * rng.standard_normal()))
        t += max(rr, 0.3)
    return np.array(peaks[1:])


def ecg_waveform(tau: np.ndarray, rr: float) -> np.ndarray:
    """ECG (V) at ``tau`` s after an R-peak; P and T waves scale with sqrt(RR)."""
    out = np.zeros_like(tau)
    s = np.sqrt(rr)
    for lat, w, a in _ECG:
        lat = lat * s if abs(lat) > 0.05 else lat
        out += a * 1e-3 * np.exp(-0.5 * ((tau - lat) / w) ** 2)
    return out


def bcg_basis(tau: np.ndarray) -> np.ndarray:
    """Angular-velocity time courses (2, n) of the x and y rotations, ``tau`` after the delay."""
    g = lambda c, w: np.exp(-0.5 * ((tau - c) / w) ** 2)  # noqa: E731
    wx = g(0.0, 0.035) - 0.55 * g(0.10, 0.045) + 0.25 * g(0.26, 0.08)
    wy = -0.7 * g(-0.035, 0.025) + 0.9 * g(0.025, 0.03) - 0.3 * g(0.15, 0.07)
    return np.stack([wx, wy])


class CardiacGenerator:
    """ECG on the ECG channel and the BCG on every channel, chunk by chunk.

    Parameters
    ----------
    cfg : PhantomConfig
    rpeaks : ndarray
        R-peak times (s, EEG clock).
    areas : ndarray, shape (n_channels, 3)
        Lead-loop area vectors (m²); the last channel is the ECG.
    rng : numpy.random.Generator
        Beat-to-beat variation.
    """

    def __init__(self, cfg: PhantomConfig, rpeaks: np.ndarray, areas: np.ndarray, rng: np.random.Generator):
        self.cfg = cfg
        self.rpeaks = rpeaks
        n = len(rpeaks)
        rr = np.diff(rpeaks, append=rpeaks[-1] + 60.0 / cfg.heart_rate_bpm) if n else np.zeros(0)
        self.rr = rr
        f_resp, ph = rng.uniform(0.22, 0.30), rng.uniform(0, 2 * np.pi)
        resp = 1.0 + 0.12 * np.sin(2 * np.pi * f_resp * rpeaks + ph)
        self.beat_amp = np.exp(rng.normal(0, 0.12, (n, 2))) * resp[:, None]
        self.beat_lag = cfg.bcg_delay_s + rng.normal(0, 0.004, n)
        self.ecg_amp = np.exp(rng.normal(0, 0.05, n))
        # EMF_c = -B0 (wx A_y - wy A_x): channel coupling of the two rotations
        self.coupling = -B0 * np.stack([areas[:, 1], -areas[:, 0]], axis=1)  # (n_ch, 2)
        tau = np.linspace(-0.2, 0.6, 801)
        avg = self.coupling @ bcg_basis(tau)
        peak = np.median(np.abs(avg).max(axis=1))
        self.coupling *= cfg.bcg_uv * 1e-6 / max(peak, 1e-30)

    def chunk(self, n0: int, n1: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ecg, bcg)``: ECG (n,) in V and BCG (n_channels, n) in V."""
        sf = self.cfg.sfreq
        t = np.arange(n0, n1) / sf
        ecg = np.zeros(n1 - n0)
        omega = np.zeros((2, n1 - n0))
        lo, hi = BEAT_SUPPORT
        sel = np.flatnonzero((self.rpeaks + hi > t[0]) & (self.rpeaks + lo < t[-1]))
        for i in sel:
            a = max(int(np.ceil((self.rpeaks[i] + lo) * sf)) - n0, 0)
            b = min(int(np.floor((self.rpeaks[i] + hi) * sf)) - n0 + 1, n1 - n0)
            if b <= a:
                continue
            tau = t[a:b] - self.rpeaks[i]
            ecg[a:b] += self.ecg_amp[i] * ecg_waveform(tau, self.rr[i])
            omega[:, a:b] += self.beat_amp[i][:, None] * bcg_basis(tau - self.beat_lag[i])
        return ecg, self.coupling @ omega
