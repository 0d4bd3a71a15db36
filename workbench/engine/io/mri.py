"""MRI readers: anatomical and functional images (NIfTI, MGZ) through nibabel.

:func:`read_image` opens a NIfTI-1/2 (``.nii``, ``.nii.gz``) or FreeSurfer MGH/MGZ image
lazily and checks that the data are all there (a truncated file would otherwise only
fail later, inside a view or a step). :func:`read_bold` adds the acquisition timing of a
4D BOLD series from its BIDS sidecar JSON (with BIDS inheritance up the folders) or, if
there is none, from the NIfTI header (``pixdim[4]`` in ``xyzt_units``).
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..progress import ProgressLike, as_progress
from ..validate import (
    check_affine,
    check_bold_sidecar,
    check_image_data,
    check_slice_timing,
    check_tr,
    load_json,
)
from ._util import check_file, fail, full_suffix

logger = logging.getLogger(__name__)

__all__ = ["read_image", "read_bold", "find_sidecar", "IMAGE_SUFFIXES"]

#: File endings :func:`read_image` opens.
IMAGE_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".mgh")
_TIME_UNITS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


def _why(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg[:120]}" if msg else type(exc).__name__


def _verify_data(img: Any, path: Path, progress: Any = None) -> None:
    """Fail when the voxel data are shorter than the header says."""
    suffix = full_suffix(path)
    dtype = img.get_data_dtype()
    nbytes = int(np.prod(img.shape, dtype=np.int64)) * dtype.itemsize
    if suffix in (".nii", ".mgh"):
        offset = int(getattr(img.dataobj, "offset", 0))
        size = path.stat().st_size
        if size < offset + nbytes:
            raise fail(path, f"truncated: {size} bytes, the header needs {offset + nbytes}")
        return
    # compressed: stream through the gzip file once (constant memory)
    p = as_progress(progress)
    need = int(getattr(img.dataobj, "offset", 0)) + nbytes
    got = 0
    try:
        with gzip.open(path, "rb") as fh:
            while got < need:
                block = fh.read(1 << 22)
                if not block:
                    break
                got += len(block)
                p(got / need, f"checking {path.name}")
    except (EOFError, OSError, zlib.error) as exc:
        raise fail(path, f"truncated or corrupt compressed data ({_why(exc)})") from None
    if got < need:
        raise fail(path, f"truncated: {got} bytes of voxel data and header, {need} expected")


def read_image(path: str | os.PathLike, *, verify: bool = True, progress: ProgressLike | None = None) -> Any:
    """Open a NIfTI or MGZ image (lazily).

    Parameters
    ----------
    path : path-like
        ``.nii``, ``.nii.gz``, ``.mgz`` or ``.mgh``.
    verify : bool
        Check that all voxel data are present (streams once through a compressed file).
    progress : callable | Progress | None
        ``progress(fraction, message)`` during the check (cancellable).

    Returns
    -------
    nibabel.spatialimages.SpatialImage
        The image; data are read on access (``img.get_fdata()`` / ``img.dataobj``).

    Raises
    ------
    InputError
        Missing, empty, wrong-type, corrupt or truncated file.
    """
    import nibabel as nib

    path = check_file(path)
    suffix = full_suffix(path)
    if suffix not in IMAGE_SUFFIXES:
        raise fail(
            path,
            f"not an image type this reader knows ({suffix or 'no extension'!r}); use one of "
            f"{', '.join(IMAGE_SUFFIXES)}",
        )
    try:
        img = nib.load(path)
        shape = img.shape
    except nib.filebasedimages.ImageFileError as exc:
        raise fail(path, f"not a valid {suffix} image ({_why(exc)})") from None
    except (EOFError, OSError, zlib.error) as exc:
        raise fail(path, f"truncated or corrupt file ({_why(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line
        raise fail(path, f"corrupt image header ({_why(exc)})") from None
    if len(shape) < 3 or min(shape) < 1:
        raise fail(path, f"not a 3D/4D image (shape {shape})")
    check_affine(img.affine, path)
    if verify:
        _verify_data(img, path, progress)
        if len(shape) == 3:  # anatomy: cheap enough to check every voxel once
            check_image_data(img, path, allow_zero=True)
    return img


def _load_json(path: Path) -> dict[str, Any]:
    return load_json(path, what="JSON sidecar")


def _bids_root(start: Path) -> Path:
    """The nearest folder upwards holding ``dataset_description.json`` (else ``start``)."""
    for p in [start, *start.parents]:
        if (p / "dataset_description.json").is_file():
            return p
    return start


def find_sidecar(path: str | os.PathLike) -> list[Path]:
    """The JSON sidecars that apply to a data file, most general first (BIDS inheritance).

    The same-stem ``.json`` applies, plus, up to the dataset root (the folder with
    ``dataset_description.json``), every ``*.json`` whose entities are a subset of the
    image's and whose suffix (``bold``, ``T1w``) is the same.
    """
    path = Path(path)
    name = path.name.split(".")[0]  # BIDS names hold no dots: drop .nii.gz, .vhdr, ...
    own = path.parent / f"{name}.json"
    parts = name.split("_")
    suffix = parts[-1]
    entities = set(parts[:-1])
    found: list[Path] = []
    if "-" in name:  # BIDS-like name
        root = _bids_root(path.parent)
        folders = []
        p = path.parent
        while True:
            folders.append(p)
            if p == root or p.parent == p:
                break
            p = p.parent
        for folder in reversed(folders):
            for cand in sorted(folder.glob(f"*_{suffix}.json")):
                cparts = cand.name[: -len(".json")].split("_")
                if cand != own and set(cparts[:-1]) <= entities:
                    found.append(cand)
    if own.is_file():
        found.append(own)
    return found


def _hdr_pixdim4(img: Any) -> str:
    try:
        units = img.header.get_xyzt_units()[1] if hasattr(img.header, "get_xyzt_units") else "?"
        return f"{float(img.header.get_zooms()[3]):g}, time units {units}"
    except Exception:  # noqa: BLE001
        return "absent"


def read_bold(
    path: str | os.PathLike, *, verify: bool = True, progress: ProgressLike | None = None
) -> tuple[Any, dict[str, Any]]:
    """Open a 4D BOLD series and its acquisition timing.

    Parameters
    ----------
    path : path-like
        A 4D ``.nii``/``.nii.gz`` (or ``.mgz``) image.
    verify : bool
        Check that all voxel data are present.
    progress : callable | Progress | None
        ``progress(fraction, message)`` during the data check (cancellable).

    Returns
    -------
    img : nibabel image
    meta : dict
        The merged sidecar JSON (BIDS inheritance), with at least ``RepetitionTime``
        (s); ``SliceTiming`` (s) and ``MultibandAccelerationFactor`` when known; plus
        ``"_tr_source"`` (``"sidecar"`` or ``"header"``), ``"_sidecars"`` (paths) and
        ``"_notes"``.

    Raises
    ------
    InputError
        Bad image, not 4D, or no repetition time anywhere (sidecar or header).
    """
    img = read_image(path, verify=verify, progress=progress)
    path = Path(path)
    if len(img.shape) != 4:
        raise fail(path, f"a BOLD series must be 4D; this image is {len(img.shape)}D {img.shape}")
    meta: dict[str, Any] = {}
    sidecars = find_sidecar(path)
    origin: dict[str, Path] = {}  # field -> the sidecar it came from (named in errors)
    for sc in sidecars:
        doc = _load_json(sc)
        meta.update(doc)
        origin.update(dict.fromkeys(doc, sc))
    notes: list[str] = []
    hdr_tr = None
    try:
        zooms = img.header.get_zooms()
        units = img.header.get_xyzt_units()[1] if hasattr(img.header, "get_xyzt_units") else "sec"
        if len(zooms) > 3 and zooms[3] > 0:
            if units in _TIME_UNITS:
                hdr_tr = float(zooms[3]) * _TIME_UNITS[units]
            elif 0.1 <= zooms[3] <= 20 and zooms[3] != 1.0:
                # 1.0 with unknown units is nibabel's default for "not set": not a TR
                hdr_tr = float(zooms[3])
                notes.append("header time units unknown; pixdim[4] taken as seconds")
            if units == "sec" and full_suffix(path) in (".mgz", ".mgh"):
                hdr_tr = float(zooms[3]) / 1000.0  # MGH stores TR in ms
    except Exception:  # noqa: BLE001 - header without zooms: no header TR
        hdr_tr = None
    tr = meta.get("RepetitionTime")
    if tr is not None:
        tr = check_tr(tr, origin.get("RepetitionTime", path))
        meta["_tr_source"] = "sidecar"
        if hdr_tr and abs(hdr_tr - tr) > 0.01 * tr:
            notes.append(f"header TR {hdr_tr:g} s differs from sidecar {tr:g} s; sidecar used (BIDS)")
    elif hdr_tr:
        tr = check_tr(hdr_tr, path, "repetition time in the header (pixdim[4])")
        meta["_tr_source"] = "header"
        notes.append("no RepetitionTime in a JSON sidecar; TR taken from the NIfTI header")
    else:
        looked = ", ".join(p.name for p in sidecars) or f"{path.name.split('.')[0]}.json (absent)"
        raise fail(
            path,
            f"no repetition time: no RepetitionTime in the sidecar ({looked}) and no usable TR in "
            f"the header (pixdim[4]={_hdr_pixdim4(img)}); add a BIDS JSON sidecar with RepetitionTime",
        )
    meta["RepetitionTime"] = tr
    st = meta.get("SliceTiming")
    if st is not None:
        st = np.asarray(check_slice_timing(st, tr, origin.get("SliceTiming", path)), float)
        if st.size != img.shape[2]:
            notes.append(f"SliceTiming has {st.size} entries for {img.shape[2]} slices")
        meta["SliceTiming"] = st.tolist()
    mb = meta.get("MultibandAccelerationFactor")
    if mb is not None:
        meta["MultibandAccelerationFactor"] = mb = check_bold_sidecar(
            {"MultibandAccelerationFactor": mb}, origin.get("MultibandAccelerationFactor", path)
        )["MultibandAccelerationFactor"]
    if mb is None and st is not None and st.size:
        groups = np.unique(np.round(st, 4)).size
        if groups and st.size % groups == 0 and st.size // groups > 1:
            meta["MultibandAccelerationFactor"] = int(st.size // groups)
            notes.append("MultibandAccelerationFactor inferred from repeated SliceTiming values")
    meta["_sidecars"] = [str(p) for p in sidecars]
    meta["_notes"] = notes
    return img, meta


def image_info(img: Any) -> dict[str, Any]:
    """Shape, voxel size (mm), TR from the header (s) and orientation of an image."""
    import nibabel as nib

    zooms = [float(z) for z in img.header.get_zooms()]
    try:
        orient = "".join(nib.aff2axcodes(img.affine))
    except Exception:  # noqa: BLE001
        orient = "?"
    return {
        "shape": [int(s) for s in img.shape],
        "voxel_mm": zooms[:3],
        "dtype": str(img.get_data_dtype()),
        "orientation": orient,
    }

