"""Causal R-peak detection on a streamed ECG channel.

Why not the offline detector (:mod:`workbench.engine.cardiac.rpeaks`): it looks at the
whole recording (global thresholds, both-sided filters, correction of misses from later
beats). Online, each peak must be announced as soon as the QRS has passed, so this is a
Pan-Tompkins-style detector made causal: a causal 5-25 Hz band-pass (state kept
between chunks), the QRS polarity and first threshold learnt from the first seconds of
usable ECG, then an adaptive threshold at ``thr_fraction`` of the median of the last
8 peaks, a refractory period, and a lowered threshold when beats go missing. A peak is
announced when the band-passed ECG has fallen to half of its maximum (~20-40 ms after
the R wave); its sample index is that maximum, a constant offset from the R wave that
the BCG template absorbs.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import signal


class CausalRPeaks:
    """Announce R-peaks (global sample indices) as chunks of ECG arrive.

    Parameters
    ----------
    sfreq : float
        Sample rate (Hz).
    band : tuple of float
        Band-pass (Hz) that keeps the QRS complex.
    learn_s : float
        Seconds of usable ECG used to learn the polarity and first threshold.
    thr_fraction : float
        Threshold as a fraction of the median recent peak.
    refractory_s : float
        No second peak within this time.
    """

    def __init__(
        self,
        sfreq: float,
        *,
        band: tuple[float, float] = (5.0, 25.0),
        learn_s: float = 3.0,
        thr_fraction: float = 0.45,
        refractory_s: float = 0.25,
    ) -> None:
        self.sfreq = float(sfreq)
        self.sos = signal.butter(2, band, btype="bandpass", fs=self.sfreq, output="sos")
        self.zi = np.zeros((self.sos.shape[0], 2))
        self.learn_n = int(learn_s * self.sfreq)
        self.thr_fraction = float(thr_fraction)
        self.refractory = int(refractory_s * self.sfreq)
        self._learn: list[np.ndarray] = []
        self._n_learn = 0
        self.sign = 0.0  # 0 until learnt
        self.threshold = np.inf
        self.heights: deque[float] = deque(maxlen=8)
        self.peaks: list[int] = []
        self._in = False
        self._pk_val = 0.0
        self._pk_idx = 0
        self._pk_start = 0
        self._next_ok = 0

    @property
    def ready(self) -> bool:
        """True once the polarity and threshold were learnt."""
        return self.sign != 0.0

    def rr_median(self) -> float | None:
        """Median of the last 10 RR intervals (samples), once 3 peaks were seen."""
        if len(self.peaks) < 3:
            return None
        return float(np.median(np.diff(self.peaks[-11:])))

    def process(self, ecg: np.ndarray, n0: int, usable: np.ndarray | None = None) -> list[int]:
        """Feed the next chunk; returns the R-peaks announced in it.

        Parameters
        ----------
        ecg : ndarray (n,)
            ECG samples (V), gradient-corrected.
        n0 : int
            Global index of ``ecg[0]``.
        usable : ndarray of bool (n,) | None
            False where the ECG still carries the gradient artifact (skipped).
        """
        y, self.zi = signal.sosfilt(self.sos, np.asarray(ecg, np.float64), zi=self.zi)
        if usable is None:
            usable = np.ones(y.size, bool)
        if not self.ready:
            self._learn.append(y[usable])
            self._n_learn += int(usable.sum())
            if self._n_learn >= self.learn_n:
                z = np.concatenate(self._learn)
                hi, lo = np.percentile(z, 99.5), -np.percentile(z, 0.5)
                self.sign = 1.0 if hi >= lo else -1.0
                self.threshold = self.thr_fraction * max(hi, lo)
                self._learn = []
            return []
        s = self.sign * y
        found: list[int] = []
        cand = np.flatnonzero((s > self.threshold) & usable)
        if not self._in and cand.size == 0:
            self._missed(n0 + y.size)
            return found
        i = 0 if self._in else int(cand[0])
        while i < y.size:
            if not usable[i]:
                self._in = False
                i += 1
                continue
            g = n0 + i
            if self._in:
                if s[i] > self._pk_val:
                    self._pk_val, self._pk_idx = float(s[i]), g
                elif s[i] < 0.5 * self._pk_val or g - self._pk_start > 0.15 * self.sfreq:
                    self._in = False
                    if self._pk_idx >= self._next_ok:
                        found.append(self._pk_idx)
                        self.peaks.append(self._pk_idx)
                        self.heights.append(self._pk_val)
                        self.threshold = self.thr_fraction * float(np.median(self.heights))
                        self._next_ok = self._pk_idx + self.refractory
                i += 1
            else:
                nxt = cand[cand >= i]
                if nxt.size == 0:
                    break
                i = int(nxt[0])
                g = n0 + i
                self._in, self._pk_val, self._pk_idx, self._pk_start = True, float(s[i]), g, g
                i += 1
        self._missed(n0 + y.size)
        if len(self.peaks) > 200:
            del self.peaks[:100]
        return found

    def _missed(self, now: int) -> None:
        """Lower the threshold when no beat came for 2.5 median RR intervals."""
        rr = self.rr_median()
        last = self.peaks[-1] if self.peaks else None
        if rr is not None and last is not None and now - last > 2.5 * rr and not self._in:
            self.threshold *= 0.7
            self.peaks.append(now - int(rr))  # avoid lowering again at every chunk
            self.peaks.sort()
