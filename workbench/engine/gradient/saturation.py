"""Channels that clip at the amplifier's range during the gradients.

An MR-compatible amplifier has a fixed input range (BrainAmp MR: ±16.384 mV); a lead
loop with a large area or a poorly seated electrode can drive the gradient artifact
beyond it, and the ADC then returns its rail value for several samples in a row. No
template subtraction can restore those samples: the artifact's peaks are cut off by a
different amount in every volume (the sub-sample phase and the artifact's size change),
so each clipped volume leaves a residue of the size of the clipped part. FMRIB, FACET and
MNE do not look for it; the user only sees a noisy channel after correction. Here it is
found before the correction and reported by name, so the user can mark the channel bad.

A clipped channel is recognised by its extreme value (the rail) recurring volume after
volume: in runs of identical samples (an unclipped artifact passes through its peak in
one sample, and real EEG never holds its maximum for three samples to the last bit), or,
at a low rate where a clipped peak can be a single sample (1 kHz, aliased artifact), as
the exact rail value in most of the volumes looked at.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rail_samples(x: np.ndarray, low: float, high: float, *, min_run: int = 3) -> tuple[int, int]:
    """Samples of ``x`` at ``low`` or ``high`` (the channel's extremes over the scan): all
    of them, and those in runs of at least ``min_run`` equal samples.

    Parameters
    ----------
    x : ndarray, shape (n_times,)
        One channel's samples (any float type; compared exactly).
    low, high : float
        The channel's smallest and largest value over the scan (its rails if it clips).
    min_run : int
        Shortest run of equal samples counted as a run.

    Returns
    -------
    (int, int)
        Samples at a rail; samples in runs at a rail (0, 0 for a flat channel).
    """
    if x.size == 0 or low == high:
        return 0, 0
    hits = runs = 0
    for rail in (low, high):
        at = np.flatnonzero(x == x.dtype.type(rail))
        hits += int(at.size)
        if at.size < min_run:
            continue
        # split into runs of consecutive indices and keep the long ones
        breaks = np.flatnonzero(np.diff(at) != 1)
        lengths = np.diff(np.r_[0, breaks + 1, at.size])
        runs += int(lengths[lengths >= min_run].sum())
    return hits, runs


def clipped_fraction(x: np.ndarray, low: float, high: float, *, min_run: int = 3) -> float:
    """Fraction of the samples of ``x`` in runs of at least ``min_run`` equal samples at
    ``low`` or ``high`` (see :func:`rail_samples`); 0 for an empty or flat ``x``."""
    return rail_samples(x, low, high, min_run=min_run)[1] / x.size if x.size else 0.0


def clipped_channels(
    data: np.ndarray,
    picks: Sequence[int],
    spans: Sequence[tuple[int, int]],
    extremes: dict[int, tuple[float, float]],
    *,
    min_run: int = 3,
    min_fraction: float = 1e-4,
    min_spans: int = 3,
) -> dict[int, float]:
    """Channels whose samples clip at their rails within ``spans`` (e.g. some volumes).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The recording.
    picks : sequence of int
        Rows to check.
    spans : sequence of (int, int)
        Sample ranges to look in (a few volumes spread over the run suffice: a channel
        that clips does so in most volumes; looking at all of them would cost a pass
        over the whole recording).
    extremes : dict
        Row -> (min, max) over the whole scan.
    min_run : int
        Shortest run of equal samples at a rail counted as clipping.
    min_fraction : float
        Smallest clipped fraction reported.
    min_spans : int
        Clipping must be seen in at least this many spans (all of them when there are
        fewer): a real rail is hit volume after volume, while one smooth peak (a blink on
        a coarsely quantised channel) can hold its maximum for a few samples once.

    Returns
    -------
    dict
        Row -> percentage of the checked samples at a rail, for the rows above
        ``min_fraction`` whose rails hold runs of samples in ``min_spans`` spans or
        single samples in at least half of them.
    """
    out: dict[int, float] = {}
    spans = [(a, b) for a, b in spans if b > a]
    total = sum(b - a for a, b in spans)
    if total == 0:
        return out
    need = min(min_spans, len(spans))
    most = max(need, (len(spans) + 1) // 2)
    for i in picks:
        lo, hi = extremes[int(i)]
        per = [rail_samples(data[i, a:b], lo, hi, min_run=min_run) for a, b in spans]
        hits = sum(h for h, _ in per)
        with_runs = sum(1 for _, r in per if r)
        with_hits = sum(1 for h, _ in per if h)
        # runs at the rail in several volumes, or (at a low rate, where a clipped peak
        # can be a single sample) the exact rail value in most of them
        if hits / total >= min_fraction and (with_runs >= need or with_hits >= most):
            out[int(i)] = 100.0 * hits / total
    return out
