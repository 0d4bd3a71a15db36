"""``workbench run``: replay a project's recorded steps (or a pipeline file) through the runner."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.errors import InputError
from .progressbar import TextProgress

NAME = "run"
HELP = "replay a project's steps (or a pipeline JSON) headless and compare the numbers"
DESCRIPTION = (
    "PROJECT: a project folder (or its project.json); its recorded steps are run again with "
    "their recorded parameters into --out, and every QC number that differs (or vanished) is "
    "listed. PIPELINE: a JSON file {\"study\": DIR, \"steps\": [{\"id\": ..., \"params\": {...}}, ...]} "
    "(step ids and parameters as `workbench steps` lists them). The whole plan is checked "
    "before anything runs."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", type=Path, metavar="PROJECT_OR_PIPELINE")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <target>-replay)")


def _run_pipeline_file(path: Path, out: Path) -> int:
    from ..engine.project import Project
    from ..engine.report import new_report, save_report
    from ..engine.runner import Runner, plan_from_json
    from ..engine.study import Study
    from ..engine.validate import load_json
    from ..plugin_api import all_steps

    doc = load_json(path, what="pipeline JSON")
    if not isinstance(doc, dict) or not isinstance(doc.get("study"), str):
        raise InputError(path, 'a pipeline file needs {"study": DIR, "steps": [...]}')
    plan = plan_from_json(doc, path)
    study_dir = (path.parent / doc["study"]).resolve()
    if not study_dir.is_dir():
        raise InputError(path, f"its study folder {doc['study']!r} does not exist")
    catalog = all_steps()
    bar = TextProgress().progress()
    study = Study.load(study_dir, subject=doc.get("subject"), progress=bar.sub(0, 0.1), derivatives=False)
    project = Project(out, name=path.stem)
    project.carry_inputs_from(study.project)
    project.settings["study_dir"] = str(study_dir)
    project.settings["subject"] = study.subject
    study.project = project
    report = new_report(f"Pipeline {path.name}")
    runner = Runner(study, catalog, out / "derivatives", project=project, report=report)
    runner.plan(plan)  # validate everything before anything is written
    outcomes = runner.run(plan, bar.sub(0.1, 1.0))
    save_report(report, out / "report.html")
    project.save()
    for o in outcomes:
        print(f"{o.name}: {o.status}" + (f" - {o.message}" if o.message else ""))
    print(f"report: {out / 'report.html'}")
    return 0 if all(o.status == "done" for o in outcomes) else 1


def run(args: argparse.Namespace) -> int:
    from ..engine.runner import replay_project
    from ..plugin_api import all_steps

    target: Path = args.target
    if not target.exists():
        raise InputError(target, "not found")
    out = (args.out or target.with_name(target.name + "-replay")).absolute()
    if target.is_file() and target.name != "project.json":
        return _run_pipeline_file(target, out)
    project_dir = target.parent if target.is_file() else target
    _, outcomes, diffs = replay_project(project_dir, out, all_steps(), TextProgress().progress())
    for o in outcomes:
        print(f"{o.name}: {o.status}" + (f" - {o.message}" if o.message else ""))
    if diffs:
        print(f"{len(diffs)} QC value(s) differ from the recorded run:")
        for step, key, old, new in diffs:
            print(f"  {step}.{key}: recorded {old!r}, replayed {new!r}")
    else:
        print("all recorded QC values and parameters reproduced")
    print(f"report: {out / 'report.html'}")
    return 0 if all(o.status == "done" for o in outcomes) and not diffs else 1
