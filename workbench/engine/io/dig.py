"""Digitisation (electrodes, fiducials, HPI, head-shape points) and scalp surfaces.

:func:`read_dig` reads any digitisation file into an :class:`mne.channels.DigMontage`
in **metres**, in MNE's **head** frame whenever nasion, LPA and RPA are present (the
native frame of the digitiser is converted with
:func:`mne.channels.compute_native_head_t`); otherwise the montage keeps its frame
(``"unknown"`` for templates such as a ``.bvef``) and :func:`dig_frame` says so.
Coordinates whose size is implausible for a head in metres (a mm or cm file read as m)
are detected and rescaled; :func:`read_dig_with_notes` returns what was done.

:func:`read_surface` reads a scalp surface (FreeSurfer surface, MNE ``-head.fif`` /
BEM) as ``{"rr": (n, 3) m, "tris": (m, 3), "frame": "mri"}``.

MNE's readers are used for every format they know; the few parsers written here
(``.pos``, BIDS ``electrodes.tsv``, the ``[Coordinates]`` of a ``.vhdr`` whose ``.eeg``
is absent) are formats MNE has no public reader for.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..validate import check_positions, load_json
from ._util import check_file, fail, full_suffix

logger = logging.getLogger(__name__)

__all__ = ["read_dig", "read_dig_with_notes", "read_surface", "dig_counts", "dig_frame", "DIG_SUFFIXES"]

#: File endings :func:`read_dig` understands.
DIG_SUFFIXES = (
    ".elc",
    ".sfp",
    ".bvct",
    ".hsp",
    ".elp",
    ".pos",
    ".fif",
    ".fif.gz",
    ".tsv",
    ".bvef",
    ".vhdr",
    ".hpts",
    ".loc",
    ".locs",
    ".eloc",
    ".csd",
    ".xyz",
)
#: Plausible head radius in metres (median distance of the points from their centre).
_HEAD_RADIUS_M = (0.04, 0.2)

_FID_ALIASES = {
    "nasion": ("nas", "nasion", "nz", "fidnz", "fid_nz", "nasion_fid", "nose"),
    "lpa": ("lpa", "left", "al", "lpa_fid", "fidt9", "leftpreauricular", "lpf", "t9fid", "lcoil", "lc"),
    "rpa": ("rpa", "right", "ar", "rpa_fid", "fidt10", "rightpreauricular", "rpf", "t10fid", "rcoil", "rc"),
}


# --------------------------------------------------------------------------- helpers
def _fid_key(name: str) -> str | None:
    n = re.sub(r"[\s\-]", "", name.lower())
    for key, aliases in _FID_ALIASES.items():
        if n in aliases:
            return key
    return None


def dig_frame(montage: Any) -> str:
    """The coordinate frame of a montage: ``"head"``, ``"unknown"``, ``"mri"``..."""
    from mne.transforms import _frame_to_str  # noqa: PLC0415 - mne's own name table

    frames = {int(d["coord_frame"]) for d in montage.dig}
    if not frames:
        return "unknown"
    if len(frames) > 1:
        return "mixed"
    return _frame_to_str.get(frames.pop(), "unknown")


def dig_counts(montage: Any) -> dict[str, int]:
    """Number of points by kind: ``fiducials``, ``hpi``, ``eeg``, ``extra`` (head shape)."""
    from mne.io.constants import FIFF

    names = {
        FIFF.FIFFV_POINT_CARDINAL: "fiducials",
        FIFF.FIFFV_POINT_HPI: "hpi",
        FIFF.FIFFV_POINT_EEG: "eeg",
        FIFF.FIFFV_POINT_EXTRA: "extra",
    }
    c = Counter(names.get(int(d["kind"]), "other") for d in montage.dig)
    return {k: int(c.get(k, 0)) for k in ("fiducials", "hpi", "eeg", "extra")} | (
        {"other": int(c["other"])} if c.get("other") else {}
    )


def _has_fiducials(montage: Any) -> bool:
    from mne.io.constants import FIFF

    idents = {int(d["ident"]) for d in montage.dig if int(d["kind"]) == FIFF.FIFFV_POINT_CARDINAL}
    return {FIFF.FIFFV_POINT_NASION, FIFF.FIFFV_POINT_LPA, FIFF.FIFFV_POINT_RPA} <= idents


def _scale(montage: Any, factor: float) -> Any:
    m = montage.copy()
    for d in m.dig:
        d["r"] = np.asarray(d["r"], float) * factor
    return m


def _check_units(montage: Any, path: Path, notes: list[str], units: str) -> Any:
    """Detect mm/cm given as metres by the head size; rescale and note it."""
    rr = np.array([d["r"] for d in montage.dig], float).reshape(-1, 3)
    rr = rr[np.all(np.isfinite(rr), axis=1)]
    if units != "auto":
        factor = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}[units]
        return _scale(montage, factor) if factor != 1.0 else montage
    if len(rr) < 3:
        return montage
    radius = float(np.median(np.linalg.norm(rr - rr.mean(axis=0), axis=1)))
    lo, hi = _HEAD_RADIUS_M
    if lo <= radius <= hi:
        return montage
    for unit, factor in (("mm", 1e-3), ("cm", 1e-2)):
        if lo <= radius * factor <= hi:
            notes.append(
                f"coordinates look like {unit} (head radius {radius:g} 'm' is implausible); "
                f"converted to m (x{factor:g})"
            )
            logger.warning("%s: %s", path, notes[-1])
            return _scale(montage, factor)
    raise fail(path, f"implausible head size: points spread {radius:g} units from their centre (not m, cm or mm)")


def _to_head(montage: Any, notes: list[str]) -> Any:
    """Move a montage in its native frame to MNE's head frame using its fiducials."""
    import mne

    frame = dig_frame(montage)
    if frame != "unknown":
        if frame != "head":
            notes.append(f"positions are in the {frame} frame (kept)")
        return montage
    if not _has_fiducials(montage):
        notes.append("no nasion/LPA/RPA: positions kept in the file's own frame (unknown)")
        return montage
    trans = mne.channels.compute_native_head_t(montage)
    out = montage.copy()
    out.apply_trans(trans)
    notes.append("converted from the digitiser frame to the head frame by the fiducials")
    return out


