"""Channels that clip at the amplifier's range during the gradients.

An MR-compatible amplifier has a fixed input range (BrainAmp MR: ±16.384 mV); a lead
loop with a large area or a poorly seated electrode can drive the gradient artifact
beyond it, and the ADC then returns its rail value for several samples in a row. No
template subtraction can restore those samples: the artifact's peaks are cut off by a
different amount in every volume (the sub-sample phase and the artifact's size change),
so each clipped volume leaves a residue of the size of the clipped part. FMRIB, FACET and
MNE do not look for it; the user only sees a noisy channel after correction. Here it is
found before the correction and reported by name, so the user can mark the channel bad.

A clipped channel is recognised by runs of identical samples at its extreme value (the
rail): an unclipped artifact passes through its peak in one sample at 1-5 kHz, and real
EEG never holds its maximum for three samples to the last bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def clipped_fraction(x: np.ndarray, low: float, high: float, *, min_run: int = 3) -> float:
    """Fraction of the samples of ``x`` that lie in runs of at least ``min_run`` equal
    samples at ``low`` or ``high`` (the channel's extremes over the scan).

    Parameters
    ----------
    x : ndarray, shape (n_times,)
        One channel's samples (any float type; compared exactly).
    low, high : float
        The channel's smallest and largest value over the scan (its rails if it clips).
    min_run : int
        Shortest run of equal samples counted as clipping.

    Returns
    -------
    float
        Clipped samples / ``x.size`` (0 for an empty ``x`` or a flat channel).
    """
    if x.size == 0 or low == high:
        return 0.0
    n = 0
    for rail in (low, high):
        at = np.flatnonzero(x == x.dtype.type(rail))
        if at.size < min_run:
            continue
        # split into runs of consecutive indices and keep the long ones
        breaks = np.flatnonzero(np.diff(at) != 1)
        lengths = np.diff(np.r_[0, breaks + 1, at.size])
        n += int(lengths[lengths >= min_run].sum())
    return n / x.size


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
        Row -> percentage of the checked samples that are clipped, for the rows above
        ``min_fraction``.
    """
    out: dict[int, float] = {}
    spans = [(a, b) for a, b in spans if b > a]
    total = sum(b - a for a, b in spans)
    if total == 0:
        return out
    need = min(min_spans, len(spans))
    for i in picks:
        lo, hi = extremes[int(i)]
        per = [clipped_fraction(data[i, a:b], lo, hi, min_run=min_run) * (b - a) for a, b in spans]
        n = sum(per)
        if n / total >= min_fraction and sum(1 for v in per if v > 0) >= need:
            out[int(i)] = 100.0 * n / total
    return out
