"""Open a project folder, a BIDS study folder or a single data file into a Session.

:func:`load_into` is what the GUI's File > Open, drag-and-drop and the headless runner
call: it reads the files with this package's readers, calls the session's setters
(``set_project``, ``set_raw``, ``set_bold``, ``set_anat``, ``set_dig``, ``set_scalp``,
``set_trans``, ``set_truth``) and registers the inputs in the project. EEG stays lazily
loaded (``preload=False``), so large recordings open quickly. Nothing is written to disk.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..progress import Progress, ProgressLike, as_progress
from ..project import PROJECT_FILE, Project
from ..validate import load_json
from ._util import check_file, fail, full_suffix

logger = logging.getLogger(__name__)

__all__ = ["load_into", "find_study_inputs", "classify_file", "LoadReport", "HEADER_ONLY",
           "describe_header", "header_only_reason", "is_freesurfer_subject", "freesurfer_subjects"]

_EEG = (".vhdr", ".edf", ".bdf", ".set")
_IMG = (".nii", ".nii.gz", ".mgz", ".mgh")
_DIG = (".elc", ".sfp", ".bvct", ".hsp", ".elp", ".pos", ".bvef", ".hpts", ".loc", ".locs", ".eloc", ".csd", ".xyz")
_SURF = (".surf", ".gii")
_SCALP_DESC = "scalp surface"


@dataclass
class LoadReport:
    """What :func:`load_into` loaded (also emitted on ``session.message``).

    Attributes
    ----------
    project : Project
    loaded : dict
        Kind (``"eeg"``, ``"bold"``, ``"anat"``, ``"dig"``, ``"scalp"``, ``"trans"``,
        ``"truth"``) -> path.
    problems : list of str
        One line per input that could not be loaded (the rest is still loaded).
    headers : dict
        ``"eeg"`` -> the EEGHeader of a recording opened for inspection only (its signal
        file is absent or empty): channels, rate, duration and markers, no signal.
    notes : list of str
        One line per input opened only in part, with the reason.
    """

    project: Project
    loaded: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: kind -> :class:`~workbench.engine.io.eeg.EEGHeader` of a recording opened header-only
    headers: dict[str, Any] = field(default_factory=dict)
    #: one line per input opened only in part (e.g. an EEG header whose signal file is absent)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- discovery
def _first(base: Path, patterns: tuple[str, ...]) -> Path | None:
    for pat in patterns:
        hits = sorted(p for p in base.glob(pat) if p.is_file())
        if hits:
            return hits[0]
    return None


def find_study_inputs(study: str | os.PathLike, subject: str | None = None) -> dict[str, Any]:
    """The input files of one subject of a BIDS study folder.

    Parameters
    ----------
    study : path-like
        Folder with ``sub-*`` subfolders.
    subject : str | None
        Subject label without ``sub-`` (default: the first in sorted order).

    Returns
    -------
    dict
        Keys among ``eeg``, ``bold``, ``bold_json``, ``anat``, ``dig``, ``scalp``,
        ``events``, ``eeg_events``, ``trans``, ``truth`` -> Path, plus ``"subject"`` ->
        the subject label (str). With several runs or tasks, the BOLD and events files
        whose BIDS entities match the EEG's are chosen.
    """
    study = Path(study)
    subs = sorted(p.name[4:] for p in study.glob("sub-*") if p.is_dir())
    if not subs:
        raise fail(study, "no sub-* folders: not a BIDS study")
    sub = subject or subs[0]
    if sub not in subs:
        raise fail(study, f"subject {sub!r} not found; subjects here: {', '.join(subs)}")
    base = study / f"sub-{sub}"
    found: dict[str, Any] = {"subject": sub}
    table = {
        "eeg": ("eeg/*_eeg.vhdr", "**/eeg/*_eeg.vhdr", "eeg/*_eeg.edf", "eeg/*_eeg.bdf", "eeg/*_eeg.set", "eeg/*_eeg.fif",
                "eeg/*_eeg.vmrk"),
        "bold": ("func/*_bold.nii.gz", "func/*_bold.nii", "**/func/*_bold.nii.gz", "**/func/*_bold.nii"),
        "anat": ("anat/*_T1w.nii.gz", "anat/*_T1w.nii", "anat/*_T1w.mgz", "**/anat/*_T1w.nii.gz"),
        "dig": ("eeg/*_electrodes.tsv", "**/eeg/*_electrodes.tsv", "eeg/*.bvct", "eeg/*.elc", "eeg/*-dig.fif"),
        "events": ("func/*_events.tsv",),
        "eeg_events": ("eeg/*_events.tsv",),
    }
    for key, pats in table.items():
        hit = _first(base, pats)
        if hit is not None:
            found[key] = hit
    # several runs/tasks: pair the BOLD (and its events) with the EEG recorded with it
    if "eeg" in found:
        ent = bids_entities(found["eeg"])
        for key, pats in (("bold", table["bold"]), ("events", table["events"])):
            cands = sorted({p for pat in pats for p in base.glob(pat) if p.is_file()})
            best = max(cands, key=lambda c: (_shared(ent, bids_entities(c)), -cands.index(c)), default=None)
            if best is not None:
                found[key] = best
    if "bold" in found:
        js = Path(str(found["bold"]).replace(".nii.gz", ".json").replace(".nii", ".json"))
        if js.is_file():
            found["bold_json"] = js
    scalp = _first(
        base,
        ("anat/*scalp*.surf", "anat/*scalp*.gii", "anat/*scalp*.fif", "anat/*-head.fif", "anat/*outer_skin*",
         "**/*-head.fif", "**/*scalp*.surf", "**/*scalp*.gii", "**/*outer_skin.surf"),
    )
    if scalp is not None:
        found["scalp"] = scalp
    trans = _first(study, (f"derivatives/**/sub-{sub}*-trans.fif",))
    if trans is not None:
        found["trans"] = trans
    if (study / "ground_truth" / "index.json").is_file():
        found["truth"] = study / "ground_truth"
    return found


def bids_entities(path: Path) -> dict[str, str]:
    """BIDS entities of a file name (``sub``, ``ses``, ``task``, ``acq``, ``run`` ...)."""
    out = {}
    for part in path.name.split(".")[0].split("_"):
        if "-" in part:
            k, v = part.split("-", 1)
            out[k] = v
    return out


def _shared(a: dict[str, str], b: dict[str, str]) -> int:
    """How well two files' entities agree: +1 per equal, -1 per differing shared key."""
    return sum(1 if a[k] == b[k] else -1 for k in a.keys() & b.keys())


