"""Slice by slice, what is left of the artifact regressed on the gradient axes' waveforms.

Why: by Faraday's law each channel's artifact is ``sum_a m_ca(t) g_a(t)``: the three
gradient axes' waveforms ``g_a`` weighted by the channel's lead-loop coupling ``m_ca``. In
a real bore the couplings change within seconds (breathing moves the head and the leads,
each axis differently) and slowly (coil heating, loops wandering). Volume templates
average ~20 volumes and a per-volume amplitude scales all axes alike, so a coupling that
changes *within* a volume, or changes one axis against the others, is left behind: on the
phantom with a drifting bore and a 250 Hz amplifier filter, that left 2.3 µV at the slice
harmonics below 70 Hz where a steady bore leaves 0.5 µV. FACETpy follows such changes by
averaging only ~30 neighbouring slice epochs (about 1.7 s), at the price of a large EEG
leak into each template.

This pass keeps the volume templates and removes what they missed: per channel and per
slice epoch it fits the residual with the axes' waveforms (a few coefficients per epoch,
estimated where the EEG is negligible: above ``hp_hz``, by projecting the basis there),
then subtracts the fitted waveforms over the whole band, because a coupling scales an
axis's waveform at every frequency alike. The waveforms come from the recording itself:
the mean slice epoch of the EEG channels, split across channels by an SVD (the artifact's
channel subspace, as in :mod:`.spatial`). MNE, FACETpy and the FASTR family have no such
step (FASTR's OBS is a PCA of one channel's residuals over epochs, whose components are
fitted to the whole band and so also to the EEG); written here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy.ndimage import uniform_filter1d

from .threads import ordered_map, single_blas

#: sub-sample phase bins: each epoch is fitted with the basis shifted to its bin's
#: centre (at most 1/32 sample off)
PHASE_BINS = 16


def slice_epochs(onsets: np.ndarray, slot_offsets: np.ndarray, period: float,
                 n_times: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Every slice epoch: whole-sample start, sub-sample phase, common length.

    Parameters
    ----------
    onsets : ndarray
        Fractional sample of each volume's start.
    slot_offsets : ndarray
        Start of each slice slot within the volume (samples).
    period : float
        Samples per volume.
    n_times : int
        Samples of the recording.

    Returns
    -------
    starts : ndarray of int
        First whole sample of each epoch, in time order, each epoch inside the recording.
    frac : ndarray of float
        How far that sample lies after the epoch's true start (0 to 1 sample).
    length : int
        Samples per epoch: the shortest slot (uneven slots keep their dead time out).
    """
    off = np.sort(np.asarray(slot_offsets, float))
    gaps = np.diff(np.r_[off, off[0] + period])
    length = int(np.floor(gaps.min())) - 1 if off.size else 0
    true = (np.asarray(onsets, float)[:, None] + off[None, :]).ravel()
    starts = np.ceil(true).astype(np.int64)
    ok = (starts >= 0) & (starts + length <= n_times)
    return starts[ok], (starts - true)[ok], max(length, 0)


def _shift(x: np.ndarray, frac: float) -> np.ndarray:
    """``x`` (rows of one epoch) delayed by ``frac`` samples (band-limited, circular:
    consecutive slice epochs repeat the same waveform, so the wrap is what the next epoch
    holds; :func:`workbench.engine.online.shift.fractional_shift` zero-pads instead, for
    epochs that carry margins)."""
    n = x.shape[-1]
    w = 2 * np.pi * np.fft.rfftfreq(n)
    return sfft.irfft(sfft.rfft(x, axis=-1) * np.exp(-1j * w * frac), n=n, axis=-1)


def _bins(frac: np.ndarray) -> np.ndarray:
    return np.minimum((np.asarray(frac) * PHASE_BINS).astype(int), PHASE_BINS - 1)


