"""The DCM's forward model: neuronal -> haemodynamic -> BOLD, integrated as SPM12 does.

Three layers, per region ``r`` (SPM12 ``spm_fx_fmri`` / ``spm_gx_fmri``):

* neuronal: ``dz/dt = EE(u) z + (C/16) u`` with ``EE = A + sum_j u_j B_j -
  diag(exp(S)/2 + S)``, ``S = diag(A + sum_j u_j B_j)`` (the diagonal is a log
  self-inhibition: 0 means -0.5 Hz);
* haemodynamic (Balloon-Windkessel on log flow, volume and deoxyhaemoglobin):
  ``ds/dt = z - 0.64 e^{decay} s - 0.32 (f - 1)``, ``d ln f/dt = s/f``,
  ``tau d ln v/dt = (f - v^{1/alpha})/v``, ``tau d ln q/dt = (f E(f)/E0 - v^{1/alpha} q/v)/q``
  with ``tau = 2 e^{transit}``, ``alpha = 0.32``, ``E0 = 0.4``;
* observation: ``y = V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v))`` in percent, V0 = 4,
  ``k1 = 4.3 nu0 E0 TE``, ``k2 = e^{epsilon} r0 E0 TE``, ``k3 = 1 - e^{epsilon}``
  (TE 0.04 s, r0 25 /s, nu0 40.3 /s).

Integration follows SPM12's ``spm_int``: the state equation is reduced to a bilinear form
about the resting state (exact for the neuronal layer, first order for the haemodynamic
one), so between two changes of the input or two output samples the system is linear and
one matrix exponential advances it exactly. Inputs live on a microtime grid of TR/16 (SPM's
``U.dt``); every step is a whole number of microtime bins, so each distinct input vector
needs one ``expm`` per evaluation and its integer powers. The exact nonlinear equations
(:func:`flow`) are kept for tests and for the ground-truth simulator, which integrates them
with the engine's Balloon-Windkessel (RK4) instead.

Everything is batched over parameter vectors (leading axis), so the inversion's finite-
difference Jacobian is one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.engine.errors import InputError

from .priors import Layout

__all__ = ["Design", "make_design", "expm_batch", "expm_action", "jacobian_at_rest", "predict", "flow", "bold_output",
           "H_DECAY", "H_FEEDBACK", "H_TRANSIT", "H_ALPHA", "H_E0", "MICROTIME"]

# SPM12 haemodynamic constants (spm_fx_fmri H) and output constants (spm_gx_fmri)
H_DECAY, H_FEEDBACK, H_TRANSIT, H_ALPHA, H_E0 = 0.64, 0.32, 2.0, 0.32, 0.4
V0, TE, R0, NU0 = 4.0, 0.04, 25.0, 40.3
K1 = 4.3 * NU0 * H_E0 * TE
MICROTIME = 16  # bins per TR (SPM's U.dt = TR/16)
_GPRIME = 1.0 + (1.0 - H_E0) * np.log(1.0 - H_E0) / H_E0  # d(f E(f)/E0)/d ln f at rest


@dataclass
class Design:
    """Timing of one experiment: inputs on the microtime grid and when data are sampled.

    Attributes
    ----------
    tr : float
        Repetition time (s).
    n_scans : int
    dt : float
        Microtime bin (s), ``tr / MICROTIME``.
    u : ndarray (n_bins, m)
        Inputs per bin (1 inside an event, 0 outside; SPM's boxcars).
    sample_bins : ndarray (n_scans,)
        Bin at which volume ``k`` is sampled: ``k * 16 + 8`` (mid-TR, SPM's default delay).
    eeg_bins : ndarray | None
        Bins at which EEG samples are predicted (joint inversion).
    """

    tr: float
    n_scans: int
    dt: float
    u: np.ndarray
    sample_bins: np.ndarray
    eeg_bins: np.ndarray | None = None
    _schedule: tuple | None = field(default=None, repr=False)

    @property
    def n_bins(self) -> int:
        return self.u.shape[0]

    def schedule(self) -> tuple:
        """(distinct input vectors, steps (config, n_bins), record slots) - cached."""
        if self._schedule is None:
            self._schedule = _build_schedule(self)
        return self._schedule


def make_design(tr: float, n_scans: int, events: list[tuple[float, float, str]], inputs: list[str],
                eeg_times: np.ndarray | None = None, where: object = None) -> Design:
    """Put ``(onset, duration, name)`` events (s from the first volume) on the microtime grid.

    An event of duration 0 lasts one microtime bin (SPM's stick function has height
    ``1/dt``; here every input is a boxcar of height 1, so give short events their real
    duration). Events starting outside the scan are refused naming ``where``.
    """
    n_bins = n_scans * MICROTIME
    dt = tr / MICROTIME
    total = n_scans * tr
    u = np.zeros((n_bins, len(inputs)))
    for onset, duration, name in events:
        if name not in inputs:
            continue
        if onset < 0 or onset >= total:
            raise InputError(where, f"event {name!r} at {onset:g} s is outside the scan (0 to {total:g} s "
                                    f"= {n_scans} volumes x TR {tr:g} s)")
        if duration < 0:
            raise InputError(where, f"event {name!r} at {onset:g} s has a negative duration")
        b0 = int(round(onset / dt))
        b1 = max(b0 + 1, int(round((onset + duration) / dt)))
        u[b0:min(b1, n_bins), inputs.index(name)] = 1.0
    sample = np.arange(n_scans) * MICROTIME + MICROTIME // 2
    eeg_bins = None
    if eeg_times is not None:
        eeg_bins = np.clip(np.round(np.asarray(eeg_times) / dt).astype(int), 0, n_bins - 1)
    return Design(tr=tr, n_scans=n_scans, dt=dt, u=u, sample_bins=sample, eeg_bins=eeg_bins)


def _build_schedule(d: Design) -> tuple:
    changes = np.flatnonzero(np.any(np.diff(d.u, axis=0) != 0, axis=1)) + 1
    record = set(d.sample_bins.tolist())
    if d.eeg_bins is not None:
        record |= set(d.eeg_bins.tolist())
    bounds = np.unique(np.concatenate([[0], changes, sorted(record), [d.n_bins]]))
    configs, idx = np.unique(d.u[bounds[:-1]], axis=0, return_inverse=True)
    steps = [(int(idx[i]), int(bounds[i + 1] - bounds[i])) for i in range(len(bounds) - 1)]
    # slot of each bound in the recorded trajectory (state at the start of the bin)
    slots = {int(b): i for i, b in enumerate(bounds)}
    return configs, steps, bounds, slots


def jacobian_at_rest(P: dict[str, np.ndarray], u: np.ndarray) -> np.ndarray:
    """Augmented Jacobian ``[[J, b], [0, 0]]`` of the state equation at rest for input ``u``.

    Parameters
    ----------
    P : dict
        Unpacked parameters with a leading batch axis (see :meth:`Layout.unpack`).
    u : ndarray (m,)
        Input vector held constant.

    Returns
    -------
    ndarray (batch, 5n + 1, 5n + 1)
    """
    A, B, C = P["A"], P["B"], P["C"]
    nb, n = A.shape[0], A.shape[-1]
    Aeff = A + np.einsum("j,bjkl->bkl", u, B) if B.shape[1] else A.copy()
    SI = np.diagonal(Aeff, axis1=1, axis2=2)
    EE = Aeff - np.einsum("bi,ij->bij", np.exp(SI) / 2 + SI, np.eye(n))
    d = 5 * n + 1
    J = np.zeros((nb, d, d))
    z, s, lf, lv, lq = (slice(k * n, (k + 1) * n) for k in range(5))
    J[:, z, z] = EE
    if C.shape[-1]:
        J[:, z, -1] = (C @ u) / 16.0
    r = np.arange(n)
    sd = H_DECAY * np.exp(P["decay"])
    tt = H_TRANSIT * np.exp(P["transit"])
    J[:, s.start + r, z.start + r] = 1.0
    J[:, s.start + r, s.start + r] = -sd
    J[:, s.start + r, lf.start + r] = -H_FEEDBACK
    J[:, lf.start + r, s.start + r] = 1.0
    J[:, lv.start + r, lf.start + r] = 1.0 / tt
    J[:, lv.start + r, lv.start + r] = -1.0 / (H_ALPHA * tt)
    J[:, lq.start + r, lf.start + r] = _GPRIME / tt
    J[:, lq.start + r, lv.start + r] = -(1.0 / H_ALPHA - 1.0) / tt
    J[:, lq.start + r, lq.start + r] = -1.0 / tt
    return J


def expm_batch(M: np.ndarray, order: int = 14) -> np.ndarray:
    """Matrix exponential of a batch ``(b, d, d)`` by scaling and squaring a Taylor series.

    Written here because ``scipy.linalg.expm`` evaluates each matrix of a batch in its own
    Pade call (about 3 ms for a 16 x 16 on the shared test machine, most of an inversion's
    time); the matrices here are small with a modest norm (``J dt``, dt = TR/16), so a
    14th-order Taylor series after scaling to norm <= 1/2 is accurate to ~1e-16 and fully
    vectorised. Tests compare it with scipy.
    """
    norm = float(np.max(np.abs(M).sum(axis=-2))) if M.size else 0.0
    if not np.isfinite(norm):
        return np.full_like(M, np.nan)
    sq = max(0, int(np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0
    X = M / (2.0 ** sq)
    eye = np.broadcast_to(np.eye(M.shape[-1]), M.shape)
    E = eye + X / order
    for k in range(order - 1, 0, -1):
        E = eye + (X @ E) / k
    for _ in range(sq):
        E = E @ E
    return E


def expm_action(M: np.ndarray, v: np.ndarray, order: int = 12) -> np.ndarray:
    """``expm(M) @ v`` for a batch ``M (b, d, d)``, ``v (b, d)`` without forming ``expm(M)``.

    ``(expm(M / s))^s v`` with ``s = ceil(|M|_1)`` and a Taylor series of ``order`` terms per
    substep (truncation ~1/13! relative): only matrix-vector products, which is what the
    local-linearisation step needs (one column of the exponential). Tests compare it with scipy.
    """
    norm = float(np.max(np.abs(M).sum(axis=-2))) if M.size else 0.0
    if not np.isfinite(norm):
        return np.full_like(v, np.nan)
    sub = max(1, int(np.ceil(norm)))
    X = M / sub
    y = v
    for _ in range(sub):
        term = y
        acc = y
        for k in range(1, order + 1):
            term = np.einsum("bij,bj->bi", X, term) / k
            acc = acc + term
        y = acc
    return y


def bold_output(lv: np.ndarray, lq: np.ndarray, epsilon: np.ndarray) -> np.ndarray:
    """SPM12 ``spm_gx_fmri``: BOLD in percent from log volume and log deoxyhaemoglobin.

    ``epsilon`` broadcasts against the leading (batch) axis.
    """
    ep = np.exp(np.asarray(epsilon, float))
    ep = ep.reshape(ep.shape + (1,) * (lv.ndim - ep.ndim))
    v, q = np.exp(lv), np.exp(lq)
    return V0 * (K1 * (1 - q) + ep * R0 * H_E0 * TE * (1 - q / v) + (1 - ep) * (1 - v))


def integrate(theta: np.ndarray, layout: Layout, design: Design) -> np.ndarray:
    """States at every recorded bound: ``(batch, n_bounds, 5n)`` (the schedule's slots)."""
    theta = np.atleast_2d(theta)
    P = layout.unpack(theta)
    configs, steps, bounds, _ = design.schedule()
    nb = theta.shape[0]
    n = layout.n
    d = 5 * n + 1
    # one expm per distinct input vector, then the integer powers the schedule needs
    need: dict[int, set[int]] = {}
    for k, m in steps:
        need.setdefault(k, set()).add(m)
    powers: dict[tuple[int, int], np.ndarray] = {}
    with np.errstate(all="ignore"):
        for k, ms in need.items():
            E = expm_batch(jacobian_at_rest(P, configs[k]) * design.dt)
            cur, p = E, 1
            top = max(ms)
            while True:
                if p in ms:
                    powers[(k, p)] = cur
                if p >= top:
                    break
                cur, p = cur @ E, p + 1
        out = np.empty((nb, len(bounds), d - 1))
        x = np.zeros((nb, d))
        x[:, -1] = 1.0
        out[:, 0] = x[:, :-1]
        for i, (k, m) in enumerate(steps):
            x = np.einsum("bij,bj->bi", powers[(k, m)], x)
            out[:, i + 1] = x[:, :-1]
    return out


def _flow_and_jacobian(x: np.ndarray, u: np.ndarray, P: dict[str, np.ndarray], EE: np.ndarray,
                       cu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched exact flow ``f(x, u)`` (b, 5n) and its Jacobian (b, 5n, 5n) at states ``x``.

    ``EE`` (b, n, n) and ``cu`` (b, n) are the neuronal matrix and drive for input ``u``.
    """
    nb, d = x.shape
    n = d // 5
    z, s, lf, lv, lq = (x[:, k * n:(k + 1) * n] for k in range(5))
    sd = H_DECAY * np.exp(P["decay"])
    tt = H_TRANSIT * np.exp(P["transit"])
    ia = 1.0 / H_ALPHA
    ef, eflv = np.exp(lf), np.exp(lf - lv)
    out_v = np.exp(lv * (ia - 1.0))  # v^(1/alpha) / v
    w = (1.0 - H_E0) ** np.exp(-lf)
    g = ef * (1.0 - w) / H_E0  # f E(f) / E0
    gp = (ef - w * (ef - np.log(1.0 - H_E0))) / H_E0
    eq = np.exp(-lq)
    f = np.concatenate([
        np.einsum("bij,bj->bi", EE, z) + cu,
        z - sd * s - H_FEEDBACK * (ef - 1.0),
        s / ef,
        (eflv - out_v) / tt,
        (g * eq - out_v) / tt,
    ], axis=1)
    J = np.zeros((nb, d, d))
    r = np.arange(n)
    Z, S, LF, LV, LQ = (k * n + r for k in range(5))
    J[:, :n, :n] = EE
    J[:, S, Z] = 1.0
    J[:, S, S] = -sd
    J[:, S, LF] = -H_FEEDBACK * ef
    J[:, LF, S] = 1.0 / ef
    J[:, LF, LF] = -s / ef
    J[:, LV, LF] = eflv / tt
    J[:, LV, LV] = (-eflv - (ia - 1.0) * out_v) / tt
    J[:, LQ, LF] = gp * eq / tt
    J[:, LQ, LV] = -(ia - 1.0) * out_v / tt
    J[:, LQ, LQ] = -g * eq / tt
    return f, J


def integrate_nonlinear(theta: np.ndarray, layout: Layout, design: Design, max_bins: int = 8) -> np.ndarray:
    """Like :func:`integrate` but re-linearised at the current state at every step (local
    linearisation, Ozaki): ``x <- x + (expm(J h) - I) J^-1 f(x)`` with ``f`` the exact
    (nonlinear) flow and ``J`` its Jacobian there (the last column of the exponential of
    ``[[J h, f h], [0, 0]]``, by :func:`expm_action`); steps of at most ``max_bins`` microtime
    bins (TR/2 by default: against the engine's RK4 Balloon-Windkessel the BOLD error is
    ~1 % of the peak at TR/8, TR/4 and TR/2 steps and 2.5 % at TR). Several times slower
    than the bilinear scheme (one ``expm`` per step) but it keeps the haemodynamic
    nonlinearity that SPM's bilinear approximation drops (13-26 % of the peak for BOLD
    changes of 2.5-5.5 %)."""
    theta = np.atleast_2d(theta)
    P = layout.unpack(theta)
    configs, steps, bounds, _ = design.schedule()
    nb, n = theta.shape[0], layout.n
    d = 5 * n
    A, B, C = P["A"], P["B"], P["C"]
    cache = []
    for cfg in configs:
        Aeff = A + (np.einsum("j,bjkl->bkl", cfg, B) if B.shape[1] else 0)
        SI = np.diagonal(Aeff, axis1=1, axis2=2)
        EE = Aeff - np.einsum("bi,ij->bij", np.exp(SI) / 2 + SI, np.eye(n))
        cu = (C @ cfg) / 16.0 if C.shape[-1] else np.zeros((nb, n))
        cache.append((EE, cu))
    out = np.empty((nb, len(bounds), d))
    x = np.zeros((nb, d))
    out[:, 0] = x
    M = np.zeros((nb, d + 1, d + 1))
    e_last = np.zeros((nb, d + 1))
    e_last[:, d] = 1.0
    with np.errstate(all="ignore"):
        for i, (k, m) in enumerate(steps):
            left = m
            while left > 0:
                sub = min(left, max_bins)
                h = sub * design.dt
                f, J = _flow_and_jacobian(x, configs[k], P, *cache[k])
                M[:, :d, :d] = J * h
                M[:, :d, d] = f * h
                x = x + expm_action(M, e_last)[:, :d]  # the last column of expm(M)
                left -= sub
            out[:, i + 1] = x
    return out


def predict(theta: np.ndarray, layout: Layout, design: Design, with_states: bool = False,
            integrator: str = "bilinear"):
    """Predicted BOLD (percent) for a batch of parameter vectors.

    ``integrator``: ``"bilinear"`` (SPM12's ``spm_int``, default) or ``"nonlinear"``
    (:func:`integrate_nonlinear`).

    Returns
    -------
    bold : ndarray (batch, n_scans, n)
    states : ndarray (batch, n_bounds, 5n), only with ``with_states``
    """
    theta = np.atleast_2d(theta)
    X = integrate_nonlinear(theta, layout, design) if integrator == "nonlinear" else integrate(theta, layout, design)
    _, _, _, slots = design.schedule()
    n = layout.n
    idx = np.array([slots[int(b)] for b in design.sample_bins])
    Xs = X[:, idx]
    with np.errstate(all="ignore"):
        y = bold_output(Xs[..., 3 * n:4 * n], Xs[..., 4 * n:5 * n], theta[:, layout.iEpsilon])
    return (y, X) if with_states else y


def flow(x: np.ndarray, u: np.ndarray, P: dict[str, np.ndarray]) -> np.ndarray:
    """The exact (nonlinear) state equation for one parameter set: ``dx/dt`` for ``x`` (5n,).

    Used to check :func:`jacobian_at_rest` and by the ground-truth simulator.
    """
    A, B, C = P["A"], P["B"], P["C"]
    n = A.shape[-1]
    Aeff = A + (np.einsum("j,jkl->kl", u, B) if B.shape[0] else 0)
    SI = np.diag(Aeff)
    EE = Aeff - np.diag(np.exp(SI) / 2 + SI)
    z, s, lf, lv, lq = (x[k * n:(k + 1) * n] for k in range(5))
    f, v, q = np.exp(lf), np.exp(lv), np.exp(lq)
    sd = H_DECAY * np.exp(P["decay"])
    tt = H_TRANSIT * np.exp(P["transit"])
    fv = v ** (1.0 / H_ALPHA)
    ff = (1.0 - (1.0 - H_E0) ** (1.0 / f)) / H_E0
    return np.concatenate([
        EE @ z + (C @ u) / 16.0,
        z - sd * s - H_FEEDBACK * (f - 1.0),
        s / f,
        (f - fv) / (tt * v),
        (ff * f - fv * q / v) / (tt * q),
    ])
