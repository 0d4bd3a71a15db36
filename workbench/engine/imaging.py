"""Small image helpers for views and reports (Qt-free): slices, resampling, time courses.

The orthogonal slice viewer shows everything on the grid of the anatomy. Instead of
resampling whole overlay volumes (slow for a 4D BOLD), only the three displayed planes
are resampled, each as a one-voxel-thick slab passed to nibabel's
:func:`nibabel.processing.resample_from_to` (scipy's affine resampling underneath), so
a slider move costs milliseconds.
"""

from __future__ import annotations

from typing import Any

import nibabel as nib
import numpy as np
from nibabel.processing import resample_from_to

from .errors import InputError

#: axis index of each orthogonal view in a RAS-canonical grid
VIEW_AXES = {"sagittal": 0, "coronal": 1, "axial": 2}


def in_memory(img: Any, volume: int | None = None, dtype: Any = np.float32) -> nib.Nifti1Image:
    """A NIfTI image with its data in memory (one volume of a 4D image if ``volume``).

    Slicing a compressed file's proxy re-reads the file; views call this once and reuse it.
    """
    data = np.asanyarray(img.dataobj)
    if volume is not None:
        if data.ndim != 4:
            raise InputError(None, f"volume {volume} requested from a {data.ndim}D image")
        data = data[..., int(volume)]
    elif data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    return nib.Nifti1Image(np.asarray(data, dtype=dtype), img.affine)


def canonical(img: Any) -> nib.Nifti1Image:
    """The image reoriented to the closest RAS+ voxel order (axes: L→R, P→A, I→S)."""
    return nib.as_closest_canonical(img)


def mean_volume(img: Any) -> nib.Nifti1Image:
    """Mean over time of a 4D image (a 3D image is returned unchanged, in memory)."""
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4:
        data = data.mean(axis=3, dtype=np.float64)
    return nib.Nifti1Image(np.asarray(data, np.float32), img.affine)


def slab_affine(affine: np.ndarray, axis: int, index: int) -> np.ndarray:
    """Affine of the one-voxel slab at ``index`` along ``axis`` of a grid."""
    shift = np.eye(4)
    shift[axis, 3] = index
    return affine @ shift


def sample_plane(
    img: Any, ref_shape: tuple[int, ...], ref_affine: np.ndarray, axis: int, index: int,
    order: int = 1,
) -> np.ndarray:
    """Resample a 3D ``img`` onto one plane of a reference grid.

    Parameters
    ----------
    img : nibabel image (3D, preferably in memory; see :func:`in_memory`)
    ref_shape, ref_affine : the reference (anatomy) grid
    axis : int
        0, 1 or 2: the grid axis normal to the plane.
    index : int
        Plane index along ``axis``.
    order : int
        Spline order (0 nearest, 1 linear).

    Returns
    -------
    ndarray, 2D
        The plane with the remaining two axes in grid order; NaN outside ``img``.
    """
    shape = list(ref_shape[:3])
    shape[axis] = 1
    out = resample_from_to(
        img, (tuple(shape), slab_affine(ref_affine, axis, index)), order=order,
        mode="constant", cval=np.nan,
    )
    return np.take(np.asanyarray(out.dataobj), 0, axis=axis)


def plane(data: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The plane of a 3D array at ``index`` along ``axis`` (remaining axes in order)."""
    return np.take(data, int(index), axis=axis)


def world_to_voxel(affine: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """Voxel coordinates (float) of world points (mm) under ``affine``."""
    xyz = np.atleast_2d(np.asarray(xyz, float))
    inv = np.linalg.inv(affine)
    return xyz @ inv[:3, :3].T + inv[:3, 3]


def voxel_to_world(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of voxel indices under ``affine``."""
    ijk = np.atleast_2d(np.asarray(ijk, float))
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def voxel_timecourse(data4d: np.ndarray, affine: np.ndarray, xyz: np.ndarray) -> np.ndarray | None:
    """The time course of the voxel nearest to world point ``xyz`` (mm), or None outside."""
    ijk = np.rint(world_to_voxel(affine, xyz)[0]).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= np.asarray(data4d.shape[:3])):
        return None
    return np.asarray(data4d[ijk[0], ijk[1], ijk[2], :], dtype=np.float64)


def repetition_time(img: Any, meta: dict[str, Any] | None = None) -> float | None:
    """TR in seconds from the sidecar (``RepetitionTime``) or the NIfTI header, else None."""
    if meta and meta.get("RepetitionTime"):
        return float(meta["RepetitionTime"])
    try:
        zooms = img.header.get_zooms()
        if len(zooms) > 3 and zooms[3] > 0:
            unit = img.header.get_xyzt_units()[1]
            return float(zooms[3]) / (1000.0 if unit == "msec" else 1.0)
    except (AttributeError, IndexError):
        pass
    return None


def robust_levels(data: np.ndarray, lo: float = 1.0, hi: float = 99.5) -> tuple[float, float]:
    """Display levels from percentiles of the finite, non-zero voxels."""
    v = data[np.isfinite(data)]
    nz = v[v != 0]
    if nz.size:
        v = nz
    if v.size == 0:
        return 0.0, 1.0
    a, b = np.percentile(v, [lo, hi])
    return float(a), float(b if b > a else a + 1.0)
