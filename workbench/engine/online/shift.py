"""Exact band-limited sub-sample shift of epochs (a phase ramp in the Fourier domain).

The same idea as the offline AAS (:mod:`workbench.engine.gradient.aas`): the amplifier's
anti-alias filter makes the gradient artifact band-limited, so moving an epoch by a
fraction of a sample is exact up to the edges; the epochs carry a margin on both sides
that absorbs the circular wrap. One FFT per volume, not per chunk.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft


def fractional_shift(x: np.ndarray, delay: float, taper: int = 0) -> np.ndarray:
    """``y(t) = x(t - delay)`` along the last axis (``delay`` in samples, any sign).

    Parameters
    ----------
    x : ndarray, shape (..., n)
        Real epochs (with margins wider than ``|delay|``).
    delay : float
        Delay in samples; negative advances.
    taper : int
        Samples at each end faded in/out by a raised cosine first (the margins), so
        the edges do not ring into the epoch.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``.
    """
    n0 = x.shape[-1]
    if delay == 0.0:
        return x.copy()
    n = sfft.next_fast_len(n0 + 8, real=True)  # zero padding: a fast length, no wrap
    if taper > 0:
        w = (0.5 - 0.5 * np.cos(np.pi * (np.arange(taper) + 0.5) / taper)).astype(x.dtype)
        x = x.copy()
        x[..., :taper] *= w
        x[..., n0 - taper :] *= w[::-1]
    spec = sfft.rfft(x, n=n, axis=-1, workers=2)
    f = np.arange(spec.shape[-1]) / n
    ramp = np.exp(-2j * np.pi * f * delay)
    if n % 2 == 0:  # the Nyquist bin of a real signal must stay real
        ramp[-1] = np.cos(np.pi * delay)
    spec *= ramp.astype(spec.dtype)
    return sfft.irfft(spec, n=n, axis=-1, workers=2)[..., :n0].astype(x.dtype, copy=False)
