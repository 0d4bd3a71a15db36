"""SPM12's priors for a one-state bilinear DCM for fMRI and the parameter vector layout.

Values follow SPM12 (``spm_dcm_fmri_priors``, one state per region; see
``../shared/docs/ANCHORS.md``): every parameter has prior mean 0; A (including the log
self-inhibition on its diagonal) has variance 1/64, B and C variance 1; the
haemodynamic parameters (log transit and log decay per region, one log epsilon) variance
1/256. Parameters outside the masks have variance 0 (fixed at 0). The noise log-precision
of each region has prior mean 6 and variance 1/128.

The full parameter vector ``theta`` is laid out as
``[A (n*n, row-major), B (m*n*n), C (n*m), transit (n), decay (n), epsilon (1)]``;
the inversion works on the free entries only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import DcmModel

__all__ = ["Layout", "layout", "PRIOR_VAR_A", "PRIOR_VAR_B", "PRIOR_VAR_C", "PRIOR_VAR_HEMO",
           "NOISE_PRIOR_MEAN", "NOISE_PRIOR_VAR"]

PRIOR_VAR_A = 1.0 / 64.0
PRIOR_VAR_B = 1.0
PRIOR_VAR_C = 1.0
PRIOR_VAR_HEMO = 1.0 / 256.0
NOISE_PRIOR_MEAN = 6.0
NOISE_PRIOR_VAR = 1.0 / 128.0


@dataclass(frozen=True)
class Layout:
    """Where each parameter sits in ``theta`` and its prior.

    Attributes
    ----------
    n, m : int
        Regions and inputs.
    size : int
        Length of ``theta``.
    pE : ndarray (size,)
        Prior means.
    pV : ndarray (size,)
        Prior variances (0 = fixed).
    free : ndarray of int
        Indices of the free parameters.
    names : list of str
        Human name of every entry of ``theta`` (``A[V5<-V1]``, ``transit[V1]`` ...).
    """

    n: int
    m: int
    size: int
    pE: np.ndarray
    pV: np.ndarray
    free: np.ndarray
    names: list[str]

    # slices into theta
    @property
    def sA(self) -> slice:
        return slice(0, self.n * self.n)

    @property
    def sB(self) -> slice:
        o = self.n * self.n
        return slice(o, o + self.m * self.n * self.n)

    @property
    def sC(self) -> slice:
        o = self.n * self.n * (1 + self.m)
        return slice(o, o + self.n * self.m)

    @property
    def sTransit(self) -> slice:
        o = self.n * self.n * (1 + self.m) + self.n * self.m
        return slice(o, o + self.n)

    @property
    def sDecay(self) -> slice:
        o = self.sTransit.stop
        return slice(o, o + self.n)

    @property
    def iEpsilon(self) -> int:
        return self.sDecay.stop

    def unpack(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Split a batch of parameter vectors ``(..., size)`` into named arrays."""
        n, m = self.n, self.m
        lead = theta.shape[:-1]
        return {
            "A": theta[..., self.sA].reshape(*lead, n, n),
            "B": theta[..., self.sB].reshape(*lead, m, n, n),
            "C": theta[..., self.sC].reshape(*lead, n, m),
            "transit": theta[..., self.sTransit],
            "decay": theta[..., self.sDecay],
            "epsilon": theta[..., self.iEpsilon],
        }

    def pack(self, A: np.ndarray, B: np.ndarray, C: np.ndarray, transit: np.ndarray | None = None,
             decay: np.ndarray | None = None, epsilon: float = 0.0) -> np.ndarray:
        """A parameter vector from its parts (haemodynamic parameters default to 0)."""
        theta = np.zeros(self.size)
        theta[self.sA] = np.asarray(A, float).ravel()
        theta[self.sB] = np.asarray(B, float).ravel()
        theta[self.sC] = np.asarray(C, float).ravel()
        theta[self.sTransit] = 0.0 if transit is None else transit
        theta[self.sDecay] = 0.0 if decay is None else decay
        theta[self.iEpsilon] = epsilon
        return theta


def layout(model: DcmModel) -> Layout:
    """The parameter layout and SPM12 priors of ``model``."""
    n, m = model.n, model.m
    R = model.regions
    pV = np.concatenate([
        model.a.ravel() * PRIOR_VAR_A,
        model.b.ravel() * PRIOR_VAR_B,
        model.c.ravel() * PRIOR_VAR_C,
        np.full(n, PRIOR_VAR_HEMO),
        np.full(n, PRIOR_VAR_HEMO),
        [PRIOR_VAR_HEMO],
    ]).astype(float)
    names = [f"A[{R[i]}<-{R[j]}]" if i != j else f"A[{R[i]} self]" for i in range(n) for j in range(n)]
    names += [f"B[{u}][{R[i]}<-{R[j]}]" for u in model.inputs for i in range(n) for j in range(n)]
    names += [f"C[{R[i]}<-{u}]" for i in range(n) for u in model.inputs]
    names += [f"transit[{r}]" for r in R] + [f"decay[{r}]" for r in R] + ["epsilon"]
    size = pV.size
    return Layout(n=n, m=m, size=size, pE=np.zeros(size), pV=pV, free=np.flatnonzero(pV > 0), names=names)
