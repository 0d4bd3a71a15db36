"""Closed-form weighted point-set fits and transform helpers.

Convention (as MNE's ``Coregistration``): the fit maps *MRI* points ``y`` (on the
unscaled MRI scalp) to *head* points ``x``::

    x ≈ R · diag(s) · y + t

so ``[R | t]`` is the rigid MRI -> head transform, its inverse the head -> MRI transform
that is written as ``-trans.fif``, and ``s`` scales the MRI (uniform or 3-axis).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ScaleMode = Literal["none", "uniform", "3-axis"]
SCALE_MODES: tuple[str, ...] = ("none", "uniform", "3-axis")


def fit_matched(
    mri_pts: np.ndarray,
    head_pts: np.ndarray,
    weights: np.ndarray | None = None,
    scale: ScaleMode = "none",
    x0: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least-squares fit ``head ≈ R · diag(s) · mri + t``.

    Rigid and uniform-scale fits are closed form (weighted Kabsch/Umeyama by SVD, the
    same optimum as Horn's quaternion method MNE uses); the 3-axis fit refines the
    uniform one with :func:`scipy.optimize.least_squares`.

    Parameters
    ----------
    mri_pts, head_pts : ndarray, shape (n, 3)
        Matched points (m).
    weights : ndarray, shape (n,) | None
        Non-negative weights of the squared errors.
    scale : {"none", "uniform", "3-axis"}
        Which scale factors to estimate.
    x0 : tuple | None
        Starting ``(R, t, s)`` for the 3-axis refinement.

    Returns
    -------
    R : ndarray, shape (3, 3)
    t : ndarray, shape (3,)
    s : ndarray, shape (3,)
    """
    y = np.asarray(mri_pts, float)
    x = np.asarray(head_pts, float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float).ravel()
    if w.sum() <= 0:
        raise ValueError("all weights are zero")
    wn = w / w.sum()
    mu_y = wn @ y
    mu_x = wn @ x
    dy = y - mu_y
    dx = x - mu_x
    cov = (dx * wn[:, None]).T @ dy  # sum w (x - mx)(y - my)^T
    u, sv, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    if d == 0:
        d = 1.0
    corr = np.diag([1.0, 1.0, d])
    R = u @ corr @ vt
    if scale == "none":
        s = np.ones(3)
    else:
        var_y = float(wn @ np.einsum("ij,ij->i", dy, dy))
        s = np.full(3, float(np.sum(sv * np.diag(corr)) / var_y))
    t = mu_x - R @ (s * mu_y)
    if scale == "3-axis":
        R, t, s = _refine_3axis(y, x, w, R if x0 is None else x0[0], t if x0 is None else x0[1], s if x0 is None else x0[2])
    elif scale not in SCALE_MODES:
        raise ValueError(f"scale must be one of {SCALE_MODES}, got {scale!r}")
    return R, t, s


def _refine_3axis(y: np.ndarray, x: np.ndarray, w: np.ndarray, R0: np.ndarray, t0: np.ndarray, s0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-linear refinement of rotation (vector), translation and 3 scales."""
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    sw = np.sqrt(w)[:, None]

    def resid(p: np.ndarray) -> np.ndarray:
        Rm = Rotation.from_rotvec(p[:3]).as_matrix()
        return (sw * ((y * p[6:9]) @ Rm.T + p[3:6] - x)).ravel()

    p0 = np.concatenate([Rotation.from_matrix(R0).as_rotvec(), t0, s0])
    res = least_squares(resid, p0, method="lm", xtol=1e-12, ftol=1e-12)
    p = res.x
    return Rotation.from_rotvec(p[:3]).as_matrix(), p[3:6], p[6:9]


def rigid_matrix(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """4x4 homogeneous matrix from ``R`` and ``t``."""
    m = np.eye(4)
    m[:3, :3] = R
    m[:3, 3] = t
    return m


def invert_rigid(m: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform."""
    out = np.eye(4)
    out[:3, :3] = m[:3, :3].T
    out[:3, 3] = -m[:3, :3].T @ m[:3, 3]
    return out


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to points ``(n, 3)``."""
    pts = np.atleast_2d(pts)
    return pts @ m[:3, :3].T + m[:3, 3]


def rotation_angle_deg(m_a: np.ndarray, m_b: np.ndarray | None = None) -> float:
    """Rotation angle (degrees) of ``m_a`` or of ``m_a`` relative to ``m_b``."""
    R = m_a[:3, :3] if m_b is None else m_a[:3, :3] @ m_b[:3, :3].T
    c = (np.trace(R) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def random_rigid(rng: np.random.Generator, max_deg: float, max_mm: float) -> np.ndarray:
    """A random rigid transform: uniform random axis, angle up to ``max_deg``, shift up to ``max_mm``."""
    from scipy.spatial.transform import Rotation

    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.radians(rng.uniform(0, max_deg))
    shift = rng.normal(size=3)
    shift *= rng.uniform(0, max_mm) * 1e-3 / np.linalg.norm(shift)
    return rigid_matrix(Rotation.from_rotvec(axis * angle).as_matrix(), shift)
