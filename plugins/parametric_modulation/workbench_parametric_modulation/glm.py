"""Mass-univariate GLM per slice group with nilearn's ``run_glm`` (AR(1) prewhitening).

nilearn does the fitting (OLS, lag-1 residual autocorrelation per voxel, binned AR(1)
refits) and the contrasts; what is ours is fitting each slice with its own design
(regressors sampled at that slice's acquisition time) and assembling the maps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SliceGLM", "fit_slices", "mean_scale", "smooth_volumes"]


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
    noise_model : {"ar1", "ols"}
    progress : callable
        Called per group; raises to cancel.
    """
    from nilearn.glm.contrasts import compute_contrast
    from nilearn.glm.first_level import run_glm

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
