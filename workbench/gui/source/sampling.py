"""Source values onto planes of the T1 (Qt-free): what the slices of the source view draw.

Two kinds of source positions:

* on a regular volume grid (``grid_shape``/``grid_to_mri`` given and every source on a
  grid node): the values are put back on the grid and interpolated linearly at each T1
  voxel (:func:`scipy.ndimage.map_coordinates`), which is what a volume estimate means;
* anywhere else (a cortical surface's vertices, a grid that does not match): each T1
  voxel takes the value of the nearest source within ``radius`` (a k-d tree), so a
  surface estimate shows as a band along the cortex. Interpolating between scattered
  vertices would smear values across sulci, which is why it is not done.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PlaneSampler", "on_grid"]


def on_grid(pos_m: np.ndarray, grid_shape: Any, grid_to_mri: Any, tol: float = 1e-3) -> np.ndarray | None:
    """Integer grid indices of the sources, or None when they are not the nodes of that grid.

    Parameters
    ----------
    pos_m : (n, 3) array
        Source positions (m, ``mri`` frame).
    grid_shape : 3 ints or None
        The volume grid's shape.
    grid_to_mri : (4, 4) array or None
        Grid index -> ``mri`` (m).
    tol : float
        Largest distance from a node, in grid steps.
    """
    if grid_shape is None or grid_to_mri is None or len(pos_m) == 0:
        return None
    try:
        shape = np.asarray([int(x) for x in grid_shape])
        g2m = np.asarray(grid_to_mri, float).reshape(4, 4)
        ijk = np.linalg.solve(g2m, np.c_[pos_m, np.ones(len(pos_m))].T)[:3].T
    except (TypeError, ValueError, np.linalg.LinAlgError):
        return None
    if shape.size != 3:
        return None
    rounded = np.round(ijk)
    if np.abs(ijk - rounded).max() > tol or (rounded < 0).any() or (rounded >= shape).any():
        return None
    return rounded.astype(int)


class PlaneSampler:
    """Sample per-source values at the voxels of T1 planes.

    Parameters
    ----------
    pos_m : (n, 3) array
        Source positions (m, ``mri`` frame).
    anat_shape : 3 ints
        Shape of the T1 (RAS-oriented) grid.
    anat_affine : (4, 4) array
        T1 voxel -> scanner RAS (mm).
    mri_to_world_mm : (4, 4) array
        ``mri`` (mm) -> scanner RAS (mm).
    grid_shape, grid_to_mri : optional
        The volume grid of the sources, when they are on one.
    radius_mm : float
        Nearest-source distance limit for scattered sources.
    """

    def __init__(self, pos_m: np.ndarray, anat_shape: tuple[int, ...], anat_affine: np.ndarray,
                 mri_to_world_mm: np.ndarray, grid_shape: Any = None, grid_to_mri: Any = None,
                 radius_mm: float = 7.0) -> None:
        self.pos_m = np.asarray(pos_m, float)
        self.anat_shape = tuple(int(x) for x in anat_shape[:3])
        self.anat_affine = np.asarray(anat_affine, float)
        self.mri_to_world_mm = np.asarray(mri_to_world_mm, float)
        self.radius_mm = float(radius_mm)
        self.ijk = on_grid(self.pos_m, grid_shape, grid_to_mri)
        self.gridded = self.ijk is not None
        if self.gridded:
            self.grid_shape = tuple(int(x) for x in grid_shape)
            self.grid_to_mri = np.asarray(grid_to_mri, float).reshape(4, 4)
            self._tree = None
        else:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(self.pos_m * 1e3)
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def _plane_mri_mm(self, axis: int, index: int) -> np.ndarray:
        rest = [d for d in range(3) if d != axis]
        n0, n1 = self.anat_shape[rest[0]], self.anat_shape[rest[1]]
        ijk = np.zeros((n0 * n1, 3))
        ii, jj = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
        ijk[:, rest[0]], ijk[:, rest[1]], ijk[:, axis] = ii.ravel(), jj.ravel(), index
        world = ijk @ self.anat_affine[:3, :3].T + self.anat_affine[:3, 3]
        w2m = np.linalg.inv(self.mri_to_world_mm)
        return world @ w2m[:3, :3].T + w2m[:3, 3]

    def _lookup(self, axis: int, index: int) -> np.ndarray:
        """Grid coordinates (3, n) of the plane's voxels, or nearest-source indices (n; -1 = none)."""
        key = (axis, index)
        got = self._cache.get(key)
        if got is not None:
            return got
        mri_mm = self._plane_mri_mm(axis, index)
        if self.gridded:
            got = np.linalg.solve(self.grid_to_mri, np.c_[mri_mm * 1e-3, np.ones(len(mri_mm))].T)[:3]
        else:
            dist, idx = self._tree.query(mri_mm, distance_upper_bound=self.radius_mm)
            got = np.where(np.isfinite(dist), idx, -1)
        if len(self._cache) > 24:
            self._cache.clear()
        self._cache[key] = got
        return got

    def plane(self, values: np.ndarray, axis: int, index: int) -> np.ndarray:
        """The per-source ``values`` on the T1 plane ``index`` along ``axis`` (0 outside)."""
        from scipy import ndimage

        rest = [d for d in range(3) if d != axis]
        shape = (self.anat_shape[rest[0]], self.anat_shape[rest[1]])
        values = np.asarray(values, np.float32)
        look = self._lookup(axis, index)
        if self.gridded:
            vol = np.zeros(self.grid_shape, np.float32)
            vol[tuple(self.ijk.T)] = values
            return ndimage.map_coordinates(vol, look, order=1, cval=0.0).reshape(shape)
        out = np.zeros(len(look), np.float32)
        hit = look >= 0
        out[hit] = values[look[hit]]
        return out.reshape(shape)
