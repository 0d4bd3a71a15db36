"""The open study: one typed, Qt-free shape for everything a step can use (DESIGN §2b).

A :class:`Study` holds the recordings and what the pipeline made of them: the EEG as
loaded and the current EEG with its history, BOLD, anatomy, digitisation, events,
transforms, the scanner timeline, derivatives written and the latest result of each
step. Steps read it; only the runner changes it (applying a step's ``provides``).
The GUI's :class:`~workbench.engine.session.Session` wraps one Study and emits change
events; the CLI, replay and batch runs use a Study directly.

The phantom's ground truth rides along as :attr:`Study.truth` only so the runner can
score a step after it ran; no step reads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .progress import ProgressLike

logger = logging.getLogger(__name__)

__all__ = ["Study", "EEGVersion", "eeg_chain"]


@dataclass
class EEGVersion:
    """One version of the EEG in the study's history: which step made it, and the data."""

    step: str
    raw: Any
    path: Path | None = None


class _LogMessages:
    """Where the loader's one-line summaries go when no GUI listens (the log)."""

    def emit(self, msg: str) -> None:
        logger.info("%s", msg)


@dataclass
class Study:
    """Everything open for one subject.

    Attributes
    ----------
    project : Project | None
        The project whose provenance runs are recorded in.
    root : Path | None
        The study (BIDS) folder, a project folder or a file's folder.
    subject : str
        Subject label.
    files : dict
        Input files by kind (``eeg``, ``bold``, ``anat``, ``events``, ``dig``, ``scalp``,
        ``trans``, ``fiducials``...), absolute paths.
    raw : mne.io.BaseRaw | None
        The EEG as loaded (never modified).
    history : list of EEGVersion
        Versions of the EEG made by steps, oldest first; the last is the current EEG.
    bold, bold_meta, anat, events, dig, scalp, trans, sync, mask, forward, rpeaks : Any
        The other study keys (see :data:`~workbench.engine.steps.spec.STUDY_KEYS`).
    results : dict
        Step id -> latest :class:`~workbench.engine.steps.spec.StepResult`.
    derivatives : dict
        Role or name -> path of files written by steps.
    truth : GroundTruth | dict | None
        Phantom ground truth (scoring only).
    """

    project: Any = None
    root: Path | None = None
    subject: str = "01"
    files: dict[str, Path] = field(default_factory=dict)
    raw: Any = None
    history: list[EEGVersion] = field(default_factory=list)
    bold: Any = None
    bold_meta: dict[str, Any] = field(default_factory=dict)
    anat: Any = None
    events: Any = None
    dig: Any = None
    scalp: dict[str, Any] | None = None
    trans: Any = None
    sync: Any = None
    mask: Any = None
    forward: Any = None
    rpeaks: Any = None
    results: dict[str, Any] = field(default_factory=dict)
    derivatives: dict[str, Path] = field(default_factory=dict)
    truth: Any = None
    stats: dict[str, Any] = field(default_factory=dict)
    #: files a method reads itself (declared file inputs given on the command line): name -> paths
    extra_files: dict[str, list[Path]] = field(default_factory=dict)
    message: Any = field(default_factory=_LogMessages, repr=False)

    # ------------------------------------------------------------------ the EEG
    @property
    def eeg(self) -> Any:
        """The current EEG: the latest cleaned version, else the recording as loaded."""
        return self.history[-1].raw if self.history else self.raw

    @property
    def cleaned(self) -> Any:
        """The latest cleaned EEG, or None when no step has changed the EEG yet."""
        return self.history[-1].raw if self.history else None

    @property
    def eeg_path(self) -> Path | None:
        """The EEG input file (derivative names are built from it)."""
        return self.files.get("eeg")

    # ------------------------------------------------------------------ access by key
    def get(self, key: str) -> Any:
        """The value of a study key (``"eeg"`` is the current EEG)."""
        if key == "eeg":
            return self.eeg
        if key == "events":
            return self.load_events()
        return getattr(self, key, None)

    def has(self, key: str) -> bool:
        """Whether the study has a value for ``key`` (events count when their file exists)."""
        if key == "events":
            return self.events is not None or self.files.get("events") is not None
        return self.get(key) is not None

    def provide(self, key: str, value: Any, step: str = "", path: Path | None = None) -> None:
        """Set a study key from a step's result (the runner's job)."""
        if key == "eeg":
            self.history.append(EEGVersion(step, value, path))
        elif key == "bold":
            self.bold = value
        else:
            setattr(self, key, value)

    def truncate_history(self, step: str) -> list[EEGVersion]:
        """Remove the latest version ``step`` made and every version after it.

        Parameters
        ----------
        step : str
            The step about to run again.

        Returns
        -------
        list of EEGVersion
            The removed versions, oldest first (empty when ``step`` made none); extend
            :attr:`history` with them to undo.
        """
        idx = [i for i, v in enumerate(self.history) if v.step == step]
        if not idx:
            return []
        dropped = self.history[idx[-1]:]
        del self.history[idx[-1]:]
        return dropped

    def load_events(self) -> Any:
        """The task events (read from ``files["events"]`` on first use)."""
        if self.events is None and self.files.get("events") is not None:
            from .io.events import read_events

            self.events = read_events(self.files["events"])
        return self.events

    # ----------------------------------------------- setters the loader calls (same as Session)
    def set_project(self, project: Any) -> None:
        self.project = project

    def set_raw(self, raw: Any) -> None:
        self.raw = raw
        self.history.clear()

    def set_cleaned(self, raw: Any) -> None:
        if raw is None:
            self.history.clear()
        else:
            self.history.append(EEGVersion("cleaned", raw))

    def set_anat(self, img: Any) -> None:
        self.anat = img

    def set_bold(self, img: Any, meta: dict[str, Any] | None = None) -> None:
        self.bold = img
        self.bold_meta = dict(meta or {})

    def set_dig(self, dig: Any) -> None:
        self.dig = dig

    def set_scalp(self, surf: dict[str, Any] | None) -> None:
        self.scalp = surf

    def set_trans(self, trans: Any) -> None:
        self.trans = trans

    def set_truth(self, truth: Any) -> None:
        self.truth = truth

    def set_stat(self, name: str, img: Any) -> None:
        self.stats[name] = img

    def set_files(self, files: dict[str, Any], subject: str | None = None) -> None:
        """Record where the study's inputs are (derivative names and provenance use them)."""
        self.files.update({k: Path(v) for k, v in files.items() if v is not None})
        if subject:
            self.subject = str(subject)

    def fork(self) -> Study:
        """A copy to run steps on in a worker: containers copied, data objects shared.

        The GUI runs a step on a fork and adopts the fork on its main thread, so the
        model the views observe changes on one thread only.
        """
        import dataclasses

        return dataclasses.replace(
            self, files=dict(self.files), history=list(self.history), bold_meta=dict(self.bold_meta),
            results=dict(self.results), derivatives=dict(self.derivatives), stats=dict(self.stats),
            extra_files={k: list(v) for k, v in self.extra_files.items()},
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | os.PathLike, subject: str | None = None,
             progress: ProgressLike | None = None, derivatives: bool = True,
             register: bool = True) -> Study:
        """Open a BIDS study folder, a project folder or one data file.

        Loading goes through :func:`workbench.engine.io.open.load_into`, the same code the
        GUI uses, so headless and GUI runs start from the same data.

        Parameters
        ----------
        path : path-like
            Study folder (``sub-*``), project folder or file.
        subject : str | None
            Subject label of a study (default: the first).
        progress : callable | None
            Progress and cancellation.
        derivatives : bool
            For a project: make its latest cleaned EEG (from the provenance) the current
            EEG. Replay passes False: it starts again from the recordings.
        register : bool
            For one file: record it as a project input with its sha256 (False: the
            caller drops the project, see :func:`~workbench.engine.io.open.load_into`).
        """
        from .io.open import find_study_inputs, load_into

        study = cls()
        p = Path(path)
        if not p.exists():
            raise InputError(p, "not found")
        load_into(study, p, progress=progress, subject=subject, register=register)
        study.root = p if p.is_dir() else p.parent
        if p.is_dir() and any(p.glob("sub-*")) and not (p / "project.json").is_file():
            files = find_study_inputs(p, subject)
            study.subject = str(files.pop("subject"))
            study.files.update({k: Path(v) for k, v in files.items() if isinstance(v, str | os.PathLike)})
        elif study.project is not None:
            study.files.update(_files_from_project(study.project))
            study.extra_files.update(study.project.method_files())
            study.subject = str(study.project.settings.get("subject") or study.subject)
            if derivatives:
                study._load_latest_eeg()
        return study

    def _load_latest_eeg(self) -> None:
        """A project's cleaned EEG versions (from its provenance) become the EEG's history.

        The steps are followed as the runner ran them (a step run again replaced its earlier
        version and the versions made from it), so running the latest step again after a
        reload starts from the same EEG as it would have in the session. The files are
        opened without reading their data.
        """
        def eeg_fif(step: Any) -> str | None:
            fifs = [o for o in step.outputs if o.endswith(("_eeg.fif", "-raw.fif", "_raw.fif"))]
            return fifs[-1] if fifs else None

        records, _ = eeg_chain(getattr(self.project, "steps", []), lambda step: eeg_fif(step) is not None)
        chain = [(step.name, self.project.abspath(eeg_fif(step))) for step in records]
        if not chain or not chain[-1][1].is_file():
            return
        from .io.eeg import read_eeg

        # the versions before the latest are kept only while their files are all there
        start = len(chain) - 1
        while start > 0 and chain[start - 1][1].is_file():
            start -= 1
        for name, path in chain[start:]:
            self.history.append(EEGVersion(name, read_eeg(path, preload=False), path))


