"""``workbench clean EEG OUT --steps gradient[,...]``: artifact correction through the runner.

The steps, their order, their options and their defaults all come from the step
declarations (``workbench steps``): each declared parameter is an option here, and the
steps run through the same runner as the GUI and replay, so the numbers are the same.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "clean"
HELP = "remove artifacts (gradient ...) and write the cleaned EEG"
DESCRIPTION = (
    "Correct an EEG recording made in the scanner and write OUT (.fif, .vhdr or .edf by extension) "
    "with every channel, channel type and annotation, at the input's sampling rate and sample grid. "
    "Steps run in the order given; the scanner sync step runs first when a step needs it. "
    "Each step's parameters are options below (see also `workbench steps`)."
)

#: stages that act on the EEG recording (the steps `clean` offers)
_EEG_STAGES = ("sync", "gradient", "cardiac", "cleanup")


def _eeg_steps() -> list[Any]:
    from ..engine.steps import builtin_steps

    return [s for s in builtin_steps().values() if s.stage in _EEG_STAGES]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .stepopts import add_step_options

    steps = _eeg_steps()
    parser.add_argument("eeg", type=Path, metavar="EEG", help="EEG recording (.vhdr, .edf, .bdf, .set, .fif)")
    parser.add_argument("out", type=Path, metavar="OUT", help="output file (.fif, .vhdr, .edf)")
    parser.add_argument("--steps", default="gradient", help="comma-separated steps, run in this order "
                        f"(available: {', '.join(s.id for s in steps)}; default %(default)s)")
    parser.add_argument("--slice-timing", type=Path, default=None, metavar="JSON",
                        help="BIDS BOLD sidecar with RepetitionTime / SliceTiming / MultibandAccelerationFactor "
                        "(default: the study's, or the BOLD sidecar recorded with EEG in its BIDS folder)")
    parser.add_argument("--json", type=Path, default=None, metavar="QC", help="write every step's QC as JSON")
    add_step_options(parser, steps)


def run(args: argparse.Namespace) -> int:
    from ..engine.atomic import atomic_write_json
    from ..engine.errors import InputError
    from ..engine.gradient.export import WRITABLE, write_raw
    from ..engine.outputs import check_outputs
    from ..engine.runner import Runner, format_qc
    from ..engine.study import Study
    from .progressbar import TextProgress
    from .stepopts import step_params

    catalog = {s.id: s for s in _eeg_steps()}
    steps = [s.strip().lower() for s in str(args.steps).split(",") if s.strip()]
    unknown = [s for s in steps if s not in catalog]
    if unknown or not steps:
        raise InputError(None, f"unknown step(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                               f"steps that exist: {', '.join(catalog)}")
    if any("sync" in catalog[s].requires for s in steps) and "sync" not in steps:
        steps.insert(0, "sync")
    plan = [(s, step_params(args, catalog[s])) for s in steps]
    for s, given in plan:  # every option value checked by its declaration before the EEG is read
        try:
            catalog[s].validate(given)
        except InputError as exc:
            raise InputError(None, f"step {s!r}: {exc.args[0] if exc.args else exc}") from None
    if not str(args.out).lower().endswith(WRITABLE):
        raise InputError(args.out, "output must end in .fif, .vhdr or .edf")
    check_outputs([args.out, args.json], [args.eeg, args.slice_timing])
    if args.json is not None and args.json.resolve() == args.out.resolve():
        raise InputError(args.json, "is the same file as OUT")
    bar = TextProgress().progress()
    bar(0.0, "reading EEG")
    # `clean` writes OUT and its QC, no project: the input is not registered (hashed)
    study = Study.load(args.eeg, progress=bar.sub(0.0, 0.03), register=False)
    study.project = None
    if study.raw is None or not hasattr(study.raw, "n_times"):
        from ..engine.io.eeg import read_eeg_header
        from ..engine.io.open import header_only_reason

        try:
            why = header_only_reason(read_eeg_header(args.eeg))
        except InputError:
            why = ""
        raise InputError(args.eeg, f"no EEG signal could be read ({why or 'header only'}); clean needs the signal")
    from ..engine.gradient.timing import choose_slice_timing

    timing = choose_slice_timing(study, args.slice_timing)  # given, the study's, or found beside the EEG
    print(timing.message)
    runner = Runner(study, catalog, args.out.parent, write_files=False, score=False)
    runner.plan(plan)  # every step and parameter checked before anything runs
    outcomes = runner.run(plan, bar.sub(0.03, 0.9), stop_on_error=True)
    bar(0.92, "writing")
    if str(args.out).lower().endswith(".vhdr") and not getattr(study.eeg, "preload", True):
        # a recording corrected without loading it (gradient step): stream it out in chunks
        # (MNE's BrainVision export would take a float64 copy of the whole recording)
        from ..engine.gradient.stream import write_brainvision_stream

        write_brainvision_stream(study.eeg, args.out)
    else:  # FIF streams through MNE's buffered writer; EDF needs the whole signal (MNE/edfio)
        write_raw(study.eeg, args.out)
    bar(1.0, "done")
    qc: dict[str, Any] = {"file": str(args.eeg), "out": str(args.out), "steps": steps,
                          "slice_timing_from": str(timing.path) if timing.path else None}
    for o in outcomes:
        qc[o.name] = {**(o.result.details.get(o.name).qc if o.name == "gradient" and o.result else {}), **o.qc,
                      "params": o.result.params if o.result else {}}
        if o.result is not None:
            shown = format_qc(catalog[o.name], o.qc)
            keys = list(shown)[:8]
            print(f"{o.name}: " + "; ".join(f"{k} {shown[k]}" for k in keys))
            for msg in o.result.messages:
                print(f"  note: {msg}")
    if args.json is not None:
        atomic_write_json(args.json, qc)
    print(f"wrote {args.out}")
    return 0
