"""Building :class:`FusionInputs` from a pipeline state, a GUI session, or a folder on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from workbench.engine.errors import InputError

from .result import FusionInputs

__all__ = ["inputs_from_state", "inputs_from_session", "inputs_from_path", "read_events"]


def read_events(path: str | os.PathLike) -> Any:
    """Read a BIDS ``*_events.tsv`` into a DataFrame (``onset`` and ``duration`` required)."""
    import pandas as pd

    try:
        df = pd.read_csv(path, sep="\t", na_values=["n/a"])
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read events table ({exc})") from None
    for col in ("onset", "duration"):
        if col not in df.columns:
            raise InputError(path, f"events table has no {col!r} column (BIDS events.tsv needed)")
    return df


def inputs_from_state(state: dict[str, Any]) -> FusionInputs:
    """From the headless runner's ``ctx.state`` (keys of :func:`workbench.engine.runner.load_state`)."""
    events = state.get("events")
    events_path = state.get("events_path")
    if events is None and events_path is not None:
        events = read_events(events_path)
    elif isinstance(events, str | Path):
        events_path, events = events, read_events(events)
    bold = state.get("bold")
    if bold is None and state.get("bold_path") is not None:
        import nibabel as nib

        bold = nib.load(state["bold_path"])
    eeg = state.get("cleaned")
    if eeg is None:
        eeg = state.get("raw")
    sources = {
        k: str(state[p])
        for k, p in (
            ("eeg", "raw_path"),
            ("bold", "bold_path"),
            ("events", "events_path"),
            ("anat", "anat_path"),
        )
        if state.get(p) is not None
    }
    return FusionInputs(
        eeg=eeg,
        bold=bold,
        bold_meta=dict(state.get("bold_meta") or {}),
        events=events,
        anat=state.get("anat"),
        mask=state.get("mask"),
        trans=state.get("trans"),
        dig=state.get("dig"),
        truth=state.get("truth"),
        sources=sources,
    )


def inputs_from_session(session: Any, events: Any = None) -> FusionInputs:
    """From the GUI :class:`~workbench.engine.session.Session` (cleaned EEG preferred)."""
    if events is None:
        events = getattr(session, "events", None)
    if events is None and getattr(session, "project", None) is not None:
        hits = session.project.inputs_of("events")
        hits = sorted(hits, key=lambda f: "/func/" not in f.path.replace("\\", "/"))
        if hits:  # the fMRI task events (func/) before EEG-side ones
            events = read_events(session.project.abspath(hits[0].path))
    return FusionInputs(
        eeg=session.cleaned if session.cleaned is not None else session.raw,
        bold=session.bold,
        bold_meta=dict(session.bold_meta or {}),
        events=events,
        anat=session.anat,
        trans=session.trans,
        dig=session.dig,
        truth=session.truth,
    )


def inputs_from_path(path: str | os.PathLike, subject: str | None = None) -> FusionInputs:
    """From a project folder (``project.json``) or a BIDS study folder (e.g. the phantom's).

    EEG through MNE's reader, BOLD/anatomy through nibabel, the BOLD sidecar as JSON,
    events as TSV. A project's latest cleaned EEG (``derivatives``) is preferred when its
    provenance lists one.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(root, "project or study folder not found")
    files: dict[str, Path] = {}
    if (root / "project.json").is_file() or root.name == "project.json":
        from workbench.engine.project import Project

        project = Project.load(root)
        for kind in ("eeg", "bold", "anat", "events", "sidecar"):
            hits = project.inputs_of(kind, subject)
            if hits:
                files[kind] = project.abspath(hits[0].path)
        for step in reversed(project.steps):  # prefer the latest cleaned EEG
            fifs = [o for o in step.outputs if o.endswith(("_eeg.fif", "-raw.fif", "_raw.fif"))]
            if step.status == "done" and fifs:
                files["eeg"] = project.abspath(fifs[-1])
                break
        if "bold" in files and "sidecar" not in files:
            side = Path(str(files["bold"]).replace(".nii.gz", ".json").replace(".nii", ".json"))
            if side.is_file():
                files["sidecar"] = side
    elif root.is_dir() and any(root.glob("sub-*")):
        from workbench.engine.io.open import find_study_inputs

        found = find_study_inputs(root, subject)
        for key, kind in (
            ("eeg", "eeg"),
            ("bold", "bold"),
            ("anat", "anat"),
            ("events", "events"),
            ("bold_json", "sidecar"),
        ):
            if key in found:
                files[kind] = found[key]
    else:
        raise InputError(root, "neither a project (project.json) nor a BIDS study (sub-* folders)")
    return load_files(files)


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
