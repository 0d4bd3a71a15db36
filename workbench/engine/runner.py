"""The one runner (DESIGN §2b): every step, from any entry point, runs here.

:class:`Runner` validates a whole plan before anything runs (known steps, valid
parameters, required study keys available), runs each step's declared ``run`` on the
:class:`~workbench.engine.study.Study`, writes the step's files atomically under
BIDS-derivative names, applies what the step provides to the study, scores the step
against the phantom's ground truth when the study has one, adds the step's report
section and records provenance (parameters actually used, input hashes including
companion files, outputs, library versions, QC). The GUI's Run buttons, every CLI
command, ``workbench run`` (replay) and the headless demo go through it, so the same
step with the same parameters gives the same numbers and the same record everywhere.

The runner never discovers plugins itself: callers hand it the step catalogue
(built-in steps plus the plugins found by :mod:`workbench.plugin_api`).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Cancelled, InputError, WorkbenchError
from .outputs import check_outputs, companions, split_parts
from .progress import Progress, ProgressLike, as_progress
from .project import Project
from .steps.spec import STAGES, StepResult, StepSpec
from .study import Study

logger = logging.getLogger(__name__)

__all__ = ["Runner", "StepOutcome", "PlannedStep", "replay_project", "derivative_name", "companions",
           "compare_qc", "plan_from_json"]


@dataclass
class PlannedStep:
    """A step of a validated plan: its declaration and every parameter's value."""

    spec: StepSpec
    params: dict[str, Any]


@dataclass
class StepOutcome:
    """What happened to one step of a run."""

    name: str
    status: str  #: "done", "failed" or "cancelled"
    qc: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    result: StepResult | None = None


def derivative_name(raw_path: Any, desc: str, suffix: str, ext: str, subject: str = "01") -> str:
    """BIDS-derivative file name ``<entities>_desc-<desc>_<suffix><ext>`` from the EEG file name."""
    stem = Path(str(raw_path)).name if raw_path else f"sub-{subject}_eeg"
    for e in (".vhdr", ".fif.gz", ".fif", ".edf", ".bdf", ".set", ".nii.gz", ".nii"):
        if stem.endswith(e):
            stem = stem[: -len(e)]
    for s in ("_eeg", "_bold", "_T1w", "_electrodes"):
        if stem.endswith(s):
            stem = stem[: -len(s)]
    if "_desc-" in stem:  # a derivative of a derivative keeps the entities, not the old desc
        stem = stem.split("_desc-")[0]
    return f"{stem}_desc-{desc}_{suffix}{ext}"


#: study keys -> the input file kinds they come from
_KEY_FILES = {"eeg": ("eeg",), "bold": ("bold",), "anat": ("anat",), "events": ("events",),
              "dig": ("dig",), "scalp": ("scalp",), "trans": ("trans",)}


