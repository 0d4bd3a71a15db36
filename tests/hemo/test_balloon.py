"""Balloon-Windkessel model: independent integration, steady states, linearisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from workbench.engine.errors import Cancelled, InputError
from workbench.engine.hemo import (
    BalloonParams,
    balloon_hrf,
    balloon_steady_state,
    balloon_windkessel,
)
from workbench.engine.progress import Progress


def _reference_solution(u: np.ndarray, dt: float, P: BalloonParams) -> np.ndarray:
    """An independent integration in the *linear* state variables with DOP853 (tight tol).

    Written from the textbook equations (Friston 2000 / SPM12), not from our code.
    """

    def rhs(_t, y, uk):
        s, f, v, q = y
        E = 1 - (1 - P.E0) ** (1 / f)
        return [
            uk - P.kappa * s - P.gamma * (f - 1),
            s,
            (f - v ** (1 / P.alpha)) / P.tau,
            (f * E / P.E0 - v ** (1 / P.alpha) * q / v) / P.tau,
        ]

    y = np.array([0.0, 1.0, 1.0, 1.0])
    bold = [0.0]
    k1 = 4.3 * P.nu0 * P.E0 * P.TE
    k2 = P.epsilon * P.r0 * P.E0 * P.TE
    k3 = 1 - P.epsilon
    for k in range(len(u) - 1):
        sol = solve_ivp(rhs, (0, dt), y, args=(u[k],), method="DOP853", rtol=1e-11, atol=1e-13)
        y = sol.y[:, -1]
        _, _, v, q = y
        bold.append(P.V0 / 100 * (k1 * (1 - q) + k2 * (1 - q / v) + k3 * (1 - v)))
    return np.array(bold)


def test_matches_independent_solve_ivp_integration():
    rng = np.random.default_rng(1)
    dt = 0.1
    u = np.zeros(500)
    u[20:40] = 1.0  # 2 s block
    u[150:152] = 3.0  # brief strong burst (non-linear regime)
    u[250:] = 0.6 * rng.random(250)  # ongoing random drive
    P = BalloonParams()
    ref = _reference_solution(u, dt, P)
    ours = balloon_windkessel(u, dt, P).bold
    assert np.abs(ours - ref).max() < 1e-6 * np.abs(ref).max()
    # different parameters (e.g. 3 T-like epsilon) too
    P2 = BalloonParams(tau=1.5, alpha=0.4, epsilon=0.5, TE=0.03)
    ref2 = _reference_solution(u[:300], dt, P2)
    assert np.abs(balloon_windkessel(u[:300], dt, P2).bold - ref2).max() < 1e-6 * np.abs(ref2).max()


@pytest.mark.parametrize("level", [0.2, 1.0, -0.15])
def test_constant_input_reaches_analytic_steady_state(level):
    res = balloon_windkessel(np.full(1200, level), 0.1)  # 120 s
    ss = balloon_steady_state(level)
    assert ss["flow"] == pytest.approx(1 + level / 0.32)
    for key in ("flow", "volume", "deoxy", "bold"):
        assert res.__dict__[key][-1] == pytest.approx(float(ss[key]), rel=1e-6, abs=1e-9), key
    assert abs(res.vasodilatory[-1]) < 1e-7
    # more flow -> less deoxyhaemoglobin -> positive BOLD
    assert np.sign(res.bold[-1]) == np.sign(level)


def test_states_start_at_rest_and_shape_follows_input():
    u = np.zeros((300, 3))
    u[10:15, 1] = 1.0
    res = balloon_windkessel(u, 0.1)
    for arr in (res.bold, res.flow, res.volume, res.deoxy, res.vasodilatory):
        assert arr.shape == u.shape
    np.testing.assert_allclose(res.flow[:, 0], 1.0)
    np.testing.assert_allclose(res.bold[:, [0, 2]], 0.0)
    assert res.t[1] == pytest.approx(0.1)
    # the hidden states lead the BOLD: flow peaks before volume, BOLD ~4-6 s after onset
    t_flow = np.argmax(res.flow[:, 1]) * 0.1
    t_vol = np.argmax(res.volume[:, 1]) * 0.1
    t_bold = np.argmax(res.bold[:, 1]) * 0.1 - 1.0
    assert t_flow < t_vol
    assert 3.5 < t_bold < 6.5
    assert res.bold[:, 1].min() < 0  # post-stimulus undershoot


def test_input_is_not_modified_and_dt_grid_independent():
    u = np.zeros(400)
    u[50:70] = 1.0
    copy = u.copy()
    coarse = balloon_windkessel(u, 0.1).bold
    assert np.array_equal(u, copy)
    fine = balloon_windkessel(np.repeat(u, 10), 0.01).bold  # block-averaged internal grid
    assert np.abs(fine[::10] - coarse).max() < 1e-6 * coarse.max()
    sub = balloon_windkessel(u[::5], 0.5).bold  # sub-stepped internal grid (ZOH of 0.5 s)
    assert (
        np.abs(sub - balloon_windkessel(np.repeat(u[::5], 5), 0.1).bold[::5]).max()
        < 1e-6 * coarse.max()
    )


def test_linearised_hrf_is_the_small_signal_impulse_response():
    dt = 0.01
    h = balloon_hrf(dt)
    eps = 1e-4
    u = np.zeros(3400)
    u[0] = eps / dt  # an impulse of integral eps
    bold = balloon_windkessel(u, dt, max_step=dt).bold / eps
    assert np.abs(bold[1:3201] - h[1:]).max() < 5e-3 * h.max()
    peak = np.argmax(h) * dt
    assert 4.0 < peak < 6.0
    # the linearisation breaks down for large inputs (sublinear saturation)
    big = balloon_windkessel(u * 2e4, dt, max_step=dt).bold / (eps * 2e4)
    assert big.max() < 0.95 * h.max()


def test_cancellation_and_bad_input():
    p = Progress()
    p.token.cancel()
    with pytest.raises(Cancelled):
        balloon_windkessel(np.zeros(100), 0.1, progress=p)
    with pytest.raises(InputError, match="dt"):
        balloon_windkessel(np.zeros(10), 0.0)
    with pytest.raises(InputError, match="NaN"):
        balloon_windkessel(np.array([0.0, np.nan]), 0.1)
    with pytest.raises(InputError, match="shape"):
        balloon_windkessel(np.zeros((2, 2, 2)), 0.1)
    with pytest.raises(InputError, match="E0"):
        BalloonParams(E0=1.5)