# --------------------------------------------------------------------------- readers
def _read_isotrak_pair(path: Path) -> Any:
    """Polhemus isotrak .elp (fiducials + HPI coils) and/or .hsp (head shape)."""
    import mne

    elp = path.with_suffix(".elp")
    hsp = path.with_suffix(".hsp")
    parts = {}
    for p in (elp, hsp):
        if p.is_file():
            if p.stat().st_size == 0:
                raise fail(p, "empty file")
            parts[p.suffix] = mne.channels.read_dig_polhemus_isotrak(p, unit="m")
    if ".elp" in parts and ".hsp" in parts:
        from mne.io.constants import FIFF

        e, h = parts[".elp"], parts[".hsp"]
        pos = e.get_positions()
        hpi = [d["r"] for d in e.dig if int(d["kind"]) == FIFF.FIFFV_POINT_HPI]
        shape = [d["r"] for d in h.dig if int(d["kind"]) == FIFF.FIFFV_POINT_EXTRA]
        return mne.channels.make_dig_montage(
            nasion=pos["nasion"],
            lpa=pos["lpa"],
            rpa=pos["rpa"],
            hpi=np.array(hpi).reshape(-1, 3) if hpi else None,
            hsp=np.array(shape).reshape(-1, 3) if shape else None,
            coord_frame="unknown",
        )
    return parts[path.suffix.lower()]


