"""Joint EEG-fMRI DCM: the same neuronal states also generate a region-level EEG signal.

The choice (and why): the EEG is given as one time series per region of a quantity that
a one-state neuronal model can predict - a band-limited *envelope* (power or amplitude)
of the region's source activity, e.g. the gamma-band envelope of a beamformer or MNE
source in each region, computed outside (the workbench's source tools or MNE). The neural
state ``z_r`` of the DCM is a slow population-activity variable, not a potential, so it
cannot predict the raw EEG; it can predict how the envelope rises and falls. Each region's
envelope is observed as

    eeg_r(t) = g_r z_r(t) + offset_r + noise_r,     g_r = 16 exp(lambda_r),  lambda_r ~ N(0, 1)

with the gain positive (the envelope *rises* with activity; give a quantity that falls
with activity, such as alpha power, with its sign flipped) and log-normal around 16 for
envelopes scaled to unit SD (a unit-order C drive gives ``z`` of about 0.1). The lead field
enters through the region source reconstruction that produced the envelope; the gain
absorbs its scale. Envelopes are averaged into windows of TR/8 and predicted from ``z`` at
the window centre; each region's EEG has its own noise precision. The EEG's fine temporal
sampling is what pins down the neuronal time constants and couplings that the sluggish
BOLD leaves uncertain (``benchmarks/bench_dcm.py`` measures the posterior variance with and
without it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

from .integrate import MICROTIME, Design

__all__ = ["EegData", "EegModel", "GAIN_SCALE", "WINDOW_BINS"]

GAIN_SCALE = 16.0
WINDOW_BINS = MICROTIME // 8  # TR/8 windows


@dataclass
class EegData:
    """Region EEG envelopes: ``values (n_samples, n_regions)`` at ``times`` (s, scanner clock)."""

    values: np.ndarray
    times: np.ndarray
    regions: list[str]
    source: str = ""


class EegModel:
    """The EEG observation model of a joint inversion (see the module text)."""

    def __init__(self, eeg: EegData, design: Design, n: int) -> None:
        W = WINDOW_BINS
        nwin = design.n_bins // W
        win = np.floor(eeg.times / (design.dt * W)).astype(int)
        inside = (win >= 0) & (win < nwin)
        if inside.sum() < 10:
            raise InputError(eeg.source or None, "the EEG has fewer than 10 samples inside the scan: check "
                                                 "its times (s from the first volume) and sampling rate")
        counts = np.bincount(win[inside], minlength=nwin)
        keep = np.flatnonzero(counts > 0)
        Y = np.empty((keep.size, n))
        for r in range(n):
            sums = np.bincount(win[inside], weights=eeg.values[inside, r], minlength=nwin)
            Y[:, r] = sums[keep] / counts[keep]
        Y -= Y.mean(axis=0)
        sd = Y.std(axis=0)
        if np.any(sd < 1e-12):
            r = int(np.argmin(sd))
            raise InputError(eeg.source or None, f"the EEG of region {eeg.regions[r]!r} is constant")
        Y /= sd
        self.sd = sd
        self.bins = keep * W + W // 2
        self.times = self.bins * design.dt
        self.design = replace(design, eeg_bins=self.bins, _schedule=None)
        self.n = n
        self.observed = Y
        self.y = Y.T.ravel()
        self.groups = np.repeat(np.arange(n), keep.size)
        self.dof = np.full(n, float(keep.size - 1))
        self.pE = np.zeros(n)
        self.pV = np.ones(n)

    def predict(self, X: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """EEG predictions ``(batch, n * n_windows)`` from recorded states and log-gains."""
        _, _, _, slots = self.design.schedule()
        idx = np.array([slots[int(b)] for b in self.bins])
        z = X[:, idx, : self.n]  # (batch, windows, n)
        pred = GAIN_SCALE * np.exp(lam)[:, None, :] * z
        pred = pred - pred.mean(axis=1, keepdims=True)
        return np.transpose(pred, (0, 2, 1)).reshape(X.shape[0], -1)

    def summary(self, post: Any, offset: int, regions: list[str]) -> dict[str, Any]:
        lam = post.Ep[offset:]
        pred = post.prediction[-self.y.size:].reshape(self.n, -1).T
        return {"t": self.times, "observed": self.observed, "predicted": pred,
                "gain": (GAIN_SCALE * np.exp(lam)).tolist(), "regions": list(regions)}
