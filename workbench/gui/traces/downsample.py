"""Peak (min/max) downsampling of a data window for display (pure numpy, Qt-free).

A screen column can only show the range of the samples that fall in it, so each bin
of samples is replaced by its minimum and its maximum. Spikes and artifacts stay
visible at any zoom (plain decimation would drop them); this is the idea of
mne-qt-browser's "peak" mode, in our own vectorised version.
"""

from __future__ import annotations

import numpy as np


def peak_downsample(
    data: np.ndarray, times: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce ``data`` (channels x samples) to 2 points per bin (min and max).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_samples)
    times : ndarray, shape (n_samples,)
        Time of each sample.
    n_bins : int
        Number of bins (about the plot width in pixels).

    Returns
    -------
    times_ds : ndarray, shape (2 * n_bins_used,)
    data_ds : ndarray, shape (n_channels, 2 * n_bins_used)
        When there are fewer than ``2 * n_bins`` samples the input is returned unchanged.
    """
    data = np.atleast_2d(data)
    n = data.shape[1]
    n_bins = int(max(1, n_bins))
    if n <= 2 * n_bins:
        return times, data
    per = -(-n // n_bins)  # ceil: the leftover is shorter than one bin
    edges = np.arange(0, n, per)
    # reduceat is ~5x faster than argmin/argmax over reshaped blocks (64 ch x 50k: 6 ms)
    lo = np.minimum.reduceat(data, edges, axis=1)
    hi = np.maximum.reduceat(data, edges, axis=1)
    # order each pair as it most likely occurred: a bin that starts nearer its maximum
    # went down (max first); this keeps the line between neighbouring bins short
    first = data[:, edges]
    max_first = (hi - first) < (first - lo)
    out = np.empty((data.shape[0], 2 * edges.size), dtype=data.dtype)
    out[:, 0::2] = np.where(max_first, hi, lo)
    out[:, 1::2] = np.where(max_first, lo, hi)
    # times: each bin's first and last sample (shared by all channels)
    last = np.minimum(edges + per, n) - 1
    t_out = np.empty(2 * edges.size, dtype=times.dtype)
    t_out[0::2] = times[edges]
    t_out[1::2] = times[last]
    return t_out, out
