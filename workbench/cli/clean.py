"""``workbench clean EEG OUT --steps gradient``: artifact correction, step by step.

Steps are looked up in :data:`STEPS` (name -> function), so cardiac, notch and ica
plug in beside ``gradient`` without changing the command's shape.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAME = "clean"
HELP = "remove artifacts (gradient ...) and write the cleaned EEG"
DESCRIPTION = (
    "Correct an EEG recording made in the scanner and write OUT (.fif, .vhdr or .edf by extension) "
    "with every channel, channel type and annotation, at the input's sampling rate and sample grid. "
    "Steps run in the order given. gradient: slot-matched average artifact subtraction with exact "
    "sub-sample alignment, amplitude fit and a low-pass (default 70 Hz)."
)


def _gradient(raw: Any, args: argparse.Namespace, progress: Any) -> tuple[Any, dict[str, Any]]:
    from ..engine.gradient import remove_gradient
    from ..engine.sync import read_bold_sidecar

    sidecar = read_bold_sidecar(args.slice_timing) if args.slice_timing else None
    res = remove_gradient(
        raw,
        params=_params(args),
        tr=args.tr,
        volume=args.volume_trigger,
        slice=args.slice_trigger,
        sidecar=sidecar,
        slices_per_volume=args.slices_per_volume,
        copy=False,  # the CLI owns this Raw: correct in place
        source=args.eeg,
        progress=progress,
    )
    return res.raw, res.qc


def _params(args: argparse.Namespace) -> Any:
    from ..engine.gradient import GradientParams

    return GradientParams(
        window=args.window,
        align=not args.no_align,
        amplitude_fit=not args.no_amplitude_fit,
        wiener=not args.no_wiener,
        window_lf=args.window_lf or None,
        obs=args.obs,
        anc=args.anc,
        lowpass=None if not args.lowpass else args.lowpass,
        n_jobs=args.jobs,
    )


#: step name -> function(raw, args, progress) -> (raw, qc)
STEPS: dict[str, Callable[..., tuple[Any, dict[str, Any]]]] = {"gradient": _gradient}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "eeg", type=Path, metavar="EEG", help="EEG recording (.vhdr, .edf, .bdf, .set, .fif)"
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="output file (.fif, .vhdr, .edf)")
    parser.add_argument(
        "--steps", default="gradient", help="comma-separated steps (available: %(default)s)"
    )
    parser.add_argument(
        "--volume-trigger", default=None, metavar="NAME", help="volume trigger marker name"
    )
    parser.add_argument(
        "--slice-trigger", default=None, metavar="NAME", help="slice trigger marker name"
    )
    g = parser.add_mutually_exclusive_group()
    g.add_argument(
        "--slices-per-volume",
        type=int,
        default=None,
        metavar="N",
        help="evenly spaced slices per TR",
    )
    g.add_argument(
        "--slice-timing",
        type=Path,
        default=None,
        metavar="JSON",
        help="BIDS BOLD sidecar with SliceTiming / MultibandAccelerationFactor",
    )
    parser.add_argument("--tr", type=float, default=None, metavar="S", help="nominal TR (s)")
    parser.add_argument(
        "--window", type=int, default=20, help="volumes averaged per template (default 20)"
    )
    parser.add_argument(
        "--lowpass", type=float, default=70.0, help="low-pass after subtraction, Hz (0: none)"
    )
    parser.add_argument("--no-align", action="store_true", help="no sub-sample re-alignment")
    parser.add_argument(
        "--no-amplitude-fit", action="store_true", help="no per-volume amplitude fit"
    )
    parser.add_argument(
        "--no-wiener", action="store_true", help="no per-frequency Wiener weighting of the template"
    )
    parser.add_argument(
        "--window-lf",
        type=int,
        default=60,
        help="volumes averaged below 40 Hz, where the artifact is weak (default 60; 0: same as --window)",
    )
    parser.add_argument(
        "--obs",
        action="store_true",
        help="OBS: remove the main PCA components of the >70 Hz residual (EEG; useful with --lowpass 0)",
    )
    parser.add_argument(
        "--anc",
        action="store_true",
        help="guarded adaptive noise cancellation of the >70 Hz residual (EEG; with --lowpass 0)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="threads (default 2)")
    parser.add_argument(
        "--json", type=Path, default=None, metavar="QC", help="write the QC as JSON"
    )


def run(args: argparse.Namespace) -> int:
    from ..engine.atomic import atomic_write_json
    from ..engine.errors import InputError
    from ..engine.gradient.export import WRITABLE, write_raw
    from ..engine.io.eeg import read_eeg
    from .progressbar import TextProgress

    steps = [s.strip().lower() for s in str(args.steps).split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise InputError(
            None,
            f"unknown step(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"steps that exist: {', '.join(STEPS)}",
        )
    if not str(args.out).lower().endswith(WRITABLE):
        raise InputError(args.out, "output must end in .fif, .vhdr or .edf")
    if args.out.resolve() == args.eeg.resolve():
        raise InputError(args.out, "is the input file; inputs are never overwritten")
    bar = TextProgress().progress()
    qc: dict[str, Any] = {"file": str(args.eeg), "out": str(args.out), "steps": steps}
    if steps == ["gradient"]:
        # streaming path: the recording is held once, as float32 (peak < 2x a float32 file)
        from ..engine.gradient.stream import clean_file
        from ..engine.sync import read_bold_sidecar

        res = clean_file(
            args.eeg,
            args.out,
            params=_params(args),
            tr=args.tr,
            volume=args.volume_trigger,
            slice=args.slice_trigger,
            sidecar=read_bold_sidecar(args.slice_timing) if args.slice_timing else None,
            slices_per_volume=args.slices_per_volume,
            progress=bar,
        )
        qc["gradient"] = res.qc
    else:
        bar(0.0, "reading EEG")
        raw = read_eeg(args.eeg, preload=True)
        n = len(steps)
        for i, name in enumerate(steps):
            raw, step_qc = STEPS[name](
                raw, args, bar.sub(0.05 + 0.85 * i / n, 0.05 + 0.85 * (i + 1) / n)
            )
            qc[name] = step_qc
        bar(0.92, "writing")
        write_raw(raw, args.out)
        bar(1.0, "done")
    if args.json is not None:
        atomic_write_json(args.json, qc)
    g = qc.get("gradient", {})
    if g:
        line = (
            f"gradient: {g['n_volumes']} volumes, {g['n_corrected_channels']} channels; slice-harmonic RMS "
            f"{g.get('harmonic_rms_before_uv', float('nan')):.1f} -> {g.get('harmonic_rms_after_uv', float('nan')):.2f} uV "
            f"({g.get('harmonic_reduction_db', float('nan')):.1f} dB), 1-40 Hz power kept "
            f"{g.get('power_kept_1_40', float('nan')):.2f}"
        )
        print(line)
        if g.get("skipped_channels"):
            print(f"skipped flat channels: {', '.join(g['skipped_channels'])}")
    print(f"wrote {args.out}")
    return 0
