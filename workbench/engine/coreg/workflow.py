"""One call from files to a fitted coregistration (used by the CLI and the pipeline step)."""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..progress import ProgressLike, as_progress
from .dig import DigPoints, load_dig
from .fiducials import resolve_fiducials
from .model import Coreg, fid_match_for, full_fit
from .surface import decimate_for_display, read_scalp, scalp_from_t1, surface_quality


@dataclass
class CoregResult:
    """A fitted coregistration and what it was made from.

    Attributes
    ----------
    coreg : Coreg
    scalp, display : dict
        Dense scalp (distances) and the display copy.
    fiducials_from : str
    surface_qc : dict
    qc : dict
    """

    coreg: Coreg
    scalp: dict[str, Any]
    display: dict[str, Any]
    fiducials_from: str
    surface_qc: dict[str, Any]
    qc: dict[str, Any] = field(default_factory=dict)


def load_scalp(mri: str | PathLike | None = None, surface: str | PathLike | None = None,
               progress: ProgressLike | None = None) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """Dense and display scalp from a T1 (``mri``) or a surface file; exactly one is needed."""
    if (mri is None) == (surface is None):
        raise InputError(None, "give exactly one of a T1 (--mri) or a surface file (--surface)")
    if surface is not None:
        path = Path(surface)
        if path.suffix.lower() == ".gii":
            from ..io.dig import read_surface

            s = read_surface(path)
            scalp = {"rr": s["rr"], "tris": s["tris"]}
        else:
            scalp = read_scalp(path)
        return scalp, decimate_for_display(scalp), path
    dense, display = scalp_from_t1(mri, progress=progress)
    return dense, display, Path(mri)


def coregister(
    dig: str | PathLike | DigPoints,
    *,
    mri: str | PathLike | None = None,
    surface: str | PathLike | None = None,
    fiducials: str | PathLike | np.ndarray | None = "auto",
    omit_mm: float = 5.0,
    scale: str = "none",
    reference_head_mri: np.ndarray | None = None,
    progress: ProgressLike | None = None,
) -> CoregResult:
    """Read inputs, fit fiducials, run robust ICP, omit far points, refit; return QC.

    Parameters
    ----------
    dig : path-like | DigPoints
        Digitisation (any format the readers know, or an MNE ``-dig.fif`` / info FIF).
    mri, surface : path-like | None
        A T1 to extract the scalp from, or a scalp surface (``.surf``, ``-head.fif``, BEM).
    fiducials : path-like | "auto" | ndarray (3, 3)
        MRI fiducials.
    omit_mm : float
        Omit points farther than this from the scalp before the final ICP (0 = keep all).
    scale : {"none", "uniform", "3-axis"}
    reference_head_mri : ndarray | None
        Known transform (phantom) for truth errors in the QC.
    progress : callable | None
    """
    p = as_progress(progress)
    d = dig if isinstance(dig, DigPoints) else load_dig(dig)
    d.validate()
    p(0.02, "digitisation read")
    scalp, display, src = load_scalp(mri, surface, progress=p.sub(0.02, 0.4))
    res = fit_coreg(d, scalp, display, src, fiducials=fiducials, omit_mm=omit_mm, scale=scale,
                    progress=p.sub(0.4, 1.0))
    if reference_head_mri is not None:
        res.qc.update(res.coreg.qc(reference_head_mri))
    return res


def fit_coreg(
    d: DigPoints,
    scalp: dict[str, Any],
    display: dict[str, Any],
    src: str | PathLike | None,
    *,
    fiducials: str | PathLike | np.ndarray | None = "auto",
    omit_mm: float = 5.0,
    scale: str = "none",
    progress: ProgressLike | None = None,
) -> CoregResult:
    """Fit a digitisation to a scalp already loaded (the coreg step and :func:`coregister`).

    Parameters
    ----------
    d : DigPoints
        Digitisation in the head frame (m).
    scalp, display : dict
        Dense scalp (``rr`` m, ``tris``) in the MRI frame and its display copy.
    src : path-like | None
        The T1 or surface file (a FreeSurfer subject's fiducials file is searched near it).
    fiducials : path-like | "auto" | ndarray (3, 3)
        MRI fiducials.
    omit_mm : float
        Omit points farther than this from the scalp before the final ICP (0 = keep all).
    scale : {"none", "uniform", "3-axis"}
    progress : callable | None
    """
    p = as_progress(progress)
    sq = surface_quality(scalp)
    if isinstance(fiducials, np.ndarray):
        fid, how = np.asarray(fiducials, float).reshape(3, 3), "given"
    else:
        fid, how = resolve_fiducials(fiducials, scalp, near=src)
    p(0.1, f"MRI fiducials: {how}")
    co = Coreg(d, scalp, fid, fid_source=how)
    # a first sanity check: after the fiducial fit, most points must lie near the scalp
    co.fit_fiducials(scale=scale)
    med = float(np.median(np.abs(co.point_distances()))) if len(co.points) else 0.0
    if med > 0.03:
        raise InputError(d.source, f"after the fiducial fit the points lie {med * 1e3:.0f} mm (median) off the "
                         "scalp: wrong units, mismatched frames, or fiducials of another subject")
    # fiducials read from a file (or given) are matched point to point in the ICP; estimated ones
    # (fsaverage carried over, MNI) can be 1 cm off and only count along the skin normal
    full_fit(co, scale=scale, omit_mm=omit_mm, fid_match=fid_match_for(how), progress=p.sub(0.1, 1.0))
    qc = co.qc()
    qc["fiducials_from"] = how
    qc["surface"] = sq
    return CoregResult(co, scalp, display, how, sq, qc)
