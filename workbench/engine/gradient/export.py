"""Write a corrected recording by extension (.fif, .vhdr, .edf), atomically.

MNE does the writing (``Raw.save`` for FIF; ``mne.export.export_raw`` with pybv for
BrainVision and edfio for EDF). BrainVision is three files: they are written into a
temporary folder beside the target and moved into place only when all three exist, so
a cancel or crash leaves nothing half-written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..errors import InputError

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
    if suffix in (".fif", ".fif.gz"):
        with atomic_path(path) as tmp:
            raw.save(tmp, overwrite=True, verbose="error")
        return [path]
    if suffix == ".edf":
        with atomic_path(path) as tmp:
            mne.export.export_raw(tmp, raw, fmt="edf", overwrite=True, verbose="error")
        return [path]
    # BrainVision: .vhdr + .vmrk + .eeg written together
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent))
    try:
        mne.export.export_raw(
            tmpdir / path.name, raw, fmt="brainvision", overwrite=True, verbose="error"
        )
        made = sorted(tmpdir.iterdir())
        out = []
        for f in made:
            dest = path.parent / f.name
            os.replace(f, dest)
            out.append(dest)
        return out
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
