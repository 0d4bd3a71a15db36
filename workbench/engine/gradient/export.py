"""Write a corrected recording by extension (.fif, .vhdr, .edf), atomically.

MNE does the writing (``Raw.save`` for FIF; ``mne.export.export_raw`` with pybv for
BrainVision and edfio for EDF). BrainVision is three files: they are written with
:func:`workbench.engine.outputs.atomic_files` (a temporary folder beside the target,
moved into place only when all three exist; old files restored if a move fails), so a
cancel or crash leaves nothing half-written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..errors import InputError
from ..outputs import atomic_files, split_parts, written_files

WRITABLE = (".fif", ".fif.gz", ".vhdr", ".edf")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in WRITABLE:
        if name.endswith(s):
            return s
    return path.suffix.lower()


def write_raw(raw: Any, path: str | os.PathLike, *, overwrite: bool = True) -> list[Path]:
    """Write ``raw`` to ``path``; the format follows the extension.

    Returns
    -------
    list of Path
        The files written (three for BrainVision).
    """
    import mne

    path = Path(path)
    suffix = _suffix(path)
    if suffix not in WRITABLE:
        raise InputError(
            path, f"cannot write {suffix or 'a file without extension'!r}; use .fif, .vhdr or .edf"
        )
    if path.exists() and not overwrite:
        raise InputError(path, "exists; choose another name")
    _check_finite(raw, path)
    if suffix in (".fif", ".fif.gz"):
        # written under its own name in a temporary folder: over 2 GB MNE splits the file
        # into parts that name each other (x.fif -> x-1.fif), so a renamed part is lost
        from .stream import float32_reads

        with atomic_files([path]) as tmp, float32_reads(raw):
            raw.save(tmp[0], overwrite=True, verbose="error")
        return [path, *split_parts(path)]
    if suffix == ".edf":
        with atomic_path(path) as tmp:
            mne.export.export_raw(tmp, raw, fmt="edf", overwrite=True, verbose="error")
        return [path]
    # BrainVision: .vhdr + .vmrk + .eeg appear together (or not at all)
    targets = written_files(path)
    with atomic_files(targets) as tmp:
        mne.export.export_raw(tmp[0], raw, fmt="brainvision", overwrite=True, verbose="error")
    return targets


def _check_finite(raw: Any, path: Path) -> None:
    """Refuse to write a recording holding NaN/inf (checked channel block by block)."""
    import numpy as np

    if not getattr(raw, "preload", False):
        return  # data read on save from a file the readers already checked
    data = raw._data  # noqa: SLF001 - avoid a full copy of a large recording
    for i in range(0, data.shape[0], 16):
        if not np.all(np.isfinite(data[i : i + 16])):
            raise InputError(path, "not written: the result holds NaN/inf samples (corrupt input or failed step)")
