"""Scalp surfaces: read from FreeSurfer/MNE files or extract from a T1, and report quality.

A scalp is the session's plain dict ``{"rr": (n, 3) float m, "tris": (m, 3) int}`` in the
MRI (FreeSurfer surface RAS) frame. Extraction from a T1 returns two meshes: a dense one
for exact distances and a coarser one (~10-20k triangles) for interactive display.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage, sparse

from ..errors import InputError
from ..progress import ProgressLike, as_progress


def _as_scalp(rr: np.ndarray, tris: np.ndarray, path: str | PathLike | None) -> dict[str, Any]:
    rr = np.asarray(rr, float)
    tris = np.asarray(tris, np.int64)
    if rr.ndim != 2 or rr.shape[1] != 3 or len(rr) < 4 or tris.ndim != 2 or tris.shape[1] != 3 or len(tris) < 4:
        raise InputError(path, "the surface is empty or not a triangle mesh (need >= 4 vertices and triangles)")
    if not np.all(np.isfinite(rr)):
        raise InputError(path, "the surface has non-finite vertex coordinates")
    if tris.min() < 0 or tris.max() >= len(rr):
        raise InputError(path, f"the surface is broken: triangle indices outside 0..{len(rr) - 1}")
    extent = float(np.ptp(rr, axis=0).max())
    if extent > 1.0:
        raise InputError(path, f"the surface spans {extent:.0f} m; it looks like millimetres passed as metres")
    if extent < 0.05:
        raise InputError(path, f"the surface spans only {extent * 1e3:.1f} mm; not a head")
    return {"rr": rr, "tris": tris}


def read_scalp(path: str | PathLike) -> dict[str, Any]:
    """Read a scalp surface from a FreeSurfer ``.surf`` or an MNE ``-head.fif`` / BEM file.

    Parameters
    ----------
    path : path-like
        FreeSurfer surface (e.g. ``bem/outer_skin.surf``, coordinates in mm) or a FIF
        BEM file (``sample-head.fif``, ``sample-5120-5120-5120-bem.fif``; the outermost
        surface, the head, is used).

    Returns
    -------
    scalp : dict
        ``{"rr": (n, 3) m, "tris": (m, 3)}`` in the MRI frame.

    Raises
    ------
    InputError
        Missing, empty, broken or wrong-type file.
    """
    import mne

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    name = path.name.lower()
    try:
        if name.endswith(".fif") or name.endswith(".fif.gz"):
            surfs = mne.read_bem_surfaces(path, verbose="error")
            if not surfs:
                raise InputError(path, "no BEM surface in this file")
            # the head is the outermost surface: FIFFV_BEM_SURF_ID_HEAD = 4, else the largest
            head = [s for s in surfs if s.get("id") == 4]  # FIFFV_BEM_SURF_ID_HEAD
            if not head:
                raise InputError(path, "this BEM file holds no head (scalp) surface, only inner skull/brain "
                                 "layers; use a -head.fif or a 3-layer BEM")
            s = head[0]
            if s.get("coord_frame", 5) != 5:  # FIFFV_COORD_MRI
                raise InputError(path, f"the surface is not in the MRI frame (coord_frame={s['coord_frame']})")
            return _as_scalp(s["rr"], s["tris"], path)
        rr, tris = mne.read_surface(path, verbose="error")
    except InputError:
        raise
    except Exception as err:  # MNE/nibabel raise many types on bad files
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(path, f"not a readable surface file ({msg})") from None
    return _as_scalp(np.asarray(rr, float) * 1e-3, tris, path)


def surface_quality(scalp: dict[str, Any]) -> dict[str, Any]:
    """Describe a mesh: size, closedness, components, edge lengths, area and volume.

    Returns
    -------
    qc : dict
        ``n_vertices``, ``n_triangles``, ``closed`` (every edge shared by exactly two
        triangles), ``euler`` (2 for a closed sphere-like surface), ``n_components``,
        ``edge_mean_mm``, ``edge_max_mm``, ``area_cm2``, ``volume_cm3`` (signed; positive
        when triangles are oriented outward), ``outward`` (bool).
    """
    rr = np.asarray(scalp["rr"], float)
    tris = np.asarray(scalp["tris"], np.int64)
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    n_v, n_f = len(rr), len(tris)
    used = np.unique(tris)
    adj = sparse.coo_matrix((np.ones(len(uniq)), (uniq[:, 0], uniq[:, 1])), shape=(n_v, n_v))
    n_comp, labels = sparse.csgraph.connected_components(adj, directed=False)
    n_comp = len(np.unique(labels[used]))
    lengths = np.linalg.norm(rr[uniq[:, 0]] - rr[uniq[:, 1]], axis=1)
    a, b, c = rr[tris[:, 0]], rr[tris[:, 1]], rr[tris[:, 2]]
    cross = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(cross, axis=1).sum()
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0
    return {
        "n_vertices": int(n_v),
        "n_triangles": int(n_f),
        "closed": bool(np.all(counts == 2)),
        "euler": int(len(used) - len(uniq) + n_f),
        "n_components": int(n_comp),
        "edge_mean_mm": float(lengths.mean() * 1e3),
        "edge_max_mm": float(lengths.max() * 1e3),
        "area_cm2": float(area * 1e4),
        "volume_cm3": float(volume * 1e6),
        "outward": bool(volume > 0),
    }


def _head_mask(data: np.ndarray) -> np.ndarray:
    """Robust binary head mask: Otsu-like threshold, closing, hole filling, largest component."""
    from skimage.filters import threshold_otsu

    vals = data[np.isfinite(data)]
    lo, hi = np.percentile(vals, [1, 99.5])
    if not hi > lo:
        raise ValueError("the image is constant")
    clipped = np.clip(data, lo, hi)
    # Otsu separates air from tissue; half of it keeps dark scalp/fat boundaries inside
    thr = 0.5 * threshold_otsu(clipped[clipped > lo]) if np.any(clipped > lo) else (lo + hi) / 2
    mask = clipped > thr
    mask = ndimage.binary_opening(mask, iterations=1)
    labels, n = ndimage.label(mask)
    if n == 0:
        raise ValueError("no head found above the background")
    sizes = ndimage.sum(mask, labels, np.arange(1, n + 1))
    mask = labels == (int(np.argmax(sizes)) + 1)
    mask = ndimage.binary_closing(mask, structure=np.ones((3, 3, 3)), iterations=2)
    # fill holes slice by slice in all three directions (sinuses, ear canals) then in 3D
    for ax in range(3):
        mask = np.stack([ndimage.binary_fill_holes(s) for s in np.moveaxis(mask, ax, 0)], axis=0)
        mask = np.moveaxis(mask, 0, ax)
    return ndimage.binary_fill_holes(mask)


def _taubin(rr: np.ndarray, tris: np.ndarray, n_iter: int = 10, lam: float = 0.5, mu: float = -0.53) -> np.ndarray:
    """Taubin (lambda/mu) smoothing: removes voxel staircase without shrinking the head."""
    n = len(rr)
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    adj = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    deg[deg == 0] = 1
    out = rr.copy()
    for _ in range(n_iter):
        for f in (lam, mu):
            out = out + f * (adj @ out / deg[:, None] - out)
    return out


def _marching(mask: np.ndarray, affine: np.ndarray, step: int) -> dict[str, Any]:
    from skimage.measure import marching_cubes

    padded = np.pad(mask.astype(np.float32), 1)
    verts, faces, _, _ = marching_cubes(padded, 0.5, step_size=step, allow_degenerate=False)
    verts -= 1.0
    # keep the largest connected piece of the mesh (the outer skin)
    n = len(verts)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    adj = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, lab = sparse.csgraph.connected_components(adj, directed=False)
    keep_lab = np.bincount(lab[faces[:, 0]]).argmax()
    faces = faces[lab[faces[:, 0]] == keep_lab]
    used, inv = np.unique(faces, return_inverse=True)
    faces = inv.reshape(-1, 3)
    verts = verts[used]
    rr = verts @ affine[:3, :3].T + affine[:3, 3]
    rr = _taubin(rr, faces)
    scalp = {"rr": rr * 1e-3, "tris": faces.astype(np.int64)}
    if surface_quality(scalp)["volume_cm3"] < 0:  # orient triangles outward
        scalp["tris"] = scalp["tris"][:, ::-1].copy()
    return scalp


def mri_affine(img: Any) -> np.ndarray:
    """Voxel -> MRI-frame (mm) affine: FreeSurfer's tkr RAS for MGH/MGZ, the image affine otherwise."""
    import nibabel as nib

    if isinstance(img, nib.MGHImage):
        return np.asarray(img.header.get_vox2ras_tkr(), float)
    return np.asarray(img.affine, float)


