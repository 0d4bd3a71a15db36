"""Local maxima of a 1-D signal, thinned to a minimum distance by height.

The subset of ``scipy.signal.find_peaks`` (``height``, ``distance``) that the R-peak
detector uses, written here so that the command-line correction does not import
scipy.signal (see :mod:`workbench.engine.dsp`). Same definitions as scipy: a peak is a
sample (or the middle of a flat run, rounded down) with lower neighbours on both sides;
the thinning keeps peaks from the highest down and drops those closer than ``distance``
samples to a kept one. Same indices as scipy on the same input
(``tests/engine/test_dsp.py``).
"""

from __future__ import annotations

import numpy as np


def local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of ``x`` (flat tops: their middle, rounded down).

    Parameters
    ----------
    x : ndarray, shape (n,)
        The signal.

    Returns
    -------
    ndarray of int
        Increasing indices; the first and last samples are never maxima.
    """
    x = np.asarray(x, float)
    if x.ndim != 1:
        raise ValueError("local_maxima needs a 1-D signal")
    if x.size < 3:
        return np.zeros(0, np.intp)
    # runs of equal values: their starts and ends
    change = np.flatnonzero(x[1:] != x[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change - 1, [x.size - 1]])
    vals = x[starts]
    inner = np.arange(1, len(starts) - 1)
    up = vals[inner - 1] < vals[inner]
    down = vals[inner + 1] < vals[inner]
    sel = inner[up & down]
    return ((starts[sel] + ends[sel]) // 2).astype(np.intp)


def find_peaks(x: np.ndarray, height: float | None = None, distance: float | None = None
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Peaks of ``x`` at least ``height`` high and ``distance`` samples apart.

    Parameters
    ----------
    x : ndarray, shape (n,)
        The signal.
    height : float | None
        Minimum height (inclusive); ``None``: any.
    distance : float | None
        Minimum distance in samples (>= 1) between kept peaks; the higher peak wins
        (ties: as scipy, by the order of a quicksort of the heights). ``None``: no thinning.

    Returns
    -------
    peaks : ndarray of int
        Increasing indices.
    properties : dict
        ``"peak_heights"`` when ``height`` was given.
    """
    x = np.asarray(x, float)
    peaks = local_maxima(x)
    props: dict[str, np.ndarray] = {}
    if height is not None:
        h = x[peaks]
        keep = h >= height
        peaks = peaks[keep]
        props["peak_heights"] = h[keep]
    if distance is not None:
        if distance < 1:
            raise ValueError("distance must be at least 1 sample")
        keep = _thin_by_distance(peaks, x[peaks], float(distance))
        peaks = peaks[keep]
        props = {k: v[keep] for k, v in props.items()}
    return peaks, props


def _thin_by_distance(peaks: np.ndarray, priority: np.ndarray, distance: float) -> np.ndarray:
    """Keep mask: from the highest priority down, drop the peaks closer than
    ``distance`` to each one kept (scipy's ``_select_by_peak_distance``)."""
    n = len(peaks)
    keep = np.ones(n, bool)
    if n == 0:
        return keep
    dist = np.ceil(distance)  # scipy rounds the distance up
    lo = np.searchsorted(peaks, peaks - dist, side="right")  # first index with p[j]-p[k] < dist
    hi = np.searchsorted(peaks, peaks + dist, side="left")  # one past the last within dist
    order = np.argsort(priority)
    for i in range(n - 1, -1, -1):
        j = order[i]
        if not keep[j]:
            continue
        keep[lo[j]:j] = False
        keep[j + 1:hi[j]] = False
    return keep
