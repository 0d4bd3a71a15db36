"""Variational Laplace: SPM12's Gauss-Newton ascent on the free energy (``spm_nlsi_GN``).

Written here rather than taken from a library because no maintained Python package
implements it (pydcm is an untested port); it follows SPM12's scheme:

* Gaussian priors on the parameters (``pE``, diagonal ``pV``; entries with variance 0 are
  fixed) and on one log-precision hyperparameter per group of observations (one per
  region, plus one per EEG region in a joint inversion): mean 6, variance 1/128.
* Each iteration: the prediction and its Jacobian (forward differences with step
  ``exp(-8)``, all perturbed parameter vectors integrated in one batched call); an M-step
  of up to 8 Newton steps on the hyperparameters; the free energy
  ``F = accuracy - complexity(parameters) - complexity(hyperparameters)``.
* If F increased, the point is accepted and the Levenberg-Marquardt-like regulariser
  relaxes (``v <- min(v + 1/2, 4)``); otherwise SPM goes back to the last accepted point and
  tightens it (``v <- min(v - 2, -4)``). The step is ``dp = (expm(t H) - I) H^-1 g`` with
  ``H`` the (negative definite) curvature, ``g`` the gradient and
  ``t = exp(v - log|det H| / N)`` (``spm_dx``): a small ``t`` is a short gradient step, a large
  ``t`` a Newton step.
* Stop after 4 consecutive iterations whose predicted increase ``g' dp`` is below 0.1, or
  after 128 iterations (then the inversion is reported as not converged, with the F trace).

The predictions handed in are already projected off the confounds (constant and slow
cosine drifts), which treats the confounds as parameters with flat priors, as SPM does
with ``Y.X0``; the accuracy then counts ``dof`` observations per group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm

from .priors import NOISE_PRIOR_MEAN, NOISE_PRIOR_VAR

__all__ = ["Posterior", "invert", "spm_dx"]

DIFF_STEP = float(np.exp(-8))
MAX_ITER = 128
STOP_DF = 1e-1
STOP_COUNT = 4


@dataclass
class Posterior:
    """The result of variational Laplace.

    Attributes
    ----------
    Ep : ndarray (size,)
        Posterior means of every parameter (fixed ones at their prior mean).
    Cp : ndarray (n_free, n_free)
        Posterior covariance of the free parameters.
    free : ndarray of int
        Indices of the free parameters in ``Ep``.
    h : ndarray (n_groups,)
        Posterior noise log-precisions.
    F : float
        Free energy (log-evidence bound) at the accepted point.
    F_trace : list of float
        F at every iteration (rejected steps included).
    converged : bool
    iterations : int
    prediction : ndarray (N,)
        Predicted observations (confound-projected) at ``Ep``.
    accuracy, complexity : float
    """

    Ep: np.ndarray
    Cp: np.ndarray
    free: np.ndarray
    h: np.ndarray
    F: float
    F_trace: list[float]
    converged: bool
    iterations: int
    prediction: np.ndarray
    accuracy: float = 0.0
    complexity: float = 0.0
    accepted: list[bool] = field(default_factory=list)

    def variance(self) -> np.ndarray:
        """Posterior variance of every parameter (0 for fixed ones)."""
        v = np.zeros_like(self.Ep)
        v[self.free] = np.diag(self.Cp)
        return v


def spm_dx(H: np.ndarray, g: np.ndarray, v: float) -> np.ndarray:
    """SPM12's regularised step ``(expm(t H) - I) H^-1 g`` with ``t = exp(v - log|det H|/N)``."""
    N = g.size
    if N == 0:
        return g.copy()
    _, logdet = np.linalg.slogdet(H)
    t = float(np.exp(v - logdet / N))
    if t > np.exp(16):
        return -np.linalg.lstsq(H, g, rcond=None)[0]
    M = np.zeros((N + 1, N + 1))
    M[1:, 0] = t * g
    M[1:, 1:] = t * H
    return expm(M)[1:, 0]


