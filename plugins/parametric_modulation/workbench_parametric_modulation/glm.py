"""Mass-univariate GLM per slice group with nilearn's models (AR(1) prewhitening).

nilearn does the fitting (``OLSModel``/``ARModel``, binned AR(1) refits) and the
contrasts; what is ours is fitting each slice with its own design (regressors sampled at
that slice's acquisition time), the AR(1) estimate of the default noise model, and
assembling the maps.

Noise models:

* ``"ar1-regularised"`` (default): the lag-1 autocorrelation of each voxel's OLS
  residuals corrected for the bias the model fit puts in it (Worsley et al. 2002,
  NeuroImage 15:1, fmristat), then smoothed in space (``AR_FWHM_MM``, fmristat's 15 mm)
  so a voxel's prewhitening does not fit its own noise (FSL FILM smooths its estimates for
  the same reason). On short runs (~100 scans) the raw per-voxel estimate is biased low
  and noisy, which makes the z maps liberal (null SD ~1.09 on 90 scans).
* ``"ar1"``: nilearn's ``run_glm`` as it is (per-voxel Yule-Walker, no correction).
* ``"ols"``: no prewhitening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SliceGLM", "fit_slices", "mean_scale", "smooth_volumes", "residual_ar1",
           "smooth_in_mask", "AR_FWHM_MM", "NOISE_MODELS"]

#: spatial smoothing (FWHM, mm) of the AR(1) estimates of the default noise model
AR_FWHM_MM = 15.0
#: the noise models :func:`fit_slices` knows
NOISE_MODELS = ("ar1-regularised", "ar1", "ols")


def residual_ar1(Y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Bias-corrected lag-1 autocorrelation of the OLS residuals of every column of ``Y``.

    The residuals ``e = R y`` (``R = I - X X^+``) of a series with variance ``v`` and lag-1
    autocovariance ``c`` have expected lag-0/lag-1 sums ``M @ (v, c)`` with
    ``M_jk = tr(A_j R B_k R)``; solving for ``(v, c)`` removes the bias of the fit
    (Worsley et al. 2002, NeuroImage 15:1).

    Parameters
    ----------
    Y : ndarray (n_scans, n_voxels)
    X : ndarray (n_scans, n_regressors)

    Returns
    -------
    ndarray (n_voxels,)
        ``c / v``, clipped to [-0.9, 0.9].
    """
    n = X.shape[0]
    R = np.eye(n) - X @ np.linalg.pinv(X)
    E = R @ Y
    sums = np.vstack([(E * E).sum(axis=0), (E[1:] * E[:-1]).sum(axis=0)])
    lag = np.eye(n, k=-1)
    A = (np.eye(n), (lag + lag.T) / 2.0)
    B = (np.eye(n), lag + lag.T)
    M = np.array([[np.trace(a @ R @ b @ R) for b in B] for a in A])
    v, c = np.linalg.solve(M, sums)
    rho = np.divide(c, v, out=np.zeros_like(c), where=v > 0)
    return np.clip(rho, -0.9, 0.9)


def smooth_in_mask(values: np.ndarray, mask: np.ndarray, affine: np.ndarray,
                   fwhm_mm: float) -> np.ndarray:
    """Gaussian smoothing of per-voxel values within a mask (normalised convolution).

    Parameters
    ----------
    values : ndarray (n_voxels,)
        One value per voxel of ``mask`` (in ``mask[mask]`` order).
    mask : ndarray of bool (nx, ny, nz)
    affine : ndarray (4, 4)
        Voxel -> world (mm).
    fwhm_mm : float
        Kernel width; 0 returns a copy of ``values``.

    Returns
    -------
    ndarray (n_voxels,)
        Weighted local means: voxels outside the mask do not count.
    """
    from scipy import ndimage

    values = np.asarray(values, float)
    if fwhm_mm <= 0:
        return values.copy()
    vox = np.sqrt((np.asarray(affine, float)[:3, :3] ** 2).sum(axis=0))
    sigma = fwhm_mm / (np.sqrt(8.0 * np.log(2.0)) * vox)
    vol = np.zeros(mask.shape)
    vol[mask] = values
    num = ndimage.gaussian_filter(vol, sigma, mode="constant")
    den = ndimage.gaussian_filter(mask.astype(float), sigma, mode="constant")
    return num[mask] / np.maximum(den[mask], 1e-12)


