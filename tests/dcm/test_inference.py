"""Variational Laplace against an analytic posterior, DCM recovery with truth, and BMS on
cases that can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from workbench_dcm.bms import exceedance, fixed_effects, random_effects
from workbench_dcm.fit import fit_dcm
from workbench_dcm.integrate import make_design
from workbench_dcm.simulate import block_events, random_truth, simulate
from workbench_dcm.vl import invert


def test_vl_on_a_linear_model_gives_the_analytic_posterior():
    r = np.random.default_rng(0)
    N, p = 200, 4
    X = r.normal(size=(N, p))
    theta = np.array([0.8, -0.5, 0.0, 0.3])
    y = X @ theta + r.normal(size=N) * 0.5
    pE, pV = np.zeros(p + 1), np.array([1.0, 1.0, 1.0, 1.0, 0.0])  # last parameter fixed
    post = invert(y, np.zeros(N, int), np.array([float(N)]), lambda B: B[:, :p] @ X.T, pE, pV)
    assert post.converged
    w = np.exp(post.h[0])
    Cp = np.linalg.inv(w * X.T @ X + np.eye(p))
    mu = Cp @ (w * X.T @ y)
    assert np.allclose(post.Ep[:p], mu, atol=1e-4)
    assert np.allclose(post.Cp, Cp, rtol=1e-3)
    assert post.Ep[p] == 0.0
    # the noise precision: between the data's and the hyperprior's (mean 6, variance 1/128)
    assert np.log(1 / 0.5 ** 2) - 0.3 < post.h[0] < 6


@pytest.mark.parametrize("seed,tr", [(11, 2.0)])  # more seeds and TRs: benchmarks/bench_dcm.py
def test_dcm_recovers_connections_and_picks_the_true_model(models, seed, tr):
    m = models["mod-V5"]
    r = np.random.default_rng(seed)
    ns = int(480 // tr)
    th = random_truth(m, r)
    ev = block_events(m.inputs, ns * tr, r)
    sim = simulate(m, th, tr, ns, ev, snr=2.0, seed=seed)
    d = make_design(tr, ns, ev, m.inputs)
    fits = {k: fit_dcm(mm, sim.bold, d) for k, mm in models.items()}
    f = fits["mod-V5"]
    assert f.posterior.converged and f.explained_variance > 0.5
    lay = f.layout
    P, T = lay.unpack(f.posterior.Ep), lay.unpack(th)
    for i, j in ((1, 0), (2, 1)):  # forward connections: right sign, error < 0.15 Hz
        assert np.sign(P["A"][i, j]) == np.sign(T["A"][i, j])
        assert abs(P["A"][i, j] - T["A"][i, j]) < 0.15
    assert np.sign(P["B"][1][1, 0]) == np.sign(T["B"][1][1, 0])
    F = {k: v.F for k, v in fits.items()}
    assert max(F, key=F.get) == "mod-V5"
    assert F["mod-V5"] - F["no-mod"] > 3  # strong evidence for the modulation


def test_fixed_effects_is_a_softmax_of_summed_F():
    assert np.allclose(fixed_effects([0.0, np.log(3.0)]), [0.25, 0.75])
    assert np.allclose(fixed_effects([[0.0, 1.0], [0.0, 1.0]]), [1 / (1 + np.e ** 2), np.e ** 2 / (1 + np.e ** 2)])


def test_random_effects_bms_hand_checkable():
    # one subject decisively for model 1: alpha = [2, 1]; P(r1 > r2) = P(Beta(2,1) > 1/2) = 3/4
    res = random_effects([[0.0, -100.0]], n_samples=400_000, seed=1)
    assert np.allclose(res.alpha, [2, 1], atol=1e-6)
    assert np.allclose(res.expected, [2 / 3, 1 / 3], atol=1e-6)
    assert abs(res.exceedance[0] - 0.75) < 0.005
    # N subjects all decisive for model 1: alpha = [N + 1, 1], xp = 1 - 0.5^(N + 1)
    res = random_effects([[0.0, -50.0]] * 4, n_samples=400_000, seed=2)
    assert np.allclose(res.alpha, [5, 1], atol=1e-6)
    assert abs(res.exceedance[0] - (1 - 0.5 ** 5)) < 0.003
    # equal evidence: symmetric
    res = random_effects([[0.0, 0.0, 0.0]] * 3, n_samples=300_000, seed=3)
    assert np.allclose(res.expected, 1 / 3, atol=1e-6)
    assert np.allclose(res.exceedance, 1 / 3, atol=0.005)
    # split group: 3 for A, 1 for B, decisive -> alpha = [4, 2]; P(Beta(4,2) > 1/2) = 13/16
    res = random_effects([[0, -40], [0, -40], [0, -40], [-40, 0]], n_samples=400_000, seed=4)
    assert np.allclose(res.alpha, [4, 2], atol=1e-6)
    assert abs(res.exceedance[0] - 13 / 16) < 0.005
    # not decisive: one subject with a Bayes factor of 2; the fixed point of Stephan et al.'s
    # update, g = 2 e^psi(1+g) / (2 e^psi(1+g) + e^psi(2-g)), solved independently
    from scipy.optimize import brentq
    from scipy.special import digamma

    g1 = brentq(lambda g: g - 2 * np.exp(digamma(1 + g)) / (2 * np.exp(digamma(1 + g)) + np.exp(digamma(2 - g))),
                1e-9, 1 - 1e-9)
    res = random_effects([[np.log(2.0), 0.0]], n_samples=10_000, seed=6, tol=1e-10)
    assert np.allclose(res.alpha, [1 + g1, 2 - g1], atol=1e-6)
    # exceedance is seeded
    assert np.array_equal(exceedance(np.array([2.0, 3.0]), 10_000, 5), exceedance(np.array([2.0, 3.0]), 10_000, 5))
