"""A cortex for a phantom subject: FreeSurfer-style white surfaces a surface source space
can be made from (``mne.setup_source_space``).

The phantom's anatomy has no cortical surface: its grey matter is defined by depth below
the posed fsaverage inner skull (:mod:`.anatomy`: CSF to 3 mm, grey matter to ~12 mm with
a folded boundary, white matter below). The cortex here follows the same construction: the
inner skull (fsaverage's, an ico-5 subdivision of 10242 vertices) moved inward along its
normals by ``depth_mm``, split at the midline into two closed hemispheres (each the whole
mesh with the other side pressed onto a plane 1 mm from the midline, the medial wall),
posed like the subject's head. ``?h.sphere`` is the ico-5 icosahedron the inner skull was
made from (100 mm; the same vertex order, as FreeSurfer's sphere is), which MNE's ico/oct
decimation maps its subdivision onto.

This is a smooth cortex without sulci, and the phantom's sources are not placed on it: they
sit at fixed positions with their own orientations (:mod:`.sources`), 16-26 mm below the
inner skull (deeper than the anatomy's grey matter). So a surface source space made from it
has a model error (position and orientation), as a real cortex model has; nothing here
changes a study: the files are new and written only on request.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import geometry as geo
from .config import PhantomConfig
from .head import fsaverage_surfaces, make_head

__all__ = ["phantom_pose", "cortex_hemispheres", "write_cortex_subject", "bem_surfaces", "write_phantom_subject"]

_MIDLINE_GAP_M = 0.001


def phantom_pose(cfg: PhantomConfig, isub: int = 0) -> np.ndarray:
    """The pose (fsaverage -> the subject's ``mri`` frame, m) of subject ``isub`` of a
    phantom made with ``cfg`` (the same seeded stream as the writer's head)."""
    return make_head(cfg, np.random.default_rng([cfg.seed, isub, 1])).pose


def cortex_hemispheres(pose: np.ndarray, depth_mm: float = 12.0) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{hemi: (white vertices m (mri frame), sphere vertices mm, triangles)}``.

    Parameters
    ----------
    pose : ndarray (4, 4)
        fsaverage -> the subject's ``mri`` frame.
    depth_mm : float
        Distance below the inner skull (12 mm: the anatomy's grey/white boundary).
    """
    import mne

    fs = fsaverage_surfaces()
    rr, tris = fs["skull_rr"], fs["skull_tris"]
    surf = mne.surface.complete_surface_info({"rr": rr.copy(), "tris": tris.copy()}, verbose="error")
    inner = rr - surf["nn"] * (depth_mm * 1e-3)  # BEM normals point outward
    # fsaverage's inner skull is MNE's ico-5 subdivision, vertex for vertex: its sphere is
    # the icosahedron's (checked, so a changed file cannot give a wrong vertex mapping)
    ico = mne.surface._get_ico_surface(5)
    if not np.array_equal(np.asarray(ico["tris"]), np.asarray(tris)):
        raise RuntimeError("fsaverage's inner skull is not an ico-5 subdivision: cannot make its sphere")
    sphere = np.asarray(ico["rr"], float) / np.linalg.norm(ico["rr"], axis=1, keepdims=True) * 100.0
    mid = float(np.median(rr[:, 0]))
    out = {}
    for hemi, side in (("lh", -1.0), ("rh", 1.0)):
        v = inner.copy()
        x = side * (v[:, 0] - mid)
        v[:, 0] = np.where(x < _MIDLINE_GAP_M, mid + side * _MIDLINE_GAP_M, v[:, 0])
        out[hemi] = (geo.apply(pose, v), sphere, np.asarray(tris))
    return out


def write_cortex_subject(subjects_dir: str | Path, pose: np.ndarray, subject: str = "phantom",
                         depth_mm: float = 12.0) -> Path:
    """Write ``subjects_dir/subject/surf/{lh,rh}.{white,sphere}`` (mm, FreeSurfer format).

    Returns
    -------
    Path
        The subject folder.
    """
    import nibabel as nib

    surf = Path(subjects_dir) / subject / "surf"
    surf.mkdir(parents=True, exist_ok=True)
    for hemi, (white, sphere, tris) in cortex_hemispheres(pose, depth_mm).items():
        nib.freesurfer.write_geometry(str(surf / f"{hemi}.white"), white * 1e3, tris)
        nib.freesurfer.write_geometry(str(surf / f"{hemi}.sphere"), sphere, tris)
    return surf.parent


def _ray_radius(centre: np.ndarray, dirs: np.ndarray, rr: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Distance from ``centre`` along each unit direction to a closed mesh (Moller-Trumbore;
    the farthest hit, so a ray leaving the mesh once gives its radius)."""
    a, b, c = rr[tris[:, 0]] - centre, rr[tris[:, 1]] - centre, rr[tris[:, 2]] - centre
    e1, e2 = b - a, c - a
    out = np.zeros(len(dirs))
    for i0 in range(0, len(dirs), 512):
        d = dirs[i0:i0 + 512]
        p = np.cross(d[:, None, :], e2[None])
        det = np.sum(e1[None] * p, axis=2)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = -a[None]
        u = np.sum(s * p, axis=2) * inv
        q = np.cross(s, e1[None])
        v = np.sum(d[:, None, :] * q, axis=2) * inv
        t = np.sum(e2[None] * q, axis=2) * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        out[i0:i0 + 512] = np.max(np.where(hit, t, 0.0), axis=1)
    return out


def bem_surfaces(pose: np.ndarray, skull_mm: float = 5.0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{inner_skull, outer_skull, outer_skin: (vertices m (mri frame), triangles)}``, all
    ico-5 subdivisions (so MNE can make its ico-4 BEM from them).

    The inner skull is fsaverage's (the phantom's brain boundary); the scalp is fsaverage's
    head surface resampled along the inner skull's ico-5 directions from its centre (ray
    cast; MNE's BEM needs the three surfaces on one kind of subdivision to downsample
    them); the outer skull lies ``skull_mm`` outward of the inner skull (the anatomy's skull
    is the 7 mm around the brain), at least 2 mm inside the scalp.
    """
    fs = fsaverage_surfaces()
    rr, tris = fs["skull_rr"], np.asarray(fs["skull_tris"])
    centre = rr.mean(0)
    d = rr - centre
    r_in = np.linalg.norm(d, axis=1)
    u = d / r_in[:, None]
    r_skin = _ray_radius(centre, u, fs["scalp_rr"], np.asarray(fs["scalp_tris"]))
    r_skin = np.where(r_skin > r_in + 0.004, r_skin, r_in + 0.008)  # a ray that misses (neck): a thin shell
    r_out = np.minimum(r_in + skull_mm * 1e-3, r_skin - 0.002)
    return {"inner_skull": (geo.apply(pose, rr), tris),
            "outer_skull": (geo.apply(pose, centre + u * r_out[:, None]), tris),
            "outer_skin": (geo.apply(pose, centre + u * r_skin[:, None]), tris)}


def write_phantom_subject(subjects_dir: str | Path, pose: np.ndarray, t1: object, subject: str = "phantom",
                          depth_mm: float = 12.0) -> Path:
    """A FreeSurfer-like folder of the phantom subject: ``mri/T1.mgz`` (the study's T1, whose
    world coordinates are the ``mri`` frame), ``bem/{inner_skull,outer_skull,outer_skin}.surf``
    (:func:`bem_surfaces`) and the cortex (:func:`write_cortex_subject`).

    Returns
    -------
    Path
        The subject folder.
    """
    import nibabel as nib

    root = write_cortex_subject(subjects_dir, pose, subject, depth_mm)
    (root / "mri").mkdir(exist_ok=True)
    (root / "bem").mkdir(exist_ok=True)
    nib.save(nib.MGHImage(np.asarray(t1.dataobj, np.float32), t1.affine), root / "mri" / "T1.mgz")
    for name, (rr, tris) in bem_surfaces(pose).items():
        nib.freesurfer.write_geometry(str(root / "bem" / f"{name}.surf"), rr * 1e3, tris)
    return root
