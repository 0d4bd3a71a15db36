"""Headless pipeline runner: load a study, run registered steps, write the report.

The same engine calls the GUI makes are run here in pipeline order (DESIGN §1) on a
:class:`~workbench.engine.pipeline.StepContext`. Each step records itself in the
project's provenance; :func:`replay_project` re-runs a project's recorded steps with
their recorded parameters, which is how ``workbench run`` reproduces the numbers.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Cancelled, InputError, WorkbenchError
from .pipeline import StepContext, available_steps, get_step
from .progress import Progress, as_progress
from .project import Project

logger = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    """What happened to one step in a run."""

    name: str
    status: str  #: "done" or "failed"
    qc: dict[str, Any] = field(default_factory=dict)
    message: str = ""


def load_state(study_dir: str | os.PathLike, subject: str | None = None,
               progress: Progress | None = None) -> dict[str, Any]:
    """Load a study into the ``ctx.state`` dict the steps use.

    The loading goes through :func:`workbench.engine.io.open.load_into`, the same code
    the GUI uses to open a study, so headless and GUI runs start from the same data.
    """
    from .io.open import find_study_inputs, load_into
    from .session import Session

    p = as_progress(progress)
    if not Path(study_dir).is_dir():
        raise InputError(study_dir, "study folder not found")
    files = find_study_inputs(study_dir, subject)
    session = Session()
    load_into(session, Path(study_dir), progress=p, subject=subject)
    state: dict[str, Any] = {
        "study_dir": Path(study_dir),
        "subject": str(files.pop("subject")),
        "files": files,
        "raw": session.raw,
        "raw_path": files.get("eeg"),
        "bold": session.bold,
        "bold_path": files.get("bold"),
        "bold_meta": dict(session.bold_meta),
        "anat": session.anat,
        "anat_path": files.get("anat"),
        "events_path": files.get("events"),
        "dig": session.dig,
        "scalp": session.scalp,
        "trans": session.trans,
        "truth": session.truth,
    }
    return state


def _call_step(spec: Any, ctx: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """Call a step with the parameters its ``run`` accepts (unknown keys are reported)."""
    sig = inspect.signature(spec.run)
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    if not takes_kwargs:
        unknown = sorted(set(params) - set(sig.parameters))
        if unknown:
            logger.warning("step %s: ignoring recorded parameters it does not take: %s", spec.name, unknown)
            params = {k: v for k, v in params.items() if k in sig.parameters}
    return spec.run(ctx, **params) or {}


def run_steps(
    ctx: StepContext,
    steps: Iterable[tuple[str, dict[str, Any]]],
    progress: Progress | None = None,
    stop_on_error: bool = False,
) -> list[StepOutcome]:
    """Run named steps in order; a failing step is reported and the run goes on.

    A step that raises a :class:`WorkbenchError` is recorded as failed (with its
    one-line message) in the project and the report; :class:`Cancelled` stops the run.
    """
    steps = list(steps)
    p = as_progress(progress)
    outcomes = []
    for i, (name, params) in enumerate(steps):
        spec = get_step(name)
        sub = p.sub(i / max(len(steps), 1), (i + 1) / max(len(steps), 1))
        sub(0.0, f"{spec.title or name}")
        ctx.progress = sub
        try:
            qc = _call_step(spec, ctx, dict(params))
            outcomes.append(StepOutcome(name, "done", qc))
        except Cancelled:
            raise
        except WorkbenchError as exc:
            logger.error("step %s failed: %s", name, exc)
            ctx.project.record_step(name, params, status="failed", message=str(exc))
            report = ctx.state.get("report")
            if report is not None:
                from .report import add_text

                add_text(report, f"{name}: failed", str(exc), section=spec.title or name)
            outcomes.append(StepOutcome(name, "failed", {}, str(exc)))
            if stop_on_error:
                raise
        sub(1.0, f"{spec.title or name} done")
    return outcomes


def demo_steps() -> list[tuple[str, dict[str, Any]]]:
    """Every registered step that runs in the demo, in pipeline order, with defaults."""
    return [(s.name, dict(s.defaults)) for s in available_steps() if s.in_demo and s.name != "load"]


_TIMING_WORDS = ("seconds", "elapsed", "wall", "runtime")


def _is_timing_key(key: str) -> bool:
    """True for QC keys that hold wall-clock timings (they differ between runs)."""
    return any(w in key.lower() for w in _TIMING_WORDS)


def replay_project(
    project_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    progress: Progress | None = None,
) -> tuple[Project, list[StepOutcome], list[tuple[str, str, Any, Any]]]:
    """Re-run a project's recorded steps into a new project folder.

    Returns the new project, the outcomes, and a list of differences
    ``(step, metric, recorded, replayed)`` for numeric QC values that differ by more
    than 1e-9 relative.
    """
    from .report import new_report, save_report

    src = Project.load(project_dir)
    study = src.settings.get("study_dir")
    if not study:
        raise InputError(Path(project_dir) / "project.json",
                         "this project records no study folder (settings.study_dir); nothing to replay")
    study_path = src.abspath(study)
    out = Path(out_dir)
    if out.resolve() == src.root.resolve():
        raise InputError(out, "replay into a different folder than the project itself")
    p = as_progress(progress)
    new = Project(out, name=f"{src.name} (replay)")
    new.settings = dict(src.settings)
    new.settings["study_dir"] = os.path.relpath(study_path, out) if not Path(study).is_absolute() else study
    state = load_state(study_path, progress=p.sub(0.0, 0.1))
    state["report"] = new_report(f"Replay of {src.name}")
    ctx = StepContext(project=new, out_dir=out / "derivatives", state=state)
    recorded = [(s.name, s.params) for s in src.steps if s.status == "done" and s.name != "load"]
    outcomes = run_steps(ctx, recorded, p.sub(0.1, 0.95))
    diffs = []
    for (name, _), outcome in zip(recorded, outcomes):
        old = next((s.qc for s in src.steps if s.name == name and s.status == "done"), {})
        for key, val in old.items():
            if _is_timing_key(key):
                continue  # wall-clock timings are measurements of the machine, not results
            new_val = outcome.qc.get(key)
            if isinstance(val, (int, float)) and isinstance(new_val, (int, float)):
                if abs(val - new_val) > 1e-9 * max(abs(val), abs(new_val), 1e-30):
                    diffs.append((name, key, val, new_val))
    save_report(state["report"], out / "report.html")
    new.save()
    p(1.0, "replay done")
    return new, outcomes, diffs
