"""The pulse artifact kept out of the online gradient templates (the offline cardiac pass
made causal).

Why: a heart whose harmonics lie near the volume lines k/TR repeats with the volumes for
dozens of them, so the causal gradient templates (means of past volume epochs) take its
pulse artifact (BCG) for gradient artifact and subtract it: on a 90 s phantom with a
heart locked at 60 bpm to a 2 s TR the online gradient correction left an NRMSE of 0.70
(1-40 Hz, against the truth with its BCG), against 0.03 offline with
:mod:`workbench.engine.gradient.cardiac_pass`. Offline, the gradient templates and the
R-locked mean take turns on the whole recording; online the same alternation runs in
time: each volume epoch enters the gradient templates minus the R-locked mean of the
beats before it (estimated on the gradient-corrected stream, which those templates
cleaned), and the pulse goes on to the BCG step untouched.

How, so that the output does not depend on how the stream is chunked: the
gradient-corrected rows are low-passed causally (a 4th-order Bessel filter at 40 Hz,
whose group delay is flat in the BCG's band, so it is undone exactly by a shift) and kept
at ~250 Hz. A volume epoch ending at sample ``s`` is cleaned with the estimate "as of"
``s + lag`` (``lag`` covers the R-peak detector's announcement delay): the beats announced
by then, and the mean of the last ``window`` beat epochs complete by then, each a fixed
function of sample indices. The gradient correction waits for that sample before it
stores the epoch (:attr:`.gradient.CausalGradient.store_after`), one chunk at most later
than before, well before the template that epoch feeds (two volumes on) is needed.

Written here: no online EEG-fMRI tool (NeuXus, EEG-LLAMAS) separates the two artifacts by
their different locking; the R-locked mean is the standard BCG template (Allen et al.
1998).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ..cardiac.rpeaks import HR_RANGE_BPM
from .ring import NEVER, SampleRing, last_flagged

#: the estimate's band (Hz) and the rate it is kept at (Hz, at least), as offline
BAND_HZ = 40.0
WORK_RATE_HZ = 250.0


class CausalPulse:
    """R-locked mean of past beats, for cleaning the gradient templates' epochs.

    Parameters
    ----------
    n_rows : int
        Rows kept (the EEG/EOG rows and the ECG row of the corrected channels).
    sfreq : float
        Sample rate (Hz).
    window : int
        Beats in the R-locked mean (21, as offline).
    min_beats : int
        Beats needed before an estimate is given.
    pre_s : float
        Epochs start this long before the R-peak (the ECG's QRS and the previous beat's
        tail are then in one epoch, as the offline pass does for the ECG).
    epoch_s : float
        Epoch length after the R-peak (s); a beat's template is used until the next
        beat's epoch starts, at most this long.
    lag_s : float
        How long after an epoch's last sample its estimate is taken: the R-peak detector
        announces a peak up to 0.15 s after the QRS starts (:mod:`.rpeaks`).
    keep_s : float
        Seconds of the low-passed rows held.
    min_quality : float
        Least median correlation of the beats' QRS (the last row, the ECG) with their
        mean for an estimate to be given (:meth:`_quality`; 0.5 as offline; once below
        it, 0.1 more to be given again: :attr:`trusted`). On a synthetic stream whose ECG
        kept a large gradient residual the detector found 196 peaks for 95 beats (quality
        0.33) and the pass made the correction worse (NRMSE 0.262 -> 0.279); on the
        phantoms the quality is 0.999.
    """

    def __init__(
        self,
        n_rows: int,
        sfreq: float,
        *,
        window: int = 21,
        min_beats: int = 8,
        pre_s: float = 0.2,
        epoch_s: float = 1.5,
        lag_s: float = 0.2,
        keep_s: float = 120.0,
        min_quality: float = 0.5,
    ) -> None:
        self.sfreq = float(sfreq)
        self.q = max(int(self.sfreq // WORK_RATE_HZ), 1)
        self.window = max(1, int(window))
        self.min_beats = max(1, int(min_beats))
        self.pre = int(round(pre_s * self.sfreq))
        self.K = int(np.ceil((pre_s + epoch_s) * self.sfreq / self.q))  # epoch samples at the low rate
        self.lag = int(round(lag_s * self.sfreq))
        ny = 0.5 * self.sfreq
        self.sos = None
        self.delay = 0.0  # the low-pass's group delay (samples of the stream)
        if BAND_HZ < 0.8 * ny:
            self.sos = signal.bessel(4, BAND_HZ, fs=self.sfreq, norm="mag", output="sos")
            b, a = signal.sos2tf(self.sos)
            self.delay = float(signal.group_delay((b, a), w=[5.0], fs=self.sfreq)[1][0])
            self.zi = np.zeros((self.sos.shape[0], int(n_rows), 2))
        cap = int(keep_s * self.sfreq / self.q) + 16
        self.low = SampleRing(int(n_rows), cap)  # low-rate sample k: stream sample k * q
        self.bad = SampleRing(1, cap, np.uint8)
        self.n_in = 0  # stream samples received
        self._last_bad = NEVER  # the last unusable stream sample
        self._memory = int(np.ceil(4 * self.delay)) + self.q
        self.beats: list[tuple[int, int]] = []  # (R-peak, sample announced), by announcement
        self._cache: tuple[tuple[int, ...], np.ndarray, float] | None = None
        self.min_quality = float(min_quality)
        self.quality = float("nan")  # of the last snapshot's beats (see _quality)
        self.hr_bpm = float("nan")  # their heart rate (median RR interval)
        self.trusted = True

    # ------------------------------------------------------------------ input
    def push(self, x: np.ndarray, unusable: np.ndarray | None = None) -> None:
        """The next gradient-corrected samples of the rows (V), and where they must not
        enter an estimate (gradient not subtracted)."""
        n = x.shape[1]
        y = np.asarray(x, np.float64)
        if unusable is not None and np.any(unusable):  # no mV artifact into the filter's memory
            y = np.where(np.asarray(unusable, bool)[None, :], 0.0, y)
        if self.sos is not None:
            y, self.zi = signal.sosfilt(self.sos, y, axis=1, zi=self.zi)
        n0 = self.n_in
        first = (-n0) % self.q  # the first multiple of q in this chunk
        take = np.arange(first, n, self.q)
        self.low.push(y[:, take].astype(np.float32))
        # a low-rate sample is unusable when an unusable stream sample lies within the
        # filter's memory before it (its impulse response has decayed after ~4 delays)
        last = last_flagged(np.zeros(n, bool) if unusable is None else unusable, n0, self._last_bad)
        if n:
            self._last_bad = int(last[-1])
        if take.size:
            self.bad.push(((n0 + take - last[take]) <= self._memory).astype(np.uint8)[None])
        self.n_in = n0 + n

    def gap(self, n_missing: int) -> None:
        """``n_missing`` samples were lost: the rows' filter restarts; nothing there
        enters an estimate."""
        if n_missing <= 0:
            return
        n0 = self.n_in
        first = (-n0) % self.q
        k = len(range(first, n_missing, self.q))
        self.low.skip(k)
        self.bad.push(np.ones((1, min(k, self.bad.capacity)), np.uint8))
        self.bad.end += max(k - self.bad.capacity, 0)
        self.n_in = n0 + n_missing
        self._last_bad = self.n_in - 1
        if self.sos is not None:
            self.zi[:] = 0.0

    def add_beats(self, peaks: list[int], announced: list[int]) -> None:
        """R-peaks (stream samples) and the samples at which they were announced."""
        for r, a in zip(peaks, announced):
            self.beats.append((int(r), int(a)))
        if len(self.beats) > 4 * self.window + 400:
            del self.beats[: len(self.beats) - 4 * self.window - 200]

    # ----------------------------------------------------------------- output
    def _epoch(self, r: int) -> np.ndarray | None:
        """Beat ``r``'s epoch at the low rate (None: not held or partly unusable)."""
        pos = (r - self.pre + self.delay + self.q * np.arange(self.K)) / self.q  # low-rate indices
        i0 = int(np.floor(pos[0]))
        i1 = int(np.floor(pos[-1])) + 2
        if i0 < self.low.start or i1 > self.low.end:
            return None
        if self.bad.get(i0, i1).any():
            return None
        z = self.low.get(i0, i1)
        j = np.floor(pos).astype(int) - i0
        f = (pos - np.floor(pos)).astype(np.float32)
        ep = z[:, j] * (1 - f) + z[:, j + 1] * f
        return ep - ep.mean(axis=1, keepdims=True)

    def _complete(self, r: int) -> int:
        """Stream sample by which beat ``r``'s epoch is in the low-rate rows."""
        return r - self.pre + self.q * self.K + int(np.ceil(self.delay)) + 2 * self.q

    def snapshot(self, as_of: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The estimate as of stream sample ``as_of``: ``(template, beats)``, the mean
        epoch (rows x K, from ``pre`` before the R-peak, every ``q`` samples) of the last
        ``window`` usable beats complete by then, and the R-peaks announced by then.
        None before ``min_beats`` beats, when their QRS do not look alike, or when they
        come faster than a heart beats (above ``HR_RANGE_BPM``, 200 bpm). Depends
        only on sample indices (not on how the stream was chunked), given ``as_of`` no
        later than the samples pushed."""
        known = [r for r, a in self.beats if a <= as_of]
        used: list[int] = []
        eps: list[np.ndarray] = []
        for r in reversed(known):
            if len(used) == self.window:
                break
            if self._complete(r) > as_of:
                continue
            if r - self.pre + self.delay < self.low.start * self.q:
                break
            ep = self._epoch(r)
            if ep is not None:
                used.append(r)
                eps.append(ep)
        if len(used) < self.min_beats:
            return None
        key = tuple(used)
        if self._cache is None or self._cache[0] != key:
            E = np.stack(eps)
            mean = np.mean(E, axis=0, dtype=np.float64)
            self._cache = (key, mean.astype(np.float32), self._quality(E[:, -1], mean[-1]))
        self.quality = self._cache[2]
        # the heart rate of the beats known by then: R-peaks found on a gradient residual
        # (an ECG lead off: no QRS, only what the correction left) come every refractory
        # period or so, 210-220 bpm on a synthetic stream, and their "QRS" correlate 0.7-0.8
        # (the residual repeats with the volumes); the pass then made the EEG worse
        # (8.1 -> 9.9 uV RMS; with this limit 8.5). Offline's plausible range is the limit.
        rr = np.diff(np.sort(np.asarray(known[-(self.window + 1):], float)))
        self.hr_bpm = 60.0 * self.sfreq / float(np.median(rr)) if rr.size else float("nan")
        # with a margin to be trusted again, so a quality or a rate near the limit does
        # not flip the pass on and off every volume (the snapshots come in the volumes'
        # order; a lead with no heartbeat gave 198-201 bpm, trusted again and again)
        self.trusted = (self.quality >= self.min_quality + (0.0 if self.trusted else 0.1)
                        and self.hr_bpm <= HR_RANGE_BPM[1] * (1.0 if self.trusted else 0.9))
        if not self.trusted:
            return None
        return self._cache[1], np.asarray(known, np.int64)

    def _quality(self, ecg: np.ndarray, mean: np.ndarray) -> float:
        """Median correlation of the beats' ECG epochs with their mean, around the QRS
        (0.1 s before the R-peak to 0.1 s after): a QRS found at each R-peak
        correlates highly, peaks put on residual gradient or T waves do not (the offline
        pass's R-peak quality, :data:`..gradient.cardiac_pass.MIN_QUALITY`)."""
        a = max(int((self.pre - 0.1 * self.sfreq) // self.q), 0)
        b = min(int(np.ceil((self.pre + 0.1 * self.sfreq) / self.q)) + 1, mean.size)
        x = ecg[:, a:b] - ecg[:, a:b].mean(axis=1, keepdims=True)
        m = mean[a:b] - mean[a:b].mean()
        den = np.sqrt((x**2).sum(axis=1) * (m**2).sum())
        r = (x @ m) / np.maximum(den, 1e-30)
        return float(np.median(r))

    def expand(self, snap: tuple[np.ndarray, np.ndarray], start: int, stop: int) -> np.ndarray:
        """The estimate at every stream sample of ``[start, stop)`` (rows x n): each beat's
        template from ``pre`` before its R-peak until the next beat's starts (at most
        its length), linearly interpolated from the low rate (< 40 Hz at >= 250 Hz).

        Pure (a snapshot in, an array out): safe to call from the template thread.
        """
        tmpl, beats = snap
        n = stop - start
        out = np.zeros((tmpl.shape[0], n), np.float32)
        if beats.size == 0 or n <= 0:
            return out
        starts = beats - self.pre
        t = np.arange(start, stop)
        i = np.searchsorted(starts, t, side="right") - 1  # the beat in force at each sample
        ok = i >= 0
        if not ok.any():
            return out
        off = (t[ok] - starts[i[ok]]) / self.q
        inside = off <= self.K - 1
        sel = np.flatnonzero(ok)[inside]
        off = off[inside]
        j = np.minimum(np.floor(off).astype(int), self.K - 2)
        f = (off - j).astype(np.float32)
        out[:, sel] = tmpl[:, j] * (1 - f) + tmpl[:, j + 1] * f
        return out