def classify_file(path: str | os.PathLike) -> str:
    """Input kind of a single file: ``eeg``, ``image``, ``dig``, ``surface`` or ``fif``."""
    p = Path(path)
    s = full_suffix(p)
    name = p.name.lower()
    if s in _EEG:
        return "eeg"
    if s in _IMG:
        return "image"
    if s in _DIG or name.endswith("_electrodes.tsv"):
        return "dig"
    if s in _SURF or name.startswith(("lh.", "rh.")):
        return "surface"
    if s in (".fif", ".fif.gz"):
        return "fif"
    if s in (".eeg", ".vmrk", ".dat", ".fdt"):
        raise fail(p, f"a {s} file belongs to a header; open the .vhdr (BrainVision) or .set (EEGLAB) instead")
    raise fail(p, f"cannot open files of type {s or '(no extension)'!r} (EEG, NIfTI/MGZ, digitisation, surface)")


# --------------------------------------------------------------------------- loading
class _Loader:
    """Reads inputs, sets them on the session, registers them in the project."""

    def __init__(self, session: Any, project: Project, report: LoadReport, subject: str = "01",
                 progress: Progress | None = None, register: bool = True) -> None:
        self.session = session
        self.progress = progress  #: sub-range for the current input (set by the caller)
        self.project = project
        self.report = report
        self.subject = subject
        #: add each input to the project (hashing it); False for a caller that drops the
        #: project (``workbench clean``: hashing a 700 MB recording took 0.4 s for nothing)
        self.register = register

    def _register(self, path: Path, kind: str, description: str = "") -> None:
        if self.register:
            try:
                self.project.add_input(path, kind, self.subject, description)
            except InputError as exc:  # e.g. vanished in between: keep the data, report it
                self.report.problems.append(str(exc))
        key = "scalp" if description == _SCALP_DESC else {"sidecar": "bold_json"}.get(kind, kind)
        set_files = getattr(self.session, "set_files", None)
        if set_files is not None and key != "other":
            files = getattr(getattr(self.session, "study", self.session), "files", {})
            if key != "events" or key not in files or "/func/" in str(path).replace("\\", "/"):
                set_files({key: path}, self.subject)

    def eeg(self, path: Path) -> None:
        """The recording (lazy); a header whose signal file is absent opens header-only."""
        from .eeg import read_eeg

        try:
            raw = read_eeg(path, preload=False)
        except InputError:
            hdr = _header_only(path)
            if hdr is None:
                raise
            return self.eeg_header(path, hdr)
        self.session.set_raw(raw)
        self._register(path, "eeg")
        self.report.loaded["eeg"] = str(path)

    def eeg_header(self, path: Path, hdr: Any) -> None:
        """A recording without its signal: channels, rate, duration and markers only.

        Registered as an ``eeg`` input whose description starts with ``header only``
        and ends with the reason (the project tree greys it out); no raw is set.
        """
        reason = header_only_reason(hdr)
        desc = f"{HEADER_ONLY} · {describe_header(hdr)} · {reason}"
        self._register(path, "eeg", desc)
        self.report.loaded["eeg_header"] = str(path)
        self.report.headers["eeg"] = hdr
        self.report.notes.append(f"{path.name}: {desc}")
        logger.info("%s: %s", path, desc)

    def image(self, path: Path, as_kind: str | None = None) -> None:
        from .mri import read_bold, read_image

        if as_kind == "bold" or (as_kind is None and _is_4d(path)):
            img, meta = read_bold(path, progress=self.progress)
            self.session.set_bold(img, meta)
            self._register(path, "bold")
            for sc in meta.get("_sidecars", []):
                if Path(sc).is_file() and Path(sc).parent == path.parent:
                    self._register(Path(sc), "sidecar", "BOLD sidecar")
            self.report.loaded["bold"] = str(path)
        else:
            img = read_image(path, progress=self.progress)
            self.session.set_anat(img)
            self._register(path, "anat")
            self.report.loaded["anat"] = str(path)

    def dig(self, path: Path) -> None:
        from .dig import read_dig

        self.session.set_dig(read_dig(path))
        self._register(path, "dig")
        self.report.loaded["dig"] = str(path)

    def scalp(self, path: Path) -> None:
        from .dig import read_surface

        self.session.set_scalp(read_surface(path))
        self._register(path, "other", _SCALP_DESC)
        self.report.loaded["scalp"] = str(path)

    def trans(self, path: Path, label: str = "head_mri", replace: bool = False) -> None:
        import mne

        try:
            trans = mne.read_trans(path, verbose="error")
        except Exception as exc:  # noqa: BLE001
            raise fail(path, f"not a readable -trans.fif ({type(exc).__name__})") from None
        self.session.set_trans(trans)
        if hasattr(self.session, "set_files"):
            self.session.set_files({"trans": path})
        if replace or label not in self.project.transforms:
            self.project.set_transform(label, path)
        self.report.loaded["trans"] = str(path)

    def truth(self, folder: Path) -> None:
        self.session.set_truth(_load_truth(folder, self.subject))
        self.report.loaded["truth"] = str(folder)

    def fif(self, path: Path) -> None:
        """A FIF file: a -trans.fif, raw EEG, else a surface, else digitisation."""
        import mne

        if re.search(r"[-_]trans\.fif(\.gz)?$", path.name, re.IGNORECASE):
            return self.trans(path, replace=True)  # opened on purpose: it becomes the transform

        try:
            mne.io.read_raw_fif(path, preload=False, verbose="error")
        except Exception:  # noqa: BLE001 - not raw; try the other kinds
            pass
        else:
            return self.eeg(path)
        try:
            return self.scalp(path)
        except InputError:
            pass
        try:
            return self.dig(path)
        except InputError:
            raise fail(path, "FIF file holds no raw EEG, surface or digitisation") from None

    def attempt(self, what: str, fn: Callable[..., None], *args: Any) -> None:
        """Load one input; a failure is recorded and the others still load."""
        try:
            fn(*args)
        except InputError as exc:
            self.report.problems.append(str(exc))
            logger.warning("%s", exc)


