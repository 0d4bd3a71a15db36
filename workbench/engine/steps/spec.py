"""The stage contract (DESIGN §2b): one declaration per step, one result shape.

A :class:`StepSpec` declares a step once: its id, title, teaching text, typed
parameters, what it needs from and gives to the :class:`~workbench.engine.study.Study`,
the QC it reports (with units and limits) and ``run(study, params, progress)``. The
runner (:mod:`workbench.engine.runner`) is the only caller of ``run``; GUI forms, CLI
options, ``workbench steps --json``, report sections and replay are generated from
the declaration.

A step's ``run`` computes and returns a :class:`StepResult`. It never writes files
itself (it returns :class:`OutputFile` writers; the runner names them, writes them
atomically and records them), never records provenance, never changes the study (the
runner applies ``result.provides`` after the step succeeded) and never sees the
phantom's ground truth (scorers in :mod:`workbench.engine.phantom.scoring` run after
the step when truth exists).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..progress import Progress
from .params import DeclarationError, Param

__all__ = ["STAGES", "STUDY_KEYS", "QCSpec", "OutputFile", "Figure", "StepResult", "StepSpec"]

#: canonical order of stages (DESIGN §1)
STAGES = ("sync", "gradient", "cardiac", "cleanup", "coreg", "fusion", "results")

#: the keys of a Study a step can require or provide
STUDY_KEYS = (
    "eeg",  # the current EEG (mne Raw): as loaded, or the latest cleaned version
    "bold",  # 4D BOLD (nibabel) with its sidecar metadata
    "anat",  # T1-weighted anatomy (nibabel)
    "events",  # task events (pandas DataFrame, BIDS events.tsv, scanner clock)
    "dig",  # digitised electrodes / fiducials / head-shape points (MNE DigMontage)
    "scalp",  # scalp surface (MRI frame, m)
    "trans",  # head -> MRI transform (mne Transform)
    "sync",  # scanner timeline and clock fit (SyncResult)
    "mask",  # analysis mask (nibabel)
    "forward",  # forward model
    "rpeaks",  # R-peak times (s, EEG clock)
)

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class QCSpec:
    """How one QC value is named, shown and judged.

    Parameters
    ----------
    key : str
        Key in :attr:`StepResult.qc`.
    label : str
        Human name shown in tables ("Drift").
    unit : str
        Unit of the stored value ("ppm", "µV", "mm", "dB", "" for counts/ratios).
    fmt : str
        Format spec for display (``".2f"``, ``"d"``, ``".3g"``).
    warn_above, warn_below : float | None
        Values beyond these are flagged "warn" in views and the report.
    help : str
        What the value means and what is typical (tooltip).
    """

    key: str
    label: str
    unit: str = ""
    fmt: str = ".3g"
    warn_above: float | None = None
    warn_below: float | None = None
    help: str = ""

    def flag(self, value: Any) -> str:
        """``"ok"``, ``"warn"`` or ``""`` (no limits declared / not a number)."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return ""
        if self.warn_above is None and self.warn_below is None:
            return ""
        if not math.isfinite(value):
            return "warn"
        if self.warn_above is not None and value > self.warn_above:
            return "warn"
        if self.warn_below is not None and value < self.warn_below:
            return "warn"
        return "ok"

    def format(self, value: Any) -> str:
        """The value for display with its unit (lists and text as they are)."""
        return format_value(value, self.fmt, self.unit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "format": self.fmt,
            "warn_above": self.warn_above,
            "warn_below": self.warn_below,
            "help": self.help,
        }