def axis_basis(data: np.ndarray, rows: np.ndarray, starts: np.ndarray, frac: np.ndarray, length: int,
               rank: int = 3) -> np.ndarray:
    """The gradient axes' waveforms over a slice epoch (true start at 0), from the recording.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The recording before correction.
    rows : ndarray of int
        EEG channels to learn from (a dozen or so spread over the head is plenty).
    starts, frac, length
        The slice epochs (:func:`slice_epochs`).
    rank : int
        Waveforms kept (3 gradient axes).

    Returns
    -------
    ndarray, shape (rank, length)
        Orthonormal rows.
    """
    b = _bins(frac)
    M = np.zeros((len(rows), length))
    views = [np.lib.stride_tricks.sliding_window_view(data[r], length) for r in rows]
    for k in range(PHASE_BINS):
        sel = starts[b == k]
        if not sel.size:
            continue
        # the epochs of one phase bin, averaged, then moved back onto the true start: a
        # sample at ``start`` lies ``frac`` after it (the epoch is the waveform advanced
        # by ``frac``), so the bin's mean is delayed by it
        mk = np.stack([v[sel].mean(axis=0, dtype=np.float64) for v in views])
        M += sel.size * _shift(mk, (k + 0.5) / PHASE_BINS)
    M -= M.mean(axis=1, keepdims=True)
    _, _, Vt = np.linalg.svd(M, full_matrices=False)
    return Vt[: min(rank, Vt.shape[0])]


