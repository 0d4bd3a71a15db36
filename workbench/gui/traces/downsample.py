"""Peak (min/max) downsampling of a data window for display (pure numpy, Qt-free).

A screen column can only show the range of the samples that fall in it, so each bin
of samples is replaced by its minimum and its maximum, in the order they occur. Spikes
and artifacts stay visible at any zoom (plain decimation would drop them), which is
what mne-qt-browser does; this is our own vectorised version.
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
    n_bins = n // per
    used = per * n_bins
    # the last partial bin gets its own min/max so no sample is dropped
    blocks = data[:, :used].reshape(data.shape[0], n_bins, per)
    arg_min = blocks.argmin(axis=2)
    arg_max = blocks.argmax(axis=2)
    first = np.minimum(arg_min, arg_max)
    second = np.maximum(arg_min, arg_max)
    base = (np.arange(n_bins) * per)[None, :]
    idx = np.empty((data.shape[0], 2 * n_bins), dtype=np.intp)
    idx[:, 0::2] = base + first
    idx[:, 1::2] = base + second
    out = np.take_along_axis(data, idx, axis=1)
    # times: bin edges (same for every channel) so curves share one x array
    t_bins = times[:used].reshape(n_bins, per)
    t_out = np.empty(2 * n_bins, dtype=times.dtype)
    t_out[0::2] = t_bins[:, 0]
    t_out[1::2] = t_bins[:, -1]
    if used < n:
        rest = data[:, used:]
        tail = np.stack([rest.min(axis=1), rest.max(axis=1)], axis=1)
        out = np.concatenate([out, tail], axis=1)
        t_out = np.concatenate([t_out, [times[used], times[-1]]])
    return t_out, out
