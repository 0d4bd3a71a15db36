"""Other artifacts: line noise with harmonics, eye blinks, slow electrode drifts."""

from __future__ import annotations

import numpy as np

from .config import PhantomConfig

__all__ = ["LineNoise", "Blinks", "Drifts", "blink_waveform"]

BLINK_S = 0.6  # support of one blink (s)


class LineNoise:
    """Mains interference: ``line_freq`` and harmonics, channel-specific amplitude/phase."""

    def __init__(self, cfg: PhantomConfig, n_ch: int, rng: np.random.Generator):
        self.cfg = cfg
        k = np.arange(1, cfg.line_harmonics + 1)
        self.freqs = cfg.line_freq * k
        self.amp = rng.uniform(2e-6, 10e-6, (n_ch, 1)) / k[None, :] ** 1.2
        self.phase = rng.uniform(0, 2 * np.pi, (n_ch, len(k)))
        keep = self.freqs < cfg.sfreq / 2
        self.freqs, self.amp, self.phase = self.freqs[keep], self.amp[:, keep], self.phase[:, keep]

    def chunk(self, n0: int, n1: int) -> np.ndarray:
        t = np.arange(n0, n1) / self.cfg.sfreq
        # a sin(wt + p) = a cos p · sin wt + a sin p · cos wt: two sines per harmonic
        basis = np.concatenate([[np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)] for f in self.freqs])
        w = np.stack([self.amp * np.cos(self.phase), self.amp * np.sin(self.phase)], axis=2)
        return w.reshape(self.amp.shape[0], -1) @ basis


def blink_waveform(tau: np.ndarray) -> np.ndarray:
    """Blink shape (peak 1 at 0.12 s, ~0.4 s long); 0 before onset."""
    x = np.clip(tau, 0, None) / 0.12
    return np.where(tau > 0, x ** 3 * np.exp(3 * (1 - x)), 0.0)


class Blinks:
    """Blinks: large on the EOG channel below the eye, spreading to frontal channels.

    The eye's corneo-retinal dipole rotates up during a blink, so frontal channels go
    positive and the electrode below the eye negative (against FCz); the spread falls
    off with the distance to the nearer eye.
    """

    def __init__(self, cfg: PhantomConfig, sites_head: np.ndarray, eog_index: int, rng: np.random.Generator):
        self.cfg = cfg
        times, t = [], rng.exponential(1 / cfg.blink_rate_hz) if cfg.blink_rate_hz else np.inf
        while t < cfg.duration_s:
            times.append(t)
            t += 1.0 + rng.exponential(1 / cfg.blink_rate_hz)
        self.times = np.array(times)
        self.amp = 150e-6 * np.exp(rng.normal(0, 0.2, len(times)))
        eyes = np.array([[-0.032, 0.085, -0.03], [0.032, 0.085, -0.03]])
        d = np.linalg.norm(sites_head[:, None, :] - eyes[None], axis=2).min(1)
        w = np.clip((0.035 / np.maximum(d, 0.02)) ** 2, 0, 1.0)
        w[eog_index] = -1.0
        self.weights = w
        self.weights[-1] = 0.0  # the ECG electrode on the back sees none

    def chunk(self, n0: int, n1: int) -> np.ndarray:
        sf = self.cfg.sfreq
        t = np.arange(n0, n1) / sf
        s = np.zeros(n1 - n0)
        for i in np.flatnonzero((self.times < t[-1]) & (self.times + BLINK_S > t[0])):
            a = max(int(np.floor(self.times[i] * sf)) - n0, 0)
            b = min(int(np.ceil((self.times[i] + BLINK_S) * sf)) - n0, n1 - n0)
            tau = t[a:b] - self.times[i]
            s[a:b] += self.amp[i] * blink_waveform(tau) * (tau < BLINK_S)
        return self.weights[:, None] * s[None, :]


class Drifts:
    """Slow electrode drifts: DC offsets, a linear trend and slow (< 0.05 Hz) waves.

    The waves are six shared slow frequencies mixed with channel-specific weights
    (sweat and electrode potentials drift together, not identically).
    """

    N_WAVES = 6

    def __init__(self, cfg: PhantomConfig, n_ch: int, rng: np.random.Generator):
        self.cfg = cfg
        self.dc = rng.uniform(-100e-6, 100e-6, (n_ch, 1))
        self.trend = rng.uniform(-50e-6, 50e-6, (n_ch, 1)) / cfg.duration_s
        self.f = rng.uniform(0.003, 0.05, self.N_WAVES)
        self.w = rng.normal(0.0, 12e-6, (n_ch, 2 * self.N_WAVES))

    def chunk(self, n0: int, n1: int) -> np.ndarray:
        t = np.arange(n0, n1) / self.cfg.sfreq
        basis = np.concatenate([np.sin(2 * np.pi * self.f[:, None] * t), np.cos(2 * np.pi * self.f[:, None] * t)])
        return self.dc + self.trend * t[None, :] + self.w @ basis
