"""One validation layer: physical ranges, finite numbers and JSON limits.

Every reader and command that takes a number from a file or from the user checks it
here, so the limits live in one place and every refusal is a one-line
:class:`~workbench.engine.errors.InputError` that names the file the value came from and
the bad value itself (never the file's other contents).

Ranges
------
============================  =========================================
sampling rate                 1 Hz .. 1 MHz (:data:`SFREQ_RANGE`)
repetition time (TR)          0.05 .. 30 s (:data:`TR_RANGE`)
slice timing                  finite, within [0, TR), at most 1024 entries
electrode / head positions    within 1 m of the origin (:data:`MAX_POSITION_M`)
image affine                  finite and invertible
signal / image data           finite; not all zero; not saturated
============================  =========================================

JSON
----
:func:`load_json` / :func:`loads_json` parse with limits on size, nesting depth and number
size, refuse ``NaN``/``Infinity`` (not JSON), and turn every parser failure
(``RecursionError``, ``ValueError``, ``UnicodeDecodeError``...) into an ``InputError``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "SFREQ_RANGE",
    "TR_RANGE",
    "MAX_SLICES",
    "MAX_POSITION_M",
    "JSON_MAX_BYTES",
    "JSON_MAX_DEPTH",
    "JSON_MAX_DIGITS",
    "check_sfreq",
    "check_tr",
    "check_slice_timing",
    "check_bold_sidecar",
    "check_positions",
    "check_affine",
    "check_data",
    "check_image_data",
    "check_finite_number",
    "check_qc",
    "finite_or_none",
    "fmt_measurable",
    "load_json",
    "loads_json",
]

SFREQ_RANGE = (1.0, 1e6)  #: Hz
TR_RANGE = (0.05, 30.0)  #: s
MAX_SLICES = 1024
MAX_POSITION_M = 1.0
JSON_MAX_BYTES = 64 * 1024 * 1024
JSON_MAX_DEPTH = 64
JSON_MAX_DIGITS = 20  #: digits of an integer literal (int64 has 19)

_PathLike = str | os.PathLike | None


def _num(value: Any) -> str:
    """A short, safe rendering of a bad value (never more than 40 characters)."""
    try:
        text = f"{float(value):g}"
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_finite_number(value: Any, path: _PathLike, what: str) -> float:
    """``value`` as a finite float, or an InputError naming ``what`` and the value."""
    if isinstance(value, bool) or value is None:
        raise InputError(path, f"{what} is not a number ({_num(value)})")
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(path, f"{what} is not a number ({_num(value)})") from None
    if not math.isfinite(out):
        raise InputError(path, f"{what} is not finite ({_num(value)})")
    return out


def check_sfreq(sfreq: Any, path: _PathLike, what: str = "sampling rate") -> float:
    """A sampling rate in Hz within :data:`SFREQ_RANGE`."""
    f = check_finite_number(sfreq, path, what)
    lo, hi = SFREQ_RANGE
    if not lo <= f <= hi:
        raise InputError(path, f"implausible {what} {_num(f)} Hz (expected {lo:g} Hz .. {hi:g} Hz)")
    return f


def check_tr(tr: Any, path: _PathLike, what: str = "RepetitionTime") -> float:
    """A repetition time in seconds within :data:`TR_RANGE`."""
    t = check_finite_number(tr, path, what)
    lo, hi = TR_RANGE
    if not lo <= t <= hi:
        raise InputError(path, f"implausible {what} {_num(t)} s (expected {lo:g} .. {hi:g} s)")
    return t


def check_slice_timing(st: Any, tr: float | None, path: _PathLike, what: str = "SliceTiming") -> list[float]:
    """Slice onsets (s): a list of at most :data:`MAX_SLICES` finite values in ``[0, TR)``."""
    if isinstance(st, (str, bytes, Mapping)) or not isinstance(st, Iterable):
        raise InputError(path, f"{what} must be a list of numbers, got {_num(st)}")
    st = list(st)
    if len(st) > MAX_SLICES:
        raise InputError(path, f"{what} has {len(st)} entries (at most {MAX_SLICES})")
    out = [check_finite_number(v, path, f"{what}[{i}]") for i, v in enumerate(st)]
    if tr is not None:
        bad = [v for v in out if not 0 <= v < tr]
        if bad:
            raise InputError(path, f"{what} value {_num(bad[0])} s lies outside [0, TR={tr:g} s)")
    return out


def check_bold_sidecar(meta: Mapping[str, Any], path: _PathLike, *, need_tr: bool = False) -> dict[str, Any]:
    """Validate the timing fields of a BIDS BOLD sidecar.

    Parameters
    ----------
    meta : mapping
        The sidecar's JSON object.
    path : path-like
        The sidecar (named in every error).
    need_tr : bool
        Refuse a sidecar without ``RepetitionTime``.

    Returns
    -------
    dict
        A copy with ``RepetitionTime`` as float, ``SliceTiming`` as a list of floats and
        ``MultibandAccelerationFactor`` as int (those present).
    """
    if not isinstance(meta, Mapping):
        raise InputError(path, "JSON sidecar is not an object")
    out = dict(meta)
    tr = None
    if out.get("RepetitionTime") is not None:
        tr = out["RepetitionTime"] = check_tr(out["RepetitionTime"], path)
    elif need_tr:
        raise InputError(path, "no RepetitionTime in this sidecar")
    if out.get("SliceTiming") is not None:
        out["SliceTiming"] = check_slice_timing(out["SliceTiming"], tr, path)
    mb = out.get("MultibandAccelerationFactor")
    if mb is not None:
        m = check_finite_number(mb, path, "MultibandAccelerationFactor")
        if not (m.is_integer() and 1 <= m <= 64):
            raise InputError(path, f"MultibandAccelerationFactor must be a whole number 1..64, got {_num(mb)}")
        out["MultibandAccelerationFactor"] = int(m)
    return out


def check_positions(rr: Any, path: _PathLike, what: str = "coordinates") -> np.ndarray:
    """(n, 3) positions in metres: finite and within :data:`MAX_POSITION_M` of the origin."""
    try:
        a = np.asarray(rr, dtype=float).reshape(-1, 3)
    except (TypeError, ValueError, OverflowError):
        raise InputError(path, f"{what} are not numbers") from None
    if not np.all(np.isfinite(a)):
        raise InputError(path, f"non-finite {what} (NaN/inf)")
    if a.size:
        far = float(np.abs(a).max())
        if far > MAX_POSITION_M:
            hint = ("millimetres passed as metres?" if far < 1000 * MAX_POSITION_M
                    else "centimetres or millimetres passed as metres?" if far < 1e4 else "corrupt file?")
            raise InputError(path, f"{what} reach {_num(far)} m from the origin (a head fits within "
                             f"{MAX_POSITION_M:g} m; {hint})")
    return a


def check_affine(affine: Any, path: _PathLike) -> np.ndarray:
    """A 4x4 voxel-to-world affine: finite, with an invertible 3x3 part."""
    try:
        a = np.asarray(affine, dtype=float)
    except (TypeError, ValueError):
        raise InputError(path, "corrupt header: the affine is not numeric") from None
    if a.shape != (4, 4):
        raise InputError(path, f"corrupt header: affine of shape {a.shape}, expected 4 x 4")
    if not np.all(np.isfinite(a)):
        raise InputError(path, "corrupt header: the affine has NaN/inf")
    det = float(np.linalg.det(a[:3, :3]))
    if not math.isfinite(det) or abs(det) < 1e-12:
        raise InputError(path, "corrupt header: the affine is singular (zero voxel size or collapsed axes)")
    return a


def check_data(
    data: Any, path: _PathLike, what: str = "data", *, saturation: float | None = 1e30, allow_zero: bool = False
) -> None:
    """Finite, not all zero (unless ``allow_zero``) and not saturated (``|x| >= saturation`` everywhere).

    Works on arrays of any shape; NaN/inf anywhere is refused.
    """
    a = np.asarray(data)
    if a.size == 0:
        raise InputError(path, f"{what} are empty")
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        n = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise InputError(path, f"{what} hold {n} NaN/inf value(s)")
    if not allow_zero and not np.any(a):
        raise InputError(path, f"{what} are all zero")
    if saturation is not None and a.dtype.kind in "fc" and float(np.min(np.abs(a))) >= saturation:
        raise InputError(path, f"{what} are saturated (every value >= {saturation:g} in magnitude)")


def check_image_data(img: Any, path: _PathLike, *, allow_zero: bool = False, chunk_voxels: int = 1 << 24) -> None:
    """Voxel data of a nibabel image: finite and (unless ``allow_zero``) not all zero.

    Read slab by slab, so memory stays bounded.
    """
    shape = tuple(int(s) for s in img.shape)
    if len(shape) < 3:
        raise InputError(path, f"not a 3D/4D image (shape {shape})")
    per_slab = int(np.prod(shape[:2]))
    step = max(1, chunk_voxels // max(per_slab, 1))
    any_nonzero = False
    try:
        for k in range(0, shape[2], step):
            block = np.asanyarray(img.dataobj[:, :, k : k + step])
            if block.dtype.kind in "fc" and not np.all(np.isfinite(block)):
                raise InputError(path, "image data hold NaN/inf values")
            any_nonzero = any_nonzero or bool(np.any(block))
    except InputError:
        raise
    except MemoryError:
        raise InputError(path, "image data do not fit in memory") from None
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt data while reading
        raise InputError(path, f"image data cannot be read ({type(exc).__name__})") from None
    if not any_nonzero and not allow_zero:
        raise InputError(path, "image data are all zero")


def finite_or_none(value: Any) -> Any:
    """``value`` unless it is a non-finite float (then None: "not measurable")."""
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return None
    return value


def fmt_measurable(value: Any, fmt: str = ".2f", unit: str = "") -> str:
    """Format a number, or ``"not measurable"`` when it is None/NaN/inf."""
    v = finite_or_none(value)
    if v is None:
        return "not measurable"
    return f"{float(v):{fmt}}{unit}"


def check_qc(qc: Any, path: _PathLike, keys: Iterable[str] | None = None, *, where: str = "QC") -> None:
    """Refuse NaN/inf in QC values (all of them, or only ``keys``).

    Use it before printing or writing a QC object: a non-finite number is never a result.
    """

    def walk(obj: Any, name: str) -> None:
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                walk(v, f"{name}.{k}" if name else str(k))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{name}[{i}]")
        elif isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
            raise InputError(path, f"{where} value {name} is not measurable ({_num(obj)}) on this input")

    if keys is None:
        walk(qc, "")
    else:
        for k in keys:
            if isinstance(qc, Mapping) and k in qc:
                walk(qc[k], k)


# --------------------------------------------------------------------------- JSON
def _parse_int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > JSON_MAX_DIGITS:
        raise _NumberTooLarge(f"integer with {len(digits)} digits (at most {JSON_MAX_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > 400:
        raise _NumberTooLarge(f"number literal of {len(text)} characters")
    v = float(text)
    if not math.isfinite(v):
        raise _NumberTooLarge(f"number {text[:20]}{'...' if len(text) > 20 else ''} overflows a float")
    return v


def _parse_constant(name: str) -> float:
    raise _NumberTooLarge(f"{name} is not valid JSON (use a finite number or null)")


class _NumberTooLarge(ValueError):
    pass


def _depth(obj: Any) -> int:
    """Nesting depth of a parsed document (iterative: no recursion)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in node)
    return deepest


