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

__all__ = ["phantom_pose", "cortex_hemispheres", "write_cortex_subject"]

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
