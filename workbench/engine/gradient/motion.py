"""Head motion from realignment parameters, for motion-informed template choice.

A head movement changes every lead loop's coupling to the gradients at once, so the
gradient artifact after a movement has another size *and shape* than before it; a
template averaged across the movement fits neither side (RAPAC, Moosmann et al. 2009,
NeuroImage 45:1144). When the user has the fMRI run's realignment parameters, the
volumes are cut into *motion segments* at every volume whose framewise displacement
(Power et al. 2012, NeuroImage 59:2142: the sum of the absolute volume-to-volume changes
of the three translations and of the three rotations taken as arcs on a 50 mm sphere)
exceeds a threshold, and each volume's template neighbours are drawn from its own
segment only (:class:`~workbench.engine.gradient.aas.AASParams` ``segments``).

Formats read (one row per fMRI volume, the first row the first volume):

* SPM ``rp_*.txt``: 6 columns, x y z translations (mm) then pitch roll yaw (rad);
* FSL MCFLIRT ``*.par``: 6 columns, the 3 rotations (rad) *first*, then translations (mm);
* fMRIPrep ``*_desc-confounds_timeseries.tsv``: a header; columns ``trans_x`` ..
  ``trans_z`` (mm) and ``rot_x`` .. ``rot_z`` (rad); other columns are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["HEAD_RADIUS_MM", "MotionParams", "MotionSegments", "framewise_displacement",
           "motion_segments", "read_motion_params"]

#: head radius turning rotations (rad) into displacements (mm) in the FD (Power et al. 2012)
HEAD_RADIUS_MM = 50.0

_CONFOUND_COLUMNS = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")


@dataclass
class MotionParams:
    """Rigid-body head motion per fMRI volume.

    Attributes
    ----------
    translations_mm : ndarray, shape (n_volumes, 3)
        Translations (mm).
    rotations_rad : ndarray, shape (n_volumes, 3)
        Rotations (rad).
    format : str
        ``"spm"``, ``"fsl"`` or ``"fmriprep"``.
    path : str
        The file read.
    """

    translations_mm: np.ndarray
    rotations_rad: np.ndarray
    format: str
    path: str = ""

    @property
    def n_volumes(self) -> int:
        return int(self.translations_mm.shape[0])


@dataclass
class MotionSegments:
    """Volumes cut at head movements.

    Attributes
    ----------
    labels : ndarray of int, shape (n_volumes,)
        Segment number of every volume (0, 1, ...; ascending).
    fd_mm : ndarray, shape (n_volumes,)
        Framewise displacement of every volume against the one before (mm; 0 for the first).
    moved : ndarray of int
        Volumes whose FD exceeds the threshold (each starts a new segment).
    threshold_mm : float
        The FD threshold used (mm).
    """

    labels: np.ndarray
    fd_mm: np.ndarray
    moved: np.ndarray
    threshold_mm: float

    @property
    def n_segments(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0


def read_motion_params(path: str | PathLike) -> MotionParams:
    """Read realignment parameters (SPM ``rp_*.txt``, FSL ``.par``, fMRIPrep confounds TSV).

    Parameters
    ----------
    path : str | PathLike
        The file. ``.par`` is read as FSL (rotations first), ``.tsv`` as an fMRIPrep
        confounds table, anything else as SPM (translations first).

    Returns
    -------
    MotionParams

    Raises
    ------
    InputError
        One line naming the file: missing, unreadable, wrong columns, non-numeric or
        non-finite values, or rotations too large to be radians (degrees?).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "motion parameter file not found")
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(p, f"cannot read the motion parameters ({type(exc).__name__})") from None
    suffix = p.name.lower()
    if suffix.endswith(".tsv"):
        fmt = "fmriprep"
        arr = _read_confounds(p, text)
    else:
        fmt = "fsl" if suffix.endswith(".par") else "spm"
        arr = _read_columns(p, text)
    if arr.shape[0] < 2:
        raise InputError(p, f"{arr.shape[0]} row(s) of motion parameters; one row per fMRI volume is needed")
    if fmt == "fsl":
        rot, tra = arr[:, :3], arr[:, 3:6]
    else:
        tra, rot = arr[:, :3], arr[:, 3:6]
    if np.max(np.abs(rot)) > 0.5 * np.pi:
        raise InputError(p, f"rotations up to {np.max(np.abs(rot)):.3g} are not radians (degrees?); "
                            f"{'FSL .par files have the rotations first' if fmt == 'fsl' else 'expected x y z (mm) then pitch roll yaw (rad)'}")
    return MotionParams(np.ascontiguousarray(tra, float), np.ascontiguousarray(rot, float), fmt, str(p))