def _read_pos(path: Path) -> Any:
    """Polhemus ``.pos`` text (CTF digitiser, Localite): ``[index] [label] x y z`` per line.

    Own parser: MNE has no public reader for it. Lines whose label is a fiducial alias
    (``nasion``/``left``/``right``, CTF ``Rcoil``/``Lcoil``...) become fiducials (repeated
    ones are averaged, as FieldTrip's ``read_ctf_pos`` does), labelled points EEG
    electrodes, unlabelled or numbered points head shape. A first line holding a single
    integer (the point count) is skipped. Units (usually cm) are found later by head size.
    """
    import mne

    ch_pos: dict[str, np.ndarray] = {}
    fid_list: dict[str, list[np.ndarray]] = {}
    hsp = []
    text = path.read_text(encoding="utf-8", errors="strict")
    for ln, line in enumerate(text.splitlines(), 1):
        tok = line.strip().split()
        if not tok or tok[0].startswith(("#", "%", "//")):
            continue
        if ln == 1 and len(tok) == 1 and tok[0].isdigit():
            continue
        nums, label = [], None
        for t in tok:
            try:
                nums.append(float(t))
            except ValueError:
                label = t if label is None else f"{label} {t}"
        if len(nums) < 3:
            raise fail(path, f"line {ln}: expected x y z, found {len(nums)} number(s)")
        xyz = np.array(nums[-3:])
        if label is None:
            hsp.append(xyz)
            continue
        key = _fid_key(label)
        if key is not None:
            fid_list.setdefault(key, []).append(xyz)
        elif label.lower().startswith(("hsp", "headshape", "extra")):
            hsp.append(xyz)
        else:
            ch_pos[label] = xyz
    fids = {k: np.mean(v, axis=0) for k, v in fid_list.items()}
    if not (ch_pos or fids or hsp):
        raise fail(path, "no points found")
    return mne.channels.make_dig_montage(
        ch_pos=ch_pos or None,
        hsp=np.array(hsp) if hsp else None,
        coord_frame="unknown",
        **fids,
    )


def _coordsystem_for(tsv: Path) -> dict[str, Any]:
    """The BIDS ``*_coordsystem.json`` that belongs to an ``*_electrodes.tsv``."""
    stem = tsv.name[: -len("_electrodes.tsv")] if tsv.name.endswith("_electrodes.tsv") else tsv.stem
    cands = [tsv.parent / f"{stem}_coordsystem.json"]
    # drop trailing entities (e.g. _acq-) until one matches, as BIDS inheritance does
    parts = stem.split("_")
    while len(parts) > 1:
        parts = parts[:-1]
        cands.append(tsv.parent / f"{'_'.join(parts)}_coordsystem.json")
    cands += sorted(tsv.parent.glob("*_coordsystem.json"))
    for c in cands:
        if c.is_file():
            return load_json(c, what="coordsystem.json")
    return {}


def _read_electrodes_tsv(path: Path, notes: list[str]) -> Any:
    """BIDS ``electrodes.tsv`` (+ ``coordsystem.json`` for units, frame and landmarks).

    Own parser: MNE reads BIDS only through mne-bids, which is not a dependency.
    """
    import mne

    lines = [ln.rstrip("\r\n") for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise fail(path, "empty file")
    header = [h.strip().lower() for h in lines[0].split("\t")]
    for col in ("name", "x", "y", "z"):
        if col not in header:
            raise fail(path, f"no {col!r} column (BIDS electrodes.tsv needs name, x, y, z)")
    ix = {c: header.index(c) for c in ("name", "x", "y", "z")}
    itype = header.index("type") if "type" in header else None
    cs = _coordsystem_for(path)
    units = str(cs.get("EEGCoordinateUnits", "n/a")).lower()
    factor = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}.get(units)
    system = str(cs.get("EEGCoordinateSystem", "")).lower()
    ch_pos, fids, hsp = {}, {}, []
    for n, line in enumerate(lines[1:], 2):
        f = line.split("\t")
        if len(f) < len(header):
            raise fail(path, f"line {n}: {len(f)} columns, header has {len(header)}")
        name = f[ix["name"]].strip()
        try:
            xyz = np.array([float(f[ix[c]]) for c in "xyz"])
        except ValueError:
            if all(f[ix[c]].strip().lower() == "n/a" for c in "xyz"):
                continue  # BIDS allows n/a for electrodes without a position
            raise fail(path, f"line {n}: coordinates are not numbers") from None
        key = _fid_key(name)
        typ = f[itype].strip().lower() if itype is not None else ""
        if key is not None:
            fids[key] = xyz
        elif typ in ("hsp", "headshape", "head shape") or name.lower().startswith(("hsp", "headshape")):
            hsp.append(xyz)
        else:
            ch_pos[name] = xyz
    land = cs.get("AnatomicalLandmarkCoordinates", {}) or {}
    lu = str(cs.get("AnatomicalLandmarkCoordinateUnits", units)).lower()
    lf = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}.get(lu, factor or 1.0)
    if not isinstance(land, dict):
        raise fail(path, "AnatomicalLandmarkCoordinates in the coordsystem.json is not an object")
    for k, v in land.items():
        key = _fid_key(str(k))
        if key is not None and key not in fids:
            try:
                v = np.asarray(v, float).reshape(3)
            except (TypeError, ValueError):
                raise fail(path, f"landmark {k!r} in the coordsystem.json is not x, y, z") from None
            # stored in the electrodes' unit, rescaled with them below
            fids[key] = np.asarray(v, float) * lf / (factor or 1.0)
    if not ch_pos and not fids:
        raise fail(path, "no electrode positions")
    # CapTrak is MNE's head convention (x LPA->RPA, y to the nasion): keep it as given, so
    # a head frame defined by the digitiser's own fiducial fit is not redefined by noisy
    # landmark coordinates; other systems are moved to the head frame by the fiducials
    frame = "head" if system in ("captrak", "head", "neuromag", "elektaneuromag") else "unknown"
    m = mne.channels.make_dig_montage(
        ch_pos=ch_pos or None, hsp=np.array(hsp) if hsp else None, coord_frame=frame, **fids
    )
    if factor is not None and factor != 1.0:
        m = _scale(m, factor)
        notes.append(f"units {units} (coordsystem.json) converted to m")
    return m, factor is not None