def loads_json(
    text: str | bytes,
    path: _PathLike = None,
    *,
    max_depth: int = JSON_MAX_DEPTH,
    what: str = "JSON",
    error: type[InputError] = InputError,
) -> Any:
    """Parse JSON text with limits; every failure is one ``error(path, ...)`` line.

    Parameters
    ----------
    text : str | bytes
    path : path-like | None
        The file the text came from (named in errors).
    max_depth : int
        Deepest nesting of objects/arrays accepted.
    what : str
        How to call the document in errors (``"JSON sidecar"``, ``"project file"``).
    error : type
        The InputError subclass to raise (e.g. ProjectError).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise error(path, f"not a text file (the {what} is not UTF-8; binary content?)") from None
    if len(text) > JSON_MAX_BYTES:
        raise error(path, f"{what} is too large ({len(text)} characters; at most {JSON_MAX_BYTES})")
    try:
        doc = json.loads(
            text.lstrip("\ufeff"),
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except _NumberTooLarge as exc:
        raise error(path, f"{what} holds an unusable number: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(path, f"broken JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    except RecursionError:
        raise error(path, f"{what} is nested too deeply (at most {max_depth} levels)") from None
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:
        raise error(path, f"unreadable {what} ({type(exc).__name__})") from None
    if _depth(doc) > max_depth:
        raise error(path, f"{what} is nested too deeply (at most {max_depth} levels)")
    return doc


def load_json(
    path: str | os.PathLike,
    *,
    max_bytes: int = JSON_MAX_BYTES,
    max_depth: int = JSON_MAX_DEPTH,
    what: str = "JSON",
    object_required: bool = True,
    error: type[InputError] = InputError,
) -> Any:
    """Read and parse a JSON file with limits (see :func:`loads_json`).

    Raises
    ------
    InputError (or ``error``)
        Missing, unreadable, too large, too deep, not UTF-8, broken JSON, huge or
        non-finite numbers, or (``object_required``) not a JSON object.
    """
    p = Path(path)
    try:
        if not p.is_file():
            raise error(p, "file not found" if not p.exists() else "is not a regular file")
        size = p.stat().st_size
        if size > max_bytes:
            raise error(p, f"{what} is too large ({size} bytes; at most {max_bytes})")
        raw = p.read_bytes()
    except OSError as exc:
        raise error(p, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    doc = loads_json(raw, p, max_depth=max_depth, what=what, error=error)
    if object_required and not isinstance(doc, dict):
        raise error(p, f"{what} is not a JSON object")
    return doc