class Runner:
    """Runs steps on a study and owns everything around them.

    Parameters
    ----------
    study : Study
        The open study (changed by the runner only: what steps provide).
    catalog : mapping or iterable of StepSpec
        The steps that exist (built-in plus plugins), by id.
    out_dir : path-like
        Folder for derivatives (BIDS-derivative names).
    project : Project | None
        Where provenance is recorded (default: the study's project).
    report : mne.Report | None
        Report to add each step's section to.
    folders : dict | None
        Step id -> folder for that step's folder outputs (``workbench fuse --out DIR``).
    score : bool
        Score steps against the study's ground truth when it has one.
    write_files : bool
        Write the steps' derivatives (``workbench clean`` writes only its OUT file).
    """

    def __init__(
        self,
        study: Study,
        catalog: Mapping[str, StepSpec] | Iterable[StepSpec],
        out_dir: str | os.PathLike,
        project: Project | None = None,
        report: Any = None,
        folders: Mapping[str, str | os.PathLike] | None = None,
        score: bool = True,
        write_files: bool = True,
    ) -> None:
        self.study = study
        self.catalog: dict[str, StepSpec] = (
            dict(catalog) if isinstance(catalog, Mapping) else {s.id: s for s in catalog}
        )
        self.out_dir = Path(out_dir)
        self.project = project if project is not None else study.project
        self.report = report
        self.folders = {k: Path(v) for k, v in (folders or {}).items()}
        self.score = score
        self.write_files = write_files

    # ------------------------------------------------------------------ planning
    def get(self, step_id: str) -> StepSpec:
        """The declaration of a step, or a one-line error listing the known ones."""
        try:
            spec = self.catalog[step_id]
        except KeyError:
            known = ", ".join(sorted(self.catalog)) or "none"
            raise InputError(None, f"unknown step {step_id!r}; steps that exist: {known}") from None
        if not spec.available:
            raise InputError(None, f"step {step_id!r} is not available: {spec.unavailable_reason}")
        return spec

    def plan(self, steps: Iterable[tuple[str, Mapping[str, Any] | None]]) -> list[PlannedStep]:
        """Validate a whole plan before anything runs.

        Every step must exist and be available, its parameters must be valid, and every
        study key it requires must be in the study or provided by an earlier step.

        Raises
        ------
        InputError
            Naming the first step that cannot run and why; nothing has run or been written.
        """
        plan: list[PlannedStep] = []
        have = {k for k in ("eeg", "bold", "anat", "events", "dig", "scalp", "trans", "sync", "mask",
                            "forward", "rpeaks") if self.study.has(k)}
        for i, item in enumerate(steps):
            if not isinstance(item, tuple | list) or len(item) != 2 or not isinstance(item[0], str):
                raise InputError(None, f"step {i + 1} of the plan must be (id, params)")
            step_id, params = item
            spec = self.get(step_id)
            try:
                values = spec.validate(params)
            except InputError as exc:
                raise InputError(None, f"step {step_id!r}: {exc.args[0] if exc.args else exc}") from None
            missing = [k for k in spec.requires if k not in have]
            if missing:
                raise InputError(None, f"step {step_id!r} needs {', '.join(missing)}, which the study "
                                       f"does not have{_how_to_get(missing)}")
            have.update(spec.provides)
            plan.append(PlannedStep(spec, values))
        return plan

    # ------------------------------------------------------------------ running
    def run(
        self,
        steps: Iterable[tuple[str, Mapping[str, Any] | None]],
        progress: ProgressLike | None = None,
        stop_on_error: bool = False,
    ) -> list[StepOutcome]:
        """Validate, then run every step in order.

        A step that fails with a :class:`WorkbenchError` is recorded as failed (one line)
        and the run goes on, unless ``stop_on_error``; :class:`Cancelled` stops the run
        and leaves no half-written file.
        """
        plan = self.plan(list(steps))
        p = as_progress(progress)
        outcomes: list[StepOutcome] = []
        n = max(len(plan), 1)
        for i, planned in enumerate(plan):
            sub = p.sub(i / n, (i + 1) / n)
            missing = [k for k in planned.spec.requires if not self.study.has(k)]
            if missing:  # an earlier step that should have provided it failed
                msg = f"skipped: needs {', '.join(missing)} (an earlier step failed)"
                outcomes.append(StepOutcome(planned.spec.id, "failed", {}, msg))
                self._record_failure(planned, msg)
                continue
            try:
                result = self._run_one(planned, sub)
                outcomes.append(StepOutcome(planned.spec.id, "done", self._all_qc(result), "", result))
            except Cancelled:
                self._record_failure(planned, "cancelled by the user", status="cancelled")
                raise
            except WorkbenchError as exc:
                logger.error("step %s failed: %s", planned.spec.id, exc)
                self._record_failure(planned, str(exc))
                outcomes.append(StepOutcome(planned.spec.id, "failed", {}, str(exc)))
                if stop_on_error:
                    raise
        return outcomes

    def run_step(self, step_id: str, params: Mapping[str, Any] | None = None,
                 progress: ProgressLike | None = None) -> StepResult:
        """Run one step (validated like a plan); errors propagate to the caller."""
        planned = self.plan([(step_id, params)])[0]
        try:
            return self._run_one(planned, as_progress(progress))
        except Cancelled:
            self._record_failure(planned, "cancelled by the user", status="cancelled")
            raise
        except WorkbenchError as exc:
            self._record_failure(planned, str(exc))
            raise

    def _run_one(self, planned: PlannedStep, p: Progress) -> StepResult:
        # A step that changes the EEG and has a version in the history (run again with other
        # parameters: Apply in a view, a second run in a plan, a replay of both) starts from
        # the EEG before that version; it and the versions made from it leave the history
        # once the new run has succeeded, and stay if it fails or is cancelled.
        dropped: list[Any] = []
        if "eeg" in planned.spec.provides:
            dropped = self.study.truncate_history(planned.spec.id)
        note = ""
        if dropped:
            later = [v.step for v in dropped[1:]]
            note = (f"replaces the previous {planned.spec.id} run (started from the EEG before it)"
                    + (f"; {', '.join(later)} made from it {'was' if len(later) == 1 else 'were'} dropped: "
                       "run again" if later else ""))
        try:
            return self._run_one_step(planned, p, note)
        except BaseException:
            self.study.history.extend(dropped)
            raise

    def _run_one_step(self, planned: PlannedStep, p: Progress, note: str = "") -> StepResult:
        spec, params = planned.spec, planned.params
        started = _now()
        t0 = time.perf_counter()
        p(0.0, spec.title)
        result = spec.run(self.study, dict(params), p.sub(0.0, 0.85))
        if not isinstance(result, StepResult):
            raise WorkbenchError(f"step {spec.id!r} returned {type(result).__name__}, not a StepResult")
        unknown = sorted(set(result.provides) - set(spec.provides))
        if unknown:
            raise WorkbenchError(f"step {spec.id!r} provided undeclared study keys {unknown}")
        _check_finite(spec.id, result.qc)
        result.step, result.params = spec.id, dict(params)
        p.check()
        p(0.86, f"{spec.title}: writing")
        inputs = self._input_files(spec)
        result.written = self._write(spec, result, inputs, p)
        # the study changes only now, after the step and its files succeeded; from here on
        # the step is done and a late Cancel is not raised (it would leave files and a
        # changed study recorded as cancelled)
        for key, value in result.provides.items():
            self.study.provide(key, value, spec.id, result.written.get(key))
        self.study.results[spec.id] = result
        self.study.derivatives.update({f"{spec.id}/{k}": v for k, v in result.written.items()})
        if self.score and self.study.truth is not None:
            from .phantom.scoring import score_step

            try:
                result.truth_qc = score_step(spec.id, self.study, result)
            except WorkbenchError as exc:
                result.messages.append(f"not scored against the truth: {exc}")
        elapsed = time.perf_counter() - t0
        if self.report is not None:
            _say(p, 0.92, f"{spec.title}: report")
            self._report(spec, result)
        if note:  # in the provenance too: the record says this run replaced an earlier one
            result.messages.append(note)
        if self.project is not None:
            self.project.record_step(
                spec.id, params, inputs=inputs, outputs=list(result.written.values()),
                qc={**self._all_qc(result), "seconds": round(elapsed, 3)}, started=started,
                message="; ".join(result.messages),
            )
            if "trans" in result.written and hasattr(self.project, "set_transform"):
                self.project.set_transform("head_mri", result.written["trans"])
        for msg in result.messages:
            (logger.warning if msg == note and "dropped" in note else logger.info)("%s: %s", spec.id, msg)
        _say(p, 1.0, f"{spec.title}: done")
        return result

    @staticmethod
    def _all_qc(result: StepResult) -> dict[str, Any]:
        return {**result.qc, **result.truth_qc}

    def _record_failure(self, planned: PlannedStep, message: str, status: str = "failed") -> None:
        if self.project is not None:
            self.project.record_step(planned.spec.id, planned.params, status=status, message=message)
        if self.report is not None:
            from .report import add_text

            add_text(self.report, f"{planned.spec.title}: {status}", message, section=planned.spec.title)

    # ------------------------------------------------------------------ files
    def _input_files(self, spec: StepSpec) -> list[Path]:
        """The files this step read: its required and used study keys' files, with companions."""
        files: list[Path] = []
        for key in (*spec.requires, *spec.optional):
            if key == "eeg" and self.study.history and self.study.history[-1].path is not None:
                paths = [self.study.history[-1].path]
            else:
                paths = [self.study.files[k] for k in _KEY_FILES.get(key, ()) if self.study.files.get(k)]
            for path in paths:
                for c in companions(path):
                    if c.is_file() and c not in files:
                        files.append(c)
        for name in spec.file_inputs:
            for path in self.study.extra_files.get(name, []):
                for c in companions(path):
                    if c.is_file() and c not in files:
                        files.append(c)
        return files

    def folder_for(self, spec: StepSpec) -> Path:
        """Where a step's folder outputs go."""
        return self.folders.get(spec.id, self.out_dir / spec.stage / spec.id)

    def _target(self, spec: StepSpec, f: Any) -> Path:
        if f.is_folder:
            return self.folder_for(spec) if f.name is None else self.out_dir / f.name
        if f.name is not None:
            return self.out_dir / f.name
        return self.out_dir / derivative_name(self.study.eeg_path, f.desc, f.suffix, f.ext, self.study.subject)

    def _write(self, spec: StepSpec, result: StepResult, inputs: Sequence[Path],
               progress: Progress | None = None) -> dict[str, Path]:
        """Write every output of a step into a temporary folder, then move them all into place.

        A Cancel that arrives while the files are written is honoured before the first one is
        moved into place: nothing is left behind (the temporary folder is removed).
        """
        if not result.files or not self.write_files:
            return {}
        targets = [self._target(spec, f) for f in result.files]
        study_inputs = [p for p in self.study.files.values() if p]
        study_inputs += [p for paths in self.study.extra_files.values() for p in paths]
        check_outputs([t for t in targets if not t.is_dir()], [*study_inputs, *inputs])
        protected = {c.resolve() for p in [*study_inputs, *inputs] for c in companions(p)}
        for t in targets:
            if t.is_dir() and any(q.is_relative_to(t.resolve()) for q in protected):
                raise InputError(t, "would replace a folder holding inputs of the study; inputs are never overwritten")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.id}-", dir=self.out_dir))
        moves: list[tuple[Path, Path]] = []
        try:
            for i, (f, target) in enumerate(zip(result.files, targets)):
                stage = tmp / str(i)
                stage.mkdir()
                dest = stage / target.name  # writers that check names (MNE) see the real one
                if f.is_folder:
                    dest.mkdir()
                    f.write(dest)
                    moves.append((dest, target))
                else:
                    f.write(dest)
                    # a file and the companions its writer made beside it (.vmrk/.eeg, coordsystem.json)
                    moves += [(c, target.parent / c.name) for c in sorted(stage.iterdir())]
            for _src, target in moves:
                if target.resolve() in protected:
                    raise InputError(target, "would overwrite an input of the study; inputs are never overwritten")
            if progress is not None:
                progress.check()  # the last point where a Cancel leaves nothing behind
            new_names = {t for _, t in moves}
            for src, target in moves:  # commit: each rename is atomic
                target.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir() and target.exists():
                    shutil.rmtree(target)
                os.replace(src, target)
            for target in targets:  # parts of an earlier, longer split FIF at the same name
                for part in split_parts(target):
                    if part not in new_names:
                        part.unlink(missing_ok=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        out: dict[str, Path] = {}
        for f, target in zip(result.files, targets):
            out[f.role or f"{f.desc}_{f.suffix}"] = target
        extra = [t for _, t in moves if t not in out.values()]
        for k, t in enumerate(extra):
            out[f"companion{k}:{t.name}"] = t
        return out

    # ------------------------------------------------------------------ report
    def _report(self, spec: StepSpec, result: StepResult) -> None:
        from .report import add_figure, add_qc_table, add_text

        sec = spec.title
        add_text(self.report, spec.title, spec.teaching, section=sec)
        from .steps.spec import format_value

        shown = {p.display: (p.none_label if result.params.get(p.name) is None
                             else format_value(result.params.get(p.name), ".4g", p.unit))
                 for p in spec.params}
        add_qc_table(self.report, f"{spec.title}: parameters", shown, section=sec)
        add_qc_table(self.report, f"{spec.title}: QC", format_qc(spec, result.qc), section=sec,
                     caption="; ".join(result.messages))
        if result.truth_qc:
            add_qc_table(self.report, f"{spec.title}: against the phantom's truth",
                         format_qc(spec, result.truth_qc), section=sec)
        for title, rows in result.tables.items():
            add_qc_table(self.report, title, rows, section=sec)
        for fig in result.figures:
            try:
                made = fig.make()
            except WorkbenchError as exc:
                result.messages.append(f"figure {fig.title!r} not drawn: {exc}")
                continue
            add_figure(self.report, made, fig.title, section=sec, caption=fig.caption or None)


def format_qc(spec: StepSpec, qc: Mapping[str, Any]) -> dict[str, str]:
    """QC values for people: declared label, unit, rounding and a pass/warn flag."""
    from .steps.spec import format_value

    out: dict[str, str] = {}
    for key, value in qc.items():
        if isinstance(value, dict):
            continue
        q = spec.qc_spec(key)
        if q is None:
            out[key] = format_value(value)
            continue
        flag = q.flag(value)
        out[q.label] = q.format(value) + ("  ⚠ check" if flag == "warn" else "  ✓" if flag == "ok" else "")
    return out


def _say(p: Progress, fraction: float, message: str) -> None:
    """Report progress after a step's commit point, where a Cancel can no longer undo it."""
    try:
        p(fraction, message)
    except Cancelled:
        pass


def _check_finite(step_id: str, qc: Mapping[str, Any]) -> None:
    """NaN or infinite QC never reaches a result: the step must say 'not measurable' itself."""
    for key, value in qc.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise WorkbenchError(f"step {step_id!r}: QC value {key!r} is {value} (not measurable); "
                                 f"the result is refused")


def _how_to_get(keys: Sequence[str]) -> str:
    hints = {"eeg": "open an EEG recording", "bold": "open a 4D BOLD series", "anat": "open a T1",
             "events": "add a BIDS events.tsv", "dig": "open a digitisation file",
             "trans": "run coregistration or open a -trans.fif", "sync": "run the sync step",
             "rpeaks": "run the cardiac step"}
    said = [hints[k] for k in keys if k in hints]
    return f" ({'; '.join(said)} first)" if said else ""


def _now() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- replay
_TIMING_WORDS = ("seconds", "elapsed", "wall", "runtime")


def _is_timing_key(key: str) -> bool:
    """True for QC keys that hold wall-clock timings (they differ between runs)."""
    return any(w in key.lower() for w in _TIMING_WORDS)


def compare_qc(recorded: Mapping[str, Any], replayed: Mapping[str, Any], rtol: float = 1e-9) -> list[tuple[str, Any, Any]]:
    """Differences ``(key, recorded, replayed)`` between two QC records.

    A key recorded but missing from the replay is a difference (a vanished QC number is
    not a reproduction); numbers are compared to ``rtol``, everything else exactly.
    Wall-clock timings are skipped.
    """
    diffs = []
    for key, old in recorded.items():
        if _is_timing_key(key):
            continue
        if key not in replayed:
            diffs.append((key, old, "<missing>"))
            continue
        new = replayed[key]
        if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
            if abs(old - new) > rtol * max(abs(old), abs(new), 1e-30):
                diffs.append((key, old, new))
        elif old != new and _jsonish(old) != _jsonish(new):
            diffs.append((key, old, new))
    return diffs


def _jsonish(v: Any) -> Any:
    import json

    from .project import _jsonable

    return json.loads(json.dumps(_jsonable(v)))


def plan_from_json(doc: Any, source: Any = None) -> list[tuple[str, dict[str, Any]]]:
    """The ``steps`` of a pipeline JSON (``[{"name"|"id": ..., "params": {...}}, ...]``)."""
    steps = doc.get("steps", []) if isinstance(doc, dict) else None
    if not isinstance(steps, list):
        raise InputError(source, 'a pipeline needs {"steps": [...]}')
    out = []
    for i, s in enumerate(steps):
        if isinstance(s, str):
            out.append((s, {}))
        elif isinstance(s, dict) and isinstance(s.get("id", s.get("name")), str):
            params = s.get("params", {})
            if not isinstance(params, dict):
                raise InputError(source, f"step {i + 1}: params must be an object of name: value")
            out.append((s.get("id", s.get("name")), dict(params)))
        else:
            raise InputError(source, f'step {i + 1} must be a name or {{"id": ..., "params": {{...}}}}')
    return out


def pipeline_from_records(records: Sequence[Any], catalog: Mapping[str, StepSpec]) -> list[dict[str, Any]]:
    """The pipeline a project's provenance stands for: ``[{"id": ..., "params": {...}}, ...]``.

    Failed and cancelled runs are left out; a step run again counts once, with its last
    parameters; an EEG step whose version a re-run dropped, and a step that read a dropped
    EEG version, are left out (they need running again, the pipeline bar shows them ↻).
    This is what ``workbench batch`` should run on the other subjects.

    Parameters
    ----------
    records : sequence
        Provenance records in run order (``.name``, ``.status``, ``.params``).
    catalog : mapping
        Step id -> declaration (which steps make an EEG version, which read one).
    """
    from .study import eeg_chain

    def makes(rec: Any) -> bool:
        spec = catalog.get(rec.name)
        return spec is not None and "eeg" in spec.provides

    def reads(rec: Any) -> bool:
        spec = catalog.get(rec.name)
        return spec is not None and "eeg" in (*spec.requires, *spec.optional)

    chain, stale = eeg_chain(list(records), makes, reads)
    live = {id(r) for r in chain}
    last_other: dict[str, Any] = {}
    for rec in records:
        if rec.status == "done" and not makes(rec):
            last_other[rec.name] = rec
    live |= {id(r) for name, r in last_other.items() if name not in stale}
    return [{"id": r.name, "params": dict(r.params)} for r in records if id(r) in live]


def replay_project(
    project_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    catalog: Mapping[str, StepSpec] | Iterable[StepSpec],
    progress: ProgressLike | None = None,
) -> tuple[Project, list[StepOutcome], list[tuple[str, str, Any, Any]]]:
    """Re-run a project's recorded steps, with their recorded parameters, into a new folder.

    Returns the new project, the outcomes and the QC differences
    ``(step, key, recorded, replayed)`` (see :func:`compare_qc`).
    """
    from .report import new_report, save_report

    src = Project.load(project_dir)
    study_rel = src.settings.get("study_dir")
    if not study_rel:
        raise InputError(Path(project_dir) / "project.json",
                         "this project records no study folder (settings.study_dir); nothing to replay")
    study_path = src.abspath(study_rel)
    out = Path(out_dir)
    if out.resolve() == src.root.resolve():
        raise InputError(out, "replay into a different folder than the project itself")
    p = as_progress(progress)
    recorded = [s for s in src.steps if s.status == "done" and s.name != "load"]
    new = Project(out, name=f"{src.name} (replay)")
    new.settings = dict(src.settings)
    new.settings["study_dir"] = new.relpath(study_path)  # inside the new project: relative; else absolute
    study = Study.load(study_path, subject=src.settings.get("subject"), progress=p.sub(0.0, 0.1),
                       derivatives=False)
    study.extra_files.update(src.method_files())  # files the recorded methods read themselves
    new.carry_inputs_from(study.project)
    study.project = new
    report = new_report(f"Replay of {src.name}")
    runner = Runner(study, catalog, out / "derivatives", project=new, report=report)
    runner.plan([(s.name, s.params) for s in recorded])  # nothing runs unless all of it can
    first = len(new.steps)
    outcomes = runner.run([(s.name, s.params) for s in recorded], p.sub(0.1, 0.95))
    # every planned step records exactly one provenance entry, in order: compare run i with
    # record i (a step run twice, e.g. gradient re-run, is compared with its own run)
    new_recs = new.steps[first:] if len(new.steps) - first == len(recorded) else [None] * len(recorded)
    diffs = []
    for step, outcome, new_rec in zip(recorded, outcomes, new_recs):
        if outcome.status != "done":
            diffs.append((step.name, "status", "done", outcome.status))
            continue
        for key, old, val in compare_qc(step.qc, outcome.qc if new_rec is None else new_rec.qc):
            diffs.append((step.name, key, old, val))
        if new_rec is not None:
            for key, old, val in compare_qc(step.params, new_rec.params):
                diffs.append((step.name, f"param {key}", old, val))
    from .methods import methods_paragraph
    from .report import add_provenance, add_text

    add_text(report, "Methods (generated from the provenance)", methods_paragraph(new, runner.catalog),
             section="Summary")
    add_provenance(report, new)
    save_report(report, out / "report.html")
    new.save()
    p(1.0, "replay done")
    return new, outcomes, diffs


def stage_rank(spec: StepSpec) -> tuple[int, float, str]:
    """Sort key: pipeline stage, then the step's order, then its id."""
    idx = STAGES.index(spec.stage) if spec.stage in STAGES else len(STAGES)
    return (idx, spec.order, spec.id)


