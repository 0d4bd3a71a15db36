"""Atomic file output: write to a temporary file beside the target, then rename.

A crash, a kill or a cancel during a write never leaves a half-written file at the
target path, and an existing file there survives until the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .outputs import TEMP_PREFIX, _sweep_stale


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write to; it is renamed onto ``target`` on success.

    Parameters
    ----------
    target : path-like
        Final file name.
    suffix : str | None
        Suffix of the temporary file; defaults to the target's full suffix, so writers
        that check extensions (MNE, nibabel) accept it.

    Notes
    -----
    On any exception (including :class:`~workbench.engine.errors.Cancelled`) the
    temporary file is removed and the target is left untouched. The temporary name
    (``.wbtmp-<pid>-<stem>.*``) carries the process id, so a file left by a killed
    process is removed the next time something is written into that folder.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(target.suffixes) or ".tmp"
    _sweep_stale(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{target.stem}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # writers that refuse to overwrite (MNE) need the name free
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_json(target: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