def _disjoint(starts: np.ndarray, frac: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The epochs in time order, each starting after the one before has ended (the
    re-alignment moves volumes by a few samples, so the last slice of one volume and
    the first of the next can overlap; the later one is dropped: written back twice,
    its overlap would be corrected twice)."""
    order = np.argsort(starts, kind="stable")
    starts, frac = starts[order], frac[order]
    keep = np.zeros(starts.size, bool)
    nxt = -np.inf
    for i, s0 in enumerate(starts.tolist()):
        if s0 >= nxt:
            keep[i] = True
            nxt = s0 + length
    return starts[keep], frac[keep]


def _highpass_mask(length: int, sfreq: float, hp_hz: float) -> np.ndarray:
    """Mask of the rfft bins of a ``length``-sample epoch at or above ``hp_hz``."""
    return np.fft.rfftfreq(length, 1.0 / sfreq) >= hp_hz


def regress_slices(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Per channel and slice epoch, subtract the basis fitted above ``hp_hz`` (in place;
    see :func:`_regress_slices`), with the BLAS library's own threads limited to one: its
    small products otherwise kept a second core spinning (~0.3 s of CPU time at
    64 ch x 5 kHz x 10 min) for no gain, and the channels have threads of their own."""
    return single_blas(_regress_slices, *args, **kwargs)


def _regress_slices(
    data: np.ndarray,
    rows: np.ndarray,
    starts: np.ndarray,
    frac: np.ndarray,
    basis: np.ndarray,
    sfreq: float,
    hp_hz: float = 150.0,
    smooth: int = 5,
    n_report: int = 4,
    min_explained: float | None = 0.02,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Per channel and slice epoch, subtract the basis fitted above ``hp_hz`` (in place).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The recording after the template subtraction (corrected in place).
    rows : ndarray of int
        Channels to correct.
    starts, frac : ndarray
        Slice epochs (:func:`slice_epochs`); epochs must not overlap.
    basis : ndarray, shape (rank, length)
        The axes' waveforms (:func:`axis_basis`).
    sfreq : float
        Sampling rate (Hz).
    hp_hz : float
        The coefficients are fitted on the basis's part above this frequency, where the
        EEG is negligible against the artifact (the data need no filtering: the least
        squares fit against a projected basis is the fit of the projected data). A
        safeguard for EEG with large slow or broadband content: on the phantom's
        variants (blinks of 150 µV included) fitting over the whole band gave the same
        numbers, because the basis has little power in the EEG band.
    smooth : int
        Consecutive epochs over which the coefficients are averaged (1: none).
    n_report : int
        The first rows, on which the energy explained is measured first.
    min_explained : float | None
        The fit is kept only when, on those rows, it removes more than this share (and
        3x what chance removes) of the residual above ``hp_hz`` and does not raise the
        residual below it; else they are put back and nothing is changed. None: always
        kept.
    n_jobs : int
        Threads for the channels after the first ``n_report``.

    Returns
    -------
    dict
        ``explained``: fraction of the residual's energy above ``hp_hz`` that the fit
        removed (median over the first ``n_report`` rows); ``chance``: the fraction a
        fit of that many coefficients removes from noise; ``below_ratio``: the residual
        below ``hp_hz`` after / before (those rows); ``kept``.
    """
    rank, length = basis.shape
    starts, frac = _disjoint(np.asarray(starts, np.int64), np.asarray(frac, float), length)
    mask = _highpass_mask(length, sfreq, hp_hz)
    bins = _bins(frac)
    # epochs in phase-bin order: each bin is a contiguous block fitted with its own basis
    perm = np.argsort(bins, kind="stable")
    st_perm = starts[perm]
    bounds = np.searchsorted(bins[perm], np.arange(PHASE_BINS + 1))
    fits = []
    for k in range(PHASE_BINS):
        a, b = int(bounds[k]), int(bounds[k + 1])
        if b <= a:
            continue
        Bk = _shift(basis, -(k + 0.5) / PHASE_BINS)  # as the epochs of this bin see it (advanced)
        Bh = sfft.irfft(sfft.rfft(Bk, axis=1) * mask[None, :], n=length, axis=1)
        # least squares of the projected epoch on the projected basis: (Bh Bh')^-1 Bh y
        W = np.linalg.solve(Bh @ Bh.T, Bh).T  # (length, rank)
        fits.append((a, b, W.astype(np.float32), Bk.astype(np.float32), Bh.astype(np.float32)))
    energies = np.zeros((min(n_report, len(rows)), 4))
    saved: dict[int, np.ndarray] = {}

    def one(i: int, r: int) -> None:
        # epochs as rows of a sliding-window view: contiguous row copies, not a gather
        # sample by sample (the epochs do not overlap, so writing back is safe)
        view = np.lib.stride_tricks.sliding_window_view(data[r], length, writeable=True)
        y = view[st_perm]  # (n_epochs, length) copy, phase-bin order
        if i < n_report:
            saved[i] = y.copy()
        beta = np.empty((y.shape[0], rank), np.float32)
        for a, b, W, _, _ in fits:
            np.matmul(y[a:b], W, out=beta[a:b])
        if smooth > 1:
            # the couplings change over seconds, an epoch lasts tens of ms: neighbouring
            # epochs' coefficients (in time order) are averaged, which divides their EEG noise
            bt = np.empty_like(beta)
            bt[perm] = beta
            beta = uniform_filter1d(bt, int(smooth), axis=0, mode="nearest")[perm]
        e = np.zeros(4)  # residual energy above hp_hz before / after, below before / after
        for a, b, _, Bk, Bh in fits:
            if i < n_report:  # on every 10th epoch: for the check and the QC
                ys, fs = y[a:b:10].astype(np.float64), beta[a:b:10] @ Bk
                yh = sfft.irfft(sfft.rfft(ys, axis=1) * mask[None, :], n=length, axis=1)
                fh = beta[a:b:10] @ Bh
                e += [np.sum(yh**2), np.sum((yh - fh) ** 2), np.sum((ys - yh) ** 2),
                      np.sum((ys - yh - (fs - fh)) ** 2)]
            y[a:b] -= beta[a:b] @ Bk
        if i < n_report:
            energies[i] = e
        view[st_perm] = y

    rows = np.asarray(rows)
    first = min(n_report, len(rows))
    for i in range(first):
        one(i, int(rows[i]))
    ok = energies[energies[:, 0] > 0]
    share = float(np.median(1.0 - ok[:, 1] / ok[:, 0])) if ok.size else 0.0
    below = float(energies[:, 3].sum() / energies[:, 2].sum()) if energies[:, 2].sum() > 0 else 1.0
    chance = float(rank / max(2 * int(mask.sum()) - 1, 1))
    info = {"explained": share, "chance": chance, "below_ratio": below, "rank": int(rank),
            "epochs": int(starts.size), "epoch_samples": int(length),
            "kept": min_explained is None or (share > max(min_explained, 3.0 * chance) and below <= 1.0)}
    if not info["kept"]:
        # the fit found no more than chance in the first channels (nothing to follow: a
        # steady bore), or what it subtracts raised what is left below hp_hz (it fitted
        # something that is not a changing coupling); put them back
        for i in range(first):
            np.lib.stride_tricks.sliding_window_view(data[int(rows[i])], length, writeable=True)[st_perm] = saved[i]
        return info
    saved.clear()
    # each channel writes its own row only
    ordered_map(lambda i: one(i, int(rows[i])), range(first, len(rows)), n_jobs)
    return info
