"""Small geometry helpers: rigid transforms, ray casting, voxelising closed meshes.

Written here (not taken from a library) because they are a few lines of numpy each and
trimesh/open3d are not dependencies of the workbench.
"""

from __future__ import annotations

import numpy as np

__all__ = ["apply", "rotation", "rigid", "ray_mesh_distance", "voxelize_inside",
           "sample_surface", "fit_sphere", "vertex_normals"]


def apply(t: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 4x4 affine to (n, 3) points."""
    pts = np.asarray(pts, dtype=float)
    return pts @ t[:3, :3].T + t[:3, 3]


def rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """3x3 rotation from angles (rad) about x, then y, then z."""
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    rxm = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rym = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rzm = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rzm @ rym @ rxm


def rigid(rot: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """4x4 from a 3x3 rotation and a translation."""
    t = np.eye(4)
    t[:3, :3] = rot
    t[:3, 3] = trans
    return t


def ray_mesh_distance(origin: np.ndarray, dirs: np.ndarray, rr: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Farthest intersection distance of rays from ``origin`` along unit ``dirs`` with a mesh.

    Möller-Trumbore, vectorised over triangles; returns NaN where a ray misses.
    """
    v0, v1, v2 = rr[tris[:, 0]], rr[tris[:, 1]], rr[tris[:, 2]]
    e1, e2 = v1 - v0, v2 - v0
    out = np.full(len(dirs), np.nan)
    s = origin - v0
    for i, d in enumerate(np.asarray(dirs, dtype=float)):
        p = np.cross(d, e2)
        det = np.einsum("ij,ij->i", e1, p)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        u = np.einsum("ij,ij->i", s, p) * inv
        q = np.cross(s, e1)
        v = (q @ d) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        if hit.any():
            out[i] = t[hit].max()
    return out


def voxelize_inside(rr: np.ndarray, tris: np.ndarray, origin: np.ndarray, step: float,
                    shape: tuple[int, int, int]) -> np.ndarray:
    """Boolean grid (x, y, z index order) of voxel centres inside a closed mesh.

    Casts a ray along +z through every (x, y) column and toggles the inside state at
    each crossing (parity rule); the cumulative parity along z fills the interior.
    """
    nx, ny, nz = shape
    toggles = np.zeros((nx, ny, nz + 1), dtype=np.int32)
    # tiny offset so no column passes exactly through a vertex or an edge
    g = (rr - origin) / step + np.array([1.37e-4, 2.71e-4, 0.0])
    for tri in g[tris]:
        (x0, y0, _), (x1, y1, _), (x2, y2, _) = tri
        ix = np.arange(max(int(np.ceil(min(x0, x1, x2))), 0), min(int(np.floor(max(x0, x1, x2))), nx - 1) + 1)
        iy = np.arange(max(int(np.ceil(min(y0, y1, y2))), 0), min(int(np.floor(max(y0, y1, y2))), ny - 1) + 1)
        if not len(ix) or not len(iy):
            continue
        px, py = np.meshgrid(ix, iy, indexing="ij")
        det = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
        if abs(det) < 1e-15:
            continue
        a = ((y1 - y2) * (px - x2) + (x2 - x1) * (py - y2)) / det
        b = ((y2 - y0) * (px - x2) + (x0 - x2) * (py - y2)) / det
        c = 1 - a - b
        inside = (a >= 0) & (b >= 0) & (c >= 0)
        if not inside.any():
            continue
        z = a * tri[0, 2] + b * tri[1, 2] + c * tri[2, 2]
        k = np.clip(np.ceil(z[inside]).astype(int), 0, nz)
        np.add.at(toggles, (px[inside], py[inside], k), 1)
    return (np.cumsum(toggles, axis=2)[:, :, :nz] % 2).astype(bool)


def sample_surface(rr: np.ndarray, tris: np.ndarray, n: int, rng: np.random.Generator,
                   mask: np.ndarray | None = None) -> np.ndarray:
    """``n`` points uniformly distributed by area on the triangles selected by ``mask``."""
    tri = rr[tris] if mask is None else rr[tris[mask]]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    idx = rng.choice(len(tri), size=n, p=area / area.sum())
    u, v = rng.uniform(size=(2, n))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[idx]
    return t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])


def fit_sphere(pts: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares sphere (centre, radius) through points (algebraic fit)."""
    a = np.c_[2 * pts, np.ones(len(pts))]
    b = (pts ** 2).sum(1)
    sol = np.linalg.lstsq(a, b, rcond=None)[0]
    c = sol[:3]
    return c, float(np.sqrt(sol[3] + c @ c))


def vertex_normals(rr: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    fn = np.cross(rr[tris[:, 1]] - rr[tris[:, 0]], rr[tris[:, 2]] - rr[tris[:, 0]])
    nn = np.zeros_like(rr)
    for k in range(3):
        np.add.at(nn, tris[:, k], fn)
    return nn / np.maximum(np.linalg.norm(nn, axis=1, keepdims=True), 1e-12)
