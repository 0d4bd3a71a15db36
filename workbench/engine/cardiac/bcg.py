"""Ballistocardiogram (pulse artifact) removal: AAS and OBS on beat-locked segments.

The signal is cut into one segment per heartbeat, from ``R_i + delay − pre`` to
``R_{i+1} + delay − pre`` (``pre`` = min(0.2 s, 0.3 × median RR)), so segments tile the
recording and each holds one pulse artifact whatever the RR interval. For each channel:

- **AAS** (Allen et al. 1998; sliding window like AMRI's 21 beats): the artifact of a
  beat is the mean of the ``window`` nearest beats' epochs (each linearly detrended).
- **OBS** (Niazy et al. 2005, FMRIB ``fmrib_pas``: mean + 3 PCs): the sliding mean plus
  the first ``n_components`` principal components of the beats' deviations from their
  sliding mean, fitted to each beat by least squares (with a constant and a slope for
  the EEG's own baseline). The sliding mean follows slow drift of amplitude and shape
  over minutes; the PCs absorb beat-to-beat changes (respiration, latency jitter).

The fitted artifact of each segment has the line through its two end values removed, so
consecutive segments join without a step; beats before the first/after the last R-peak
are handled by mirroring the data at the edges; RR intervals longer than the epoch leave
the rest of the segment untouched. Why our own and not MNE's ``apply_pca_obs``: MNE's
epoch is centred on the R-peak (no artifact delay) and cut at half the median RR, one
global template per channel (no drift), a Python loop per channel and beat; see
``benchmarks/bench_cardiac.py`` for the side-by-side numbers.

Costs are kept low by estimating PCs and fitting coefficients on the segments sampled at
~250 Hz (the BCG has no power above ~40 Hz; least squares on a subsample of the
equations gives the same coefficients) and applying them at the full rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..progress import ProgressLike, as_progress

__all__ = ["BCGParams", "BCGResult", "remove_bcg", "segment_layout", "anon_array", "MIN_BEATS"]

#: fewest beats a correction can use
MIN_BEATS = 8


@dataclass(frozen=True)
class BCGParams:
    """Options of the BCG correction.

    Parameters
    ----------
    method : str
        ``"obs"`` (mean + PCs fitted per beat) or ``"aas"`` (sliding average subtracted).
    window : int
        Beats in the sliding average (odd numbers centre it on the beat).
    n_components : int
        Principal components of OBS (FMRIB: 3, with the mean 4 basis vectors).
    delay_s : float | None
        Artifact delay after the R-peak (s); ``None`` measures it from the data (the peak
        of the pulse-locked global field power, 0.1–0.4 s).
    """

    method: str = "obs"
    window: int = 21
    n_components: int = 3
    delay_s: float | None = 0.21


@dataclass
class BCGResult:
    """A BCG correction: the artifact removed and how it was laid out.

    Attributes
    ----------
    artifact : ndarray, shape (n_channels, n_times)
        The artifact that was subtracted (same unit as the data).
    onsets : ndarray
        First sample of each beat's segment (may be < 0 for the first beat).
    lengths : ndarray
        Samples of each segment that were corrected.
    epoch_len : int
        Length of the template epoch (samples).
    delay_s, pre_s : float
        Artifact delay used and the part of the epoch before it.
    n_beats : int
        Beats used.
    params : BCGParams
    explained : ndarray
        Per channel: fraction of the beat-to-beat variance the PCs explain (OBS).
    """

    artifact: np.ndarray
    onsets: np.ndarray
    lengths: np.ndarray
    epoch_len: int
    delay_s: float
    pre_s: float
    n_beats: int
    params: BCGParams
    explained: np.ndarray = field(default_factory=lambda: np.zeros(0))
    details: dict[str, Any] = field(default_factory=dict)


def measure_delay(data: np.ndarray, sfreq: float, rpeaks: np.ndarray, span: tuple[float, float] = (0.1, 0.4)) -> float:
    """Delay (s) of the peak of the pulse-locked global field power after the R-peak, within ``span``."""
    from .qc import epoch_matrix

    step = max(1, int(sfreq // 250))
    x = data[:, ::step]
    sf = sfreq / step
    n = int(round(0.6 * sf))
    on = np.round(np.asarray(rpeaks) * sf).astype(int)
    ep = epoch_matrix(x, on, n)
    if len(ep) < 3:
        return 0.21
    avg = ep.mean(axis=0)
    avg = avg - avg[:, :1]
    gfp = np.sqrt((avg ** 2).mean(axis=0))
    a, b = int(span[0] * sf), int(span[1] * sf)
    return float((a + int(np.argmax(gfp[a:b]))) / sf)


def segment_layout(rpeaks_s: np.ndarray, sfreq: float, n_times: int, delay_s: float) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Segments of the beats: ``(onsets, lengths, epoch_len, pre_s)`` in samples.

    Segment i starts at ``R_i + delay − pre`` and ends where segment i+1 starts (the last
    one after one median RR); lengths are capped at the epoch length (1.5 × median RR) and
    at the recording's ends.
    """
    r = np.sort(np.asarray(rpeaks_s, float))
    rr = np.diff(r)
    m = float(np.median(rr))
    pre = min(0.2, 0.3 * m)
    on = np.round((r + delay_s - pre) * sfreq).astype(np.int64)
    L = int(round(1.5 * m * sfreq))
    ends = np.append(on[1:], on[-1] + int(round(m * sfreq)))
    lengths = np.minimum(ends - on, L)
    return on, lengths, L, pre


