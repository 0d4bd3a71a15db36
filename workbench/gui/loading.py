"""What File ▸ Open, Open demo and Save as do, as plain functions (no Qt).

Loading runs in a worker thread, so it fills a fresh *staging* :class:`Session` that no
view observes; :func:`apply_staged` then copies the objects into the window's Session
on the GUI thread, where the setters emit the signals the views redraw on. Tests call
these functions directly to replay what the menus do.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from workbench.engine.errors import Cancelled, InputError
from workbench.engine.progress import as_progress
from workbench.engine.project import Project
from workbench.engine.session import Session


class StagedSession(Session):
    """A Session filled in a worker, plus how to apply it (replace or merge)."""

    def __init__(self) -> None:
        super().__init__()
        self.merge = False
        self.report: Any = None


def is_single_file(path: str | os.PathLike) -> bool:
    """True for a data file (added to what is open) rather than a project/study folder."""
    p = Path(path)
    return p.is_file() and p.name != "project.json"


def load_staged(path: str | os.PathLike, progress: Any = None, project: Project | None = None,
                subject: str | None = None) -> StagedSession:
    """Open ``path`` (project folder, BIDS study folder or data file) into a new Session.

    ``subject`` chooses the subject of a BIDS study or FreeSurfer ``SUBJECTS_DIR``.

    Runs in a worker thread; nothing observes the returned Session yet. A single data
    file is added to a *copy* of ``project`` (the open one), so it joins what is open
    when applied (``merge``); a folder replaces everything.
    """
    from workbench.engine.io.open import load_into

    p = Path(path)
    if not p.exists():
        raise InputError(p, "not found")
    staged = StagedSession()
    if is_single_file(p):
        staged.merge = True
        if project is not None:
            staged.project = clone_project(project)
    prog = as_progress(progress)
    staged.report = load_into(staged, p, prog.sub(0.0, 0.9), subject=subject)
    # decompress images here, in the worker: views then slice arrays without blocking
    if staged.anat is not None:
        prog(0.92, "reading the anatomy")
        staged.anat = materialise(staged.anat)
    if staged.bold is not None:
        prog(0.95, "reading the BOLD series")
        staged.bold = materialise(staged.bold)
    prog(1.0, "loaded")
    return staged


def materialise(img: Any) -> Any:
    """The same image with its voxels in memory (float32), or ``img`` if that fails.

    A compressed NIfTI re-reads its whole file for every slice of its proxy; reading it
    once in the loading worker keeps the slice views from blocking the window.
    """
    import numpy as np

    if isinstance(getattr(img, "dataobj", None), np.ndarray):
        return img
    try:
        data = np.asarray(img.dataobj, dtype=np.float32)
        return img.__class__(data, img.affine, img.header)
    except (TypeError, ValueError, AttributeError, OSError, MemoryError):
        return img


def build_and_load_demo(out_dir: str | os.PathLike | None = None, progress: Any = None) -> Session:
    """Build (or reuse) the demo phantom study and open it into a staging Session."""
    from workbench.engine.demo import build_demo_study, default_demo_dir

    p = as_progress(progress)
    out = Path(out_dir) if out_dir is not None else default_demo_dir()
    study = build_demo_study(out, progress=p.sub(0.0, 0.85))
    return load_staged(study, progress=p.sub(0.85, 1.0))


#: Session fields copied by :func:`apply_staged`, in the order views expect them
_FIELDS = ("raw", "cleaned", "anat", "dig", "scalp", "trans", "truth")


def apply_staged(session: Session, staged: Session, merge: bool | None = None) -> None:
    """Replace what ``session`` shows by what ``staged`` holds (GUI thread only).

    The project is set first (it clears the undo history: a new document), then each
    data object; statistical maps are replaced as a whole. With ``merge`` (a single file
    was opened) only what ``staged`` loaded is set and the rest stays.
    """
    if merge is None:
        merge = bool(getattr(staged, "merge", False))
    if merge:
        if staged.project is not session.project:
            session.project = staged.project  # same document, one more input: keep undo
            session.project_changed.emit(staged.project)
        restore_bads(staged)
        for name in _FIELDS:
            value = getattr(staged, name)
            if value is not None:
                getattr(session, f"set_{name}")(value)
        if staged.bold is not None:
            session.set_bold(staged.bold, staged.bold_meta)
        session.set_files(staged.study.files, staged.study.subject)
        return
    # a new study: what steps made of the previous one (timeline, results) goes with it
    st = session.study
    for key in ("sync", "rpeaks", "mask", "forward"):
        setattr(st, key, getattr(staged.study, key))
    st.results = dict(staged.study.results)
    st.derivatives = dict(staged.study.derivatives)
    session.set_project(staged.project)
    session.study.files.clear()
    session.set_files(staged.study.files, staged.study.subject)
    session.study.events = None
    restore_bads(staged)
    for name in _FIELDS:
        getattr(session, f"set_{name}")(getattr(staged, name))
    session.set_bold(staged.bold, staged.bold_meta)
    for old in list(session.stats):
        if old not in staged.stats:
            del session.stats[old]
    if not staged.stats:
        session.stats_changed.emit(None)
    for key, img in staged.stats.items():
        session.set_stat(key, img)


def set_bads(session: Session, bads: list[str]) -> None:
    """Mark bad channels on the EEG and remember them in the project (saved with it)."""
    session.set_bads(list(bads))
    proj = session.project
    if proj is not None:
        proj.settings["bads"] = list(bads)
        proj.dirty = True
        proj.changed.emit("bad channels")


def restore_bads(staged: Session) -> None:
    """Apply the project's saved bad channels to the freshly loaded EEG (before views see it)."""
    proj, raw = staged.project, staged.raw
    if proj is None or raw is None:
        return
    saved = [b for b in proj.settings.get("bads", []) if b in raw.ch_names]
    if saved:
        raw.info["bads"] = saved


