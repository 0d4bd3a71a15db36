"""The alias orders check fits on the even volumes and scores on the odd (and back). When
the volumes' sub-sample phase steps a rational fraction of a sample, half the volumes can
hold fewer phases than the model has coefficients: a 150 s, 2.5 kHz phantom raised numpy's
"Singular matrix" from ``AliasModel.refine`` (the offline correction crashed). Such a fold
now gets no alias terms, so that candidate is scored without them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from workbench.engine.gradient.residual import AliasModel


def _plan(n_vol: int, nw: int, half: int) -> SimpleNamespace:
    v = np.arange(n_vol)
    lo, hi = np.clip(v - half, 0, None), np.clip(v + half + 1, None, n_vol)
    return SimpleNamespace(nw=nw, k_min=0, lf=None, lf_bins=0, lo=lo, hi=hi, cnt=None, n_nb=2 * half + 1)


def test_a_fold_that_does_not_identify_the_model_gets_no_terms() -> None:
    n_vol, nw = 40, 64
    frac = (0.03 + 0.1 * np.arange(n_vol)) % 1.0  # 0.1 sample a volume: the even ones see five phases
    model = AliasModel(frac, 4)  # eight coefficients, ten phases over all volumes
    assert model.ok and model.orders == 4
    even = np.arange(0, n_vol, 2)
    assert np.linalg.cond(model.B[even]) > 1e3
    rng = np.random.default_rng(0)
    nf = nw // 2 + 1
    spec = (rng.standard_normal((2, n_vol, nf)) + 1j * rng.standard_normal((2, n_vol, nf))).astype(np.complex64)
    tmpl = np.zeros_like(spec)
    out = model.refine(spec, tmpl.copy(), _plan(n_vol, nw, 10), fit_rows=even)
    assert np.all(np.isfinite(out)) and np.allclose(out, 0.0)  # no terms from that fold
    # all volumes identify it: terms are fitted (and they follow an alias part put in)
    part = (1.0 + 2.0j) * np.exp(-2j * np.pi * 3 * frac)[None, :, None] * np.ones((2, 1, nf))
    t = model.refine((spec + 50 * part).astype(np.complex64), tmpl.copy(), _plan(n_vol, nw, 10))
    assert np.corrcoef(t[0, :, 5].real, part[0, :, 5].real)[0, 1] > 0.9
