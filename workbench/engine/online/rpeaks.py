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

Samples the gradient correction has not cleaned (its first volumes, gaps) enter the
band-pass as zeros and, with the 0.25 s after them, are never judged: the mV artifact
otherwise rang on through the filter into the first clean samples, the polarity and
threshold were learnt from that ringing (a threshold 3x the QRS on the online latency
benchmark's stream), and no beat was ever found. For the same kind of bad start, a
threshold that finds no beat for 1.5 s after learning (before three beats give an RR
interval) is lowered, down to a twentieth of the learnt one.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import signal

from .ring import NEVER, last_flagged


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
        self._lower_ok = 0
        self._settle = int(0.25 * self.sfreq)  # samples after an unusable one not judged
        self._last_bad = NEVER
        self._learned_at = 0  # sample at which the polarity and threshold were learnt
        self._floor = 0.0  # lowest threshold (a twentieth of the learnt one)
        self.announced: list[int] = []

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

        Every decision is taken at a sample (the polarity after exactly ``learn_s`` of
        usable ECG, a new threshold right after each peak, a lowered one at the sample
        where a beat is overdue), so the peaks and the samples at which they are
        announced (:attr:`announced`) do not depend on how the stream is chunked.

        Parameters
        ----------
        ecg : ndarray (n,)
            ECG samples (V), gradient-corrected.
        n0 : int
            Global index of ``ecg[0]``.
        usable : ndarray of bool (n,) | None
            False where the ECG still carries the gradient artifact (skipped).

        Returns
        -------
        list of int
            R-peaks (global sample indices); :attr:`announced` holds, for each, the
            global index of the sample at which it became known.
        """
        x = np.asarray(ecg, np.float64)
        n = x.size
        usable = np.ones(n, bool) if usable is None else np.asarray(usable, bool)
        if not usable.all():
            x = np.where(usable, x, 0.0)
        y, self.zi = signal.sosfilt(self.sos, x, zi=self.zi)
        last = last_flagged(~usable, n0, self._last_bad)
        if n:
            self._last_bad = int(last[-1])
        usable = usable & (n0 + np.arange(n) - last > self._settle)  # the filter settles after unusable samples
        found: list[int] = []
        self.announced = []
        i = 0
        if not self.ready:
            cum = np.cumsum(usable)
            need = self.learn_n - self._n_learn
            if n == 0 or cum[-1] < need:
                self._learn.append(y[usable])
                self._n_learn += int(usable.sum())
                return found
            k = int(np.searchsorted(cum, need))  # the sample that completes the learning
            self._learn.append(y[: k + 1][usable[: k + 1]])
            z = np.concatenate(self._learn)
            hi, lo = np.percentile(z, 99.5), -np.percentile(z, 0.5)
            self.sign = 1.0 if hi >= lo else -1.0
            self.threshold = self.thr_fraction * max(hi, lo)
            self._floor = self.threshold / 20.0
            self._learned_at = n0 + k
            self._learn = []
            i = k + 1
        s = self.sign * y
        while i < n:
            g = n0 + i
            if self._in:
                if not usable[i]:
                    self._in = False
                elif s[i] > self._pk_val:
                    self._pk_val, self._pk_idx = float(s[i]), g
                elif s[i] < 0.5 * self._pk_val or g - self._pk_start > 0.15 * self.sfreq:
                    self._in = False
                    if self._pk_idx >= self._next_ok:
                        found.append(self._pk_idx)
                        self.announced.append(g)
                        self.peaks.append(self._pk_idx)
                        self.heights.append(self._pk_val)
                        self.threshold = self.thr_fraction * float(np.median(self.heights))
                        self._next_ok = self._pk_idx + self.refractory
                i += 1
                continue
            # outside a peak: the next sample over the current threshold
            rel = np.flatnonzero((s[i:] > self.threshold) & usable[i:])
            j = i + int(rel[0]) if rel.size else n
            due = self._overdue_at()
            if due is not None and due < n0 + j:  # no beat before it is overdue: lower there
                due = max(due, g)
                self._lower(due)
                i = due - n0
                continue
            if not rel.size:
                break
            i = j
            g = n0 + i
            self._in, self._pk_val, self._pk_idx, self._pk_start = True, float(s[i]), g, g
            i += 1
        if len(self.peaks) > 200:
            del self.peaks[:100]
        return found

    def _overdue_at(self) -> int | None:
        """First sample at which no beat came for 2.5 median RR intervals, or, before
        three beats give one, for 1.5 s (None: the threshold is at its floor)."""
        if self.threshold <= self._floor:
            return None
        rr = self.rr_median()
        if rr is None or not self.peaks:
            last = max(self.peaks[-1], self._learned_at) if self.peaks else self._learned_at
            return max(last + int(1.5 * self.sfreq) + 1, self._lower_ok)
        return max(int(np.floor(self.peaks[-1] + 2.5 * rr)) + 1, self._lower_ok)

    def _lower(self, now: int) -> None:
        """Lower the threshold from sample ``now`` on (a beat is overdue)."""
        rr = self.rr_median()
        self.threshold = max(self.threshold * 0.7, self._floor)
        if rr is None or not self.peaks:  # no RR interval yet: again 1.5 s on at the earliest
            self._lower_ok = now + int(1.5 * self.sfreq)
            return
        self.peaks.append(now - int(rr))  # avoid lowering again at every sample
        self.peaks.sort()
        self._lower_ok = now + 1  # at most once per sample, whatever the RR intervals