def _vhdr_coordinates(path: Path) -> Any:
    """Positions from the ``[Coordinates]`` section of a BrainVision header.

    MNE reads them only with the signal file present; this does the same arithmetic
    (radius/theta/phi in degrees, radius 1 = idealised sphere of 95 mm) from the header.
    """
    import mne
    from mne.defaults import HEAD_SIZE_DEFAULT

    from .eeg import _read_ini

    cfg = _read_ini(path)
    if not cfg.has_section("Coordinates"):
        raise fail(path, "no electrode positions in this header (no [Coordinates] section)")
    names = {}
    if cfg.has_section("Channel Infos"):
        for key, val in cfg.items("Channel Infos"):
            names[key] = val.split(",")[0].replace("\\1", ",")
    ch_pos = {}
    for key, val in cfg.items("Coordinates"):
        try:
            rad, theta, phi = (float(c) for c in val.split(",")[:3])
        except ValueError:
            raise fail(path, f"[Coordinates] {key}: expected radius,theta,phi") from None
        if rad == 1:
            rad = HEAD_SIZE_DEFAULT * 1000
        pol, az = np.deg2rad(theta), np.deg2rad(phi)
        xyz = rad * np.array([np.cos(az) * np.sin(pol), np.sin(az) * np.sin(pol), np.cos(pol)])
        ch_pos[names.get(key, key)] = xyz / 1000.0
    return mne.channels.make_dig_montage(ch_pos=ch_pos, coord_frame="head")


def _montage_from_info(info: Any) -> Any:
    """All digitised points of a measurement info (incl. the EEG reference point)."""
    import mne
    from mne.io.constants import FIFF

    dig = [d for d in (info["dig"] or [])]
    eeg_chs = [c for c in info["chs"] if int(c["kind"]) == FIFF.FIFFV_EEG_CH]
    names = []
    for d in dig:
        if int(d["kind"]) != FIFF.FIFFV_POINT_EEG:
            continue
        r = np.asarray(d["r"])
        match = [c["ch_name"] for c in eeg_chs if np.allclose(c["loc"][:3], r, atol=1e-6)]
        ref = any(np.allclose(c["loc"][3:6], r, atol=1e-6) for c in eeg_chs)
        if match and match[0] not in names:
            names.append(match[0])
        elif ref and "EEG REF" not in names:
            names.append("EEG REF")
        else:
            names.append(f"EEG dig {int(d['ident'])}")
    return mne.channels.DigMontage(dig=dig, ch_names=names)


