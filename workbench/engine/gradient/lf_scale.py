"""Follow the size of the artifact's low band from volume to volume.

After each volume's gradients the scanner table and the cables ring (5-35 Hz, decaying
over a few hundred ms) and the ringing's size wanders over tens of seconds, apart from
the gradient artifact's own size. The templates average the low band over
``window_lf`` volumes (60 by default: there the EEG dominates and a short window
would leak it), so they subtract the ringing's mean size and leave its wander, inside
1-40 Hz: on the variant table's "LF volume-locked 20 uV" row that wander was 0.29 of
the 0.32 NRMSE left, and the per-volume amplitude fit cannot follow it (it is fitted on
the whole band, which the gradient artifact dominates).

The pass here fits, after the correction, the low band's mean shape split into its
(up to 3) largest parts across channels, each with one scale per volume over all EEG
channels together (a part's pattern across channels is fixed; its size is one number
per volume, so little EEG enters the fit), smooths the scales over a few volumes and
subtracts those shares. A part is kept only when its scales wander slowly: their
variance at least ``min_ratio`` times what their volume-to-volume differences give for
noise (about 1 when the fit sees EEG only). No peer does this; it is our own because
it sits between the template's low band and the EEG leak (DESIGN §2b: data-decided refinements, shown in the QC).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter1d

#: volumes needed to judge the scales' wander
MIN_VOLUMES = 12


def without_line(x: np.ndarray) -> np.ndarray:
    """``x`` less each row's least-squares line.

    Parameters
    ----------
    x : ndarray (rows, samples)
        Rows to detrend (float64 is returned).

    Returns
    -------
    ndarray (rows, samples), float64
        Each row minus its fitted offset and slope: the part orthogonal to a line over
        the samples. Used offline and online to read the low-band parts' shares without
        the electrodes' drift (see :func:`follow_lf_size`).
    """
    x = np.asarray(x, np.float64)
    t = np.linspace(-1.0, 1.0, x.shape[-1])
    Q = np.linalg.qr(np.column_stack([np.ones_like(t), t]))[0]  # (samples, 2), orthonormal
    return x - (x @ Q) @ Q.T


def _consecutive(rows: np.ndarray) -> bool:
    return bool(rows.size) and bool(np.array_equal(rows, np.arange(rows[0], rows[0] + rows.size)))


def _rows_view(data: np.ndarray, rows: np.ndarray, a: int, b: int) -> np.ndarray:
    """``data[rows, a:b]``: a view when ``rows`` are consecutive, else a copy."""
    if _consecutive(rows):
        return data[rows[0] : rows[0] + rows.size, a:b]
    return data[rows, a:b]


def volume_starts(onsets: np.ndarray, n_times: int) -> tuple[np.ndarray, int] | None:
    """Integer starts and the common length of the volumes' epochs, or None when the
    volumes are not one evenly spaced run (missing volumes, several runs) or too few.

    Parameters
    ----------
    onsets : ndarray
        Volume onsets (fractional samples).
    n_times : int
        Samples in the recording.
    """
    s = np.round(np.asarray(onsets, float)).astype(np.int64)
    if s.size < MIN_VOLUMES + 1:
        return None
    d = np.diff(s)
    length = int(d.min())
    if length < 8 or d.max() > length + 2 or s[0] < 0:
        return None
    s = s[s + length <= n_times]
    if s.size < MIN_VOLUMES:
        return None
    return s, length


def near_slice_lines(f: np.ndarray, f_hi: float, f_slice: float, line_hz: float) -> np.ndarray:
    """Which comb lines at frequencies ``f`` (Hz) lie within 1.5 lines (``line_hz``
    apart) of a slice harmonic up to just above ``f_hi``: there the gradient artifact
    itself dominates the low band (see :func:`lf_shape`).

    Parameters
    ----------
    f : ndarray
        The lines' frequencies (Hz).
    f_hi : float
        Highest frequency of the band (Hz).
    f_slice : float
        Slot rate (Hz, > 0).
    line_hz : float
        Spacing of the lines (Hz).
    """
    h = np.arange(1, int(f_hi / f_slice) + 2) * f_slice
    return np.min(np.abs(np.asarray(f, float)[:, None] - h[None, :]), axis=1) <= 1.5 * line_hz


def wander_ratio(a: np.ndarray) -> np.ndarray:
    """Per column of ``a`` (volumes x parts), the shares' variance over the noise
    variance their volume-to-volume differences give (about 1 for shares of EEG only;
    :func:`follow_lf_size` keeps a part from 3)."""
    noise = 0.5 * np.mean(np.diff(a, axis=0) ** 2, axis=0)
    return np.var(a, axis=0) / np.maximum(noise, 1e-300)


def lf_shape(data: np.ndarray, rows: np.ndarray, starts: np.ndarray, length: int, sfreq: float,
             f_hi: float, f_slice: float = 0.0) -> np.ndarray:
    """The volumes' mean epoch on ``rows``, band-limited to ``1/TR``-``f_hi`` Hz.

    Parameters
    ----------
    data : ndarray (n_channels, n_times)
        The recording before the correction.
    rows : ndarray of int
        EEG rows.
    starts, length : ndarray of int, int
        The volumes' epochs (:func:`volume_starts`).
    sfreq : float
        Sampling rate (Hz).
    f_hi : float
        Highest frequency kept (Hz).
    f_slice : float
        Slot rate (Hz; 0: none): the lines within one of its harmonics are left out.
        There the gradient artifact itself dominates (17.5 and 35 Hz at 35 slices / 2 s)
        and its size follows the gradients, not the ringing: with them in, the artifact
        left at the slice harmonics rose 2.5x on the "LF volume-locked 20 uV" row.

    Returns
    -------
    ndarray (len(rows), length), float64
        The shape: the mean epoch is periodic (one per volume), so its Fourier bins are
        the volume comb's lines; all but lines 1..``f_hi`` are zeroed (no DC).
    """
    # summed in the data's precision (float32: 0.05 s at 64 ch x 300 volumes of 2 s at
    # 5 kHz, against 0.25 s converting each epoch to float64; the shape needs no more;
    # each volume's own sum, for the drift's slope below, another ~0.05 s)
    acc = np.zeros((rows.size, length), data.dtype if data.dtype == np.float32 else np.float64)
    means = np.empty((starts.size, rows.size))
    for i, s in enumerate(starts):
        seg = _rows_view(data, rows, int(s), int(s) + length)
        acc += seg
        means[i] = seg.sum(axis=1)  # (in the data's precision: a slope, not a level)
    means /= length
    mean = acc.astype(np.float64) / starts.size
    # an electrode's drift: the slope of the volumes' means over the run is the mean
    # epoch's own slope (a DC ramp's; the artifact's means do not climb with the volumes),
    # and a line over the epoch leaks into every bin kept (a 5 mV ramp made parts of it)
    ts = np.asarray(starts, float) - float(np.mean(starts))
    if starts.size > 2 and float(ts @ ts) > 0:
        slope = (ts @ (means - means.mean(axis=0))) / float(ts @ ts)  # per sample, per row
        mean -= slope[:, None] * (np.arange(length) - 0.5 * (length - 1))[None, :]
    spec = np.fft.rfft(mean, axis=1)
    k_hi = int(np.floor(f_hi * length / sfreq))
    spec[:, 0] = 0.0
    spec[:, k_hi + 1 :] = 0.0
    if f_slice > 0:
        spec[:, near_slice_lines(np.arange(spec.shape[1]) * sfreq / length, f_hi, f_slice, sfreq / length)] = 0.0
    return np.fft.irfft(spec, n=length, axis=1)


def follow_lf_size(data: np.ndarray, rows: np.ndarray, starts: np.ndarray, length: int,
                   shape: np.ndarray, *, rank: int = 3, smooth: int = 5,
                   min_ratio: float = 3.0, events: np.ndarray | None = None) -> dict[str, Any]:
    """Fit, judge and (when kept) subtract the per-volume share of ``shape``, in place.

    ``shape`` is split into its ``rank`` largest parts across channels (SVD: each a
    pattern over the channels times a waveform, like the gradient axes' couplings), and
    each part gets its own scale per volume, judged and kept on its own. On the variant
    table's "combined" row (ringing, eddy currents, a drifting bore, a movement) three
    parts left 0.112 NRMSE 1-40 Hz where one scale for the whole shape left 0.124.

    Parameters
    ----------
    data : ndarray (n_channels, n_times)
        The corrected recording (changed in place on ``rows`` when kept).
    rows, starts, length
        As for :func:`lf_shape`.
    shape : ndarray (len(rows), length)
        :func:`lf_shape` of the recording before the correction.
    rank : int
        Parts of the shape fitted (at most the number of rows).
    smooth : int
        Volumes over which the scales are averaged (a moving mean).
    min_ratio : float
        A part is kept when its scales' variance is at least this times the noise
        variance their volume-to-volume differences give (about 1 for EEG alone).
    events : ndarray (n_volumes,) | None
        Stimulus markers (not scanner triggers) in each volume's epoch. Where their
        number varies, each part's scales are first regressed on it and that share is
        left in the data: a response evoked at the same latency in every volume of a
        task block is volume-locked like the ringing and wanders with the blocks, so it
        would be taken for it (20 uV evoked at every volume onset in 30 s blocks: 80 %
        of it kept without the pass, 20 % with it, 78 % with the markers regressed). A
        response locked to the volumes but not marked cannot be told from the
        artifact: switch the pass off then.

    Returns
    -------
    dict
        ``kept`` (any part kept), ``ratio`` (the largest part's variance ratio),
        ``ratios`` (each part's), ``parts_kept``, ``size_range_pct`` (5-95 % range of
        the largest kept part's smoothed scales, % of its mean size), ``n_volumes``;
        ``events_regressed`` and ``event_shares`` when markers were regressed;
        ``reason`` when not judged.
    """
    U, S, Vt = np.linalg.svd(shape, full_matrices=False)
    r = int(min(rank, int(np.sum(S > 1e-9 * max(float(S[0]) if S.size else 0.0, 1e-300)))))
    if r == 0 or not float(S[0]) > 0.0:
        return {"kept": False, "reason": "no low-band artifact", "n_volumes": int(starts.size)}
    Ur = U[:, :r].astype(data.dtype)
    # unit waveforms (part j = S_j * outer(U_j, W_j)), read through their part orthogonal
    # to a line over the epoch: an electrode's drift gives each volume an offset and a
    # slope of its own, and a DC ramp (5 mV over the run) read through the waveforms
    # themselves biased every volume's share alike, which subtracted the part's shape
    # once more in every volume (a 2 kHz sweep run, 1-40 Hz after volume 10: 12.69 uV
    # without the ramps, 17.66 with them, 12.97 read this way)
    Vd = without_line(Vt[:r])
    gain = np.einsum("jt,jt->j", Vt[:r], Vd)  # <W_j, W~_j> = 1 - |P W_j|^2
    Wr = Vd.astype(data.dtype)
    a = np.empty((starts.size, r))
    for i, s in enumerate(starts):
        seg = _rows_view(data, rows, int(s), int(s) + length)
        # the part's share: <seg, U_j W~_j^T> / (S_j <W_j, W~_j>) (one small product per volume)
        a[i] = np.einsum("jt,jt->j", Ur.T @ seg, Wr) / (S[:r] * np.maximum(gain, 1e-6))
    ev_info: dict[str, Any] = {}
    if events is not None and np.asarray(events).size == starts.size and float(np.std(events)) > 0:
        X = np.column_stack([np.ones(starts.size), np.asarray(events, float)])
        coef = np.linalg.lstsq(X, a, rcond=None)[0]  # (2, r)
        a = a - np.outer(X[:, 1], coef[1])  # the markers' share stays in the data
        ev_info = {"events_regressed": int(np.sum(events)), "event_shares": [float(x) for x in coef[1]]}
    ratios = wander_ratio(a)
    keep = ratios >= min_ratio
    a_s = uniform_filter1d(a, max(int(smooth), 1), axis=0, mode="nearest")
    info: dict[str, Any] = {"kept": bool(keep.any()), "ratio": float(ratios[0]),
                            "ratios": [float(x) for x in ratios], "parts_kept": int(keep.sum()),
                            "n_volumes": int(starts.size), **ev_info}
    if not keep.any():
        return info
    j0 = int(np.flatnonzero(keep)[0])
    lo, hi = np.percentile(a_s[:, j0], [5, 95])
    info["size_range_pct"] = float(100.0 * (hi - lo))
    # the kept parts' patterns times their waveforms, scaled per volume: U diag(S a) W
    Uk = (U[:, :r][:, keep] * S[:r][keep]).astype(data.dtype)
    Wk = Vt[:r][keep].astype(data.dtype)
    view = _consecutive(rows)
    for i, s in enumerate(starts):
        a0, a1 = int(s), int(s) + length
        sub = (Uk * a_s[i, keep].astype(data.dtype)) @ Wk
        if view:
            data[rows[0] : rows[0] + rows.size, a0:a1] -= sub
        else:
            data[rows, a0:a1] -= sub
    return info
