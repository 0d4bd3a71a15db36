"""``workbench fuse METHOD (--project P | --eeg ... --x ...) [--param k=v ...] [--out DIR]``.

The method runs as a step through the same runner as the GUI, the demo and replay: on a
project it uses the project's current (cleaned) EEG and is recorded in its provenance,
so ``workbench run`` replays it with the same parameters. Without a project it runs
"from files", as a lab has them: the study's files (``--eeg``, ``--bold``, ``--events``,
``--mri``, ``--trans``, ``--dig``) are read by the workbench's readers, and the files the
method declares (``workbench steps``: its ``file_inputs``, e.g. ``--x X.tsv``) are
handed to it and hashed into DIR's provenance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

NAME = "fuse"
HELP = "run a fusion method (plugin) on a project, a BIDS study or files"
DESCRIPTION = (
    "Run a fusion method on a project folder (project.json), a BIDS study folder, or files, and "
    "write DIR/result.json (outputs, parameters, QC), maps as NIfTI and tables as TSV. "
    "List the methods, their parameters and file inputs with `workbench steps`; "
    "`workbench fuse METHOD --help` shows the method's own file options."
)

#: options that put a file into the study (read by the workbench's readers)
_STUDY_FILES = (
    ("eeg", "EEG recording (.vhdr .edf .bdf .set .fif) or an MNE evoked file (-ave.fif)"),
    ("bold", "4D BOLD NIfTI (its JSON sidecar beside it is read too)"),
    ("events", "BIDS events.tsv (onset, duration, trial_type; scanner clock)"),
    ("mri", "T1-weighted anatomy (NIfTI/MGZ)"),
    ("trans", "head->MRI transform (-trans.fif)"),
    ("dig", "digitised electrodes/head shape (.elc .sfp .bvct .pos electrodes.tsv ...)"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("method", help="method id, e.g. parametric-modulation")
    p.add_argument("--project", metavar="P", help="project folder or BIDS study folder")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="parameter value (repeatable)")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: <project>/derivatives/fusion/<method>, or ./fusion-<method>)")
    p.add_argument("--subject", help="subject label in a BIDS study (default: the first)")
    g = p.add_argument_group("study files (instead of, or on top of, --project)")
    for name, text in _STUDY_FILES:
        g.add_argument(f"--{name}", type=Path, default=None, metavar="FILE", help=text)


def extend_arguments(p: argparse.ArgumentParser, rest: list[str]) -> None:
    """Add the chosen method's declared file inputs as options (``--x X.tsv``)."""
    if not rest or rest[0].startswith("-"):
        return
    from workbench.plugin_api import discover

    record = next((r for r in discover() if r.id == rest[0]), None)
    if record is not None and not record.ok and len(rest) > 1 and "-h" not in rest and "--help" not in rest:
        # its options are unknown (its declaration did not load): say why the method cannot
        # run, rather than argparse's "unrecognized arguments" for its file options
        from workbench.engine.errors import InputError

        reason = record.error or ("disabled" if not record.enabled else "it did not load")
        raise InputError(None, f"fusion method {rest[0]!r} is not available: {reason}")
    method = record.method if record is not None and record.ok else None
    if method is None:
        return
    from types import SimpleNamespace

    from .stepopts import add_step_options

    # the method's declared parameters as options too (--tr 2 as well as --param tr=2)
    add_step_options(p, [SimpleNamespace(id=method.id, title=method.title, params=method.params)])
    taken = {a for act in p._actions for a in act.option_strings}
    study_names = dict(_STUDY_FILES)
    if any(f.name in study_names for f in method.file_inputs):
        # the method reads this study file itself (e.g. dcm's --bold ROIS.tsv, repeatable): its
        # declaration replaces the study option
        p.conflict_handler = "resolve"
    g = p.add_argument_group(f"files {method.id} reads")
    for f in method.file_inputs:
        flag = f"--{f.name.replace('_', '-')}"
        if flag in taken and f.name not in study_names:
            continue
        g.add_argument(flag, dest=f"file__{f.name}", type=Path, metavar="FILE",
                       action="append" if f.multiple else "store",
                       help=f.help + (" (required)" if f.required else "") + (" (repeatable)" if f.multiple else ""))