def _shrink(coef: np.ndarray, X: np.ndarray, y: np.ndarray, XtX: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    """Shrink the per-beat coefficients of the mean (towards 1) and of the PCs (towards 0).

    Plain least squares fits the EEG too: with 3 PCs per beat, some of each beat's EEG is
    taken for artifact (the known cost of OBS). Each coefficient's noise variance comes
    from the fit's residual (inflated for the residual's autocorrelation), its spread over
    beats from the coefficients themselves; the empirical-Bayes factor
    ``max(0, 1 - noise / spread)`` keeps beat-to-beat changes that stand out of the EEG and
    drops those that do not (James–Stein).
    """
    res = y - (X @ coef[:, :, None])[:, :, 0]
    n_valid = valid.sum(axis=1)
    dof = np.maximum(n_valid - X.shape[2], 1)
    # effective samples: lag-1 autocorrelation of the residual (EEG is smooth at 250 Hz)
    num = (res[:, 1:] * res[:, :-1] * valid[:, 1:] * valid[:, :-1]).sum()
    rho = float(np.clip(num / max((res ** 2).sum(), 1e-300), 0.0, 0.95))
    inflate = (1 + rho) / (1 - rho)
    sigma2 = (res ** 2).sum(axis=1) / dof * inflate
    cov_diag = np.einsum("bii->bi", np.linalg.inv(XtX))  # (nb, n_reg)
    noise = np.median(sigma2[:, None] * cov_diag, axis=0)  # per regressor
    out = coef.copy()
    a = coef[:, 0]
    spread_a = float(np.mean((a - np.median(a)) ** 2))
    s_a = max(0.0, 1.0 - noise[0] / max(spread_a, 1e-300))
    out[:, 0] = 1.0 + (a - 1.0) * s_a
    if k:
        spread = np.mean(coef[:, 1:k + 1] ** 2, axis=0)
        s = np.clip(1.0 - noise[1:k + 1] / np.maximum(spread, 1e-300), 0.0, 1.0)
        out[:, 1:k + 1] = coef[:, 1:k + 1] * s[None, :]
    return out


def _sliding_mean(D: np.ndarray, window: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean of ``window`` consecutive rows centred on each row (shifted at the ends).

    With ``mask`` (rows x columns, bool) only the masked samples are averaged: each beat's
    epoch counts up to the end of its own segment, so a short RR interval does not bring
    the next beat's artifact into a longer beat's template.
    """
    n = D.shape[0]
    w = min(window, n)
    start = np.clip(np.arange(n) - w // 2, 0, n - w)
    z = np.zeros((1, *D.shape[1:]))
    if mask is None:
        c = np.concatenate([z, np.cumsum(D, axis=0)])
        return (c[start + w] - c[start]) / w
    m = mask.astype(float)
    c = np.concatenate([z, np.cumsum(D * m, axis=0)])
    k = np.concatenate([z, np.cumsum(m, axis=0)])
    cnt = k[start + w] - k[start]
    return np.where(cnt > 0, (c[start + w] - c[start]) / np.maximum(cnt, 1), 0.0)


def remove_bcg(
    data: np.ndarray,
    sfreq: float,
    rpeaks: np.ndarray,
    params: BCGParams | None = None,
    progress: ProgressLike | None = None,
    n_jobs: int | None = None,
) -> BCGResult:
    """Estimate the pulse artifact of every row of ``data`` (the caller subtracts it).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        EEG (V), gradient-corrected; not modified.
    sfreq : float
        Sampling rate (Hz).
    rpeaks : ndarray
        R-peak times (s, relative to the first sample of ``data``).
    params : BCGParams | None
        Method and options.
    progress : callable | None
        Progress and cancellation.
    n_jobs : int | None
        Threads the channels are shared among (``None``: up to 2, as many as there are
        CPUs). The result does not depend on it.

    Returns
    -------
    BCGResult
        ``artifact`` to subtract, and the layout of the segments.

    Raises
    ------
    InputError
        Fewer beats than the window (and than :data:`MIN_BEATS`), or a method not known.
    """
    try:  # small matrices: BLAS threads only contend (eigh of 350x350 took 1 s on 2 busy cores)
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        from contextlib import nullcontext as threadpool_limits  # type: ignore[assignment]
    with threadpool_limits(1):
        return _remove_bcg(data, sfreq, rpeaks, params or BCGParams(), as_progress(progress),
                           n_jobs=_n_jobs(n_jobs))


def anon_array(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A zero-filled array in its own anonymous memory map (a plain writable C-order ndarray).

    numpy asks the kernel for transparent huge pages on large arrays (``madvise``); on a
    machine short of free contiguous memory the kernel then compacts memory while the array
    is first written, which took 12 s for 1.5 GB on the shared 2-core machine against 3 s
    for the same array mapped without that advice. The step's full-size outputs (the
    artifact, the corrected EEG) are allocated here; the mapping is released with the array.
    """
    import mmap

    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    if count * dtype.itemsize < (1 << 24):  # small: the usual allocator
        return np.zeros(shape, dtype)
    buf = mmap.mmap(-1, count * dtype.itemsize)
    return np.frombuffer(buf, dtype, count=count).reshape(shape)


def _n_jobs(n_jobs: int | None) -> int:
    """Worker threads for the channel loop: ``n_jobs``, else min(2, CPUs available)."""
    import os

    if n_jobs is not None:
        return max(1, int(n_jobs))
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def _top_components(R: np.ndarray, k: int, n_iter: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` leading right singular vectors of ``R`` (columns) and singular values.

    Randomised subspace iteration (Halko et al. 2011) with a fixed seed: a full
    eigen-decomposition of a 700 x 700 matrix per channel was the slowest part.
    """
    if k == 0:
        return np.zeros((R.shape[1], 0)), np.zeros(0)
    rng = np.random.default_rng(0)
    q = min(k + 8, min(R.shape))
    Y = R.T @ (R @ rng.standard_normal((R.shape[1], q)))
    for _ in range(n_iter):
        Y, _ = np.linalg.qr(Y)
        Y = R.T @ (R @ Y)
    Y, _ = np.linalg.qr(Y)
    _, sv, vt = np.linalg.svd(R @ Y, full_matrices=False)
    V = Y @ vt.T
    return V[:, :k], sv[:k]


def _remove_bcg(data: np.ndarray, sfreq: float, rpeaks: np.ndarray, p: BCGParams, prog: Any,
                n_jobs: int = 1) -> BCGResult:
    if p.method not in ("aas", "obs"):
        raise InputError(None, f"BCG method {p.method!r} is not one of aas, obs")
    x = np.asarray(data)
    if x.ndim != 2:
        raise InputError(None, "the data to correct must be channels x samples")
    n_ch, n = x.shape
    r = np.sort(np.asarray(rpeaks, float))
    r = r[(r >= 0) & (r < n / sfreq)]
    need = max(MIN_BEATS, min(p.window, 11))
    if len(r) < need:
        raise InputError(None, f"{len(r)} heartbeats in the recording; the BCG correction needs at "
                               f"least {need} (window {p.window})")
    delay = measure_delay(x, sfreq, r) if p.delay_s is None else float(p.delay_s)
    on, lengths, L, pre = segment_layout(r, sfreq, n, delay)
    nb = len(r)
    k = max(0, min(p.n_components, nb - 2)) if p.method == "obs" else 0
    # the artifact is estimated on a ~500 Hz grid per beat (full-rate positions on_i + step*j,
    # after a boxcar anti-alias) and interpolated back: the BCG has no power above ~40 Hz
    step = max(1, int(sfreq // 500))
    sf_d = sfreq / step
    Ld = (L - 1) // step + 1
    jj = np.arange(Ld)
    grid = on[:, None] + step * jj[None, :]  # (nb, Ld) full-rate sample of each grid point
    inside = (grid >= 0) & (grid < n)
    grid_c = np.clip(grid, 0, n - 1)
    valid = inside & (step * jj[None, :] < lengths[:, None])  # grid points in the segment
    t_d = np.linspace(-1.0, 1.0, Ld)
    n_base = max(1, int(round(0.05 * sf_d)))  # the first 50 ms of a segment precede the artifact
    # everything that does not depend on the channel is laid out once: the boxcar bounds of
    # the grid points, the sliding window's counts, and where each full-rate sample of the
    # segments sits on the beats' grids laid end to end
    box = _BoxcarPlan(grid_c, step, n)
    win = _SlidingPlan(valid, p.window)
    seg_lo = np.clip(on, 0, n)
    seg_hi = np.clip(on + lengths, 0, n)
    counts = np.maximum(seg_hi - seg_lo, 0)
    beat_of = np.repeat(np.arange(nb), counts)
    dst = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(seg_lo, counts)
    u = beat_of * Ld + (dst - on[beat_of]) / step
    del beat_of
    # one contiguous span [d0, d1) of the recording; samples of no segment (an RR longer than
    # the epoch) point into a block of zeros after the last beat, so each channel's artifact is
    # written as slices, without a scatter
    d0 = int(dst[0]) if len(dst) else 0
    d1 = int(dst[-1]) + 1 if len(dst) else 0
    if len(dst) == d1 - d0:
        u_span = u
    else:
        u_span = np.full(d1 - d0, float(nb * Ld))
        u_span[dst - d0] = u
    del u, dst
    xflat = np.arange((nb + 1) * Ld, dtype=float)
    ends_j = np.minimum((lengths - 1) // step, Ld - 1)
    frac = np.clip(jj[None, :] / np.maximum(ends_j, 1)[:, None], 0.0, 1.0)  # (nb, Ld) position in segment
    past_end = jj[None, :] > ends_j[:, None]
    rows = np.arange(nb)
    if p.method == "obs":
        # imported here, for OBS only: 1-2 s, which the gradient step's AAS passes go without
        from scipy import signal

        sos = signal.butter(2, 2.0, "highpass", fs=sf_d, output="sos")
        pos = grid_c / step
        dec_box = _BoxcarPlan(np.arange(0, n, step), step, n)
    art = anon_array((n_ch, n), np.float32)  # µV-level artifact: float32 halves memory traffic
    explained = np.zeros(n_ch)
    chunk = 1 << 17  # the up-sampling in pieces that stay in cache (no full-length temporaries)

    def one_channel(c: int, A_ext: np.ndarray) -> None:
        xc = x[c]
        E = box.at(xc)  # (nb, Ld)
        # each epoch minus its baseline (the quiet start of its segment), counted to its own end
        D = E - E[:, :n_base].mean(axis=1, keepdims=True)
        M = win.mean(D)
        if p.method == "obs":
            # the fit happens on the 2 Hz high-passed signal: the EEG's 1/f power and drifts
            # below 2 Hz would otherwise leak into the coefficients and the PCs
            xhd = signal.sosfiltfilt(sos, dec_box.at(xc)[0])
            Eh = np.interp(pos, np.arange(len(xhd)), xhd)  # (nb, Ld)
            Dh = Eh - Eh[:, :n_base].mean(axis=1, keepdims=True)
            Mh = win.mean(Dh)
            Rh = (Dh - Mh) * valid
            V, sv = _top_components(Rh, k)
            explained[c] = float((sv ** 2).sum() / max(float((Rh ** 2).sum()), 1e-300))
            U = Rh @ V  # (nb, k) beat scores
            B = Rh.T @ U  # (Ld, k) components (high-passed: the EEG's slow part is not one)
            B /= np.maximum(np.linalg.norm(B, axis=0, keepdims=True), 1e-300)
            n_reg = k + 3  # [mean, PCs, constant, slope]: the line is removed at the end anyway
            X = np.empty((nb, Ld, n_reg))
            X[:, :, 0] = Mh
            X[:, :, 1:k + 1] = B[None]
            X[:, :, k + 1] = 1.0
            X[:, :, k + 2] = t_d[None]
            X *= valid[:, :, None]
            Xt = X.transpose(0, 2, 1)
            XtX = Xt @ X
            # a tiny ridge relative to each regressor's own energy (volts and ones differ by 1e5)
            diag = np.einsum("bii->bi", XtX)
            XtX += (1e-9 * diag + 1e-300)[:, :, None] * np.eye(n_reg)[None]
            y = Eh * valid
            Xty = (Xt @ y[:, :, None])[:, :, 0]
            coef = np.linalg.solve(XtX, Xty[..., None])[..., 0]  # (nb, n_reg)
            coef = _shrink(coef, X, y, XtX, valid, k)
            A = coef[:, :1] * M + coef[:, 1:k + 1] @ B.T  # (nb, Ld)
        else:
            A = M
        # join segments: remove the line through each fitted segment's end values
        a0 = A[:, 0]
        a1 = A[rows, ends_j]
        A = A - a0[:, None] - (a1 - a0)[:, None] * frac
        A[past_end] = 0.0  # past the segment's last grid point
        A_ext[:nb * Ld] = A.ravel()
        # linear up-sampling of every beat to its full-rate segment on the beats' grids laid end
        # to end (a beat's samples never reach the next block), written slice by slice
        row = art[c]
        for a in range(d0, d1, chunk):
            b = min(a + chunk, d1)
            row[a:b] = np.interp(u_span[a - d0:b - d0], xflat, A_ext)

    def channels(cs: range) -> None:
        A_ext = np.zeros((nb + 1) * Ld)  # the last block stays zero (samples of no segment)
        for c in cs:
            one_channel(c, A_ext)

    # channels are independent: blocks of them run on ``n_jobs`` threads (numpy releases the
    # GIL); progress and cancellation are handled here, on the calling thread
    block = 4
    blocks = [range(a, min(a + block, n_ch)) for a in range(0, n_ch, block)]
    prog(0.0, f"BCG {p.method.upper()}: {n_ch} channels")
    if n_jobs <= 1 or len(blocks) == 1:
        for cs in blocks:
            prog(cs.start / n_ch, f"BCG {p.method.upper()}: channel {cs.start + 1}/{n_ch}")
            channels(cs)
    else:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        ex = ThreadPoolExecutor(max_workers=n_jobs)
        try:
            futures = [ex.submit(channels, cs) for cs in blocks]
            done = 0
            for f in as_completed(futures):
                f.result()
                done += len(blocks[futures.index(f)])
                prog(done / n_ch, f"BCG {p.method.upper()}: {done}/{n_ch} channels")
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
    prog(1.0, "BCG estimated")
    return BCGResult(artifact=art, onsets=on, lengths=lengths, epoch_len=L, delay_s=delay, pre_s=pre,
                     n_beats=nb, params=p, explained=explained)


class _BoxcarPlan:
    """Centred ``w``-sample moving averages at the samples ``idx`` (the anti-alias before taking
    every ``w``-th sample; windows clipped at the recording's ends), the bounds computed once
    for all channels.

    The sums are taken straight from the data with ``np.add.reduceat`` (one read of the
    samples the windows cover, no full-length cumulative sum): along each row of ``idx``
    (a beat's grid, or the decimation grid) the windows of consecutive points touch, so one
    boundary per point does. Rows whose windows were clipped at the recording's ends are
    summed window by window.
    """

    def __init__(self, idx: np.ndarray, w: int, n: int) -> None:
        idx = np.atleast_2d(idx)
        self.shape = idx.shape
        w = max(1, w)
        # one-sample windows (a recording at <= 750 Hz, or the gradient step's 250 Hz
        # cardiac pass): the samples themselves, gathered (reduceat took 2x as long)
        self.take = np.clip(idx, 0, n - 1) if w == 1 else None
        self.lo = np.clip(idx - w // 2, 0, n)
        self.hi = np.clip(idx - w // 2 + w, 0, n)
        self.div = np.maximum(self.hi - self.lo, 1).astype(float)
        touching = (self.hi[:, :-1] == self.lo[:, 1:]).all(axis=1)
        ok = touching & (self.hi > self.lo).all(axis=1)
        # a row may end at the last sample only when it comes last (reduceat sums to the end)
        ok[:-1] &= self.hi[:-1, -1] < n
        self.regular = np.flatnonzero(ok)
        self.other = np.flatnonzero(~ok)
        bounds = np.empty((len(self.regular), idx.shape[1] + 1), np.intp)
        bounds[:, :-1] = self.lo[self.regular]
        bounds[:, -1] = self.hi[self.regular, -1]
        self.bounds = bounds.ravel()
        self.to_end = bool(len(self.bounds)) and int(self.bounds[-1]) >= n
        if self.to_end:
            self.bounds = self.bounds[:-1]

    def at(self, x: np.ndarray) -> np.ndarray:
        """The averages of the signal ``x`` (one channel), shaped like ``idx`` (2-D)."""
        if self.take is not None:
            return x[self.take].astype(np.float64)
        out = np.empty(self.shape)
        if len(self.regular):
            s = np.add.reduceat(x, self.bounds, dtype=np.float64)
            if self.to_end:
                s = np.append(s, 0.0)
            s = s.reshape(len(self.regular), -1)
            out[self.regular] = s[:, :-1]
        for i in self.other:  # a beat at an end of the recording: its own short cumulative sum
            a, b = int(self.lo[i].min()), int(self.hi[i].max())
            c = np.concatenate([[0.0], np.cumsum(x[a:b], dtype=np.float64)])
            out[i] = c[self.hi[i] - a] - c[self.lo[i] - a]
        out /= self.div
        return out


class _SlidingPlan:
    """:func:`_sliding_mean` with a mask, the parts that do not depend on the data computed once."""

    def __init__(self, mask: np.ndarray, window: int) -> None:
        n = mask.shape[0]
        self.w = w = min(window, n)
        self.start = np.clip(np.arange(n) - w // 2, 0, n - w)
        self.m = mask.astype(float)
        k = np.concatenate([np.zeros((1, *mask.shape[1:])), np.cumsum(self.m, axis=0)])
        self.cnt = k[self.start + w] - k[self.start]
        self.pos = self.cnt > 0
        self.div = np.maximum(self.cnt, 1)

    def mean(self, D: np.ndarray) -> np.ndarray:
        """The masked sliding mean of the rows of ``D`` (same values as :func:`_sliding_mean`)."""
        z = np.zeros((1, *D.shape[1:]))
        c = np.concatenate([z, np.cumsum(D * self.m, axis=0)])
        return np.where(self.pos, (c[self.start + self.w] - c[self.start]) / self.div, 0.0)
