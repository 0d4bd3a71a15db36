"""``workbench coreg``: fit the head -> MRI transform from digitised points and a scalp."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "coreg"
HELP = "coregister digitised EEG/head-shape points to the MRI scalp; write NAME-trans.fif"
DESCRIPTION = (
    "Fit the head -> MRI transform: MRI fiducials (file, or 'auto': the subject's "
    "bem/*-fiducials.fif, MNI through talairach.xfm, or an fsaverage estimate), a weighted "
    "fiducial fit (nasion x10, as MNE), then a robust point-to-surface ICP on electrodes (with "
    "their height above the skin on the cap fitted) and head-shape points, with the fiducials "
    "matched to the MRI's when they come from a file, omission of points beyond --omit-mm and "
    "a final ICP. Prints the QC (distances in mm, fiducial errors) and writes the transform as "
    "an MNE -trans.fif."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dig", required=True, type=Path, metavar="FILE",
                        help="digitisation: .elc .sfp .bvct .hsp/.elp .pos electrodes.tsv, FIF (-dig.fif, "
                             "raw/ave info)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--mri", type=Path, metavar="T1", help="T1 image to extract the scalp from (.nii/.mgz)")
    src.add_argument("--surface", type=Path, metavar="FILE",
                     help="scalp surface: FreeSurfer .surf (mm), MNE -head.fif or a BEM with a head layer")
    parser.add_argument("--out", required=True, type=Path, metavar="NAME-trans.fif", help="output transform")
    parser.add_argument("--json", type=Path, default=None, metavar="QC", help="write the QC as JSON")
    parser.add_argument("--electrodes", type=Path, default=None, metavar="X_electrodes.tsv",
                        help="also write electrodes in MRI coordinates (BIDS electrodes.tsv + coordsystem.json)")
    from ..engine.steps.coreg import SPEC
    from .stepopts import add_step_options

    add_step_options(parser, [SPEC])  # --omit-mm, --scale, --fiducials ... from the step's declaration


def run(args: argparse.Namespace) -> int:
    from types import SimpleNamespace

    from ..engine.atomic import atomic_write_json
    from ..engine.coreg.dig import load_dig
    from ..engine.coreg.export import write_bids_electrodes, write_trans
    from ..engine.coreg.workflow import load_scalp
    from ..engine.errors import InputError
    from ..engine.io.mri import read_image
    from ..engine.outputs import atomic_files, check_outputs
    from ..engine.runner import Runner
    from ..engine.steps.coreg import SPEC
    from ..engine.study import Study
    from ..engine.validate import check_qc, fmt_measurable
    from .progressbar import TextProgress
    from .stepopts import step_params

    # check output names before any work, so a bad name writes nothing
    if not args.out.name.endswith(("-trans.fif", "_trans.fif")):
        raise InputError(args.out, "the output name must end in -trans.fif (MNE's convention)")
    if args.electrodes is not None and not args.electrodes.name.endswith("_electrodes.tsv"):
        raise InputError(args.electrodes, "a BIDS electrodes file name must end in _electrodes.tsv")
    params = step_params(args, SPEC)
    params.setdefault("noise_vs_bias", False)  # the teaching simulation is for the report, not the CLI
    SPEC.validate(params)  # bad values refused before any reading
    coordsystem = (None if args.electrodes is None else
                   args.electrodes.with_name(args.electrodes.name.replace("_electrodes.tsv", "_coordsystem.json")))
    fid_arg = params.get("fiducials", "auto")
    fid_file = None if fid_arg in (None, "auto") else Path(fid_arg)
    check_outputs([args.out, args.json, args.electrodes, coordsystem], [args.dig, args.mri, args.surface, fid_file])
    _validate_inputs(args, fid_file)  # every input checked before any work or any write
    # the coreg step through the one runner, on a study made of these files
    study = Study(files={"dig": args.dig})
    study.dig = load_dig(args.dig)
    if args.mri is not None:
        study.anat = read_image(args.mri)
        study.files["anat"] = args.mri
    else:
        scalp, display, _ = load_scalp(surface=args.surface)
        study.scalp = {**scalp, "display": display}
        study.files["scalp"] = args.surface
    runner = Runner(study, {SPEC.id: SPEC}, args.out.parent, write_files=False, score=False)
    result = runner.run_step(SPEC.id, params, TextProgress().progress())
    co = result.details["coreg"]
    res = SimpleNamespace(coreg=co, scalp=result.details["scalp"], qc=dict(result.qc),
                          fiducials_from=result.qc.get("fiducials_from"))
    res.qc["surface"] = {"n_vertices": result.qc["scalp_vertices"], "closed": result.qc["scalp_closed"]}
    qc = res.qc
    check_qc(qc, args.dig, keys=("mean_mm", "median_mm", "max_mm", "sd_mm"), where="coregistration QC")
    qc = _measurable(qc)  # any other NaN/inf becomes null ("not measurable"), never a number
    # all outputs appear together, or none (a failure in the last one leaves nothing)
    targets = [t for t in (args.out, args.json, args.electrodes, coordsystem) if t is not None]
    with atomic_files(targets) as tmp:
        where = dict(zip(targets, tmp))
        write_trans(where[args.out], res.coreg.head_mri)
        if args.json is not None:
            atomic_write_json(where[args.json], qc)
        if args.electrodes is not None:
            write_bids_electrodes(where[args.electrodes], res.coreg.dig, res.coreg.head_mri, res.scalp)
    print(f"MRI fiducials: {res.fiducials_from}")
    print(f"scalp: {qc['surface']['n_vertices']} vertices, closed={qc['surface']['closed']}")
    print(f"{qc['n_points']} points ({qc['n_omitted']} omitted): mean {qc['mean_mm']:.2f} mm, "
          f"median {qc['median_mm']:.2f} mm, max {qc['max_mm']:.2f} mm, SD {qc['sd_mm']:.2f} mm; "
          f"beyond 3/5/10 mm: {qc['pct_beyond_3mm']:.0f}/{qc['pct_beyond_5mm']:.0f}/{qc['pct_beyond_10mm']:.0f} %")
    if qc.get("eeg_lift_mm") is not None and qc.get("mean_residual_mm") is not None:
        print(f"electrodes {qc['eeg_lift_mm']:.1f} mm above the skin (fitted); residuals: mean "
              f"{qc['mean_residual_mm']:.2f} mm, max {qc['max_residual_mm']:.2f} mm")
    fid = "/".join(fmt_measurable(qc.get(k), ".1f") for k in ("fid_lpa_mm", "fid_nasion_mm", "fid_rpa_mm"))
    print(f"fiducial errors LPA/NAS/RPA: {fid} mm")
    if qc["scale"] != [1.0, 1.0, 1.0]:
        print("MRI scale: " + ", ".join(f"{s:.3f}" for s in qc["scale"]))
    print(f"wrote {args.out}")
    return 0


def _validate_inputs(args: argparse.Namespace, fid_file: Path | None) -> None:
    """Read every input once through the validating readers (one-line errors, no output)."""
    from ..engine.io._util import check_file
    from ..engine.io.dig import read_dig
    from ..engine.io.mri import read_image
    from ..engine.validate import check_image_data

    read_dig(args.dig)
    if args.mri is not None:
        img = read_image(args.mri)
        if len(img.shape) != 3 and not (len(img.shape) == 4 and img.shape[3] == 1):
            from ..engine.errors import InputError

            raise InputError(args.mri, f"a T1 image must be 3D, this one has shape {tuple(img.shape)}")
        check_image_data(img, args.mri)
    if fid_file is not None:
        check_file(fid_file)


def _measurable(obj: Any) -> Any:
    """A copy of a QC object with every NaN/inf replaced by None."""
    from ..engine.validate import finite_or_none

    if isinstance(obj, dict):
        return {k: _measurable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_measurable(v) for v in obj]
    return finite_or_none(obj)
