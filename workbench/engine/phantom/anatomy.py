"""Volumes of a phantom subject: a T1-weighted image, tissue labels, the EPI grid.

Tissues come from the posed fsaverage scalp and inner-skull meshes: skin/fat (bright
in T1), skull (dark), other soft tissue, CSF, grey and white matter by depth below the
inner skull. The T1 is stored like a FreeSurfer-conformed volume (LIA voxel axes,
origin at the volume centre) so its world coordinates equal MNE's ``mri`` (surface
RAS) frame; a scalp boundary with strong contrast against air lets surface extraction
(e.g. marching cubes) find it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import geometry as geo
from .config import PhantomConfig
from .head import Head, fsaverage_surfaces

__all__ = ["Anatomy", "make_anatomy", "lia_affine", "TISSUES", "BoldGrid", "make_bold_grid"]

#: label -> (name, T1 intensity, EPI (T2*) baseline intensity)
TISSUES = {
    0: ("air", 0.0, 0.0),
    1: ("skin", 0.85, 0.25),
    2: ("skull", 0.10, 0.05),
    3: ("soft_tissue", 0.45, 0.30),
    4: ("csf", 0.15, 1.40),
    5: ("grey_matter", 0.45, 1.00),
    6: ("white_matter", 0.75, 0.80),
}
FOV_M = 0.256


def lia_affine(n: int, step: float) -> np.ndarray:
    """Voxel -> world (m... here mm) affine of a FreeSurfer-conformed LIA volume, centred."""
    a = np.zeros((4, 4))
    a[0, 0] = -step
    a[1, 2] = step
    a[2, 1] = -step
    a[:3, 3] = [step * n / 2, -step * n / 2, step * n / 2]
    a[3, 3] = 1
    return a


@dataclass
class Anatomy:
    """Tissue labels and T1 on a cubic LIA grid.

    Attributes
    ----------
    labels : ndarray of uint8, shape (n, n, n)
        Keys of :data:`TISSUES`.
    t1 : ndarray of int16
        T1-weighted intensities (0..~1000) with noise and a smooth bias field.
    affine : ndarray
        Voxel -> world in millimetres (NIfTI convention); world == MNE ``mri`` frame.
    """

    labels: np.ndarray
    t1: np.ndarray
    affine: np.ndarray

    def label_at(self, pts_m: np.ndarray) -> np.ndarray:
        """Tissue label at points of the MRI frame (m), nearest voxel."""
        ijk = geo.apply(np.linalg.inv(self.affine), np.asarray(pts_m) * 1e3)
        ijk = np.clip(np.round(ijk).astype(int), 0, np.array(self.labels.shape) - 1)
        return self.labels[ijk[:, 0], ijk[:, 1], ijk[:, 2]]


@functools.lru_cache(maxsize=2)
def _fsaverage_labels(voxel_mm: float) -> np.ndarray:
    """Tissue labels of the unposed fsaverage head on the centred RAS grid (cached)."""
    fs = fsaverage_surfaces()
    step = voxel_mm * 1e-3
    n = int(round(FOV_M / step))
    origin = -np.full(3, step * n / 2) + step / 2
    in_head = geo.voxelize_inside(fs["scalp_rr"], fs["scalp_tris"], origin, step, (n, n, n))
    in_brain = geo.voxelize_inside(fs["skull_rr"], fs["skull_tris"], origin, step, (n, n, n))
    depth = ndimage.distance_transform_edt(in_head) * step  # distance below the scalp
    brain_depth = ndimage.distance_transform_edt(in_brain) * step
    near_brain = ndimage.distance_transform_edt(~in_brain) * step < 0.007
    lab = np.zeros((n, n, n), np.uint8)
    lab[in_head] = 3
    lab[in_head & near_brain] = 2
    lab[in_head & (depth <= 0.004)] = 1
    lab[in_brain] = 5
    lab[in_brain & (brain_depth < 0.003)] = 4
    # white matter: deep brain with a folded boundary (smooth noise), not a shell
    rng = np.random.default_rng(20260101)
    fold = ndimage.gaussian_filter(rng.standard_normal((n, n, n)).astype(np.float32), 2.0)
    fold *= 0.004 / max(float(fold.std()), 1e-12)
    lab[in_brain & (brain_depth + fold > 0.012)] = 6
    lab.setflags(write=False)
    return lab


def make_anatomy(cfg: PhantomConfig, head: Head, rng: np.random.Generator) -> Anatomy:
    """Tissue labels of the posed head and a T1-weighted image of it.

    The fsaverage head is voxelised once (cached) and resampled through the subject's
    pose (nearest neighbour), so every subject's volume matches its posed meshes.
    """
    step = cfg.t1_voxel_mm * 1e-3
    n = int(round(FOV_M / step))
    origin = -np.full(3, step * n / 2) + step / 2
    base = _fsaverage_labels(float(cfg.t1_voxel_mm))
    # output voxel o (RAS grid, posed frame) reads fsaverage voxel R^T (x(o) - t)
    rot, trans = head.pose[:3, :3], head.pose[:3, 3]
    matrix = rot.T
    offset = (rot.T @ (origin - trans) - origin) / step
    lab = ndimage.affine_transform(base, matrix, offset=offset, order=0, mode="constant", cval=0)
    # RAS (x, y, z) index order -> LIA (i = -x, j = -z, k = +y)
    lab = np.ascontiguousarray(lab[::-1, :, ::-1].transpose(0, 2, 1))
    t1_int = np.array([TISSUES[k][1] for k in range(len(TISSUES))], np.float32)
    img = t1_int[lab]
    xyz = np.indices(lab.shape, dtype=np.float32) / n - 0.5
    bias = 1.0 + 0.08 * xyz[0] - 0.06 * xyz[1] + 0.05 * xyz[2]
    img = img * bias + rng.normal(0.0, 0.02, lab.shape).astype(np.float32)
    t1 = np.clip(img * 1000.0, 0, 32767).astype(np.int16)
    return Anatomy(lab, t1, lia_affine(n, cfg.t1_voxel_mm))


@dataclass
class BoldGrid:
    """The EPI voxel grid (RAS axes, axial slices along the third axis).

    Attributes
    ----------
    shape : tuple
        (nx, ny, n_slices).
    affine : ndarray
        Voxel -> world (mm).
    baseline : ndarray of float32
        Mean EPI intensity per voxel (T2*-weighted contrast, ~1000 in grey matter).
    labels : ndarray of uint8
        Tissue label per voxel.
    """

    shape: tuple[int, int, int]
    affine: np.ndarray
    baseline: np.ndarray
    labels: np.ndarray

    def centres_m(self) -> np.ndarray:
        """World coordinates (m) of every voxel centre, shape (*shape, 3)."""
        ijk = np.indices(self.shape, dtype=float).reshape(3, -1).T
        return (geo.apply(self.affine, ijk) * 1e-3).reshape(*self.shape, 3)


def make_bold_grid(cfg: PhantomConfig, head: Head, anat: Anatomy) -> BoldGrid:
    """64x64 in-plane grid, ``cfg.slices`` axial slices covering ~120 mm of brain."""
    nx = ny = 64
    dxy = cfg.bold_voxel_mm
    dz = max(120.0 / cfg.slices, 2.0)
    centre = head.skull_rr.mean(0) * 1e3 + np.array([0.0, 0.0, 10.0])
    aff = np.diag([dxy, dxy, dz, 1.0])
    aff[:3, 3] = centre - np.array([dxy * (nx - 1) / 2, dxy * (ny - 1) / 2, dz * (cfg.slices - 1) / 2])
    grid = BoldGrid((nx, ny, cfg.slices), aff, np.zeros(0), np.zeros(0))
    lab = anat.label_at(grid.centres_m().reshape(-1, 3)).reshape(grid.shape)
    epi = np.array([TISSUES[k][2] for k in range(len(TISSUES))], np.float32)
    base = ndimage.gaussian_filter(epi[lab], 0.6) * 1000.0  # partial volume at EPI resolution
    grid.baseline = base.astype(np.float32)
    grid.labels = lab
    return grid