# --------------------------------------------------------------------------- header-only EEG
HEADER_ONLY = "header only"
_STATE_WORDS = {"missing": "absent", "empty": "empty (0 bytes)", "truncated": "truncated"}


def _header_only(path: Path) -> Any:
    """The header of a recording whose signal cannot be read, else None.

    A ``.vhdr``/``.set`` whose data file is absent or empty, or a lone ``.vmrk`` (the
    rate then comes from the BIDS ``*_eeg.json`` sidecar when there is one).
    """
    from .eeg import read_eeg_header

    suffix = full_suffix(path)
    if suffix not in (".vhdr", ".set", ".vmrk"):
        return None
    try:
        hdr = read_eeg_header(path, sfreq=_bids_sfreq(path) if suffix == ".vmrk" else None)
    except InputError:
        return None
    if suffix == ".vmrk" or hdr.data_state in ("missing", "empty"):
        return hdr
    return None


def _bids_sfreq(path: Path) -> float | None:
    """``SamplingFrequency`` of a BIDS EEG file's sidecar (own, then inherited)."""
    import json

    stem = path.name.split(".")[0]
    ent = bids_entities(path)
    cands = [path.parent / f"{stem}.json"]
    if "task" in ent:
        for up in list(path.parents)[1:4]:
            cands.append(up / f"task-{ent['task']}_eeg.json")
    for js in cands:
        try:
            value = float(json.loads(js.read_text(encoding="utf-8"))["SamplingFrequency"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if value > 0:
            return value
    return None


def header_only_reason(hdr: Any) -> str:
    """Why a header-only recording shows no signal, e.g. ``signal file absent: x.eeg``."""
    if hdr.data_file is not None and hdr.data_state in _STATE_WORDS:
        return f"signal file {_STATE_WORDS[hdr.data_state]}: {hdr.data_file.name}"
    if hdr.format == "brainvision-markers":
        return f"marker file only: no header or signal beside {hdr.path.name}"
    return "signal not readable"


def describe_header(hdr: Any) -> str:
    """One line: channels, rate, duration and markers of a header (as ``info`` shows)."""
    parts = [f"{hdr.n_channels} ch" if hdr.n_channels else "channels unknown",
             f"{hdr.sfreq:g} Hz" if hdr.sfreq else "rate unknown"]
    ann = hdr.markers
    n = len(ann) if ann is not None else 0
    if hdr.duration is not None:
        parts.append(f"{hdr.duration:.1f} s")
    elif n and hdr.marker_unit == "s":
        parts.append(f"≥ {float(max(ann.onset)):.1f} s (last marker)")
    else:
        parts.append("duration unknown")
    if n:
        from collections import Counter

        top = Counter(str(d) for d in ann.description).most_common(3)
        more = "…" if len(set(ann.description)) > 3 else ""
        parts.append(f"{n} markers (" + ", ".join(f"{k} ×{c}" for k, c in top) + more + ")")
    else:
        parts.append("no markers")
    return " · ".join(parts)


def _is_4d(path: Path) -> bool:
    from .mri import read_image

    img = read_image(path, verify=False)
    return len(img.shape) == 4 and img.shape[3] > 1


def _load_truth(folder: Path, subject: str = "01") -> Any:
    """Ground truth through the phantom's loader when it exists, else its JSON index."""
    try:
        phantom = importlib.import_module("workbench.engine.phantom")
        loader = getattr(phantom, "load_truth", None)
        if loader is None:
            loader = getattr(importlib.import_module("workbench.engine.phantom.truth"), "load_truth", None)
    except ImportError:
        loader = None
    if loader is not None:
        try:
            return loader(folder, subject)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken truth must not stop the data loading
            raise fail(folder, f"ground truth could not be loaded ({type(exc).__name__}: {exc})") from None
    index = folder / "index.json"
    doc = load_json(index, what="ground-truth index", object_required=False)
    if isinstance(doc, dict):
        doc.setdefault("_dir", str(folder))
    return doc


def _clear(session: Any) -> None:
    for setter in ("set_raw", "set_cleaned", "set_anat", "set_dig", "set_scalp", "set_trans", "set_truth"):
        getattr(session, setter)(None)
    session.set_bold(None, {})


def _open_project(session: Any, root: Path, p: Progress, report: LoadReport) -> None:
    proj = Project.load(root)
    report.project = proj
    _clear(session)
    session.set_project(proj)
    ld = _Loader(session, proj, report)
    inputs = list(proj.inputs)
    n = max(len(inputs) + 2, 1)
    for i, item in enumerate(inputs):
        p(i / n, f"loading {item.path}")
        ld.progress = p.sub(i / n, (i + 1) / n)
        path = proj.abspath(item.path)
        ld.subject = item.subject
        if not path.is_file():
            report.problems.append(f"{path}: input of the project is missing")
            continue
        if item.kind == "eeg":
            ld.attempt("eeg", ld.eeg, path)
        elif item.kind == "bold":
            ld.attempt("bold", ld.image, path, "bold")
        elif item.kind == "anat":
            ld.attempt("anat", ld.image, path, "anat")
        elif item.kind == "dig":
            ld.attempt("dig", ld.dig, path)
        elif item.kind == "other" and item.description == _SCALP_DESC:
            ld.attempt("scalp", ld.scalp, path)
    label = "head_mri" if "head_mri" in proj.transforms else next(iter(proj.transforms), None)
    if label is not None:
        p((n - 2) / n, "loading the head<->MRI transform")
        ld.attempt("trans", ld.trans, proj.abspath(proj.transforms[label]), label)
    truth = proj.settings.get("truth_dir")
    if truth and (proj.contained(truth, "settings.truth_dir") / "index.json").is_file():
        ld.attempt("truth", ld.truth, proj.contained(truth, "settings.truth_dir"))
    proj.dirty = False  # loading registered nothing new


def _open_study(session: Any, study: Path, p: Progress, report: LoadReport, subject: str | None) -> None:
    files = find_study_inputs(study, subject)
    sub = files.pop("subject")
    proj = Project(study, name=study.name)
    # every subject of the study is listed (the chosen one is loaded)
    proj.subjects = sorted(p.name[4:] for p in study.glob("sub-*") if p.is_dir())
    report.project = proj
    _clear(session)
    session.set_project(proj)
    ld = _Loader(session, proj, report, sub)
    order = [("eeg", ld.eeg), ("bold", lambda f: ld.image(f, "bold")), ("anat", lambda f: ld.image(f, "anat")),
             ("dig", ld.dig), ("scalp", ld.scalp), ("trans", ld.trans), ("truth", ld.truth)]
    weights = {"eeg": 1, "bold": 6, "anat": 2, "dig": 1, "scalp": 1, "trans": 0.5, "truth": 1}
    total = sum(weights.values())
    done = 0.0
    for key, fn in order:
        p(done / total, f"loading {key}")
        ld.progress = p.sub(done / total, (done + weights[key]) / total)
        done += weights[key]
        if key in files:
            ld.attempt(key, fn, files[key])
    for key in ("events", "eeg_events"):
        if key in files:
            ld._register(files[key], "events")
    if "truth" in files:
        proj.settings["truth_dir"] = str(files["truth"])
    proj.settings["study_dir"] = str(study)
    proj.settings["subject"] = sub


def is_freesurfer_subject(path: Path) -> bool:
    """Whether ``path`` is a FreeSurfer subject folder (``mri/T1.mgz``)."""
    return path.is_dir() and (path / "mri" / "T1.mgz").is_file()


def freesurfer_subjects(path: Path) -> list[str]:
    """The FreeSurfer subjects of a ``SUBJECTS_DIR`` (folders with ``mri/T1.mgz``)."""
    try:
        return sorted(c.name for c in path.iterdir() if is_freesurfer_subject(c))
    except OSError:
        return []


def _open_freesurfer(session: Any, root: Path, p: Progress, report: LoadReport,
                     others: list[str] | None = None) -> None:
    """A FreeSurfer subject folder as anatomy: T1, scalp surface, MRI fiducials."""
    sub = root.name
    proj = Project(root, name=root.name)
    if others:
        proj.subjects = list(others)  # the other subjects of its SUBJECTS_DIR are listed
    report.project = proj
    _clear(session)
    session.set_project(proj)
    ld = _Loader(session, proj, report, sub)
    p(0.0, "loading the T1")
    ld.progress = p.sub(0.0, 0.7)
    ld.attempt("anat", ld.image, root / "mri" / "T1.mgz", "anat")
    p(0.7, "loading the scalp surface")
    scalp = _first(root, (f"bem/{sub}-head.fif", "bem/*-head.fif", "bem/outer_skin.surf",
                          "bem/watershed/*_outer_skin_surface", "surf/lh.seghead", "bem/*-head-*.fif"))
    if scalp is not None:
        ld.attempt("scalp", ld.scalp, scalp)
    fid = _first(root, (f"bem/{sub}-fiducials.fif", "bem/*-fiducials.fif"))
    if fid is not None:
        ld._register(fid, "other", "MRI fiducials (coregistration)")
        if hasattr(session, "set_files"):
            session.set_files({"fiducials": fid}, sub)
        report.loaded["fiducials"] = str(fid)
    proj.settings["subjects_dir"] = str(root.parent)
    proj.settings["fs_subject"] = sub
    proj.settings["subject"] = sub


def _open_file(session: Any, path: Path, p: Progress, report: LoadReport, register: bool = True) -> None:
    check_file(path)
    kind = classify_file(path)
    proj = session.project
    if proj is None:
        proj = Project(path.parent, name=path.parent.name)
        report.project = proj
        session.set_project(proj)
    report.project = proj
    ld = _Loader(session, proj, report, proj.subjects[0] if proj.subjects else "01", p.sub(0.1, 1.0),
                 register=register)
    p(0.1, f"reading {path.name}")
    {"eeg": ld.eeg, "image": ld.image, "dig": ld.dig, "surface": ld.scalp, "fif": ld.fif}[kind](path)


def load_into(
    session: Any,
    path: str | os.PathLike,
    progress: ProgressLike | Progress | None = None,
    *,
    subject: str | None = None,
    register: bool = True,
) -> LoadReport:
    """Open ``path`` into ``session``.

    Parameters
    ----------
    session : Session
        The evented session; its setters are called (on the caller's thread: the GUI
        calls this in a worker only when it marshals the setters to the main thread).
    path : path-like
        A project folder (or its ``project.json``), a BIDS study folder (``sub-*/eeg``,
        ``func``, ``anat``; a ``ground_truth/index.json`` is attached as the truth; every
        subject is listed in the project, one is loaded), a FreeSurfer subject folder
        (``mri/T1.mgz`` as anatomy, ``bem/*-head.fif`` or ``outer_skin.surf`` as the
        scalp, ``bem/*-fiducials.fif`` noted as ``files["fiducials"]``; a ``SUBJECTS_DIR``
        opens its first subject, or ``subject``, and lists the others), or one
        file: EEG (lazy; a header whose signal file is absent or empty opens header-only,
        see :attr:`LoadReport.headers`), NIfTI/MGZ (4D -> BOLD with its TR, else anatomy),
        digitisation, surface (the scalp) or FIF.
    progress : callable | Progress | None
        ``progress(fraction, message)``; cancellable.
    subject : str | None
        Subject of a study to open (default: the first).
    register : bool
        For one file: add it to the (in-memory) project as an input, with its sha256.
        False for a caller that drops the project and needs no provenance of the input
        (``workbench clean``).

    Returns
    -------
    LoadReport
        The project and what was loaded; inputs of a study or project that failed are
        listed in ``problems`` (a single file that fails raises instead).

    Raises
    ------
    InputError
        The path does not exist, is a broken project file (ProjectError), a folder of
        neither kind, or a single file that cannot be read.
    """
    p = as_progress(progress)
    path = Path(path)
    if not path.exists():
        raise fail(path, "not found")
    report = LoadReport(project=session.project)
    if path.is_dir() and (path / PROJECT_FILE).is_file():
        _open_project(session, path, p, report)
    elif path.is_file() and path.name == PROJECT_FILE:
        _open_project(session, path.parent, p, report)
    elif is_freesurfer_subject(path):
        _open_freesurfer(session, path, p, report)
    elif path.is_dir() and not any(path.glob("sub-*")) and freesurfer_subjects(path):
        subs = freesurfer_subjects(path)
        if subject is not None and subject not in subs:
            raise fail(path, f"subject {subject!r} not found; FreeSurfer subjects here: {', '.join(subs)}")
        _open_freesurfer(session, path / (subject or subs[0]), p, report, subs)
    elif path.is_dir():
        if not any(path.glob("sub-*")):
            raise fail(path, "a folder that is neither a project (project.json), a BIDS study (sub-*) "
                       "nor a FreeSurfer subject (mri/T1.mgz)")
        _open_study(session, path, p, report, subject)
    else:
        _open_file(session, path, p, report, register)
    p(1.0, "loaded")
    msg = f"opened {path.name}: " + (", ".join(sorted(report.loaded)) or "nothing loaded")
    for note in report.notes:
        msg += f"; {note}"
    if report.problems:
        msg += f" ({len(report.problems)} problem(s): {report.problems[0]})"
    session.message.emit(msg)
    return report