def eeg_chain(
    records: list[Any],
    makes_eeg: Callable[[Any], bool],
    uses_eeg: Callable[[Any], bool] | None = None,
) -> tuple[list[Any], set[str]]:
    """The EEG versions a project's provenance leaves, as the runner made them.

    Running a step again replaces its earlier version and drops the versions made from
    it (see ``Runner``); this follows that rule over recorded steps.

    Parameters
    ----------
    records : list
        Provenance records in run order (``.name``, ``.status``).
    makes_eeg : callable
        Whether a record's step made an EEG version.
    uses_eeg : callable, optional
        Whether a record's step read the EEG without making a version (a fusion method,
        say). Such a step is stale too when the EEG version it read was dropped later:
        its result was computed from a correction that is no longer there.

    Returns
    -------
    chain : list
        The records whose versions make up the current history, oldest first.
    stale : set of str
        Steps whose latest run was dropped this way (done, but not in the current EEG:
        they need running again).
    """
    chain: list[Any] = []
    stale: set[str] = set()
    read_from: dict[str, Any] = {}  # reader step -> the chain record whose EEG it read (None: raw)
    for rec in records:
        if rec.status != "done":
            continue
        if not makes_eeg(rec):
            if uses_eeg is not None and uses_eeg(rec):
                read_from[rec.name] = chain[-1] if chain else None
            continue
        same = [i for i, r in enumerate(chain) if r.name == rec.name]
        if same:
            stale.update(r.name for r in chain[same[-1] + 1:])
            del chain[same[-1]:]
        chain.append(rec)
        stale.discard(rec.name)
    for name, base in read_from.items():
        if base is not None and not any(base is r for r in chain):
            stale.add(name)
    return chain, stale


def _files_from_project(project: Any) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for item in getattr(project, "inputs", []):
        if item.kind in ("eeg", "bold", "anat", "dig", "events") and item.kind not in out:
            out[item.kind] = project.abspath(item.path)
    return out
