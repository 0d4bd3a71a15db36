"""Building :class:`FusionInputs` from a pipeline state, a GUI session, or a folder on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from workbench.engine.errors import InputError
from workbench.engine.io.events import read_events

from .result import FusionInputs

__all__ = ["inputs_from_session", "inputs_from_path", "read_events", "load_files"]


def inputs_from_session(session: Any) -> FusionInputs:
    """From the GUI :class:`~workbench.engine.session.Session`: its study's current EEG and data."""
    from .steps import inputs_from_study

    return inputs_from_study(getattr(session, "study", session))


def inputs_from_path(path: str | os.PathLike, subject: str | None = None) -> FusionInputs:
    """From a project folder (``project.json``) or a BIDS study folder (e.g. the phantom's).

    EEG through MNE's reader, BOLD/anatomy through nibabel, the BOLD sidecar as JSON,
    events as TSV. A project's latest cleaned EEG (``derivatives``) is preferred when its
    provenance lists one.
    """
    from workbench.engine.study import Study

    from .steps import inputs_from_study

    root = Path(path)
    if root.name == "project.json":
        root = root.parent
    if not root.exists():
        raise InputError(root, "project or study folder not found")
    if not ((root / "project.json").is_file() or (root.is_dir() and any(root.glob("sub-*")))):
        raise InputError(root, "neither a project (project.json) nor a BIDS study (sub-* folders)")
    return inputs_from_study(Study.load(root, subject=subject))


def load_files(files: dict[str, Path]) -> FusionInputs:
    """Read the files of :func:`inputs_from_path` (one-line errors naming the file)."""
    import mne
    import nibabel as nib

    inp = FusionInputs(sources={k: str(v) for k, v in files.items()})
    if "eeg" in files:
        try:
            inp.eeg = mne.io.read_raw(files["eeg"], preload=False, verbose="error")
        except Exception as exc:
            raise InputError(
                files["eeg"], f"cannot read EEG ({type(exc).__name__}: {exc})"
            ) from None
    for kind in ("bold", "anat"):
        if kind in files:
            try:
                setattr(inp, kind, nib.load(files[kind]))
            except Exception as exc:
                raise InputError(files[kind], f"cannot read image ({exc})") from None
    if "sidecar" in files:
        try:
            inp.bold_meta = json.loads(Path(files["sidecar"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(files["sidecar"], f"cannot read BOLD sidecar ({exc})") from None
    if "events" in files:
        inp.events = read_events(files["events"])
    return inp


def example_folder(prefix: str) -> Path:
    """A temporary folder for a plugin's example input files, removed when the process exits.

    Example factories (``FusionMethod.example``) write small files that the contract check
    and the GUI's "try it" read during the session; before this, every call left a folder
    in the system's temporary directory for good.

    Parameters
    ----------
    prefix : str
        Start of the folder's name (say which plugin wrote it).

    Returns
    -------
    Path
        The new, empty folder.
    """
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder
