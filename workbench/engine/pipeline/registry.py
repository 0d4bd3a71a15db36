"""Registry of pipeline steps (Qt-free)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..progress import Progress

#: canonical order of stages (DESIGN §1); unknown names sort last
STAGE_ORDER = ("load", "sync", "gradient", "cardiac", "cleanup", "coreg", "fusion", "results")


@dataclass
class StepContext:
    """What a step receives: the project, where to write, and shared state.

    Attributes
    ----------
    project : Project
        The project the step records itself into.
    out_dir : Path
        Folder for derivatives of this run.
    state : dict
        Objects passed between steps in one run (e.g. ``"raw"`` the current EEG,
        ``"truth"`` the phantom ground truth, ``"report"`` an ``mne.Report``).
    progress : Progress
        Progress/cancel for the step.
    """

    project: Any
    out_dir: Path
    state: dict[str, Any] = field(default_factory=dict)
    progress: Progress = field(default_factory=Progress)


@dataclass
class StepSpec:
    """A registered step.

    Attributes
    ----------
    name : str
        Provenance name (e.g. ``"gradient"``).
    stage : str
        One of :data:`STAGE_ORDER`.
    run : callable
        ``run(ctx, **params) -> dict`` of QC metrics; records itself in the project.
    title, help : str
        Shown in the pipeline bar and the teaching text.
    in_demo : bool
        Whether ``workbench demo --headless`` runs it.
    order : float
        Sort key within a stage.
    """

    name: str
    stage: str
    run: Callable[..., dict[str, Any]]
    title: str = ""
    help: str = ""
    in_demo: bool = True
    order: float = 0.0
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, StepSpec] = {}
_DISCOVERED = False


def register_step(spec: StepSpec) -> StepSpec:
    """Register (or replace) a step."""
    _REGISTRY[spec.name] = spec
    return spec


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    pkg = importlib.import_module(__package__)
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("step_"):
            importlib.import_module(f"{__package__}.{mod.name}")


def available_steps() -> list[StepSpec]:
    """All registered steps in pipeline order."""
    _discover()

    def key(s: StepSpec) -> tuple[int, float, str]:
        idx = STAGE_ORDER.index(s.stage) if s.stage in STAGE_ORDER else len(STAGE_ORDER)
        return (idx, s.order, s.name)

    return sorted(_REGISTRY.values(), key=key)


def get_step(name: str) -> StepSpec:
    """The step of that name, or a clear error listing the known ones."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(s.name for s in available_steps()) or "none"
        raise InputError(None, f"unknown pipeline step {name!r}; known steps: {known}") from None