def _read_fif(path: Path) -> Any:
    import mne

    try:
        m = mne.channels.read_dig_fif(path, verbose="error")
        if m.dig:
            return m
    except Exception as exc:  # noqa: BLE001 - any failure: try it as measurement info
        logger.debug("%s: not a -dig.fif (%s)", path, exc)
    try:
        info = mne.io.read_info(path, verbose="error")
    except Exception as exc:  # noqa: BLE001
        raise fail(path, f"not a readable FIF digitisation or measurement file ({_why(exc)})") from None
    if not info["dig"]:
        raise fail(path, "FIF file holds no digitised points")
    return _montage_from_info(info)


def _why(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg[:120]}" if msg else type(exc).__name__


def read_dig_with_notes(path: str | os.PathLike, *, units: str = "auto") -> tuple[Any, list[str]]:
    """Like :func:`read_dig`, also returning notes on unit and frame conversions."""
    import mne

    if units not in ("auto", "m", "cm", "mm"):
        raise InputError(None, f"units must be auto, m, cm or mm, got {units!r}")
    path = check_file(path)
    suffix = full_suffix(path)
    notes: list[str] = []
    units_known = False
    try:
        if suffix == ".bvct":
            import defusedxml.ElementTree  # noqa: F401 - MNE's captrak reader needs it imported first

            m = mne.channels.read_dig_captrak(path)
        elif suffix in (".hsp", ".elp"):
            head = path.read_bytes()[:4096]
            if suffix == ".elp" and b"%N" not in head and b"%F" not in head:
                # BESA .elp: angles on a unit sphere, scaled by MNE to a 95 mm head
                m = mne.channels.read_custom_montage(path)
                units_known = True
            else:
                m = _read_isotrak_pair(path)
        elif suffix == ".pos":
            m = _read_pos(path)
        elif suffix in (".fif", ".fif.gz"):
            m = _read_fif(path)
            units_known = True
        elif suffix == ".tsv":
            m, units_known = _read_electrodes_tsv(path, notes)
        elif suffix == ".vhdr":
            m = _vhdr_coordinates(path)
            units_known = True
        elif suffix == ".bvef":
            m = mne.channels.read_custom_montage(path)  # idealised sphere, scaled by MNE
            units_known = True
        elif suffix in (".loc", ".locs", ".eloc", ".csd"):
            # EEGLAB / CSD templates: angles on a unit sphere, scaled by MNE to a 95 mm head
            m = mne.channels.read_custom_montage(path)
            units_known = True
        elif suffix in (".elc", ".sfp", ".hpts", ".xyz"):
            # digitised coordinates: keep them as measured (MNE would rescale them to a sphere)
            m = mne.channels.read_custom_montage(path, head_size=None)
        else:
            raise fail(path, f"not a digitisation file (unknown type {suffix or 'without extension'!r}); "
                       f"use one of {', '.join(DIG_SUFFIXES)}")
    except InputError:
        raise
    except UnicodeDecodeError:
        raise fail(path, "not a text file (binary content) - wrong file type?") from None
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line
        raise fail(path, f"cannot read digitisation ({_why(exc)})") from None
    if m is None or not m.dig:
        raise fail(path, "no digitised points in this file")
    rr = np.array([d["r"] for d in m.dig], float)
    if not np.all(np.isfinite(rr)):
        raise fail(path, "non-finite coordinates (NaN/inf)")
    far = float(np.abs(rr).max()) if rr.size else 0.0
    if far > 1e4:  # no head reaches 10 m, 1 km or 10 km (m, cm or mm files)
        raise fail(path, f"coordinates reach {far:g} from the origin: not a head in m, cm or mm (corrupt file?)")
    if not units_known or units != "auto":
        m = _check_units(m, path, notes, units)
    check_positions([d["r"] for d in m.dig], path, "coordinates")
    try:
        m = _to_head(m, notes)
    except Exception as exc:  # noqa: BLE001 - degenerate fiducials (coincident, collinear)
        raise fail(path, f"the fiducials do not define a head frame ({_why(exc)})") from None
    check_positions([d["r"] for d in m.dig], path, "head-frame coordinates")
    return m, notes