def invert(y: np.ndarray, groups: np.ndarray, dof: np.ndarray, g: Callable[[np.ndarray], np.ndarray],
           pE: np.ndarray, pV: np.ndarray, *, max_iter: int = MAX_ITER, progress=None) -> Posterior:
    """Invert ``y ~ N(g(theta), diag(exp(-h[groups])))`` under Gaussian priors.

    Parameters
    ----------
    y : ndarray (N,)
        Observations (confound-projected).
    groups : ndarray (N,) of int
        Which noise hyperparameter each observation belongs to.
    dof : ndarray (n_groups,)
        Effective number of observations per group (N_g minus confound rank).
    g : callable
        ``g(theta_batch (b, size)) -> (b, N)`` predictions (confound-projected); non-finite
        rows mean the model blew up there.
    pE, pV : ndarray (size,)
        Prior means and variances (0 = fixed).
    max_iter : int
    progress : callable | None
        ``progress(fraction, message)``; it raises ``Cancelled`` when the user cancels.

    Returns
    -------
    Posterior
    """
    free = np.flatnonzero(pV > 0)
    npar = free.size
    ipC = 1.0 / pV[free]
    G = int(groups.max()) + 1
    masks = [groups == k for k in range(G)]
    hE = np.full(G, NOISE_PRIOR_MEAN)
    ihC = 1.0 / NOISE_PRIOR_VAR
    log2pi = np.log(2 * np.pi)

    def theta_of(p: np.ndarray) -> np.ndarray:
        th = pE.copy()
        th[free] = pE[free] + p
        return th

    def evaluate(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th = theta_of(p)
        batch = np.repeat(th[None], npar + 1, axis=0)
        batch[np.arange(1, npar + 1), free] += DIFF_STEP
        out = g(batch)
        f0 = out[0]
        Jac = ((out[1:] - f0) / DIFF_STEP).T  # (N, npar)
        Jac[~np.isfinite(Jac)] = 0.0
        return f0, Jac

    p = np.zeros(npar)
    h = hE.copy()
    v = -4.0
    best: dict = {"F": -np.inf}
    F_trace: list[float] = []
    accepted: list[bool] = []
    criterion = [False] * STOP_COUNT
    converged = False
    dFdp = np.zeros(npar)
    dFdpp = -np.diag(ipC)
    k = 0
    for k in range(max_iter):
        if progress is not None:
            progress(min(0.95, k / 40), f"iteration {k + 1}: F = {best['F']:.1f}")
        f0, Jac = evaluate(p)
        if not np.all(np.isfinite(f0)):
            # the system blew up at this point: go back and take a shorter step (spm_nlsi_GN)
            F_trace.append(float("nan"))
            accepted.append(False)
            if "p" not in best:
                raise FloatingPointError("the model is unstable at its prior means")
            p, h = best["p"], best["h"]
            v = min(v - 2, -4)
            dp = spm_dx(dFdpp, dFdp, v)
            p = best["p"] + dp
            continue
        e = y - f0
        # M-step: noise hyperparameters
        JJ = [Jac[mk].T @ Jac[mk] for mk in masks]
        ee = np.array([e[mk] @ e[mk] for mk in masks])
        for _ in range(8):
            w = np.exp(h)
            Pp = sum(w[i] * JJ[i] for i in range(G))
            Cp = np.linalg.inv(Pp + np.diag(ipC)) if npar else np.zeros((0, 0))
            tr = np.array([np.sum(Cp * JJ[i]) for i in range(G)])
            dFdh = dof / 2 - w * ee / 2 - w * tr / 2 - ihC * (h - hE)
            # exact curvature of this concave objective (SPM uses the expected one, -dof/2, which
            # overshoots and oscillates when the noise hyperprior pulls h far from the data)
            dFdhh = np.diag(-w * (ee + tr) / 2 - ihC)
            dh = np.clip(spm_dx(dFdhh, dFdh, 4.0), -1.0, 1.0)  # SPM bounds each step to +-1
            h = np.clip(h + dh, -32, 32)
            if dFdh @ dh < 1e-2:
                break
        w = np.exp(h)
        Pp = sum(w[i] * JJ[i] for i in range(G))
        Cp = np.linalg.inv(Pp + np.diag(ipC)) if npar else np.zeros((0, 0))
        Ch = 1.0 / (dof / 2 + ihC)
        d = h - hE
        L1 = float(np.sum(dof * h) / 2 - np.sum(w * ee) / 2 - dof.sum() * log2pi / 2)
        L2 = float((np.linalg.slogdet(np.diag(ipC) @ Cp)[1] if npar else 0.0) / 2 - p @ (ipC * p) / 2)
        L3 = float(np.sum(np.log(ihC * Ch)) / 2 - ihC * (d @ d) / 2)
        F = L1 + L2 + L3
        F_trace.append(F)
        if F > best["F"] or k < 2:
            best = {"F": F, "p": p.copy(), "h": h.copy(), "Cp": Cp, "f": f0, "L1": L1, "L23": L2 + L3}
            dFdp = Jac.T @ (w[groups] * e) - ipC * p
            dFdpp = -(Pp + np.diag(ipC))
            v = min(v + 0.5, 4.0)
            accepted.append(True)
        else:
            p, h = best["p"], best["h"]
            v = min(v - 2, -4.0)
            accepted.append(False)
        dp = spm_dx(dFdpp, dFdp, v)
        p = best["p"] + dp
        dF = float(dFdp @ dp)
        criterion = [dF < STOP_DF] + criterion[:-1]
        if all(criterion):
            converged = True
            break
    return Posterior(Ep=theta_of(best["p"]), Cp=best["Cp"], free=free, h=best["h"], F=float(best["F"]),
                     F_trace=F_trace, converged=converged, iterations=k + 1, prediction=best["f"],
                     accuracy=best["L1"], complexity=-best["L23"], accepted=accepted)