def format_value(value: Any, fmt: str = ".3g", unit: str = "") -> str:
    """A QC or parameter value for people: rounded numbers, units, lists shortened."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        text = f"{value:d}" if fmt in ("d", ".0f") else f"{value:,}".replace(",", " ")
    elif isinstance(value, float):
        if not math.isfinite(value):
            return "not measurable"
        try:
            text = format(value, fmt)
        except ValueError:
            text = f"{value:.3g}"
    elif isinstance(value, list | tuple) and not value:
        text = "none"
    elif isinstance(value, list | tuple):
        shown = [format_value(v, fmt) for v in value[:6]]
        text = ", ".join(shown) + (f", … ({len(value)} in all)" if len(value) > 6 else "")
        if len(value) == 2 and all(isinstance(v, int | float) for v in value):
            text = f"{shown[0]} – {shown[1]}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit else text


@dataclass
class OutputFile:
    """A file (or folder) a step produces; the runner names and writes it atomically.

    Parameters
    ----------
    desc : str
        BIDS-derivative ``desc-`` label (``"gradclean"``).
    suffix : str
        BIDS suffix (``"eeg"``, ``"qc"``, ``"trans"``).
    ext : str
        Extension with the dot (``".fif"``, ``".json"``); ``""`` for a folder.
    write : callable
        ``write(path)`` writes the file (or fills the folder) at ``path``, a temporary
        location the runner renames into place once every output of the step is written.
    role : str
        What the file is to other steps and views (``"eeg"``, ``"trans"``, ``"qc"``...).
    name : str | None
        A fixed relative name instead of the BIDS-derivative one (e.g. ``"fusion/<id>"``).
    """

    desc: str
    suffix: str
    ext: str
    write: Callable[[Path], Any]
    role: str = ""
    name: str | None = None

    @property
    def is_folder(self) -> bool:
        return self.ext == ""


@dataclass
class Figure:
    """A report figure, made only when a report is written (``make() -> matplotlib Figure``)."""

    title: str
    make: Callable[[], Any]
    caption: str = ""


@dataclass
class StepResult:
    """What a step returns to the runner.

    Attributes
    ----------
    qc : dict
        Scalar QC values (JSON-serialisable), described by the step's ``qc`` specs.
    provides : dict
        New values for study keys (``{"eeg": cleaned_raw, "sync": sync_result}``), applied
        by the runner after the step succeeded; must match the step's ``provides``.
    files : list of OutputFile
        Files to write (named and written by the runner).
    figures : list of Figure
        Report figures (made lazily).
    tables : dict
        Extra report tables ``{title: {row: text}}``.
    details : dict
        Rich in-memory results for views and scorers (a ``GradientResult``, a ``Coreg``,
        a ``FusionResult``); not serialised.
    messages : list of str
        Warnings and notes for the user (shown in the log and the report).
    """

    qc: dict[str, Any] = field(default_factory=dict)
    provides: dict[str, Any] = field(default_factory=dict)
    files: list[OutputFile] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    #: filled by the runner: QC from the phantom's truth, written paths, parameters used
    truth_qc: dict[str, Any] = field(default_factory=dict)
    written: dict[str, Path] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    step: str = ""


RunFn = Callable[[Any, dict[str, Any], Progress], StepResult]


@dataclass(frozen=True)
class StepSpec:
    """The one declaration of a step (built-in stage or fusion plugin).

    Parameters
    ----------
    id : str
        Stable id (``"gradient"``, ``"parametric-modulation"``): provenance name, CLI name.
    title : str
        Human title.
    stage : str
        One of :data:`STAGES` (orders the pipeline).
    teaching : str
        "What is happening here": a paragraph for the GUI, the report and lessons.
    params : tuple of Param
        Typed parameters; their defaults are the step's defaults everywhere.
    requires : tuple of str
        Study keys (:data:`STUDY_KEYS`) the step cannot run without.
    provides : tuple of str
        Study keys the step's result replaces.
    run : callable
        ``run(study, params, progress) -> StepResult``; ``params`` are validated values of
        every declared parameter.
    qc : tuple of QCSpec
        QC values worth a label, a unit and limits (others are shown by key).
    optional : tuple of str
        Study keys used when present.
    in_demo : bool
        Whether the headless demo runs it.
    order : float
        Sort key within the stage.
    label : str
        A short name for narrow places (the pipeline bar on a small screen); empty: the
        title, shortened.
    origin : str
        ``"built-in"`` or the plugin's distribution, for ``workbench steps``.
    """

    id: str
    title: str
    stage: str
    teaching: str
    params: tuple[Param, ...]
    requires: tuple[str, ...]
    provides: tuple[str, ...]
    run: RunFn
    qc: tuple[QCSpec, ...] = ()
    optional: tuple[str, ...] = ()
    in_demo: bool = True
    order: float = 0.0
    label: str = ""
    origin: str = "built-in"
    available: bool = True
    unavailable_reason: str = ""
    #: names of files the step reads itself (``study.extra_files``), hashed into the provenance
    file_inputs: tuple[str, ...] = ()

    def check(self) -> None:
        """Raise :class:`DeclarationError` naming the first problem of the declaration."""
        if not _ID_RE.match(self.id):
            raise DeclarationError(f"step id {self.id!r} must be lower-case words joined by dashes")
        if self.stage not in STAGES:
            raise DeclarationError(f"step {self.id}: stage {self.stage!r} not in {STAGES}")
        for key in (*self.requires, *self.provides, *self.optional):
            if key not in STUDY_KEYS:
                raise DeclarationError(f"step {self.id}: unknown study key {key!r}; known: {STUDY_KEYS}")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise DeclarationError(f"step {self.id}: duplicate parameter names")
        for p in self.params:
            p.check_declaration()

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        """Default values of every parameter."""
        return {p.name: p.default for p in self.params}

    def validate(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every declared parameter's value: defaults overridden by ``given``, each checked.

        Raises
        ------
        InputError
            Unknown names (listing the known ones), parameters given as something other
            than a mapping, or a bad value.
        """
        from .params import validate_values

        return validate_values(self.params, given, f"step {self.id!r}")

    def qc_spec(self, key: str) -> QCSpec | None:
        for q in self.qc:
            if q.key == key:
                return q
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``workbench steps --json``)."""
        return {
            "id": self.id,
            "title": self.title,
            "stage": self.stage,
            "teaching": self.teaching,
            "params": [p.to_dict() for p in self.params],
            "requires": list(self.requires),
            "optional": list(self.optional),
            "provides": list(self.provides),
            "qc": [q.to_dict() for q in self.qc],
            "in_demo": self.in_demo,
            "origin": self.origin,
            "available": self.available,
            "unavailable_reason": self.unavailable_reason,
            "file_inputs": list(self.file_inputs),
        }
