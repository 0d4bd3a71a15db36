"""``workbench fuse METHOD --project P [--param k=v ...] [--out DIR]``: run a fusion method.

The method runs as a step through the same runner as the GUI, the demo and replay: on a
project it uses the project's current (cleaned) EEG and is recorded in its provenance,
so ``workbench run`` replays it with the same parameters.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "fuse"
HELP = "run a fusion method (plugin) on a project or BIDS study"
DESCRIPTION = (
    "Run a fusion method on a project folder (project.json) or a BIDS study folder and write "
    "DIR/result.json (outputs, parameters, QC), maps as NIfTI and tables as TSV. "
    "List the methods and their parameters with `workbench steps` or `workbench plugins list`."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("method", help="method id, e.g. parametric-modulation")
    p.add_argument("--project", required=True, metavar="P", help="project folder or BIDS study folder")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="parameter value (repeatable)")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: <project>/derivatives/fusion/<method>, or ./fusion-<method>)")
    p.add_argument("--subject", help="subject label in a BIDS study (default: the first)")


def run(args: argparse.Namespace) -> int:
    from workbench.engine.errors import InputError
    from workbench.engine.progress import as_progress
    from workbench.engine.project import Project
    from workbench.engine.runner import Runner
    from workbench.engine.study import Study
    from workbench.plugin_api import all_steps, params_from_strings

    from .progressbar import TextProgress

    catalog = all_steps()
    spec = catalog.get(args.method)
    if spec is None or spec.stage != "fusion":
        known = ", ".join(s.id for s in catalog.values() if s.stage == "fusion" and s.available) or "none installed"
        raise InputError(None, f"unknown fusion method {args.method!r}; available: {known}")
    params = params_from_strings(args.param)
    root = Path(args.project)
    if root.name == "project.json":
        root = root.parent
    if not root.exists():
        raise InputError(root, "project or study folder not found")
    is_project = (root / "project.json").is_file()
    if not is_project and not (root.is_dir() and any(root.glob("sub-*"))):
        raise InputError(root, "neither a project (project.json) nor a BIDS study (sub-* folders)")
    if args.out:
        out = Path(args.out)
    elif is_project:
        out = root / "derivatives" / "fusion" / spec.id
    else:
        out = Path.cwd() / f"fusion-{spec.id}"
    progress = as_progress(TextProgress().progress())
    study = Study.load(root, subject=args.subject, progress=progress.sub(0.0, 0.1))
    project = Project.load(root) if is_project else None
    study.project = project
    runner = Runner(study, catalog, out.parent, project=project, folders={spec.id: out})
    runner.plan([(spec.id, params)])  # parameters and inputs checked before anything is read further
    result = runner.run_step(spec.id, params, progress.sub(0.1, 0.97))
    fres = result.details["fusion"]
    if project is not None:
        project.set_result(f"fusion/{spec.id}", {**fres.summary(), "folder": project.relpath(out)})
        project.save()
    progress(1.0, "done")
    print(f"{spec.id}: wrote {out / 'result.json'}")
    for key, value in {**result.qc, **result.truth_qc}.items():
        print(f"  {key}: {value}")
    for msg in result.messages:
        print(f"  note: {msg}", file=sys.stderr)
    return 0