def read_dig(path: str | os.PathLike, *, units: str = "auto") -> Any:
    """Read a digitisation file.

    Parameters
    ----------
    path : path-like
        ``.elc``, ``.sfp``, ``.bvct`` (CapTrak), ``.hsp``/``.elp`` (Polhemus isotrak; the
        partner file with the same stem is merged in), ``.pos``, FIF (``-dig.fif`` or
        any FIF with measurement info, e.g. ``-ave.fif.gz``), BIDS ``electrodes.tsv``
        (with ``coordsystem.json``), ``.bvef``, a ``.vhdr`` with ``[Coordinates]``,
        and MNE's other custom-montage text formats.
    units : {"auto", "m", "cm", "mm"}
        Units of a text file without declared units; ``"auto"`` detects them from the
        head size.

    Returns
    -------
    mne.channels.DigMontage
        Metres; head frame when the file has nasion, LPA and RPA (see :func:`dig_frame`).

    Raises
    ------
    InputError
        Missing, empty, wrong-type or corrupt file, or implausible coordinates.
    """
    return read_dig_with_notes(path, units=units)[0]


# --------------------------------------------------------------------------- surfaces
_BEM_NAMES = {4: "head", 3: "outer_skull", 1: "inner_skull"}

def read_surface(path: str | os.PathLike) -> dict[str, Any]:
    """Read a scalp (or any) surface.

    Parameters
    ----------
    path : path-like
        A FreeSurfer surface (``outer_skin.surf``, ``lh.seghead``, ...; mm), an MNE BEM /
        ``-head.fif`` file (the head surface is taken when there are several), or a
        GIFTI ``.gii`` surface (mm).

    Returns
    -------
    dict
        ``{"rr": (n, 3) float64 m, "tris": (m, 3) int64, "frame": "mri", "surface": kind}``
        in the MRI (FreeSurfer surface RAS) frame; ``kind`` is ``"head"``,
        ``"outer_skull"``, ``"inner_skull"`` or ``"unknown"``.
    """
    import mne
    from mne.io.constants import FIFF

    path = check_file(path)
    suffix = full_suffix(path)
    try:
        if suffix in (".fif", ".fif.gz"):
            surfs = mne.read_bem_surfaces(path, verbose="error")
            if not surfs:
                raise fail(path, "no surfaces in this FIF file")
            head = [s for s in surfs if int(s["id"]) == FIFF.FIFFV_BEM_SURF_ID_HEAD]
            s = head[0] if head else max(surfs, key=lambda s: np.ptp(s["rr"], axis=0).prod())
            if int(s.get("coord_frame", FIFF.FIFFV_COORD_MRI)) != FIFF.FIFFV_COORD_MRI:
                raise fail(path, "surface is not in the MRI frame")
            rr, tris = np.asarray(s["rr"], float), np.asarray(s["tris"], np.int64)
            kind = _BEM_NAMES.get(int(s["id"]), "unknown")
        elif suffix == ".gii":
            import nibabel as nib

            img = nib.load(path)
            rr = np.asarray(img.agg_data("pointset"), float) / 1000.0
            kind = "unknown"
            tris = np.asarray(img.agg_data("triangle"), np.int64)
        else:
            rr, tris = mne.read_surface(path, verbose="error")
            rr = np.asarray(rr, float) / 1000.0  # FreeSurfer surfaces are in mm
            kind = "head" if re.search(r"skin|head|scalp", path.name, re.IGNORECASE) else "unknown"
            tris = np.asarray(tris, np.int64)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise fail(path, f"not a readable surface (FreeSurfer, BEM/-head.fif or GIFTI) ({_why(exc)})") from None
    if rr.ndim != 2 or rr.shape[1] != 3 or len(rr) < 4 or tris.ndim != 2 or tris.shape[1] != 3:
        raise fail(path, "surface has no usable vertices/triangles")
    if not np.all(np.isfinite(rr)):
        raise fail(path, "surface vertices hold NaN/inf")
    if tris.min() < 0 or tris.max() >= len(rr):
        raise fail(path, "triangles index vertices that do not exist (corrupt surface)")
    ext = float(np.ptp(rr, axis=0).max())
    if not 0.05 <= ext <= 0.5:
        raise fail(path, f"surface size {ext:g} m is implausible for a head")
    return {"rr": rr, "tris": tris, "frame": "mri", "surface": kind}