def smooth_volumes(data: np.ndarray, affine: np.ndarray, fwhm_mm: float) -> np.ndarray:
    """Gaussian spatial smoothing of every volume of a 4D series, in place.

    Parameters
    ----------
    data : ndarray, shape (nx, ny, nz, n_scans)
        BOLD intensities (float32 or float64); overwritten with the smoothed series.
    affine : ndarray, shape (4, 4)
        Voxel -> world (mm); the kernel's width in voxels follows each axis's voxel size.
    fwhm_mm : float
        Full width at half maximum of the kernel (mm); 0 leaves the data unchanged.

    Returns
    -------
    ndarray
        ``data`` (smoothed), as :func:`nilearn.image.smooth_img` would give it (same
        kernel, borders reflected).
    """
    from scipy import ndimage

    if fwhm_mm <= 0:
        return data
    vox = np.sqrt((np.asarray(affine, float)[:3, :3] ** 2).sum(axis=0))
    sigma = fwhm_mm / (np.sqrt(8.0 * np.log(2.0)) * vox)
    for v in range(data.shape[3]):
        data[..., v] = ndimage.gaussian_filter(data[..., v], sigma, mode="reflect", truncate=4.0)
    return data


def mean_scale(Y: np.ndarray) -> np.ndarray:
    """Percent signal change about each voxel's mean (nilearn's default ``signal_scaling=0``)."""
    mean = Y.mean(axis=0)
    mean[mean == 0] = 1.0
    return 100.0 * (Y / mean - 1.0)


@dataclass
class SliceGLM:
    """Fitted GLM for every analysed voxel.

    Attributes
    ----------
    betas : ndarray (n_regressors, n_voxels)
    stats : dict
        Contrast name -> dict of ``t``, ``z``, ``p``, ``effect`` arrays (n_voxels,).
    group : ndarray (n_voxels,)
        Which design (slice group) each voxel used.
    designs : list of ndarray
        Design matrix of each group.
    """

    betas: np.ndarray
    stats: dict[str, dict[str, np.ndarray]]
    group: np.ndarray
    designs: list[np.ndarray] = field(default_factory=list)


def fit_slices(
    Y: np.ndarray,
    group: np.ndarray,
    designs: list[np.ndarray],
    contrasts: dict[str, np.ndarray],
    noise_model: str = "ar1",
    progress: Callable[[float, str], None] | None = None,
    rho: np.ndarray | None = None,
) -> SliceGLM:
    """Fit voxels ``Y[:, group == g]`` with ``designs[g]`` and compute t-contrasts.

    Parameters
    ----------
    Y : ndarray (n_scans, n_voxels)
        Scaled BOLD.
    group : ndarray (n_voxels,) of int
        Design index per voxel.
    designs : list of ndarray (n_scans, n_regressors)
    contrasts : dict
        Name -> contrast vector (n_regressors,).
    noise_model : {"ar1-regularised", "ar1", "ols"}
        ``"ar1-regularised"`` prewhitens with the given ``rho``.
    progress : callable
        Called per group; raises to cancel.
    rho : ndarray (n_voxels,) | None
        AR(1) coefficient per voxel for ``"ar1-regularised"`` (see :func:`residual_ar1`,
        :func:`smooth_in_mask`); binned to 0.01 like nilearn's.
    """
    from nilearn.glm.contrasts import compute_contrast
    from nilearn.glm.first_level import run_glm
    from nilearn.glm.regression import ARModel

    if noise_model not in NOISE_MODELS:
        raise ValueError(f"noise_model must be one of {NOISE_MODELS}, got {noise_model!r}")
    if noise_model == "ar1-regularised" and (rho is None or len(rho) != Y.shape[1]):
        raise ValueError("noise_model 'ar1-regularised' needs one AR(1) coefficient per voxel")

    n_reg = designs[0].shape[1]
    n_vox = Y.shape[1]
    betas = np.zeros((n_reg, n_vox))
    stats = {name: {k: np.zeros(n_vox) for k in ("t", "z", "p", "effect")} for name in contrasts}
    groups = np.unique(group)
    for i, g in enumerate(groups):
        if progress is not None:
            progress(i / len(groups), f"GLM slice group {i + 1}/{len(groups)}")
        sel = np.flatnonzero(group == g)
        X = designs[g]
        if noise_model == "ar1-regularised":
            binned = np.round(np.asarray(rho)[sel], 2)
            labels = np.array([f"{r:.2f}" for r in binned])
            results = {lab: ARModel(X, float(lab)).fit(Y[:, sel[labels == lab]])
                       for lab in np.unique(labels)}
        else:
            labels, results = run_glm(Y[:, sel], X, noise_model=noise_model)
        for lab, res in results.items():
            betas[:, sel[labels == lab]] = res.theta
        for name, vec in contrasts.items():
            con = compute_contrast(labels, results, vec, stat_type="t")
            stats[name]["t"][sel] = con.stat()
            stats[name]["z"][sel] = con.z_score()
            stats[name]["p"][sel] = con.p_value()
            stats[name]["effect"][sel] = np.ravel(con.effect)
    return SliceGLM(betas=betas, stats=stats, group=group, designs=list(designs))
