"""Causal version of following the low band's size (:mod:`workbench.engine.gradient.lf_scale`).

After each volume's gradients the scanner table and the cables ring (5-35 Hz, decaying
over a few hundred ms), and the ringing's size wanders over tens of seconds. The online
templates average the low band over ``window_lf`` past volumes, so they subtract its
mean size and leave its wander: on the variant table's "LF volume-locked 20 uV" row the
online correction left 4.99 µV (1-40 Hz, after volume 10) where the offline one, which
follows that size (:mod:`..gradient.lf_scale`), left 1.82.

Offline, each volume's share of the low band's shape is fitted on that volume after the
correction and smoothed over five volumes centred on it. Online a volume's share is known
only once the volume has passed, so each volume is corrected with a prediction from the
volumes before it:

* the shape is the mean raw epoch of the past volumes, band-limited to the volume comb's
  lines from 1/TR to 40 Hz without the lines within 1.5 of a slice harmonic (there the
  gradient artifact itself dominates; the slot rate is detected on the same mean,
  :func:`..sync.acquisition.detect_slots`), split across the EEG rows into its (up to 3)
  largest parts (SVD), as offline;
* each past volume's share of each part (one number per part and volume, fitted on all
  EEG rows together, so little EEG enters) is measured on the corrected output, before
  this pass;
* a part is followed only when its shares wander (their variance at least ``min_ratio``
  times what their volume-to-volume differences give for noise, offline's rule) and when
  predicting each share from the ones before leaves at most half of what predicting none
  leaves (:data:`PREDICT_MAX`);
* the prediction is an exponential smoothing of the shares, its weight the one that best
  predicted the past shares one volume ahead (0.1-1 in steps of 0.1). The predicted share
  is subtracted from the volume's output.

The worker thread keeps the history (each volume's low bins) and builds the model for
volume ``n + 2`` once volume ``n`` has passed; the stream thread adds the share of volume
``n + 1`` (one small product over the volume's output) when volume ``n + 2`` starts, so
the prediction uses the volume right before (two volumes back: 3.26 instead of 2.74 µV on
that row). The output does not depend on how the stream is chunked.

No peer does this online (NeuXus and EEG-LLAMAS average whole-band templates); it is
ours because the offline pass it mirrors is. Like the offline pass it cannot tell a brain
response evoked at the same latency in every volume of a task block from the ringing:
switch it off then (``OnlineParams.lf_scale``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..gradient.lf_scale import near_slice_lines, wander_ratio, without_line

#: past volumes needed before a part is judged (the offline pass's)
MIN_VOLUMES = 12
#: margins of the raw epochs kept for the shape (s; see CausalLowBand._lowpass)
MARGIN_S = 0.3
#: completed volumes waiting for their pulse estimate at most (older ones are dropped)
MAX_PENDING = 8
#: a part is followed only when predicting its shares leaves at most this much of what
#: predicting none leaves (out of sample, over the history)
PREDICT_MAX = 0.5
#: the exponential smoothing's weights tried
ALPHAS = np.round(np.arange(1, 11) / 10.0, 1)


@dataclass(frozen=True)
class LowBandModel:
    """What the stream needs to predict one volume's low-band share.

    Attributes
    ----------
    last : int
        Number of the newest volume in the history (``level`` is after it).
    proj : ndarray (r, n_rows), float32
        Each part's pattern over the rows divided by its size and by the share of its
        waveform a volume read without its line sees (``U_j / (S_j g_j)``): a volume's
        share of part ``j`` is ``proj[j] @ out @ w[j]``, ``out`` without its line.
    w : ndarray (r, n), float32
        The parts' unit waveforms over the volume's first ``n`` samples.
    us : ndarray (n_rows, r), float32
        Each part's pattern times its size (``U_j S_j``).
    alpha, level : ndarray (r,)
        The smoothing's weight and its level after volume ``last``.
    keep : ndarray (r,) of bool
        Parts followed.
    ratio : ndarray (r,)
        Each part's variance ratio (wander over volume-to-volume noise).
    pulse : bool
        The shares were measured with the pulse estimate taken out (the stream then
        predicts from the worker's volumes only, two volumes back).
    """

    last: int
    proj: np.ndarray
    w: np.ndarray
    us: np.ndarray
    alpha: np.ndarray
    level: np.ndarray
    keep: np.ndarray
    ratio: np.ndarray
    pulse: bool = False


class CausalLowBand:
    """Follow the size of the artifact's low band from volume to volume, causally.

    Parameters
    ----------
    rows : array of int
        The EEG rows of the chunks (the parts are fitted over them together).
    sfreq : float
        Sampling rate (Hz).
    submit : callable
        ``submit(fn, *args)`` runs ``fn`` on the correction's worker thread (in order)
        and returns a future.
    raw : callable
        ``raw(a, b)``: the raw samples ``a``-``b`` (all rows) of the stream.
    say : callable
        Reports a message (the correction's log).
    f_hi : float
        Highest frequency of the low band (Hz; the templates' ``lf_cutoff_hz``).
    rank : int
        Parts of the shape.
    history : int
        Past volumes whose shares are judged and smoothed.
    min_ratio : float
        A part's shares must vary at least this times their noise (offline's rule).
    """

    def __init__(self, rows: np.ndarray, sfreq: float, *, submit: Callable[..., Any],
                 raw: Callable[[int, int], np.ndarray], say: Callable[[str], None],
                 f_hi: float = 40.0, rank: int = 3, history: int = 60,
                 min_ratio: float = 3.0) -> None:
        self.rows = np.asarray(rows, int)
        self.sfreq = float(sfreq)
        self._submit = submit
        self._raw = raw
        self._say = say
        self.f_hi = float(f_hi)
        self.rank = max(1, int(rank))
        self.history = max(MIN_VOLUMES, int(history))
        self.min_ratio = float(min_ratio)
        self.n_followed = 0  # volumes whose output had a predicted share taken out
        self.info: dict[str, Any] = {}
        self._announced = False
        self._failed = False
        self.reset()

    # ------------------------------------------------------------ both sides
    def reset(self) -> None:
        """Start a new run (a TR change, a gap): forget the history."""
        # the stream side (the volume's length is set at the run's first volume)
        self.n: int | None = None  # samples of each volume followed
        self.n_raw: int | None = None  # ... and of the raw epochs kept for the shape
        self.margin = int(round(MARGIN_S * self.sfreq))  # on each side of those raw epochs
        self._period: float | None = None
        self._cur: int | None = None  # the volume being corrected
        self._first = 0
        self._fill = 0  # its samples seen so far (-1: not all of them were corrected)
        self._buf: np.ndarray | None = None
        self._coef: np.ndarray | None = None  # (n_rows, r): this volume's share per row
        self._w: np.ndarray | None = None
        self._prev: tuple[int, np.ndarray] | None = None  # the last complete volume's output
        self._firsts: dict[int, int] = {}  # the first sample of the volumes begun lately
        self._pending: deque[tuple[int, int, np.ndarray]] = deque()  # completed, not yet handed over
        self._models: dict[int, Any] = {}
        # the worker side
        self._hist: deque[tuple[int, np.ndarray]] = deque(maxlen=self.history)
        self._raw_sum: np.ndarray | None = None
        self._raw_count = 0
        # the raw epochs' means against their first sample (rows; the drift's slope)
        self._raw_t = np.zeros(2)  # sum t, sum t^2
        self._raw_m: np.ndarray | None = None  # (2, rows): sum m, sum t m
        self._bins: np.ndarray | None = None  # the comb lines used (rfft bins of n samples)
        self._f_slice: float | None = None
        self._pulse_out = False  # the newest stored volume had the pulse estimate taken out

    # ---------------------------------------------------------- stream side
    def apply(self, number: int, first: int, period: float, y: np.ndarray, a: int, k: int, at: int) -> None:
        """Record the corrected samples ``y[:, a:a+k]`` of volume ``number`` and take
        out its predicted low-band share (in place).

        Parameters
        ----------
        number : int
            The volume's number in the run.
        first : int
            The volume's first corrected sample (stream index).
        period : float
            Samples per volume.
        y : ndarray (n_channels, n)
            The chunk after the gradient template (changed in place on ``rows``).
        a, k : int
            The volume's samples in the chunk: ``y[:, a:a+k]``.
        at : int
            Stream index of ``y[:, a]``.
        """
        if self.n is None:
            self._period = float(period)
            self.n = int(np.floor(period)) - 2  # a marker a sample early must not cut it
            self.n_raw = int(round(period))
            if self.n < 16:
                self.n = None
                return
        if number != self._cur:
            self._begin(number, first)
        off = at - first
        if self._buf is None or off >= self.n or off < 0:
            return
        k2 = min(int(k), self.n - off)
        rows = self.rows
        if off == self._fill:
            self._buf[:, off : off + k2] = y[rows, a : a + k2]
            self._fill += k2
        else:
            self._fill = -1
        if self._coef is not None:
            w = self._w
            c = self._coef
            # part by part, elementwise: the same numbers whatever the chunk's length
            sub = c[:, :1] * w[0, off : off + k2]
            for j in range(1, c.shape[1]):
                sub += c[:, j : j + 1] * w[j, off : off + k2]
            y[rows, a : a + k2] -= sub
        if self._fill == self.n:
            self._complete(number)

    def _begin(self, number: int, first: int) -> None:
        self._cur, self._first, self._fill = int(number), int(first), 0
        self._firsts[int(number)] = int(first)
        for key in [key for key in self._firsts if key < number - 3]:
            del self._firsts[key]
        self._buf = np.empty((self.rows.size, self.n), np.float32)
        self._coef = self._w = None
        fut = self._models.pop(number, None)
        for key in [key for key in self._models if key < number]:
            del self._models[key]
        if fut is None or self._failed:
            return
        try:
            m: LowBandModel | None = fut.result()
        except Exception as exc:  # noqa: BLE001 - the stream keeps flowing without this pass
            import logging

            logging.getLogger(__name__).error("following the low band failed", exc_info=exc)
            self._failed = True
            self._say(f"internal error: the low band's size is no longer followed ({exc!r})")
            return
        if m is None or not m.keep.any():
            return
        level = m.level.copy()
        if self._prev is not None and self._prev[0] > m.last and not m.pulse:
            # the volume right before, which the worker has not seen: its share now (not
            # with the pulse pass: its pulse estimate is not final yet, and a heart
            # locked to the volumes would enter the share)
            z = without_line((m.proj @ self._prev[1]).astype(np.float64))  # (r, n)
            share = np.einsum("jt,jt->j", z, m.w.astype(np.float64))
            level = level + m.alpha * (share - level)
        coef = m.us * (level * m.keep).astype(np.float32)[None, :]
        keep = np.flatnonzero(m.keep)
        self._coef = np.ascontiguousarray(coef[:, keep])
        self._w = m.w[keep]
        self.n_followed += 1
        self.info = {"parts_followed": int(keep.size), "ratio": float(np.max(m.ratio[keep])),
                     "alpha": [float(x) for x in m.alpha[keep]], "volumes_followed": self.n_followed}
        if not self._announced:
            self._announced = True
            self._say(f"the low band's size wanders from volume to volume (variance ratio "
                      f"{float(np.max(m.ratio[keep])):.1f}): its share in {keep.size} part(s) is followed "
                      f"from volume {number} on, predicted from the volumes before")

    def _complete(self, number: int) -> None:
        self._prev = (number, self._buf)
        self._pending.append((number, self._first, self._buf))
        while len(self._pending) > MAX_PENDING:  # (a pulse estimate that stopped advancing)
            self._pending.popleft()

    def flush(self, n0: int, pulse: Any = None, pulse_through: int = 0,
              pulse_rows: np.ndarray | None = None) -> None:
        """Hand the completed volumes over to the worker, each with the model two volumes
        on: once its output lies in the chunks before (``n0``: this chunk's first
        sample) and, with the pulse pass, once the pulse estimate over it is final (as
        the gradient epochs are stored), so what is handed over does not depend on the
        chunking. Called at the start of every chunk.

        Parameters
        ----------
        n0 : int
            Stream index of the chunk's first sample.
        pulse : CausalPulse | None
            The pulse artifact's estimator (:mod:`.pulse`), whose estimate is taken out
            of the volumes' output and raw epochs before their shares are measured (a
            heart locked to the volumes would otherwise wander like the ringing: the
            pass took its BCG out of the output, 0.075 -> 0.24 NRMSE against the truth
            with its BCG on the locked-heart test phantom).
        pulse_through : int
            The stream sample the pulse estimator has seen up to.
        pulse_rows : ndarray of int | None
            The rows the pulse estimate covers.
        """
        while self._pending:
            number, first, buf = self._pending[0]
            need = first + int(self.n) + (int(pulse.lag) if pulse is not None else 0)
            if need > n0 or (pulse is not None and need > pulse_through):
                return
            self._pending.popleft()
            snap = pulse.snapshot(need) if pulse is not None else None
            raw_prev, raw_at = None, 0
            prev_first = self._firsts.get(number - 1)
            if prev_first is not None and self.n_raw is not None:
                raw_at = prev_first - self.margin
                try:
                    raw_prev = np.array(self._raw(raw_at, raw_at + self.n_raw + 2 * self.margin)[self.rows],
                                        np.float32)
                except (IndexError, ValueError):
                    raw_prev = None
            pul = None
            if snap is not None and pulse_rows is not None:
                where = {int(r): i for i, r in enumerate(pulse_rows)}
                at = np.array([where.get(int(r), -1) for r in self.rows])
                if (at >= 0).any():
                    pul = (pulse, snap, at)
            self._submit(self._job_store, number, first, buf, raw_prev, raw_at, pul)
            self._models[number + 2] = self._submit(self._job_model)

    # ---------------------------------------------------------- worker side
    def _job_store(self, number: int, first: int, out: np.ndarray, raw_prev: np.ndarray | None,
                   raw_at: int, pul: tuple | None) -> None:
        if self._bins is None:
            k_hi = int(np.floor(self.f_hi * self.n / self.sfreq))
            self._bins = np.arange(1, k_hi + 1)
        self._pulse_out = pul is not None
        if pul is not None:  # the pulse estimate out of the output and the raw epoch
            pulse, snap, at = pul
            has = at >= 0
            out = out.astype(np.float64)  # (a copy: the stream still reads the volume's own)
            out[has] -= pulse.expand(snap, first, first + out.shape[1])[at[has]]
            if raw_prev is not None:
                raw_prev = raw_prev.astype(np.float64)
                raw_prev[has] -= pulse.expand(snap, raw_at, raw_at + raw_prev.shape[1])[at[has]]
        # each volume's line out first: an electrode's drift gives it an offset and a slope
        # of its own, which read through the parts' waveforms biased every share alike
        # (see the offline pass, gradient.lf_scale.follow_lf_size)
        spec = np.fft.rfft(without_line(np.asarray(out, np.float64)), axis=1)[:, self._bins]
        self._hist.append((int(number), spec))
        if raw_prev is not None:
            if self._raw_sum is None:
                self._raw_sum = np.zeros(raw_prev.shape)
            self._raw_sum += raw_prev
            self._raw_count += 1
            m, t = raw_prev.mean(axis=1), float(raw_at)
            if self._raw_m is None:
                self._raw_m = np.zeros((2, m.size))
            self._raw_t += (t, t * t)
            self._raw_m += (m, t * m)

    def _slot_rate(self, mean: np.ndarray) -> float:
        """The slot rate (Hz) detected on the mean raw epoch; 0 when it is not clear."""
        from ..sync.acquisition import detect_slots

        row = int(np.argmax(np.var(mean, axis=1)))
        acq = detect_slots(mean[row], self.sfreq, mean.shape[1] / self.sfreq)
        det = acq.detection or {}
        if acq.source != "signal" or acq.n_slots < 4 or det.get("ambiguous"):
            return 0.0
        # the epoch is the TR rounded to whole samples: the slot rate on the TR itself
        return float(acq.slice_frequency) * mean.shape[1] / float(self._period)

    def _lowpass(self, mean: np.ndarray) -> np.ndarray:
        """The mean raw epoch (with its margins) low-passed to ``f_hi`` (raised cosine
        to ``f_hi + 10`` Hz), its margins' outer halves tapered: its gradient artifact,
        millivolts, is periodic in the TR, not in the epoch's whole samples, and cut at
        the epoch's edges it leaked into every bin (12 channels, a 1 mV comb at 2.5 kHz:
        the largest part of the shape was that leak, its shares noise)."""
        N = mean.shape[1]
        h = max(int(self.margin) // 2, 1)
        win = np.ones(N)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(h) / h)
        win[:h], win[N - h :] = ramp, ramp[::-1]
        f = np.fft.rfftfreq(N, 1.0 / self.sfreq)
        g = np.clip((self.f_hi + 10.0 - f) / 10.0, 0.0, 1.0)
        g = 0.5 - 0.5 * np.cos(np.pi * g)
        return np.fft.irfft(np.fft.rfft(mean * win, axis=1) * g, n=N, axis=1)

    def _without_slice_lines(self, shape: np.ndarray) -> np.ndarray:
        """``shape`` minus its least-squares sinusoids at the slice harmonics up to
        ``f_hi + 10`` Hz. The gradient artifact's lowest slice harmonics are strong
        (a millivolt at 15 Hz on the test stream) and sit between the epoch's bins (its
        whole samples are not the TR): zeroing their bins left their leak in the bins
        beside (~15 µV two bins off, as large as the ringing)."""
        n = shape.shape[1]
        freqs = np.arange(1, int((self.f_hi + 10.0) / self._f_slice) + 1) * self._f_slice
        if freqs.size == 0:
            return shape
        t = np.arange(n) / self.sfreq
        D = np.concatenate([np.cos(2 * np.pi * freqs[None, :] * t[:, None]),
                            np.sin(2 * np.pi * freqs[None, :] * t[:, None])], axis=1)
        coef = np.linalg.lstsq(D, shape.T, rcond=None)[0]
        return shape - (D @ coef).T

    def _job_model(self) -> LowBandModel | None:
        if len(self._hist) < MIN_VOLUMES or self._raw_count < MIN_VOLUMES - 1 or self._bins is None:
            return None
        n, M = int(self.n), int(self.margin)
        mean = self._raw_sum / self._raw_count
        # an electrode's drift: the slope of the raw epochs' means over the run is the mean
        # epoch's own (a DC ramp's), and a line over the epoch leaks into every bin kept
        # (as offline, gradient.lf_scale.lf_shape)
        N = float(self._raw_count)
        var_t = self._raw_t[1] - self._raw_t[0] ** 2 / N
        if self._raw_m is not None and N > 2 and var_t > 0:
            slope = (self._raw_m[1] - self._raw_t[0] * self._raw_m[0] / N) / var_t
            mean = mean - slope[:, None] * (np.arange(mean.shape[1]) - 0.5 * (mean.shape[1] - 1))[None, :]
        if self._f_slice is None:
            self._f_slice = self._slot_rate(mean[:, M : M + self.n_raw])
        shape = self._lowpass(mean)[:, M : M + n]
        if self._f_slice > 0:
            shape = self._without_slice_lines(shape)
        X = np.fft.rfft(shape, axis=1)[:, self._bins]
        if self._f_slice > 0:
            X[:, near_slice_lines(self._bins * self.sfreq / n, self.f_hi, self._f_slice, self.sfreq / n)] = 0.0
        # time-domain inner products of band-limited rows are (2/n) Re sum X conj(Y) over
        # the bins: so the SVD of these real rows is the one of the shape in time
        Z = np.sqrt(2.0 / n) * np.concatenate([X.real, X.imag], axis=1)
        U, S, _ = np.linalg.svd(Z, full_matrices=False)
        r = int(min(self.rank, int(np.sum(S > 1e-9 * max(float(S[0]) if S.size else 0.0, 1e-300)))))
        if r == 0 or not float(S[0]) > 0.0:
            return None
        U, S = U[:, :r], S[:r]
        Wf = (U.T @ X) / S[:, None]  # each part's unit waveform, its bins
        full = np.zeros((r, n // 2 + 1), complex)
        full[:, self._bins] = Wf
        w = np.fft.irfft(full, n=n, axis=1)
        # the volumes were read without their line: a part's own share of it is missed too
        # (<W, W - P W> = 1 - |P W|^2 of it is seen)
        gain = np.maximum(np.einsum("jt,jt->j", w, without_line(w)), 1e-6)
        nums = [num for num, _ in self._hist]
        A = np.array([(2.0 / n) * np.real(np.sum((U.T @ C) * np.conj(Wf), axis=1)) / (S * gain)
                      for _, C in self._hist])  # (volumes, r) shares
        ratio = wander_ratio(A)
        # exponential smoothing, its weight the best one volume ahead over the history
        best_err = np.full(r, np.inf)
        alpha = np.ones(r)
        level = A[-1].copy()
        for al in ALPHAS:
            lv = A[0].copy()
            err = np.zeros(r)
            for i in range(1, A.shape[0]):
                err += (A[i] - lv) ** 2
                lv = lv + al * (A[i] - lv)
            better = err < best_err
            best_err[better], alpha[better], level[better] = err[better], al, lv[better]
        zero_err = np.sum(A[1:] ** 2, axis=0)
        # offline's rule (the shares wander) and out of sample: predicting them one volume
        # ahead leaves at most PREDICT_MAX of what predicting none leaves. The second alone
        # followed parts made of the EEG averaged into the shape where there is no
        # ringing: the variant table's default row 0.82 -> 1.18 µV (its shares sit off
        # zero: the template's own EEG leak), slow EEG 1.03 -> 1.29. Both, with "beats
        # none" (1.0), followed parts of a drifting phantom's artifact now and then (ratio
        # 2-3.3, prediction 0.5-0.9 of none) and cost it 1.72 -> 1.76 µV; the ringing's
        # parts predict to 0.04-0.25 of none, the "combined" row's to 0.14-0.47
        keep = (ratio >= self.min_ratio) & (best_err < PREDICT_MAX * zero_err)
        return LowBandModel(
            last=int(nums[-1]), proj=(U / (S * gain)[None, :]).T.astype(np.float32), w=w.astype(np.float32),
            us=(U * S[None, :]).astype(np.float32), alpha=alpha, level=level, keep=keep, ratio=ratio,
            pulse=self._pulse_out)
