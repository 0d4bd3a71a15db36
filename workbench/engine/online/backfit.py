"""The offline cardiac pass's backfitting, run online on a trailing window at each volume.

Why: a heart whose beat repeats with the volumes (60 bpm at TR 2 s, with 1-3 % beat-to-beat
variability) is taken by the gradient templates, because over a few dozen volumes the
R-locked and the volume-locked means are nearly the same signal. The causal pulse
estimate (:mod:`.pulse`) is the R-locked mean of the *corrected* stream, which already
lacks what the templates took: one backfitting step per volume, from a fixed point that
keeps the error (90 s phantom, 60 bpm at 1 %: 0.68 online against 0.03 offline). The
offline pass separates the two by alternating 15-20 times over the whole recording;
run on only the first 50 s of that phantom it already leaves 0.035 over its last 16 s
(0.028 on all 90 s), so the past is enough, given the rounds.

What: the raw rows (the EEG rows, then the ECG row) are low-passed with the offline pass's
FIR taps (40 Hz, the ECG 70 Hz) and decimated to ~250 Hz as they arrive (a causal
version of the same centred filter: low-rate sample ``j`` is stream sample ``j * q``,
known ``D`` samples later). Every ~10 s of volumes, while the causal estimate is trusted,
the offline rounds (:func:`..gradient.cardiac_pass.backfit`: low-rate templates and the
R-locked mean of 21 beats, taking turns) run on the last ``window_s`` seconds, started
from the previous window's estimate, in a thread of their own (0.5-1 s on 64 rows). Their
estimate is applied ~4 s of volumes later, when the gradient stores an epoch: the stored
epochs it covers, cleaned until then with the causal estimate, are cleaned again with it
in the templates (:meth:`..online.gradient.CausalGradient._reclean`). It is used once the
window holds 30 beats whose R-peaks (found offline in it) agree with the causal ones.
Which window is applied where is counted in epochs, so the output does not depend on
chunking or timing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ring import SampleRing

#: fraction of the window's R-peaks (found offline in it) that must lie within 60 ms of a
#: causal one: on an ECG lead with no heartbeat the offline detector found "beats" on
#: the gradient residual at 48-79 bpm with QRS quality 0.87-0.99 (the residual repeats
#: with the volumes), where the causal detector found its ~215 bpm; with a heart the two
#: agree on every beat (the causal peaks come ~14 ms after the R wave)
MIN_AGREE = 0.8


class TrailingBackfit:
    """Decimated raw rows, and the offline backfitting on their last ``window_s``.

    Parameters
    ----------
    n_rows : int
        Rows: the EEG rows, then the ECG row (its own beat is estimated too).
    sfreq : float
        Stream rate (Hz).
    window_s : float
        Seconds of the past the rounds run on.
    min_s : float
        Fewest seconds held before the rounds are tried (they need 30 beats).
    max_rounds : int
        Rounds at most per window once there is a previous window's estimate to start
        from (the first one runs to the offline pass's limit).
    """

    def __init__(self, n_rows: int, sfreq: float, *, window_s: float = 60.0, min_s: float = 25.0,
                 max_rounds: int = 8) -> None:
        from ..gradient.cardiac_pass import BAND_HZ, ECG_BAND_HZ, WORK_RATE_HZ, decimation_taps

        self.sfreq = float(sfreq)
        self.q = max(int(self.sfreq // WORK_RATE_HZ), 1)
        taps = decimation_taps(self.sfreq)
        hs = [taps[BAND_HZ]] * (n_rows - 1) + [taps[ECG_BAND_HZ]]
        T = max((h.size for h in hs if h is not None), default=1)
        H = np.zeros((n_rows, T), np.float32)
        for r, h in enumerate(hs):  # centred in the longest (both lengths odd)
            if h is None:
                H[r, T // 2] = 1.0
            else:
                a = (T - h.size) // 2
                H[r, a : a + h.size] = h[::-1]  # reversed: a dot product with the samples
        self.H = H
        self.T = T
        self.D = (T - 1) // 2  # low sample j (stream j * q) needs stream samples to j * q + D
        self.window = int(round(window_s * self.sfreq / self.q))
        self.min_n = int(round(min_s * self.sfreq / self.q))
        self.max_rounds = int(max_rounds)
        self.low = SampleRing(n_rows, self.window + 4 * int(self.sfreq / self.q) + 64)
        self._tail = np.zeros((n_rows, T - 1), np.float32)  # the last T-1 stream samples
        self.n_in = 0  # stream samples received
        self.first = 0  # first low sample since the last restart (a gap restarts)
        self._prev: tuple[int, np.ndarray] | None = None  # (first low sample, estimate)
        self.last_info: dict[str, Any] = {}

    # ------------------------------------------------------------------ input
    def push(self, x: np.ndarray) -> None:
        """The next raw samples of the rows (V, gradient and all)."""
        n = x.shape[1]
        if n == 0:
            return
        buf = np.concatenate([self._tail, np.asarray(x, np.float32)], axis=1)
        base = self.n_in - (self.T - 1)  # stream index of buf[:, 0]
        j0 = self.low.end  # next low sample
        # low sample j is complete when stream sample j*q + D has arrived
        j1 = (self.n_in + n - 1 - self.D) // self.q + 1
        if j1 > j0:
            i0 = j0 * self.q - self.D - base
            win = np.lib.stride_tricks.sliding_window_view(buf, self.T, axis=1)[:, i0 :: self.q][:, : j1 - j0]
            self.low.push(np.einsum("rkt,rt->rk", win, self.H, dtype=np.float32, optimize=False))
        self._tail = buf[:, -(self.T - 1):].copy() if self.T > 1 else buf[:, :0]
        self.n_in += n

    def gap(self, n_missing: int) -> None:
        """``n_missing`` samples were lost: start again after them."""
        if n_missing <= 0:
            return
        self.n_in += n_missing
        self._tail[:] = 0.0
        j = (self.n_in + self.D) // self.q + 1  # the first low sample clear of the gap
        self.low.skip(max(j - self.low.end, 0))
        self.first = self.low.end
        self._prev = None

    # ----------------------------------------------------------------- output
    def window_for(self, as_of: int) -> tuple[int, np.ndarray] | None:
        """The low-rate rows known by stream sample ``as_of`` (its last ``window_s``):
        ``(first low sample, rows)``, or None while fewer than ``min_s`` are held.
        Cheap (a copy); call it where the epoch is handed over, in the stream's thread."""
        j1 = min((as_of - self.D) // self.q + 1, self.low.end)
        j0 = max(j1 - self.window, self.first, self.low.start)
        if j1 - j0 < self.min_n:
            return None
        return j0, self.low.get(j0, j1)

    def estimate(self, win: tuple[int, np.ndarray], onsets: np.ndarray, aas_params: Any,
                 causal: np.ndarray | None = None) -> tuple[int, np.ndarray] | None:
        """The pulse estimate on ``win`` (from :meth:`window_for`): ``(first low sample,
        rows x n)`` at the low rate, or None (too few beats, R-peaks not trustworthy:
        ``last_info["reason"]``).

        ``onsets``: fractional stream samples of the volumes in the window (those whose
        whole epoch lies inside it are used). ``causal``: the causal detector's R-peaks
        (stream samples) known by then; the window's own (found offline, on the ECG
        after its first round) must mostly have one of them within 60 ms
        (:data:`MIN_AGREE`). Runs in the backfit thread, one call at a time,
        in the volumes' order (it starts from the previous estimate): one thread.
        """
        from ..gradient.aas import Schedule
        from ..gradient.cardiac_pass import backfit

        j0, dec = win
        n = dec.shape[1]
        o = (np.asarray(onsets, float) - j0 * self.q) / self.q
        if o.size < 3:
            self.last_info = {"used": False, "reason": "fewer than 3 volumes in the window"}
            return None
        period = float(np.median(np.diff(o)))
        # the whole volumes; the window's edges cut volumes no template covers
        # (``covered`` tells the rounds where: a row's data there is used only when it is
        # not the raw artifact; their raw 2 mV artifact below 60 Hz had entered the
        # R-peaks and the R-locked means, the EEG 7.4 -> 33 uV on online_synth's stream)
        o = o[(o >= 0) & (o + period <= n - 1)]
        if o.size < 3:
            self.last_info = {"used": False, "reason": "fewer than 3 volumes in the window"}
            return None
        covered = (max(int(np.floor(o[0])), 0), min(int(np.ceil(o[-1] + period)) + 1, n))
        est0 = None
        if self._prev is not None:
            pj, pe = self._prev
            est0 = np.zeros_like(dec)
            a, b = max(j0, pj), min(j0 + n, pj + pe.shape[1])
            if b > a:
                est0[:, a - j0 : b - j0] = pe[:, a - pj : b - pj]
        span = (o[0] * self.q / self.sfreq, (o[-1] + period) * self.q / self.sfreq)
        check = None
        if causal is not None:
            c = (np.sort(np.asarray(causal, float)) - j0 * self.q) / self.sfreq  # s from the window's start

            def check(t: np.ndarray) -> str | None:
                t = t[(t > c[0] - 0.5) & (t < c[-1] + 0.5)] if c.size else t
                if t.size == 0 or c.size == 0:
                    return "no causal R-peaks in the window"
                k = np.clip(np.searchsorted(c, t), 1, c.size - 1) if c.size > 1 else np.zeros(t.size, int)
                near = np.minimum(np.abs(c[k] - t), np.abs(c[np.maximum(k - 1, 0)] - t))
                agree = float(np.mean(near < 0.06))
                if agree < MIN_AGREE:
                    return (f"the window's R-peaks and the causal ones disagree ({100 * agree:.0f} % "
                            f"within 60 ms < {100 * MIN_AGREE:.0f} %)")
                return None

        est, info = backfit(dec, self.sfreq, self.q, Schedule(o, period, np.zeros(1)), aas_params, span,
                            n_jobs=1, rounds=self.max_rounds if est0 is not None else None, est0=est0,
                            check_beats=check, covered=covered)
        self.last_info = info
        if est is None:
            self._prev = None
            return None
        self._prev = (j0, est)
        return j0, est

    def expand(self, est: tuple[int, np.ndarray], start: int, stop: int) -> np.ndarray | None:
        """The estimate at every stream sample of ``[start, stop)``, linearly interpolated
        (a < 40 Hz signal at ~250 Hz; the ECG's < 70 Hz); None if the window misses them."""
        j0, e = est
        pos = (np.arange(start, stop) - j0 * self.q) / self.q
        if pos.size == 0 or pos[0] < 0 or pos[-1] > e.shape[1] - 1:
            return None
        i = np.minimum(np.floor(pos).astype(int), e.shape[1] - 2)
        f = (pos - i).astype(np.float32)
        return e[:, i] * (1 - f) + e[:, i + 1] * f
