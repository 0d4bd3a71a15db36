"""MRI fiducials (LPA, nasion, RPA in the MRI frame): from a file, estimated, or picked.

``"auto"`` follows MNE's order: a ``bem/<subject>-fiducials.fif`` next to the surface,
then MNI fiducials through the subject's ``talairach.xfm`` (``mne.coreg.get_mni_fiducials``),
and, for a bare scalp without FreeSurfer files, fsaverage's fiducials carried over by a
scaled ICP of the fsaverage head onto the scalp and snapped to the surface.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .geometry import MeshDistance

FSAVERAGE_FILES = ("fsaverage-head.fif", "fsaverage-fiducials.fif")


def read_mri_fiducials(path: str | PathLike) -> np.ndarray:
    """Read LPA, nasion, RPA (rows, m, MRI frame) from an MNE ``-fiducials.fif`` file."""
    import mne
    from mne.io.constants import FIFF

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        pts, frame = mne.io.read_fiducials(path, verbose="error")
    except Exception as err:
        raise InputError(path, f"not a readable fiducials file ({type(err).__name__})") from None
    if frame != FIFF.FIFFV_COORD_MRI:
        raise InputError(path, f"the fiducials are not in the MRI frame (frame {frame}): mismatched frames")
    out = np.full((3, 3), np.nan)
    order = {FIFF.FIFFV_POINT_LPA: 0, FIFF.FIFFV_POINT_NASION: 1, FIFF.FIFFV_POINT_RPA: 2}
    for d in pts:
        if d["ident"] in order:
            out[order[d["ident"]]] = d["r"]
    if not np.all(np.isfinite(out)):
        raise InputError(path, "the file lacks one of LPA, nasion, RPA")
    return out


def find_subject_files(surface_or_mri: str | PathLike) -> dict[str, Any]:
    """Guess the FreeSurfer subject layout around a surface or T1 file.

    Returns ``{"subject", "subjects_dir", "fiducials"}`` (values may be None).
    """
    p = Path(surface_or_mri).resolve()
    subj_dir = p.parent.parent if p.parent.name in ("bem", "mri", "surf") else None
    out: dict[str, Any] = {"subject": None, "subjects_dir": None, "fiducials": None}
    if subj_dir is None:
        return out
    out["subject"] = subj_dir.name
    out["subjects_dir"] = subj_dir.parent
    cands = sorted((subj_dir / "bem").glob("*-fiducials.fif")) if (subj_dir / "bem").is_dir() else []
    if cands:
        out["fiducials"] = cands[0]
    return out


def _fsaverage_dir() -> Path:
    import mne

    return Path(mne.__file__).parent / "data" / "fsaverage"


def estimate_fiducials(scalp: dict[str, Any]) -> np.ndarray:
    """Estimate MRI fiducials on a bare scalp from fsaverage's.

    The upper fsaverage head is aligned to the scalp (both in RAS orientation; seven
    starting pitches from -45° to 45°, each refined by a trimmed, uniformly scaled ICP
    of its vertices onto the surface, the best kept), its fiducials are carried over
    and snapped onto the scalp. Expect errors of 1-2 cm: good enough to start a fit,
    not to replace fiducials picked on the MRI.

    Returns
    -------
    fid : ndarray, shape (3, 3)
        LPA, nasion, RPA (m, MRI frame of ``scalp``).
    """
    import mne
    from scipy.spatial.transform import Rotation

    from .fit import fit_matched

    d = _fsaverage_dir()
    head = mne.read_bem_surfaces(d / FSAVERAGE_FILES[0], verbose="error")[0]
    fs_fid = read_mri_fiducials(d / FSAVERAGE_FILES[1])
    src = np.asarray(head["rr"], float)
    src = src[src[:, 2] > fs_fid[:, 2].mean() - 0.02][::5]  # the part of the head every scan has
    from .surface import decimate_for_display

    full = MeshDistance(scalp["rr"], scalp["tris"])
    coarse = decimate_for_display(scalp, 8000)  # 1-2 cm accuracy needs no dense mesh
    rr = np.asarray(coarse["rr"], float)
    q = MeshDistance(rr, coarse["tris"])
    c = src.mean(0)
    best = (np.inf, np.eye(3), np.zeros(3), np.ones(3))
    # heads are pitched differently in different scans: try several starting pitches,
    # align the top of the heads, run a trimmed, uniformly scaled ICP, keep the best
    for pitch in range(-45, 46, 15):
        R = Rotation.from_euler("x", pitch, degrees=True).as_matrix()
        moved = (src - c) @ R.T
        t = np.r_[rr[:, :2].mean(0), rr[:, 2].max() - moved[:, 2].max()] - R @ c
        s = np.ones(3)
        for _ in range(15):
            d, closest, _ = q.query((src * s) @ R.T + t)
            R, t, s = fit_matched(src, closest, (d < 2.5 * np.median(d)).astype(float), scale="uniform")
        d = q.query((src * s) @ R.T + t)[0]
        cost = float(np.mean(np.minimum(d, 2.5 * np.median(d))))
        if cost < best[0]:
            best = (cost, R, t, s)
    _, R, t, s = best
    fid = (fs_fid * s) @ R.T + t
    _, snapped, _ = full.query(fid)
    return snapped


def resolve_fiducials(spec: str | PathLike | None, scalp: dict[str, Any], near: str | PathLike | None = None) -> tuple[np.ndarray, str]:
    """MRI fiducials from ``spec``: a file, ``"auto"`` or ``None`` (= auto).

    Parameters
    ----------
    spec : path-like | "auto" | None
    scalp : dict
        The scalp the fiducials belong to (used for the fsaverage estimate).
    near : path-like | None
        The surface/T1 file; a FreeSurfer subject around it is searched for a fiducials
        file or a ``talairach.xfm``.

    Returns
    -------
    fid : ndarray, shape (3, 3)
    how : str
        Where they came from (``"file ..."``, ``"MNI (talairach.xfm)"``, ``"fsaverage estimate"``).
    """
    if spec is not None and str(spec) != "auto":
        return read_mri_fiducials(spec), f"file {spec}"
    if near is not None:
        found = find_subject_files(near)
        if found["fiducials"] is not None:
            return read_mri_fiducials(found["fiducials"]), f"file {found['fiducials']}"
        if found["subject"] is not None:
            xfm = Path(found["subjects_dir"]) / found["subject"] / "mri" / "transforms" / "talairach.xfm"
            if xfm.is_file():
                import mne

                pts = mne.coreg.get_mni_fiducials(found["subject"], found["subjects_dir"], verbose="error")
                fid = np.array([p["r"] for p in pts], float)
                return fid, "MNI (talairach.xfm)"
    return estimate_fiducials(scalp), "fsaverage estimate"
