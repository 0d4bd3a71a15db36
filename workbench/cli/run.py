"""``workbench run``: replay a project's recorded steps (or a pipeline file) headless."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..engine.errors import InputError
from .progressbar import TextProgress

NAME = "run"
HELP = "replay a project's steps (or a pipeline JSON) headless and compare the numbers"
DESCRIPTION = (
    "PROJECT: a project folder (or its project.json); its recorded steps are run again with "
    "their recorded parameters into --out, and every QC number that differs is listed. "
    "PIPELINE: a JSON file {\"study\": DIR, \"steps\": [{\"name\": ..., \"params\": {...}}, ...]}."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", type=Path, metavar="PROJECT_OR_PIPELINE")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <target>-replay)")


def _run_pipeline_file(path: Path, out: Path) -> int:
    from ..engine.pipeline import StepContext
    from ..engine.project import Project
    from ..engine.report import new_report, save_report
    from ..engine.runner import load_state, run_steps

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a readable pipeline JSON ({exc})") from None
    if not isinstance(doc, dict) or "study" not in doc or not isinstance(doc.get("steps", []), list):
        raise InputError(path, 'a pipeline file needs {"study": DIR, "steps": [...]}')
    study = (path.parent / doc["study"]).resolve()
    steps = []
    for i, s in enumerate(doc.get("steps", [])):
        if isinstance(s, str):
            steps.append((s, {}))
        elif isinstance(s, dict) and "name" in s:
            steps.append((s["name"], dict(s.get("params", {}))))
        else:
            raise InputError(path, f"step {i + 1} must be a name or {{\"name\": ..., \"params\": ...}}")
    bar = TextProgress().progress()
    project = Project(out, name=path.stem)
    project.settings["study_dir"] = str(study)
    state = load_state(study, progress=bar.sub(0, 0.1))
    state["report"] = new_report(f"Pipeline {path.name}")
    ctx = StepContext(project=project, out_dir=out / "derivatives", state=state)
    outcomes = run_steps(ctx, steps, bar.sub(0.1, 1.0))
    save_report(state["report"], out / "report.html")
    project.save()
    for o in outcomes:
        print(f"{o.name}: {o.status}" + (f" - {o.message}" if o.message else ""))
    print(f"report: {out / 'report.html'}")
    return 0 if all(o.status == "done" for o in outcomes) else 1


def run(args: argparse.Namespace) -> int:
    from ..engine.runner import replay_project

    target: Path = args.target
    if not target.exists():
        raise InputError(target, "not found")
    out = (args.out or target.with_name(target.name + "-replay")).absolute()
    if target.is_file() and target.name != "project.json":
        return _run_pipeline_file(target, out)
    project_dir = target.parent if target.is_file() else target
    _, outcomes, diffs = replay_project(project_dir, out, TextProgress().progress())
    for o in outcomes:
        print(f"{o.name}: {o.status}" + (f" - {o.message}" if o.message else ""))
    if diffs:
        print(f"{len(diffs)} QC value(s) differ from the recorded run:")
        for step, key, old, new in diffs:
            print(f"  {step}.{key}: recorded {old!r}, replayed {new!r}")
    else:
        print("all recorded QC values reproduced")
    print(f"report: {out / 'report.html'}")
    return 0 if all(o.status == "done" for o in outcomes) and not diffs else 1
