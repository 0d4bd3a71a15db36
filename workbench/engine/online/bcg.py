"""Causal ballistocardiogram subtraction from the average of past beats.

Each announced R-peak starts a beat; the template is the mean of the last ``window``
complete beat epochs (gradient-corrected EEG from the R-peak on, each with its mean
removed so DC offsets are never subtracted). The template is subtracted from the
samples after the peak until the next peak takes over. The samples between an R-peak
and its announcement (tens of ms, before the BCG's main deflection) were already sent
and keep their small residue. The offline AAS/OBS (:mod:`workbench.engine.cardiac.bcg`)
uses beats on both sides and is not causal; EEG-LLAMAS (Kalman) and NeuXus (LSTM peak
prediction) are the online anchors.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .ring import SampleRing


class CausalBCG:
    """Average-artifact subtraction of the BCG from past beats only.

    Parameters
    ----------
    n_channels : int
        Rows corrected (EEG/EOG; not the ECG).
    sfreq : float
        Sample rate (Hz).
    window : int
        Past beats averaged.
    min_beats : int
        Beats needed before subtracting.
    epoch_s : float
        Longest beat epoch kept (s); a beat's template is used until the next peak.
    """

    def __init__(
        self,
        n_channels: int,
        sfreq: float,
        *,
        window: int = 20,
        min_beats: int = 5,
        epoch_s: float = 1.5,
    ) -> None:
        self.sfreq = float(sfreq)
        self.window = max(1, int(window))
        self.min_beats = max(1, int(min_beats))
        self.E = int(epoch_s * self.sfreq)
        self.ring = SampleRing(n_channels, 2 * self.E + 16384)
        self.epochs: deque[np.ndarray] = deque()
        self.sum = np.zeros((n_channels, self.E), np.float64)
        self.beats: list[int] = []  # announced, not yet stored
        self.current: int | None = None  # the beat whose template is being subtracted
        self.bad_until = -1  # samples before this index are unusable for epochs
        self.n_beats_stored = 0

    @property
    def ready(self) -> bool:
        return len(self.epochs) >= self.min_beats

    def add_peaks(self, peaks: list[int]) -> None:
        """R-peaks (global sample indices) announced by the detector."""
        for r in peaks:
            self.beats.append(int(r))
            self.current = int(r)

    def mark_unusable(self, stop: int) -> None:
        """Samples before ``stop`` must not enter a template (gap, uncorrected)."""
        self.bad_until = max(self.bad_until, int(stop))

    def gap(self, n_missing: int) -> None:
        self.ring.skip(n_missing)
        self.mark_unusable(self.ring.end)
        self.current = None

    def _store(self) -> None:
        while self.beats and self.beats[0] + self.E <= self.ring.end:
            r = self.beats.pop(0)
            if r < self.bad_until or r < self.ring.start:
                continue
            ep = self.ring.get(r, r + self.E)
            ep -= ep.mean(axis=1, keepdims=True)
            self.epochs.append(ep)
            self.sum += ep
            if len(self.epochs) > self.window:
                self.sum -= self.epochs.popleft()
            self.n_beats_stored += 1

    def process(self, x: np.ndarray, peaks: list[int], *, subtract: bool = True) -> tuple[np.ndarray, bool]:
        """Subtract the BCG from one chunk.

        Parameters
        ----------
        x : ndarray (n_channels, n)
            Gradient-corrected EEG (V), the samples after the previous chunk.
        peaks : list of int
            R-peaks announced with this chunk.
        subtract : bool
            False only learns.

        Returns
        -------
        y : ndarray (n_channels, n)
        corrected : bool
            False while learning (too few beats).
        """
        n0 = self.ring.end
        n1 = n0 + x.shape[1]
        prev = self.current
        self.ring.push(x)
        self.add_peaks(peaks)
        self._store()
        y = np.array(x, np.float32, copy=True)
        if not self.ready:
            return y, False
        if not subtract:
            return y, True
        # each beat's template runs from its peak until the next peak (or E samples)
        starts = ([prev] if prev is not None else []) + sorted(int(p) for p in peaks)
        tmpl = self._template()
        for k, rb in enumerate(starts):
            nxt = starts[k + 1] if k + 1 < len(starts) else n1
            a, b = max(rb, n0), min(n1, rb + self.E, nxt)
            if b > a:
                y[:, a - n0 : b - n0] -= tmpl[:, a - rb : b - rb]
        return y, True

    def _template(self) -> np.ndarray:
        if getattr(self, "_tkey", None) != self.n_beats_stored:
            self._tmpl = (self.sum / len(self.epochs)).astype(np.float32)
            self._tkey = self.n_beats_stored
        return self._tmpl
