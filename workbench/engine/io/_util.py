"""Small helpers shared by the readers: file checks and one-line errors."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import InputError

#: Double suffixes the readers recognise as one.
_DOUBLE = (".nii.gz", ".fif.gz", ".tsv.gz")


def full_suffix(path: str | os.PathLike) -> str:
    """Lower-case suffix, with ``.nii.gz`` / ``.fif.gz`` kept whole."""
    name = Path(path).name.lower()
    for d in _DOUBLE:
        if name.endswith(d):
            return d
    return Path(name).suffix


def fail(path: str | os.PathLike | None, problem: str) -> InputError:
    """An :class:`InputError` (returned, to be raised by the caller)."""
    return InputError(path, problem)


def check_file(path: str | os.PathLike, *, allow_empty: bool = False) -> Path:
    """A readable, non-empty regular file, or a one-line :class:`InputError`."""
    p = Path(path)
    try:
        os.stat(p)  # follows symlinks: ELOOP for a loop, ENOENT for a dangling link
    except OSError as exc:
        if p.is_symlink():
            why = "a symbolic link loop" if exc.errno == errno.ELOOP else "a broken symbolic link"
            raise InputError(p, f"{why}; point it at a real file") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise InputError(p, "file name too long") from None
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise InputError(p, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
        raise InputError(p, "file not found") from None
    if p.is_dir():
        raise InputError(p, "is a folder, not a file")
    if not p.is_file():
        raise InputError(p, "is not a regular file (device, pipe or socket?)")
    if not os.access(p, os.R_OK):
        raise InputError(p, "cannot be read (permission denied)")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(p, f"cannot be read ({exc.strerror})") from None
    if size == 0 and not allow_empty:
        raise InputError(p, "empty file (0 bytes)")
    return p
