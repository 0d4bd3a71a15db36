"""Digitised points for coregistration: fiducials, EEG electrodes, head shape, HPI.

:class:`DigPoints` holds them as plain arrays in the MNE ``head`` frame (metres) and
checks what users get wrong most often: millimetres passed as metres, points in
another frame, missing fiducials, too few points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

FID_NAMES = ("lpa", "nasion", "rpa")


@dataclass
class DigPoints:
    """Digitisation in the head frame (m).

    Attributes
    ----------
    fid : ndarray, shape (3, 3)
        LPA, nasion, RPA (rows; NaN when missing).
    eeg : ndarray, shape (n_eeg, 3)
    eeg_names : list of str
    hsp : ndarray, shape (n_hsp, 3)
        Extra head-shape points.
    hpi : ndarray, shape (n_hpi, 3)
    source : str
        Where the points came from (for messages).
    """

    fid: np.ndarray
    eeg: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    eeg_names: list[str] = field(default_factory=list)
    hsp: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    hpi: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    source: str | None = None

    @property
    def has_fiducials(self) -> bool:
        """True when all three fiducials are present."""
        return bool(np.all(np.isfinite(self.fid)))

    def fit_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Non-fiducial points and their kinds (``"eeg"``, ``"hsp"``, ``"hpi"``)."""
        pts = np.concatenate([self.eeg, self.hsp, self.hpi]).reshape(-1, 3)
        kinds = np.array(["eeg"] * len(self.eeg) + ["hsp"] * len(self.hsp) + ["hpi"] * len(self.hpi))
        return pts, kinds

    def validate(self, *, need_fiducials: bool = True) -> DigPoints:
        """Check units and counts; raise :class:`InputError` naming the source."""
        pts, _ = self.fit_points()
        allp = np.concatenate([self.fid[np.all(np.isfinite(self.fid), axis=1)], pts])
        if need_fiducials and not self.has_fiducials:
            missing = [n for n, row in zip(FID_NAMES, self.fid) if not np.all(np.isfinite(row))]
            raise InputError(self.source, f"no fiducials: {', '.join(missing)} missing; digitise "
                             "LPA, nasion and RPA or give a file that has them")
        if len(allp) < 3:
            raise InputError(self.source, f"only {len(allp)} digitised point(s); need at least 3")
        if not np.all(np.isfinite(pts)):
            raise InputError(self.source, "some digitised points are not finite (NaN/inf)")
        extent = float(np.ptp(allp, axis=0).max())
        if extent > 2.0:
            raise InputError(self.source, f"the digitised points span {extent:.0f} m: the coordinates "
                             "look like millimetres passed as metres; convert them to m (divide by 1000)")
        if extent > 0.5:
            raise InputError(self.source, f"the digitised points span {extent:.2f} m, far larger than a "
                             "head; wrong units (cm as m?) or a wrong frame")
        if len(allp) >= 3 and extent < 0.03:
            raise InputError(self.source, f"the digitised points span only {extent * 1e3:.1f} mm: the "
                             "coordinates look like metres given in km, or mm divided twice")
        return self

    def transformed(self, m: np.ndarray) -> DigPoints:
        """A copy with all points moved by the 4x4 transform ``m``."""
        from .fit import apply

        def f(a: np.ndarray) -> np.ndarray:
            return apply(m, a) if len(a) else a.copy()

        return DigPoints(f(self.fid), f(self.eeg), list(self.eeg_names), f(self.hsp), f(self.hpi), self.source)


def dig_from_montage(montage: Any, source: str | PathLike | None = None) -> DigPoints:
    """Build :class:`DigPoints` from an ``mne.channels.DigMontage`` (head frame).

    A montage in the ``unknown`` frame with fiducials is moved to the head frame the
    way MNE does it (``transform_to_head``); any other frame is refused.
    """
    import mne
    from mne.io.constants import FIFF

    src = None if source is None else str(source)
    if not isinstance(montage, mne.channels.DigMontage):
        raise InputError(src, f"expected a DigMontage, got {type(montage).__name__}")
    frames = {d["coord_frame"] for d in montage.dig}
    if not montage.dig:
        raise InputError(src, "the digitisation is empty")
    if frames - {FIFF.FIFFV_COORD_HEAD}:
        if frames <= {FIFF.FIFFV_COORD_UNKNOWN, FIFF.FIFFV_COORD_HEAD}:
            try:
                montage = _to_head(montage)
            except Exception as err:  # no fiducials to define the head frame
                raise InputError(src, f"the points are not in the head frame and cannot be moved there ({err})") from None
        else:
            names = {FIFF.FIFFV_COORD_MRI: "mri", FIFF.FIFFV_COORD_DEVICE: "meg"}
            got = ", ".join(sorted(names.get(f, str(f)) for f in frames))
            raise InputError(src, f"the points are in the {got} frame, not the head frame: mismatched "
                             "frames; export the digitisation in head coordinates")
    return _from_dig_list(montage.dig, montage.ch_names, src)


