"""``workbench fuse METHOD --project P [--param k=v ...] [--out DIR]``: run a fusion method."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "fuse"
HELP = "run a fusion method (plugin) on a project or BIDS study"
DESCRIPTION = (
    "Run a fusion method on a project folder (project.json) or a BIDS study folder and write "
    "DIR/result.json (outputs, parameters, QC), maps as NIfTI and tables as TSV. "
    "List the methods with `workbench plugins list`."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("method", help="method id, e.g. parametric-modulation")
    p.add_argument(
        "--project", required=True, metavar="P", help="project folder or BIDS study folder"
    )
    p.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="parameter value (repeatable)"
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: <project>/derivatives/fusion/<method>)",
    )
    p.add_argument("--subject", help="subject label in a BIDS study (default: the first)")


def run(args: argparse.Namespace) -> int:
    from workbench.engine.progress import as_progress
    from workbench.plugin_api import get_method, inputs_from_path, params_from_strings, run_method

    from .progressbar import TextProgress

    method = get_method(args.method)
    params = method.validate_params(params_from_strings(args.param))  # fail before loading data
    root = Path(args.project)
    inputs = inputs_from_path(root, args.subject)
    progress = as_progress(TextProgress().progress())
    result = run_method(method, inputs, params, progress.sub(0.0, 0.95))
    is_project = (root / "project.json").is_file()
    if args.out:
        out = Path(args.out)
    elif is_project:
        out = root / "derivatives" / "fusion" / method.id
    else:
        out = Path.cwd() / f"fusion-{method.id}"
    path = result.save(out, extra={"inputs": inputs.sources})
    if is_project:
        from workbench.engine.project import Project

        project = Project.load(root)
        files = [out / "result.json", *(out / f"{n}.nii.gz" for n in result.maps)]
        files += [out / f"{n}.tsv" for n in result.tables]
        project.record_step(
            "fusion",
            params={"method": method.id, **result.params},
            inputs=[Path(p) for p in inputs.sources.values()],
            outputs=files,
            qc=result.qc,
        )
        project.set_result(
            f"fusion/{method.id}", {**result.summary(), "folder": project.relpath(out)}
        )
        project.save()
    progress(1.0, "done")
    print(f"{method.id}: wrote {path}")
    for key, value in result.qc.items():
        print(f"  {key}: {value}")
    for msg in result.messages:
        print(f"  note: {msg}", file=sys.stderr)
    return 0
