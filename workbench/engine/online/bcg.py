"""Causal ballistocardiogram subtraction from the average of past beats.

Each announced R-peak starts a beat; the template is the mean of the last ``window``
complete beat epochs (gradient-corrected EEG from the R-peak on, each with its mean
removed so DC offsets are never subtracted; epochs holding gradient-uncorrected or lost
samples are left out). A beat's template is fixed at the sample at which its peak was
announced and subtracted from that sample until the next announcement takes over:
every decision is tied to a sample, never to a chunk, so an LSL stream and an
in-process replay cut into other chunks give the same output. The samples between an
R-peak and its announcement (tens of ms, before the BCG's main deflection) may already
have been sent and keep their small residue. The offline AAS/OBS (:mod:`workbench.engine.cardiac.bcg`)
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
        self.bad = SampleRing(1, self.ring.capacity, np.uint8)  # 1: must not enter a template
        self.epochs: deque[np.ndarray] = deque()
        self.sum = np.zeros((n_channels, self.E), np.float64)
        self.beats: list[int] = []  # announced, not yet stored
        self.current: tuple[int, np.ndarray | None] | None = None  # beat in force, its template
        self.ready_from: int | None = None  # first sample with a full template in force
        self.n_beats_stored = 0

    @property
    def ready(self) -> bool:
        return len(self.epochs) >= self.min_beats

    def gap(self, n_missing: int) -> None:
        """``n_missing`` samples were lost: they never enter a template; the beat in
        force ends."""
        if n_missing <= 0:
            return
        self.ring.skip(n_missing)
        m = min(n_missing, self.bad.capacity)
        self.bad.push(np.ones((1, m), np.uint8))
        self.bad.end += n_missing - m
        self.current = None

    def _store(self, limit: int) -> None:
        """Store the epochs of the beats complete before sample ``limit``."""
        while self.beats and self.beats[0] + self.E <= limit:
            r = self.beats.pop(0)
            if r < self.ring.start or self.bad.get(r, r + self.E).any():
                continue
            ep = self.ring.get(r, r + self.E)
            ep -= ep.mean(axis=1, keepdims=True)
            self.epochs.append(ep)
            self.sum += ep
            if len(self.epochs) > self.window:
                self.sum -= self.epochs.popleft()
            self.n_beats_stored += 1

    def _apply(self, y: np.ndarray, a: int, b: int, n0: int) -> None:
        """Subtract the template of the beat in force from samples ``[a, b)``."""
        if self.current is None or self.current[1] is None:
            return
        r, tmpl = self.current
        lo, hi = max(a, r), min(b, r + self.E)
        if hi > lo:
            y[:, lo - n0 : hi - n0] -= tmpl[:, lo - r : hi - r]

    def process(
        self,
        x: np.ndarray,
        peaks: list[int],
        *,
        announced: list[int] | None = None,
        unusable: np.ndarray | None = None,
        subtract: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Subtract the BCG from one chunk.

        A beat's template is fixed at the sample at which its R-peak was announced (the
        mean of the beats complete by then) and subtracted from that sample until the
        next announcement, so the output does not depend on how the stream is chunked.

        Parameters
        ----------
        x : ndarray (n_channels, n)
            Gradient-corrected EEG (V), the samples after the previous chunk.
        peaks : list of int
            R-peaks announced with this chunk (global sample indices).
        announced : list of int | None
            For each peak, the global index of the sample at which it was announced
            (:attr:`.rpeaks.CausalRPeaks.announced`); None: the chunk's first sample.
        unusable : ndarray of bool (n,) | None
            True where the samples must not enter a template (gradient uncorrected).
        subtract : bool
            False only learns.

        Returns
        -------
        y : ndarray (n_channels, n)
        ready : ndarray of bool (n,)
            False while learning (no template of ``min_beats`` beats yet).
        """
        n0 = self.ring.end
        n = x.shape[1]
        n1 = n0 + n
        self.ring.push(x)
        bad = np.zeros(n, np.uint8) if unusable is None else np.asarray(unusable, np.uint8)
        self.bad.push(bad[None])
        if announced is None:
            announced = [n0] * len(peaks)
        y = np.array(x, np.float32, copy=True)
        pos = n0
        for ann, r in sorted(zip((int(a) for a in announced), (int(p) for p in peaks))):
            if subtract:
                self._apply(y, pos, ann, n0)
            self._store(ann)
            self.beats.append(r)
            tmpl = self._template() if self.ready else None
            self.current = (r, tmpl)
            if tmpl is not None and self.ready_from is None:
                self.ready_from = ann
            pos = ann
        if subtract:
            self._apply(y, pos, n1, n0)
        self._store(n1)
        ready = np.zeros(n, bool)
        if self.ready_from is not None:
            ready[max(self.ready_from - n0, 0) :] = True
        return y, ready
    def _template(self) -> np.ndarray:
        if getattr(self, "_tkey", None) != self.n_beats_stored:
            self._tmpl = (self.sum / len(self.epochs)).astype(np.float32)
            self._tkey = self.n_beats_stored
        return self._tmpl
