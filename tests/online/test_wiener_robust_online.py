"""Blinks kept out of the online Wiener gain (``CausalGradient._wiener_robust``).

The causal gain takes the long mean's power beyond its leak for artifact. In the EEG band
a few large blinks whose phases happen to line up put that power far above the leak (and
the low band's template, as long as the long mean, carries the same), so the template's
blinks were subtracted from later volumes. The offline rule (``GradientParams.
wiener_robust``) made causal: a running mean whose epochs are weighted by their residual
power's inverse (capped at 1), whose power bounds the gain's estimate in the band.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfilt, welch

from workbench.engine.online import OnlineParams, replay_raw
from workbench.engine.online.gradient import CausalGradient


def _bare(n_ch: int = 3, kc: int = 12, volumes: int = 8) -> CausalGradient:
    g = CausalGradient(n_ch, 5000.0, noise_volumes=volumes, threaded=False)
    g._k_cut = kc
    g._robust_reset(n_ch)
    return g


def _feed(g: CausalGradient, S: np.ndarray, d_scale: np.ndarray, rng: np.random.Generator) -> list:
    """Feed epochs ``S`` (epochs, channels, bins) with residuals of per-epoch scale
    ``d_scale`` (epochs, channels); returns the (w, r) of each."""
    out = []
    for s, sc in zip(S, d_scale):
        d = sc[:, None] * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
        w, r = g._robust_weight(d)
        g._robust_update(s, w, r)
        out.append((w, r))
    return out


def test_with_equal_residuals_it_is_the_plain_running_mean() -> None:
    """Without blinks every weight is the same and the robust mean is ``ema`` itself, exact
    while fewer than ``noise_volumes`` epochs were seen and a running mean after; its
    leak ratio is 1."""
    rng = np.random.default_rng(0)
    g = _bare(volumes=8)
    n, C, kc = 20, 3, 12
    S = rng.standard_normal((n, C, kc)) + 1j * rng.standard_normal((n, C, kc))
    ema = np.zeros((C, kc), complex)
    g.ema = ema
    for i, s in enumerate(S, 1):
        d = np.ones((C, kc), complex)  # the same residual power in every epoch
        w, r = g._robust_weight(d)
        np.testing.assert_allclose(w, w[0], rtol=1e-12)
        g._robust_update(s, w, r)
        ema += (s - ema) / min(i, 8)
        g.n_ema = i
    M, ratio = g._robust_mean()
    np.testing.assert_allclose(M, ema, rtol=1e-12)
    np.testing.assert_allclose(ratio, 1.0, rtol=1e-12)


def test_the_leak_ratio_is_that_of_the_explicit_weighted_mean() -> None:
    """The running sums give the weighted mean and its leak share as written out from
    the running mean's coefficients ``a_v`` (``1/min(v, N)`` recursions)."""
    rng = np.random.default_rng(1)
    N, n, C, kc = 6, 15, 2, 12
    g = _bare(n_ch=C, volumes=N)
    g.ema = np.zeros((C, kc), complex)
    S = rng.standard_normal((n, C, kc)) + 1j * rng.standard_normal((n, C, kc))
    scale = np.exp(rng.normal(0, 1, (n, C)))  # residual power varying by ~e^2 between epochs
    wr = _feed(g, S, scale, rng)
    # the running mean's coefficient of epoch v after all n epochs
    a = np.zeros(n)
    for v in range(n):
        b = 1.0 / min(v + 1, N)
        a *= 1.0 - b
        a[v] = b
    w = np.array([x[0] for x in wr])  # (epochs, channels)
    r = np.array([x[1] for x in wr])
    aw = a[:, None] * w
    M_ref = np.einsum("vc,vck->ck", aw, S) / aw.sum(axis=0)[:, None]
    ratio_ref = (aw**2 * r).sum(axis=0) / aw.sum(axis=0) ** 2 / (a[:, None] * r).sum(axis=0) / (a**2).sum()
    M, ratio = g._robust_mean()
    np.testing.assert_allclose(M, M_ref, rtol=1e-10)
    np.testing.assert_allclose(ratio, ratio_ref, rtol=1e-10)
    assert np.all(w <= 1.0) and w.min() < 0.5  # some epochs were down-weighted


def test_a_large_residual_is_weighted_down_and_a_flat_channel_is_not_zeroed() -> None:
    rng = np.random.default_rng(2)
    g = _bare(n_ch=2, volumes=20)
    g.ema = np.zeros((2, 12), complex)
    scale = np.ones((10, 2))
    scale[7, 0] = 10.0  # a blink on channel 0 in epoch 7
    scale[:, 1] = 0.0  # channel 1 flat throughout
    wr = _feed(g, np.zeros((10, 2, 12), complex), scale, rng)
    w0 = np.array([w[0] for w, _ in wr])
    assert w0[7] < 0.05 * np.median(np.delete(w0, 7))  # ~ 1/100 of the others' (r 100x theirs)
    assert all(np.all(np.isfinite(w)) and w[1] == 1.0 for w, _ in wr)
    M, ratio = g._robust_mean()
    assert np.all(np.isfinite(M)) and np.all(np.isfinite(ratio))


@pytest.fixture(scope="module")
def slow_row():
    """The variant table's slow-EEG row (blinks at ~15/min, 150 uV at the front, and a
    slow drift), seed 3, 16 ch x 120 s at 5 kHz."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    import bench_gradient_variants as BV

    raw, eeg, _art, cfg, samples = BV.make("sb", {}, "slow", 120.0, 16, seed=3)
    return raw, eeg, cfg, samples


def test_the_slow_eeg_rows_blinks_are_no_longer_subtracted_online(slow_row, monkeypatch) -> None:
    """Online, 2-8 Hz error after volume 10: 0.59 uV with the rule off, 0.29 with it (0.13
    without the blinks); 15-40 Hz unchanged (0.77 both). Fails with the rule's bound on
    the gain's power removed."""
    raw, eeg, cfg, samples = slow_row
    sf = cfg.sfreq
    a, b = int(samples[10]), int(samples[-1])
    lp = butter(4, 70, fs=sf, output="sos")

    def band_errors() -> tuple[float, float]:
        y = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=50).data[:16]
        e = sosfilt(lp, y - eeg, axis=1)[:, a:b]
        f, p = welch(e, fs=sf, nperseg=int(4 * sf), axis=1)
        p = p.mean(axis=0) * (f[1] - f[0])
        return (float(np.sqrt(p[(f >= 2) & (f < 8)].sum()) * 1e6),
                float(np.sqrt(p[(f >= 15) & (f < 40)].sum()) * 1e6))

    on_28, on_hi = band_errors()
    monkeypatch.setattr(CausalGradient, "_wiener_robust", 0.0)
    off_28, off_hi = band_errors()
    assert off_28 > 0.4, off_28  # the case is the one that fooled the rule
    assert on_28 < 0.7 * off_28, (on_28, off_28)
    assert on_hi < 1.02 * off_hi, (on_hi, off_hi)