def clone_project(project: Project) -> Project:
    """An independent copy of ``project`` (same folder), safe to change in a worker."""
    new = relocate_project(project, project.root)
    new.name = project.name
    new.dirty = project.dirty
    return new


def relocate_project(project: Project, new_root: str | os.PathLike) -> Project:
    """A copy of ``project`` rooted at ``new_root`` ("Save project as").

    Inputs and transforms keep pointing at the same files (paths are re-expressed
    relative to the new root when inside it, absolute otherwise); derivatives are copied
    into the new folder. Nothing is written until the returned project is saved; the
    original project and its files are untouched.
    """
    root = Path(new_root).absolute()
    if root.exists() and not root.is_dir():
        raise InputError(root, "exists and is not a folder")
    if (root / "project.json").exists() and root != project.root:
        raise InputError(root, "already holds a project; choose an empty folder")
    new = Project(root, name=root.name)
    new.subjects = list(project.subjects)
    new.steps = [type(s)(**vars(s)) for s in project.steps]
    new.results = dict(project.results)
    new.settings = dict(project.settings)
    for item in project.inputs:
        moved = type(item)(**vars(item))
        moved.path = new.relpath(project.abspath(item.path))
        new.inputs.append(moved)
    for label, rel in project.transforms.items():
        new.transforms[label] = new.relpath(project.abspath(rel))
    if project.derivatives.is_dir() and root != project.root:
        shutil.copytree(project.derivatives, new.derivatives, dirs_exist_ok=True)
        for label, rel in project.transforms.items():
            src = project.abspath(rel)
            try:
                inside = src.relative_to(project.root)
            except ValueError:
                continue
            if (root / inside).exists():
                new.transforms[label] = inside.as_posix()
    new.dirty = True
    return new


def run_steps_staged(catalog: dict[str, Any], plan: list[tuple[str, dict[str, Any]]], project: Project,
                     study: Any, progress: Any = None) -> tuple[Any, Project, list[Any]]:
    """Run steps through the runner on a fork of the study and a copy of the project (worker).

    Returns the fork (with what the steps provided), the project copy (with the steps
    recorded from ``work.run_from`` on) and the outcomes; the GUI thread adds the new
    records to the open project and hands the fork to :meth:`Session.adopt`, so
    the model the views observe changes on the GUI thread only. A plan that cannot run
    (unknown step, bad parameter, missing input) raises before anything runs. On
    cancellation the :class:`Cancelled` raised carries the project copy (``.project``),
    whose provenance records the cancelled step.
    """
    from workbench.engine.runner import Runner

    work = clone_project(project)
    work.run_from = len(work.steps)  # records from here on are this run's (merge_provenance)
    fork = study.fork()
    fork.project = work
    runner = Runner(fork, catalog, work.derivatives, project=work)
    try:
        outcomes = runner.run(plan, progress=as_progress(progress))
    except Cancelled as exc:
        # the runner recorded the cancelled step in the copy: hand it back so the GUI
        # thread can adopt the record (and nothing else) into the open project
        exc.project = work
        raise
    return fork, work, outcomes
