"""The fMRI map: reading and checking it, a GLM z-map when none is given, and sampling it
into the source space through the affines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

from .forward import t1_frames

__all__ = ["load_map", "glm_zmap", "sample_map", "check_map_space"]


def load_map(path: Path) -> Any:
    import nibabel as nib

    try:
        img = nib.load(path)
        data = np.asarray(img.dataobj, np.float32)
    except Exception as exc:  # noqa: BLE001 - any reader failure is this file's problem
        raise InputError(path, f"not a readable NIfTI map ({type(exc).__name__})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(path, f"the fMRI map must be a 3D image, got shape {data.shape}")
    return nib.Nifti1Image(np.nan_to_num(data), img.affine)


def check_map_space(img: Any, t1: Any, name: str) -> None:
    """One-line error when the map is not in the T1's (world) space.

    The map may be on its own grid (the EPI grid of a GLM) as long as it is in the same
    world space as the T1; a map on the T1's grid with another affine, or whose field of
    view misses the T1's, is in another space (e.g. MNI for a native-space T1).
    """
    a_map, a_t1 = np.asarray(img.affine, float), np.asarray(t1.affine, float)
    if tuple(img.shape[:3]) == tuple(t1.shape[:3]) and not np.allclose(a_map, a_t1, atol=1.0):
        raise InputError(name, "the fMRI map has the T1's grid but another affine (a different space): "
                               "register/resample the map to the T1 first")
    lo_m, hi_m = _bbox(a_map, img.shape[:3])
    lo_t, hi_t = _bbox(a_t1, t1.shape[:3])
    overlap = np.clip(np.minimum(hi_m, hi_t) - np.maximum(lo_m, lo_t), 0, None)
    frac = float(np.prod(overlap) / max(np.prod(hi_m - lo_m), 1e-9))
    if frac < 0.5:
        raise InputError(name, f"the fMRI map is not in the T1's space (only {frac:.0%} of its field of "
                               "view lies in the T1's): register/resample the map to the T1 first")


def _bbox(affine: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[i, j, k] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1) for k in (0, shape[2] - 1)], float)
    w = corners @ affine[:3, :3].T + affine[:3, 3]
    return w.min(0), w.max(0)


def glm_zmap(bold: Any, meta: dict[str, Any], events: Any, condition: str, fwhm: float) -> Any:
    """z-map of one condition against baseline (nilearn GLM, SPM's canonical HRF, cosine drift).

    Used only when no ``--fmri`` map is given; the GLM stage (e.g. parametric-modulation)
    gives richer maps.
    """
    from nilearn.glm.first_level import FirstLevelModel

    tr = meta.get("RepetitionTime")
    if not isinstance(tr, int | float) or tr <= 0:
        raise InputError(None, "the BOLD has no RepetitionTime: give --fmri ZMAP.nii.gz instead")
    ev = events[["onset", "duration", "trial_type"]].copy()
    ev["trial_type"] = ev["trial_type"].astype(str)
    model = FirstLevelModel(t_r=float(tr), hrf_model="spm", drift_model="cosine", high_pass=1 / 128,
                            noise_model="ols", smoothing_fwhm=fwhm or None, minimize_memory=True,
                            slice_time_ref=0.5, n_jobs=1)
    model.fit(bold, events=ev)
    others = sorted(set(ev["trial_type"]) - {condition})
    columns = model.design_matrices_[0].columns
    contrast = np.array([1.0 if c == condition else 0.0 for c in columns])
    del others
    return model.compute_contrast(contrast, output_type="z_score")


def sample_map(img: Any, t1: Any, pos_mri: np.ndarray) -> np.ndarray:
    """The map's value at each source position (trilinear), as MNE-C samples its --fmri map.

    Source positions are in MNE's ``mri`` frame (surface RAS, m); the map is in the T1's
    world (scanner RAS, mm): ``scanner = vox2ras @ inv(vox2ras_tkr) @ mri``. (A maximum
    over each source's neighbourhood was tried first: with ~20 voxels per 10 mm grid cell
    it turned every scattered uncorrected false positive of a GLM map into a prior source.)
    """
    from scipy import ndimage

    vox2ras, tkr = t1_frames(t1)
    mri_to_scanner = vox2ras @ np.linalg.inv(tkr)
    data = np.asarray(img.dataobj, np.float64)
    aff = np.asarray(img.affine, float)
    src_scanner = pos_mri * 1e3 @ mri_to_scanner[:3, :3].T + mri_to_scanner[:3, 3]
    ijk = np.linalg.solve(aff, np.c_[src_scanner, np.ones(len(src_scanner))].T)[:3]
    return ndimage.map_coordinates(data, ijk, order=1, mode="constant", cval=0.0)
