"""``workbench sync EEG``: find, validate and repair scanner triggers; fit the EEG clock."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "sync"
HELP = "find/repair scanner triggers and fit the EEG clock to the scanner (drift, jitter)"
DESCRIPTION = (
    "Find the volume (and slice) triggers (auto-detected names or given), check them against the "
    "TR and the BOLD volume count, repair duplicated, extra and missing triggers when that is "
    "unambiguous, and fit t_EEG = alpha * t_MRI + beta robustly. Works on header + marker files "
    "alone (the signal is only read for --out). --out writes the EEG with its sampling rate and "
    "annotation times corrected onto the scanner clock (same samples; --resample to resample)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..engine.steps.sync import SPEC
    from .stepopts import add_step_options

    parser.add_argument("eeg", type=Path, metavar="EEG", help="EEG file (.vhdr, .vmrk, .set, .edf, .fif)")
    parser.add_argument("--slice-timing", type=Path, default=None, metavar="JSON",
                        help="BIDS BOLD sidecar (RepetitionTime, SliceTiming, MultibandAccelerationFactor)")
    parser.add_argument("--sfreq", type=float, default=None, help="sampling rate for a lone .vmrk file")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="write the EEG on the scanner clock (.fif, .vhdr, .edf)")
    parser.add_argument("--resample", action="store_true", help="with --out: resample instead of correcting the rate")
    parser.add_argument("--json", type=Path, default=None, metavar="QC", help="write the QC as JSON")
    add_step_options(parser, [SPEC])


def _check_args(args: argparse.Namespace) -> None:
    """Validate the options and the output names before any work (nothing is written)."""
    from ..engine.outputs import check_outputs
    from ..engine.validate import check_sfreq

    if args.sfreq is not None:
        args.sfreq = check_sfreq(args.sfreq, None, "--sfreq")
    check_outputs([args.out, args.json], [args.eeg, args.slice_timing])


def _read_sidecar(path: Path, tr: float | None) -> dict:
    """The BOLD sidecar through the validation layer (errors name the sidecar).

    ``tr`` is the TR given on the command line, if any: SliceTiming must fit in it too.
    """
    from ..engine.errors import InputError
    from ..engine.io._util import check_file
    from ..engine.validate import check_bold_sidecar, check_slice_timing, load_json

    check_file(path)
    meta = check_bold_sidecar(load_json(path, what="JSON sidecar"), path)
    if meta.get("RepetitionTime") is None and tr is None:
        raise InputError(path, "no RepetitionTime in this sidecar; add it or give --tr")
    if tr is not None and meta.get("SliceTiming") is not None:
        check_slice_timing(meta["SliceTiming"], float(tr), path, "SliceTiming (with the TR given)")
    return meta


def run(args: argparse.Namespace) -> int:
    from ..engine.atomic import atomic_write_json
    from ..engine.errors import InputError
    from ..engine.io.eeg import read_eeg, read_eeg_header
    from ..engine.runner import Runner
    from ..engine.steps.sync import SPEC
    from ..engine.study import Study
    from ..engine.sync import realign_to_scanner
    from ..engine.validate import check_data, check_qc
    from .progressbar import TextProgress
    from .stepopts import step_params

    _check_args(args)
    params = step_params(args, SPEC)
    runner_catalog = {SPEC.id: SPEC}
    sidecar = _read_sidecar(args.slice_timing, params.get("tr")) if args.slice_timing else None
    # the markers are all sync needs: the header is read, the signal only for --out
    header = read_eeg_header(args.eeg, sfreq=args.sfreq)
    if header.marker_unit != "s":
        raise InputError(args.eeg, "the sampling rate is unknown (no .vhdr beside the .vmrk); give --sfreq")
    study = Study(raw=header, files={"eeg": args.eeg})
    if sidecar is not None:
        study.bold_meta = sidecar
        study.files["bold_json"] = args.slice_timing
    runner = Runner(study, runner_catalog, Path.cwd(), write_files=False, score=False)
    result = runner.run_step(SPEC.id, params)
    res = result.details["sync"]
    qc = dict(result.qc)
    qc["file"] = str(args.eeg)
    check_qc(qc, args.eeg, where="sync QC")
    if args.out is not None:
        from ..engine.gradient.export import write_raw

        bar = TextProgress().progress()
        bar(0.1, "reading EEG")
        raw = read_eeg(args.eeg, preload=True)
        check_data(raw._data, args.eeg, "EEG samples", saturation=None, allow_zero=True)  # noqa: SLF001
        bar(0.5, "correcting clock")
        out = realign_to_scanner(raw, res.fit, resample=args.resample)
        bar(0.7, "writing")
        write_raw(out, args.out)
        bar(1.0, "done")
        qc["out"] = str(args.out)
    if args.json is not None:
        atomic_write_json(args.json, qc)
    _print(qc, sys.stdout)
    return 0


def _print(qc: dict, fh) -> None:
    tk = "" if qc["tr_known"] else " (TR not given: estimated from the triggers)"
    print(
        f"volume trigger: {qc['volume_trigger']!r}  slice trigger: {qc['slice_trigger']!r}", file=fh
    )
    print(
        f"triggers: {qc['n_triggers']} ({qc['n_input']} found, {qc['n_missing']} missing filled, "
        f"{qc['n_extra']} extra dropped, {qc['n_duplicates']} duplicates dropped, {qc['n_runs']} run(s))",
        file=fh,
    )
    if qc.get("n_expected") is not None:
        print(f"BOLD volumes expected: {qc['n_expected']}", file=fh)
    print(
        f"TR {qc['tr_s']:.6g} s, {qc['n_slices']} slices in {qc['n_slots']} slot(s) of "
        f"{qc['slot_period_s'] * 1e3:.3f} ms ({qc['timing_source']}){tk}",
        file=fh,
    )
    if qc.get("drift_ppm") is None:
        drift = "drift not measurable (no TR given: give --tr or --slice-timing)"
    else:
        drift = (
            f"drift {qc['drift_ppm']:.2f} ppm (= us/s; 95% CI {qc['drift_ppm_ci'][0]:.2f}.."
            f"{qc['drift_ppm_ci'][1]:.2f}), mismatch over the run {qc['mismatch_ms']:.3f} ms"
        )
    print(
        f"clock: alpha {qc['alpha']:.9f}, beta {qc['beta_s']:.6f} s, {drift}, "
        f"jitter {qc['jitter_us']:.1f} us",
        file=fh,
    )
    json.dumps(qc, default=str)  # fail here, not in the file, if something is not serialisable