def scalp_from_t1(
    img: Any,
    *,
    target_triangles: int = 20000,
    path: str | PathLike | None = None,
    progress: ProgressLike | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Extract the scalp from a T1 image.

    Robust head mask (threshold at half the Otsu level, opening, largest component,
    closing, hole filling), marching cubes, largest mesh component, Taubin smoothing.
    The dense mesh uses every voxel; the interactive one a coarser marching step chosen
    to give about ``target_triangles`` triangles (coarser sampling instead of VTK's
    decimation, which the engine must not import).

    Parameters
    ----------
    img : nibabel image | path-like
        The T1 (3D). MGH/MGZ images use FreeSurfer surface RAS (MNE's ``mri`` frame);
        other images their affine.
    target_triangles : int
        Approximate size of the interactive mesh.
    path : path-like | None
        Named in error messages.
    progress : callable | None
        Progress/cancel.

    Returns
    -------
    dense, display : dict
        Two scalps ``{"rr", "tris"}`` (metres, MRI frame).
    """
    import nibabel as nib

    p = as_progress(progress)
    if isinstance(img, (str, PathLike)):
        path = img
        try:
            img = nib.load(str(img))
        except Exception as err:
            raise InputError(path, f"not a readable image ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    data = np.asarray(img.dataobj, dtype=np.float32)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3 or min(data.shape) < 8:
        raise InputError(path, f"expected a 3D T1 image, got shape {data.shape}")
    p(0.05, "head mask")
    try:
        mask = _head_mask(data)
    except ValueError as err:
        raise InputError(path, f"cannot find the head in the image: {err}") from None
    if mask.sum() < 1000:
        raise InputError(path, "cannot find the head in the image (mask too small)")
    affine = mri_affine(img)
    p(0.4, "dense surface")
    dense = _marching(mask, affine, 1)
    n_dense = len(dense["tris"])
    step = max(1, int(round(np.sqrt(n_dense / max(target_triangles, 1000)))))
    p(0.75, "display surface")
    display = dense if step == 1 else _marching(mask, affine, step)
    p(1.0, "scalp ready")
    return dense, display


def decimate_for_display(scalp: dict[str, Any], target_triangles: int = 20000) -> dict[str, Any]:
    """A display copy of a read surface: returned unchanged when already small enough.

    Read surfaces (FreeSurfer/MNE) are usually 5-20k triangles already; a dense read
    surface is sub-sampled by vertex clustering on a regular grid.
    """
    tris = scalp["tris"]
    if len(tris) <= target_triangles:
        return scalp
    rr = scalp["rr"]
    # vertex clustering: grid cell size chosen so the number of cells ~ target / 2
    extent = np.ptp(rr, axis=0)
    area = surface_quality(scalp)["area_cm2"] * 1e-4
    cell = np.sqrt(2 * area / target_triangles)
    keys = np.floor((rr - rr.min(0)) / cell).astype(np.int64)
    dims = (extent / cell).astype(np.int64) + 2
    flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
    uniq, inv = np.unique(flat, return_inverse=True)
    new_rr = np.zeros((len(uniq), 3))
    np.add.at(new_rr, inv, rr)
    new_rr /= np.bincount(inv)[:, None]
    t = inv[tris]
    good = (t[:, 0] != t[:, 1]) & (t[:, 1] != t[:, 2]) & (t[:, 0] != t[:, 2])
    t = np.unique(np.sort(t[good], axis=1), axis=0, return_index=True)[1]
    t = inv[tris][good][np.sort(t)]
    return {"rr": new_rr, "tris": t.astype(np.int64)}
