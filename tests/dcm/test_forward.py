"""The forward model: SPM12's parameterisation, the Jacobian, the integrator against the
engine's nonlinear Balloon-Windkessel, and the batched matrix exponential against scipy."""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm
from workbench_dcm.integrate import expm_batch, flow, jacobian_at_rest, make_design, predict
from workbench_dcm.model import DcmModel
from workbench_dcm.priors import PRIOR_VAR_A, layout
from workbench_dcm.simulate import block_events, neural_states, random_truth, simulate


def test_expm_batch_matches_scipy():
    r = np.random.default_rng(0)
    for scale in (0.05, 0.5, 4.0):
        M = r.normal(size=(4, 16, 16)) * scale
        E = expm_batch(M)
        for i in range(4):
            ref = expm(M[i])
            assert np.abs(E[i] - ref).max() <= 1e-11 * max(1.0, np.abs(ref).max())


def test_jacobian_at_rest_is_the_derivative_of_the_exact_flow(models):
    m = models["mod-V5"]
    lay = layout(m)
    th = random_truth(m, np.random.default_rng(3))
    P = lay.unpack(th[None])
    P1 = {k: v[0] for k, v in P.items()}
    for u in (np.array([0.0, 0.0]), np.array([1.0, 1.0])):
        J = jacobian_at_rest(P, u)[0]
        x0 = np.zeros(15)
        f0 = flow(x0, u, P1)
        num = np.stack([(flow(x0 + 1e-7 * e, u, P1) - flow(x0 - 1e-7 * e, u, P1)) / 2e-7 for e in np.eye(15)], 1)
        assert np.abs(J[:15, :15] - num).max() < 1e-6
        assert np.allclose(J[:15, 15], f0)


def test_spm_parameterisation_self_inhibition_and_c_over_16():
    # one region, A = 0 on the diagonal means -0.5 Hz self-inhibition; the flow uses C/16
    m = DcmModel.build("one", ["R"], ["u"], [[1]], {}, [[1]])
    lay = layout(m)
    dt = 0.01
    u = np.zeros((4000, 1))
    u[:2000] = 1.0
    for a, c in ((0.0, 1.0), (np.log(2.0), 0.5)):
        th = lay.pack([[a]], np.zeros((1, 1, 1)), [[c]])
        z = neural_states(th, lay, u, dt)[:, 0]
        rate = 0.5 * np.exp(a)
        assert np.isclose(z[1999], (c / 16) / rate * (1 - np.exp(-rate * 19.99)), rtol=1e-6)
        # free decay after the input stops: z(t) = z0 exp(-rate t)
        assert np.isclose(z[3000] / z[2000], np.exp(-rate * 10.0), rtol=1e-6)


def test_bilinear_integration_tracks_the_nonlinear_balloon(models):
    """SPM's bilinear approximation (the inversion's forward model) against the engine's RK4
    nonlinear Balloon-Windkessel (the simulator), for several networks and TRs."""
    for seed, tr in ((1, 2.0), (2, 3.0)):
        m = models["mod-V5"]
        r = np.random.default_rng(seed)
        th = random_truth(m, r)
        ev = block_events(m.inputs, 120 * tr, r)
        sim = simulate(m, th, tr, 120, ev, snr=1e9, seed=seed, drift=0.0)
        y = predict(th, layout(m), make_design(tr, 120, ev, m.inputs))[0]
        for k in range(m.n):
            assert np.corrcoef(y[:, k], sim.bold_clean[:, k])[0, 1] > 0.98
        peak = np.abs(sim.bold_clean).max()
        assert np.abs(y - sim.bold_clean).max() < 0.2 * peak


def test_priors_follow_spm12(models):
    m = models["mod-V5"]
    lay = layout(m)
    P = lay.unpack(lay.pV[None])
    assert np.allclose(np.diag(P["A"][0]), PRIOR_VAR_A)  # self-connections always free
    assert P["A"][0][1, 0] == 1 / 64 and P["A"][0][0, 1] == 0
    assert P["B"][0][1][1, 0] == 1 and P["B"][0].sum() == 1
    assert P["C"][0][0, 0] == 1 and P["C"][0].sum() == 1
    assert np.allclose(P["transit"], 1 / 256) and np.allclose(P["decay"], 1 / 256) and P["epsilon"][0] == 1 / 256


def test_nonlinear_integrator_matches_the_engine_balloon_where_the_bilinear_one_drifts(models):
    """Strong drive (BOLD up to ~5 %): SPM's bilinear scheme is visibly off, the local
    linearisation of the exact equations stays within 3 % of the peak."""
    from workbench_dcm.integrate import _flow_and_jacobian

    m = models["mod-V5"]
    lay = layout(m)
    r = np.random.default_rng(1)
    th = random_truth(m, r)
    th[lay.sC] *= 2.0
    ev = block_events(m.inputs, 120 * 2.0, r)
    sim = simulate(m, th, 2.0, 120, ev, snr=1e9, seed=1, drift=0.0)
    d = make_design(2.0, 120, ev, m.inputs)
    peak = np.abs(sim.bold_clean).max()
    bil = np.abs(predict(th, lay, d)[0] - sim.bold_clean).max() / peak
    nl = np.abs(predict(th, lay, d, integrator="nonlinear")[0] - sim.bold_clean).max() / peak
    assert nl < 0.03 and bil > 3 * nl
    # its Jacobian away from rest is the derivative of the exact flow
    P = lay.unpack(th[None])
    P1 = {k: v[0] for k, v in P.items()}
    x = r.normal(0, 0.2, 15)
    u = np.array([1.0, 1.0])
    Aeff = P1["A"] + np.einsum("j,jkl->kl", u, P1["B"])
    EE = Aeff - np.diag(np.exp(np.diag(Aeff)) / 2 + np.diag(Aeff))
    f, J = _flow_and_jacobian(x[None], u, P, EE[None], (P1["C"] @ u / 16)[None])
    num = np.stack([(flow(x + 1e-7 * e, u, P1) - flow(x - 1e-7 * e, u, P1)) / 2e-7 for e in np.eye(15)], 1)
    assert np.allclose(f[0], flow(x, u, P1)) and np.abs(J[0] - num).max() < 1e-6


def test_expm_action_matches_scipy():
    from workbench_dcm.integrate import expm_action

    r = np.random.default_rng(4)
    for scale in (0.1, 1.0, 3.0):
        M = r.normal(size=(3, 17, 17)) * scale
        v = r.normal(size=(3, 17))
        for i, y in enumerate(expm_action(M, v)):
            ref = expm(M[i]) @ v[i]
            assert np.abs(y - ref).max() <= 1e-9 * np.abs(ref).max()
