"""The project: an evented, versioned, atomically saved analysis folder (DESIGN §3.3).

A project is a folder holding ``project.json`` and a ``derivatives/`` folder. The JSON
records the schema version, subjects, input files (relative path + sha256), the
provenance of every step (name, parameters, input hashes, outputs, library versions,
QC metrics), transforms and plugin results. Views observe a :class:`Project` through
its psygnal signals (napari's evented-model pattern); the project never knows its views.

Loading an older schema migrates it in memory (the file is only rewritten on the next
save, after a ``.bak`` copy is kept); loading a newer or broken file raises
:class:`~workbench.engine.errors.ProjectError` and changes nothing.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from psygnal import Signal

from .atomic import atomic_write_json
from .errors import InputError, ProjectError
from .validate import load_json

SCHEMA_VERSION = 2
PROJECT_FILE = "project.json"
DERIVATIVES = "derivatives"

#: Input kinds a project knows (the project tree groups by these).
INPUT_KINDS = ("eeg", "bold", "anat", "dig", "events", "sidecar", "other")

_TRACKED_LIBRARIES = ("numpy", "scipy", "mne", "nibabel", "nilearn", "scikit-learn")


#: (real path, inode, size, mtime in ns) -> sha256, so one process hashes a file once
_HASHES: dict[tuple[str, int, int, int], str] = {}
_CACHE_FROM = 64 << 20


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks (large EEG files fit in memory).

    A large file (64 MB or more) already hashed in this process, unchanged since (same
    inode, size and modification time), is not read again: adding an input and
    recording the steps that read it hashed a 700 MB recording several times. Small
    files are always read: the file system's clock is coarse (a few ms), so a quick
    rewrite of a small file can keep its size and modification time.

    Parameters
    ----------
    path : path-like
        The file.
    chunk : int
        Bytes read at a time.
    """
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    cache = st.st_size >= _CACHE_FROM
    if cache and key in _HASHES:
        return _HASHES[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    digest = h.hexdigest()
    if cache:
        if len(_HASHES) > 1024:
            _HASHES.clear()
        _HASHES[key] = digest
    return digest


def library_versions() -> dict[str, str]:
    """Versions of the scientific libraries that shape the numbers, for provenance."""
    out = {"python": platform.python_version()}
    for name in _TRACKED_LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        out["eegfmri-workbench"] = metadata.version("eegfmri-workbench")
    except metadata.PackageNotFoundError:
        pass
    return out


@dataclass
class InputFile:
    """An input file referenced by the project (read-only; never modified)."""

    path: str  #: relative to the project folder when inside it, else absolute
    kind: str  #: one of :data:`INPUT_KINDS`
    subject: str = "01"
    sha256: str = ""
    description: str = ""


@dataclass
class Step:
    """One provenance record: what ran, on what, with which parameters and result."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  #: relative path -> sha256
    outputs: list[str] = field(default_factory=list)  #: relative paths
    qc: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    status: str = "done"  #: "done", "failed" or "cancelled"
    message: str = ""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Project:
    """An analysis project (evented model).

    Parameters
    ----------
    root : path-like
        The project folder. Nothing is written until :meth:`save`.
    name : str | None
        Display name (defaults to the folder name).

    Attributes
    ----------
    changed : Signal
        Emitted with a short description after any change.
    step_added : Signal
        Emitted with the :class:`Step` appended to the provenance.
    inputs_changed, saved : Signal
        Emitted after inputs change / after a successful save.
    """

    changed = Signal(str)
    step_added = Signal(object)
    inputs_changed = Signal()
    saved = Signal(str)

    def __init__(self, root: str | os.PathLike, name: str | None = None) -> None:
        self.root = Path(root).absolute()
        self.name = name or self.root.name
        self.subjects: list[str] = []
        self.inputs: list[InputFile] = []
        self.steps: list[Step] = []
        self.transforms: dict[str, str] = {}  #: label -> relative path of a -trans.fif
        self.results: dict[str, Any] = {}  #: plugin id -> serialised result summary
        self.settings: dict[str, Any] = {}  #: free-form per-project settings
        self.dirty = False

    # ------------------------------------------------------------------ paths
    @property
    def file(self) -> Path:
        """Path of ``project.json``."""
        return self.root / PROJECT_FILE

    @property
    def derivatives(self) -> Path:
        """The derivatives folder (created on demand by writers)."""
        return self.root / DERIVATIVES

    def relpath(self, path: str | os.PathLike) -> str:
        """Path relative to the project root when inside it, else absolute (POSIX)."""
        p = Path(path).absolute()
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            return p.as_posix()

    def abspath(self, rel: str) -> Path:
        """Resolve a path stored in the project (relative paths must stay inside it)."""
        return self.contained(rel)

    # ------------------------------------------------------------------ edits
    def _touch(self, what: str) -> None:
        self.dirty = True
        self.changed.emit(what)

    def add_input(
        self, path: str | os.PathLike, kind: str, subject: str = "01", description: str = ""
    ) -> InputFile:
        """Reference an input file (hashes it; never copies or modifies it)."""
        if kind not in INPUT_KINDS:
            raise InputError(path, f"unknown input kind {kind!r}; use one of {', '.join(INPUT_KINDS)}")
        p = Path(path)
        if not p.is_file():
            raise InputError(path, "file not found")
        item = InputFile(self.relpath(p), kind, subject, sha256_file(p), description)
        self.inputs = [i for i in self.inputs if i.path != item.path] + [item]
        if subject not in self.subjects:
            self.subjects.append(subject)
        self.inputs_changed.emit()
        self._touch(f"input added: {item.path}")
        return item

    def remove_input(self, rel: str) -> None:
        """Forget an input (the file itself is untouched)."""
        self.inputs = [i for i in self.inputs if i.path != rel]
        self.inputs_changed.emit()
        self._touch(f"input removed: {rel}")

    def inputs_of(self, kind: str, subject: str | None = None) -> list[InputFile]:
        """The inputs of one kind (optionally of one subject)."""
        return [i for i in self.inputs if i.kind == kind and (subject is None or i.subject == subject)]

    def record_step(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        inputs: list[str | os.PathLike] | None = None,
        outputs: list[str | os.PathLike] | None = None,
        qc: dict[str, Any] | None = None,
        started: str | None = None,
        status: str = "done",
        message: str = "",
    ) -> Step:
        """Append a provenance record (input files are hashed now)."""
        hashed = {}
        for f in inputs or []:
            ap = Path(f) if Path(f).is_absolute() else self.abspath(str(f))
            hashed[self.relpath(ap)] = sha256_file(ap) if ap.is_file() else ""
        step = Step(
            name=name,
            params=_jsonable(params or {}),
            inputs=hashed,
            outputs=[self.relpath(o) for o in outputs or []],
            qc=_jsonable(qc or {}),
            versions=library_versions(),
            started=started or _now(),
            finished=_now(),
            status=status,
            message=message,
        )
        self.steps.append(step)
        self.step_added.emit(step)
        self._touch(f"step recorded: {name}")
        return step

    def last_step(self, name: str) -> Step | None:
        """The most recent successful step of that name, if any."""
        for s in reversed(self.steps):
            if s.name == name and s.status == "done":
                return s
        return None

    def set_transform(self, label: str, path: str | os.PathLike) -> None:
        """Record a transform file (e.g. ``head_mri`` -> ``derivatives/...-trans.fif``)."""
        self.transforms[label] = self.relpath(path)
        self._touch(f"transform set: {label}")

    def set_method_files(self, name: str, paths: list[str | os.PathLike]) -> None:
        """Record the files a method reads itself (its file input ``name``; none: forget it).

        Kept in ``settings["files"]`` as absolute paths (what ``workbench fuse`` from files
        records too), so a reopened project and ``workbench run`` hand the method the same
        files.
        """
        files = self.settings.setdefault("files", {})
        if paths:
            files[name] = [Path(x).absolute().as_posix() for x in paths]
        else:
            files.pop(name, None)
        self._touch(f"method files set: {name}")

    def method_files(self) -> dict[str, list[Path]]:
        """The recorded method files (see :meth:`set_method_files`)."""
        files = self.settings.get("files", {})
        if not isinstance(files, dict):
            return {}
        return {str(k): [Path(x) for x in v] for k, v in files.items() if isinstance(v, list)}

    def set_result(self, key: str, summary: dict[str, Any]) -> None:
        """Store a serialisable result summary (e.g. of a fusion plugin)."""
        self.results[key] = _jsonable(summary)
        self._touch(f"result stored: {key}")

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """The JSON document (current schema)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "application": "eegfmri-workbench",
            "name": self.name,
            "subjects": list(self.subjects),
            "inputs": [asdict(i) for i in self.inputs],
            "steps": [asdict(s) for s in self.steps],
            "transforms": dict(self.transforms),
            "results": self.results,
            "settings": self.settings,
        }

    def save(self) -> Path:
        """Write ``project.json`` atomically (a previous file of an older schema is kept as ``.bak``)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.file.exists():
            try:
                old = load_json(self.file, what="project file", error=ProjectError).get("schema_version")
            except InputError:
                old = None
            if old is not None and old != SCHEMA_VERSION:
                shutil.copy2(self.file, self.file.with_name(f"{PROJECT_FILE}.v{old}.bak"))
        atomic_write_json(self.file, self.to_dict())
        self.dirty = False
        self.saved.emit(str(self.file))
        return self.file

    @classmethod
    def load(cls, path: str | os.PathLike) -> Project:
        """Open a project folder (or its ``project.json``).

        Raises
        ------
        ProjectError
            If the file is missing, not JSON, not a workbench project, from a newer
            schema, or structurally broken. Nothing is changed on disk.
        """
        p = Path(path)
        f = p / PROJECT_FILE if p.is_dir() else p
        if not f.is_file():
            raise ProjectError(f, "no project.json here; create a project or open a data file")
        doc = load_json(f, what="project file", object_required=False, error=ProjectError)
        if not isinstance(doc, dict) or "schema_version" not in doc:
            raise ProjectError(f, "not a workbench project file (no schema_version)")
        version = doc["schema_version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProjectError(f, f"schema_version must be an integer, got {type(version).__name__}")
        if version < 1:
            raise ProjectError(f, f"schema_version {version} is not a valid version")
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f,
                f"written by a newer workbench (schema {version}; this version reads up to "
                f"{SCHEMA_VERSION}); please upgrade",
            )
        doc = migrate(doc, f)
        name = doc.get("name")
        proj = cls(f.parent, name=name if isinstance(name, str) and name else None)
        try:
            proj.subjects = [str(x) for x in _typed(doc, "subjects", list, f)]
            proj.inputs = [_input_file(i, n, f) for n, i in enumerate(_typed(doc, "inputs", list, f))]
            proj.steps = [_step(s, n, f) for n, s in enumerate(_typed(doc, "steps", list, f))]
            proj.transforms = {str(k): v for k, v in _typed(doc, "transforms", dict, f).items()}
            proj.results = dict(_typed(doc, "results", dict, f))
            proj.settings = dict(_typed(doc, "settings", dict, f))
        except ProjectError:
            raise
        except (TypeError, ValueError) as exc:
            raise ProjectError(f, f"broken project structure ({type(exc).__name__})") from None
        for item in proj.inputs:
            proj.contained(item.path, f"inputs: {item.path!r}")
        for label, rel in proj.transforms.items():
            if not isinstance(rel, str):
                raise ProjectError(f, f"transforms.{label} must be a path string")
            proj.contained(rel, f"transforms.{label}")
        for key in _PATH_SETTINGS:
            val = proj.settings.get(key)
            if val is not None:
                if not isinstance(val, str):
                    raise ProjectError(f, f"settings.{key} must be a path string")
                proj.contained(val, f"settings.{key}")
        return proj

    def carry_inputs_from(self, loaded: Project | None) -> None:
        """Record the input files (and truth folder) another project registered, in this one.

        A batch subject, a pipeline run and a replay make their project afresh in their own
        folder; without the inputs ``Study.load`` registered, opening that folder later (the
        GUI, ``workbench fuse --project``) finds the cleaned EEG from the provenance but no
        BOLD or anatomy. The records are copied as they are (paths re-expressed from this
        project, the sha256 already computed at load).

        Parameters
        ----------
        loaded : Project | None
            The project the study was loaded with (nothing is done for None).
        """
        if loaded is None:
            return
        for item in loaded.inputs:
            path = loaded.abspath(item.path)
            rel = self.relpath(path)
            self.inputs = [i for i in self.inputs if i.path != rel]
            self.inputs.append(InputFile(rel, item.kind, item.subject, item.sha256, item.description))
            if item.subject not in self.subjects:
                self.subjects.append(item.subject)
        truth = loaded.settings.get("truth_dir")
        if truth:
            self.settings["truth_dir"] = str(loaded.contained(truth, "settings.truth_dir").resolve())

    def contained(self, rel: str | os.PathLike, what: str = "path") -> Path:
        """Resolve a path stored in the project, refusing one that climbs out of it.

        A relative path must stay inside the project folder (``../../etc/passwd`` is
        refused, lexically, so a symlinked data folder inside the project still works).
        An absolute path is the user's explicit choice (files outside the project are
        stored that way by :meth:`relpath`) and is returned as is; readers never quote
        what a file holds in their errors.

        Raises
        ------
        ProjectError
            Naming ``project.json`` and ``what``.
        """
        text = str(rel)
        if "\x00" in text or not text.strip():
            raise ProjectError(self.file, f"{what} is not a usable path")
        p = Path(text)
        if p.is_absolute():
            return p
        norm = Path(os.path.normpath(self.root / p))
        try:
            norm.relative_to(self.root)
        except ValueError:
            raise ProjectError(
                self.file, f"{what} points outside the project folder; keep inputs inside it or give an absolute path"
            ) from None
        return norm

    def verify_inputs(self) -> list[str]:
        """One line per input that is missing or changed since it was added."""
        problems = []
        for i in self.inputs:
            ap = self.abspath(i.path)
            if not ap.is_file():
                problems.append(f"{i.path}: missing")
            elif i.sha256 and sha256_file(ap) != i.sha256:
                problems.append(f"{i.path}: changed since it was added (sha256 differs)")
        return problems


_PATH_SETTINGS = ("study_dir", "truth_dir")


def _typed(doc: dict[str, Any], key: str, typ: type, f: Path) -> Any:
    val = doc.get(key)
    if val is None:
        return typ()
    if not isinstance(val, typ):
        raise ProjectError(f, f"broken project structure: {key} must be a JSON {'array' if typ is list else 'object'}, got {type(val).__name__}")
    return val


_STEP_TYPES = {"name": str, "params": dict, "inputs": dict, "outputs": list, "qc": dict, "versions": dict,
               "started": str, "finished": str, "status": str, "message": str}
_INPUT_TYPES = {"path": str, "kind": str, "subject": str, "sha256": str, "description": str}


def _record(obj: Any, types: dict[str, type], where: str, f: Path) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ProjectError(f, f"broken project structure: {where} must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(types))
    if unknown:
        raise ProjectError(f, f"broken project structure: {where} has unknown field {unknown[0][:40]!r}")
    for k, t in types.items():
        if k in obj and not isinstance(obj[k], t):
            kind = {dict: "an object", list: "an array", str: "a string"}[t]
            raise ProjectError(f, f"broken project structure: {where}.{k} must be {kind}, got {type(obj[k]).__name__}")
    return obj


def _input_file(obj: Any, n: int, f: Path) -> InputFile:
    d = _record(obj, _INPUT_TYPES, f"inputs[{n}]", f)
    if "path" not in d or "kind" not in d:
        raise ProjectError(f, f"broken project structure: inputs[{n}] needs a path and a kind")
    return InputFile(**d)


def _step(obj: Any, n: int, f: Path) -> Step:
    d = _record(obj, _STEP_TYPES, f"steps[{n}]", f)
    if "name" not in d:
        raise ProjectError(f, f"broken project structure: steps[{n}] has no name")
    return Step(**d)


# ---------------------------------------------------------------------- migration
def _migrate_1_to_2(doc: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 kept ``files`` as {kind: [paths]} and ``history`` for steps."""
    doc = dict(doc)
    inputs = []
    for kind, paths in (doc.pop("files", {}) or {}).items():
        for path in paths:
            inputs.append({"path": path, "kind": kind if kind in INPUT_KINDS else "other"})
    doc.setdefault("inputs", inputs)
    steps = []
    for h in doc.pop("history", []) or []:
        steps.append({"name": h.get("step", "unknown"), "params": h.get("params", {}), "qc": h.get("qc", {})})
    doc.setdefault("steps", steps)
    doc.setdefault("subjects", sorted({"01"}) if inputs else [])
    doc["schema_version"] = 2
    return doc


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _migrate_1_to_2}


def migrate(doc: dict[str, Any], source: str | os.PathLike = "project.json") -> dict[str, Any]:
    """Bring a project document up to :data:`SCHEMA_VERSION` (in memory)."""
    version = doc["schema_version"]
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(source, f"schema {version} is too old to migrate")
        try:
            doc = step(doc)
        except (TypeError, AttributeError, KeyError) as exc:
            raise ProjectError(source, f"cannot migrate schema {version}: {exc}") from None
        version = doc["schema_version"]
    return doc


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and paths so the value survives ``json.dumps``."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    if np is not None and isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return obj.as_posix()
    return obj
