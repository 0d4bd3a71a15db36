"""Coregistration outputs: MNE ``-trans.fif``, BIDS ``electrodes.tsv`` + ``coordsystem.json``.

Every file is written atomically (temp file + rename), so a failure leaves nothing.
"""

from __future__ import annotations

import csv
import io
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, atomic_write_json, atomic_write_text
from ..errors import InputError
from .dig import DigPoints
from .fit import apply
from .geometry import MeshDistance


def write_trans(path: str | PathLike, head_mri: np.ndarray) -> Path:
    """Write a head -> MRI transform as an MNE ``-trans.fif`` (atomically).

    The name must end in ``-trans.fif`` (or ``_trans.fif``), as MNE requires.
    """
    import mne

    path = Path(path)
    if not path.name.endswith(("-trans.fif", "_trans.fif", "-trans.fif.gz", "_trans.fif.gz")):
        raise InputError(path, "a transform file name must end in -trans.fif (MNE's convention)")
    trans = mne.transforms.Transform("head", "mri", np.asarray(head_mri, float))
    with atomic_path(path, suffix="-trans.fif") as tmp:
        mne.write_trans(tmp, trans, overwrite=True, verbose="error")
    return path


def read_trans(path: str | PathLike) -> np.ndarray:
    """Read a head -> MRI transform (an MRI -> head file is inverted); 4x4 array."""
    import mne

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        t = mne.read_trans(path, verbose="error")
    except Exception as err:
        raise InputError(path, f"not a readable transform file ({type(err).__name__})") from None
    frames = {t["from"], t["to"]}
    from mne.io.constants import FIFF

    if frames != {FIFF.FIFFV_COORD_HEAD, FIFF.FIFFV_COORD_MRI}:
        raise InputError(path, "not a head <-> MRI transform: mismatched frames")
    m = np.asarray(t["trans"], float)
    return m if t["from"] == FIFF.FIFFV_COORD_HEAD else np.linalg.inv(m)


def project_to_scalp(points_mri: np.ndarray, scalp: dict[str, Any]) -> np.ndarray:
    """Closest points on the scalp (MRI frame, m): electrodes moved onto the skin."""
    return MeshDistance(scalp["rr"], scalp["tris"]).query(points_mri)[1]


def electrodes_in_mri(dig: DigPoints, head_mri: np.ndarray, scalp: dict[str, Any] | None = None) -> np.ndarray:
    """EEG electrode positions in the MRI frame, projected onto the scalp when given."""
    pts = apply(head_mri, dig.eeg) if len(dig.eeg) else np.zeros((0, 3))
    return project_to_scalp(pts, scalp) if scalp is not None and len(pts) else pts


def write_bids_electrodes(
    tsv_path: str | PathLike,
    dig: DigPoints,
    head_mri: np.ndarray,
    scalp: dict[str, Any] | None = None,
    *,
    intended_for: str | None = None,
) -> tuple[Path, Path]:
    """Write electrodes in MRI coordinates as BIDS ``*_electrodes.tsv`` + ``*_coordsystem.json``.

    Coordinates are in metres in the T1's FreeSurfer surface RAS space (MNE's ``mri``
    frame); BIDS has no name for that space, so ``EEGCoordinateSystem`` is ``Other``
    with a description, and landmarks give the MRI fiducials.

    Returns
    -------
    tsv, json : Path
    """
    tsv_path = Path(tsv_path)
    if not tsv_path.name.endswith("_electrodes.tsv"):
        raise InputError(tsv_path, "a BIDS electrodes file name must end in _electrodes.tsv")
    pos = electrodes_in_mri(dig, head_mri, scalp)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["name", "x", "y", "z", "type"])
    for name, p in zip(dig.eeg_names, pos):
        w.writerow([name, *(f"{v:.6f}" for v in p), "EEG"])
    json_path = tsv_path.with_name(tsv_path.name.replace("_electrodes.tsv", "_coordsystem.json"))
    fid = apply(head_mri, dig.fid) if dig.has_fiducials else None
    cs: dict[str, Any] = {
        "EEGCoordinateSystem": "Other",
        "EEGCoordinateUnits": "m",
        "EEGCoordinateSystemDescription": "FreeSurfer surface RAS of the T1 (MNE 'mri' frame); "
        "electrodes digitised in the head frame, moved by the coregistration"
        + (" and projected onto the scalp" if scalp is not None else ""),
    }
    if fid is not None:
        cs["AnatomicalLandmarkCoordinates"] = {n: [float(v) for v in p] for n, p in zip(("LPA", "NAS", "RPA"), fid)}
        cs["AnatomicalLandmarkCoordinateSystem"] = "Other"
        cs["AnatomicalLandmarkCoordinateUnits"] = "m"
    if intended_for:
        cs["IntendedFor"] = intended_for
    atomic_write_text(tsv_path, buf.getvalue())
    atomic_write_json(json_path, cs)
    return tsv_path, json_path