def _load_study(args: argparse.Namespace, spec: Any) -> tuple[Any, Any, Path | None]:
    """The study the method runs on: a project/BIDS folder and/or the given files."""
    from workbench.engine.errors import InputError
    from workbench.engine.project import Project
    from workbench.engine.study import Study

    root: Path | None = None
    project = None
    if args.project:
        root = Path(args.project)
        if root.name == "project.json":
            root = root.parent
        if not root.exists():
            raise InputError(root, "project or study folder not found")
        is_project = (root / "project.json").is_file()
        if not is_project and not (root.is_dir() and any(root.glob("sub-*"))):
            raise InputError(root, "neither a project (project.json) nor a BIDS study (sub-* folders)")
        study = Study.load(root, subject=args.subject)
        project = Project.load(root) if is_project else None
    else:
        study = Study()
    for name, _ in _STUDY_FILES:
        path = getattr(args, name, None)
        if path is None:
            continue
        from workbench.engine.io._util import check_file

        check_file(path)
        study.extra_files[name] = [path]  # a method may read the file itself (e.g. an evoked file)
        if name == "eeg":
            if not str(path).endswith(("-ave.fif", "_ave.fif", "-ave.fif.gz")):
                from workbench.engine.io.eeg import read_eeg

                study.set_raw(read_eeg(path, preload=False))
                study.files["eeg"] = path
        elif name == "bold":
            from workbench.engine.io.mri import read_bold

            img, meta = read_bold(path)
            study.set_bold(img, meta)
            study.files["bold"] = path
        elif name == "events":
            study.files["events"] = path
            study.events = None
        elif name == "mri":
            from workbench.engine.io.mri import read_image

            study.set_anat(read_image(path))
            study.files["anat"] = path
        elif name == "trans":
            import mne

            try:
                study.set_trans(mne.read_trans(path, verbose="error"))
            except Exception as exc:  # noqa: BLE001 - any reader failure is this file's problem
                raise InputError(path, f"not a readable -trans.fif ({type(exc).__name__})") from None
            study.files["trans"] = path
        elif name == "dig":
            from workbench.engine.io.dig import read_dig

            study.set_dig(read_dig(path))
            study.files["dig"] = path
    for fname in spec.file_inputs:
        given = getattr(args, f"file__{fname}", None)
        if given:
            paths = [Path(x) for x in (given if isinstance(given, list) else [given])]
            for x in paths:
                if not x.is_file():
                    raise InputError(x, "file not found")
            study.extra_files[fname] = paths
    return study, project, root


def run(args: argparse.Namespace) -> int:
    from workbench.engine.errors import InputError
    from workbench.engine.outputs import check_outputs
    from workbench.engine.progress import as_progress
    from workbench.engine.project import Project
    from workbench.engine.runner import Runner
    from workbench.plugin_api import all_steps, discover, params_from_strings

    from .progressbar import TextProgress

    catalog = all_steps()
    spec = catalog.get(args.method)
    if spec is None or spec.stage != "fusion":
        known = ", ".join(s.id for s in catalog.values() if s.stage == "fusion" and s.available) or "none installed"
        raise InputError(None, f"unknown fusion method {args.method!r}; available: {known}")
    if not spec.available:
        raise InputError(None, f"fusion method {spec.id!r} is not available: {spec.unavailable_reason}")
    from .stepopts import step_params

    params = {**step_params(args, spec), **params_from_strings(args.param)}
    spec.validate(params)  # bad parameters fail before any file is read
    method = next(r.method for r in discover() if r.id == spec.id)
    given_files = [n for n, _ in _STUDY_FILES if getattr(args, n, None) is not None]
    given_files += [f.name for f in method.file_inputs if getattr(args, f"file__{f.name}", None)]
    if not args.project and not given_files:
        raise InputError(None, "give --project P or the method's input files (see `workbench fuse "
                               f"{spec.id} --help`)")
    if not args.project:
        missing = [f"--{f.name.replace('_', '-')}" for f in method.file_inputs
                   if f.required and not getattr(args, f"file__{f.name}", None)]
        if missing:
            raise InputError(None, f"{spec.id} from files needs {', '.join(missing)}")
    study, project, root = _load_study(args, spec)
    if args.out:
        out = Path(args.out)
    elif project is not None:
        out = Path(project.root) / "derivatives" / "fusion" / spec.id
    else:
        out = Path.cwd() / f"fusion-{spec.id}"
    inputs = [p for paths in study.extra_files.values() for p in paths] + [p for p in study.files.values() if p]
    check_outputs([out / "result.json"], inputs)
    if project is None:
        # a run from files keeps its own provenance beside the result
        project = Project(out, name=f"{spec.id} from files")
        for name, paths in study.extra_files.items():
            project.settings.setdefault("files", {})[name] = [str(Path(x).resolve()) for x in paths]
    study.project = project
    progress = as_progress(TextProgress().progress())
    runner = Runner(study, catalog, out.parent, project=project, folders={spec.id: out})
    runner.plan([(spec.id, params)])  # parameters and inputs checked before anything runs
    result = runner.run_step(spec.id, params, progress.sub(0.05, 0.97))
    fres = result.details["fusion"]
    project.set_result(f"fusion/{spec.id}", {**fres.summary(), "folder": project.relpath(out)})
    project.save()  # from files: DIR/project.json holds the parameters, input hashes, versions, QC
    progress(1.0, "done")
    print(f"{spec.id}: wrote {out / 'result.json'}")
    for key, value in {**result.qc, **result.truth_qc}.items():
        print(f"  {key}: {value}")
    for msg in result.messages:
        print(f"  note: {msg}", file=sys.stderr)
    return 0