def _read_columns(p: Path, text: str) -> np.ndarray:
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.replace(",", " ").split()
        if len(parts) != 6:
            raise InputError(p, f"line {i} has {len(parts)} columns; realignment parameters have 6 "
                                "(SPM rp_*.txt: x y z pitch roll yaw; FSL .par: 3 rotations then 3 translations)")
        rows.append(_numbers(p, i, parts, f"line {i} is not numeric: {s[:40]!r}"))
    return np.asarray(rows, float).reshape(-1, 6)


def _numbers(p: Path, i: int, cells: list[str], not_numeric: str) -> list[float]:
    """The finite numbers of line ``i``'s ``cells``, or a one-line error naming the file."""
    try:
        vals = [float(x) for x in cells]
    except ValueError:
        raise InputError(p, not_numeric) from None
    if not all(np.isfinite(vals)):
        raise InputError(p, f"line {i} holds a NaN or infinite motion value")
    return vals


def _read_confounds(p: Path, text: str) -> np.ndarray:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(p, "the confounds table is empty")
    head = lines[0].split("\t")
    missing = [c for c in _CONFOUND_COLUMNS if c not in head]
    if missing:
        raise InputError(p, f"confounds table without column(s) {', '.join(missing)} "
                            "(fMRIPrep's trans_x .. rot_z are needed)")
    idx = [head.index(c) for c in _CONFOUND_COLUMNS]
    rows = []
    for i, line in enumerate(lines[1:], 2):
        parts = line.split("\t")
        if len(parts) != len(head):
            raise InputError(p, f"line {i} has {len(parts)} columns, the header {len(head)}")
        rows.append(_numbers(p, i, [parts[j] for j in idx], f"line {i}: a motion value is not numeric"))
    return np.asarray(rows, float).reshape(-1, 6)


def framewise_displacement(motion: MotionParams, radius_mm: float = HEAD_RADIUS_MM) -> np.ndarray:
    """Framewise displacement (Power et al. 2012) of every volume, mm.

    Parameters
    ----------
    motion : MotionParams
        Realignment parameters.
    radius_mm : float
        Head radius turning rotations into arc lengths (mm).

    Returns
    -------
    ndarray, shape (n_volumes,)
        ``sum |d translation| + radius * sum |d rotation|`` against the previous volume;
        0 for the first volume.
    """
    d_t = np.abs(np.diff(motion.translations_mm, axis=0)).sum(axis=1)
    d_r = np.abs(np.diff(motion.rotations_rad, axis=0)).sum(axis=1) * float(radius_mm)
    return np.r_[0.0, d_t + d_r]


def motion_segments(motion: MotionParams, n_volumes: int, threshold_mm: float = 0.5,
                    source: str | PathLike | None = None) -> MotionSegments:
    """Cut the run's volumes at head movements.

    Parameters
    ----------
    motion : MotionParams
        Realignment parameters, one row per fMRI volume.
    n_volumes : int
        Volumes the gradient correction found in the EEG (must equal the rows).
    threshold_mm : float
        Framewise displacement (mm) above which a volume starts a new segment.
    source : path | None
        File named in errors (default: the motion file).

    Returns
    -------
    MotionSegments

    Raises
    ------
    InputError
        The row count differs from ``n_volumes``, or the threshold is not positive.
    """
    src = source if source is not None else (motion.path or None)
    if not (threshold_mm > 0 and np.isfinite(threshold_mm)):
        raise InputError(src, f"the framewise-displacement threshold must be > 0 mm (got {threshold_mm})")
    if motion.n_volumes != int(n_volumes):
        raise InputError(src, f"{motion.n_volumes} rows of motion parameters but {int(n_volumes)} volumes "
                              "in the EEG's scanner triggers; give the realignment of this run (one row per volume)")
    fd = framewise_displacement(motion)
    moved = np.flatnonzero(fd > float(threshold_mm))
    starts = np.zeros(int(n_volumes), int)
    starts[moved] = 1
    return MotionSegments(np.cumsum(starts), fd, moved, float(threshold_mm))
