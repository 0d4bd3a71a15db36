"""``workbench info FILE``: what a file holds (channels, rate, duration, triggers, TR, points)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NAME = "info"
HELP = "what a file holds: channels, rate, duration, triggers, TR, images, digitisation"
DESCRIPTION = (
    "Summarise an EEG recording (BrainVision .vhdr/.vmrk, EDF/BDF, EEGLAB .set, FIF; the header and "
    "markers are read even when the signal file is absent), an MRI image (.nii, .nii.gz, .mgz; TR of "
    "a BOLD series from its BIDS sidecar or header), a digitisation file (.elc .sfp .bvct .hsp/.elp "
    ".pos .bvef electrodes.tsv, FIF), a surface, a project or a BIDS study folder. Scanner volume "
    "and slice triggers are detected automatically and reported with the estimated TR."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="file or folder to describe")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--sfreq", type=float, default=None, help="sampling rate (Hz) for a lone .vmrk marker file"
    )
    parser.add_argument("--volume-trigger", default=None, metavar="NAME", help="volume trigger name")
    parser.add_argument("--slice-trigger", default=None, metavar="NAME", help="slice trigger name")


def run(args: argparse.Namespace) -> int:
    from ..engine.io.summary import summarise

    if args.sfreq is not None:
        from ..engine.validate import check_sfreq

        args.sfreq = check_sfreq(args.sfreq, None, "--sfreq")
    summary = summarise(args.file, sfreq=args.sfreq, volume=args.volume_trigger, slice=args.slice_trigger)
    # a value that could not be measured is shown as such, never as nan/inf
    summary.fields = _measurable(summary.fields)
    if args.json:
        doc = summary.to_dict()
        doc.pop("triggers_text", None)
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(summary.to_text())
    return 0


def _measurable(obj: Any) -> Any:
    """A copy with every NaN/inf float replaced by None (printed as absent / null)."""
    from ..engine.validate import finite_or_none

    if isinstance(obj, dict):
        return {k: _measurable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_measurable(v) for v in obj]
    return finite_or_none(obj)
