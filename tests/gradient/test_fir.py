"""The gradient step's FFT filters against the direct sum of the convolution."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.gradient.correct import fir_decimate, fir_same, lowpass_taps


def _signal(n: int, sfreq: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sfreq
    x = np.sin(2 * np.pi * 7.3 * t) + 0.5 * np.sin(2 * np.pi * 23.0 * t + 1.0) + 0.1 * rng.standard_normal(n)
    return (np.cumsum(rng.standard_normal(n)) * 0.01 + x).astype(np.float32)  # a drift: the edges matter


def _direct(x: np.ndarray, h: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """``np.convolve(x, h, "same")[ks]`` (odd ``h``, zeros outside ``x``), summed term by term."""
    m, half = h.size, (h.size - 1) // 2
    xp = np.concatenate([np.zeros(m), x.astype(float), np.zeros(m)])
    return np.array([np.dot(h[::-1].astype(float), xp[k + m + half - (m - 1) : k + m + half + 1]) for k in ks])


def _samples(n: int) -> np.ndarray:
    """The first and last samples and some in the middle."""
    return np.unique(np.concatenate([np.arange(min(n, 40)), np.arange(max(n - 40, 0), n),
                                     np.linspace(0, n - 1, 60).astype(int)]))


@pytest.mark.parametrize("n", [7, 1001, 20_011, 300_000])
def test_fir_same_is_the_same_convolution(n):
    h = lowpass_taps(5000.0, 40.0).astype(np.float32)
    x = _signal(n, 5000.0)
    out = fir_same(x, h)
    assert out.dtype == np.float32 and out.shape == (n,)
    ks = _samples(n)
    ref = _direct(x, h, ks)
    np.testing.assert_allclose(out[ks], ref, atol=2e-5 * np.abs(ref).max())


@pytest.mark.parametrize(("n", "sfreq", "q", "band"), [
    (7, 5000.0, 20, 40.0), (1001, 5000.0, 20, 40.0), (99_999, 5000.0, 20, 40.0),
    (3_000_001, 5000.0, 20, 40.0), (50_000, 5000.0, 20, 70.0), (40_003, 2048.0, 8, 40.0),
    (30_000, 1000.0, 4, 40.0),
])
def test_fir_decimate_is_every_qth_sample_of_the_convolution(n, sfreq, q, band):
    """Every q-th sample from the first, to what the taps leave above the new Nyquist."""
    h = lowpass_taps(sfreq, band).astype(np.float32)
    x = _signal(n, sfreq)
    out = fir_decimate(x, h, q)
    assert out.dtype == np.float32 and out.shape == (-(-n // q),)
    ks = _samples(out.size)
    ref = _direct(x, h, ks * q)
    np.testing.assert_allclose(out[ks], ref, atol=1e-4 * np.abs(ref).max())
    if n < 400_000:
        full = fir_same(x, h)[::q]
        np.testing.assert_allclose(out, full, atol=1e-4 * np.abs(full).max())