def _to_head(montage: Any) -> Any:
    from mne.channels.montage import transform_to_head

    return transform_to_head(montage.copy())


def dig_from_info(info: Any, source: str | PathLike | None = None) -> DigPoints:
    """Build :class:`DigPoints` from an ``mne.Info`` with digitisation."""
    src = None if source is None else str(source)
    if not info.get("dig"):
        raise InputError(src, "the measurement info has no digitisation")
    from mne.io.constants import FIFF

    frames = {d["coord_frame"] for d in info["dig"]}
    if frames != {FIFF.FIFFV_COORD_HEAD}:
        raise InputError(src, "the digitised points are not all in the head frame: mismatched frames")
    eeg_dig = [d for d in info["dig"] if d["kind"] == FIFF.FIFFV_POINT_EEG]
    names = [f"EEG{int(d['ident']):03d}" for d in eeg_dig]
    return _from_dig_list(info["dig"], names, src)


def _from_dig_list(dig: list, ch_names: list[str], src: str | None) -> DigPoints:
    from mne.io.constants import FIFF

    fid = np.full((3, 3), np.nan)
    idents = {FIFF.FIFFV_POINT_LPA: 0, FIFF.FIFFV_POINT_NASION: 1, FIFF.FIFFV_POINT_RPA: 2}
    eeg, hsp, hpi = [], [], []
    for d in dig:
        r = np.asarray(d["r"], float)
        if d["kind"] == FIFF.FIFFV_POINT_CARDINAL and d["ident"] in idents:
            fid[idents[d["ident"]]] = r
        elif d["kind"] == FIFF.FIFFV_POINT_EEG:
            eeg.append(r)
        elif d["kind"] == FIFF.FIFFV_POINT_EXTRA:
            hsp.append(r)
        elif d["kind"] == FIFF.FIFFV_POINT_HPI:
            hpi.append(r)
    names = list(ch_names)[: len(eeg)]
    names += [f"EEG{i:03d}" for i in range(len(names), len(eeg))]

    def arr(a: list) -> np.ndarray:
        return np.array(a, float).reshape(-1, 3)

    return DigPoints(fid, arr(eeg), names, arr(hsp), arr(hpi), src)


def load_dig(path: str | PathLike) -> DigPoints:
    """Read any digitisation file into :class:`DigPoints` (head frame, validated).

    Uses the project's reader (``workbench.engine.io.dig.read_dig``) when present; a
    FIF file holding measurement info (``-ave.fif``, ``_raw.fif``) is read with
    ``mne.io.read_info``.
    """
    import mne

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    name = path.name.lower()
    if name.endswith((".fif", ".fif.gz")):
        try:
            montage = mne.channels.read_dig_fif(path, verbose="error")
            if not montage.dig:
                raise ValueError("empty")
            return dig_from_montage(montage, path).validate()
        except InputError:
            raise
        except Exception:
            try:
                info = mne.io.read_info(path, verbose="error")
            except Exception as err:
                raise InputError(path, f"not a readable FIF digitisation or measurement file ({type(err).__name__})") from None
            return dig_from_info(info, path).validate()
    try:
        from ..io.dig import read_dig  # the io helper's reader (all formats)
    except ImportError:  # pragma: no cover - before the io package exists
        read_dig = None
    if read_dig is not None:
        montage = read_dig(path)
    else:  # pragma: no cover
        try:
            montage = mne.channels.read_custom_montage(path)
        except Exception as err:
            raise InputError(path, f"not a readable digitisation file ({type(err).__name__})") from None
    return dig_from_montage(montage, path).validate()
