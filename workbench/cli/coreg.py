"""``workbench coreg``: fit the head -> MRI transform from digitised points and a scalp."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "coreg"
HELP = "coregister digitised EEG/head-shape points to the MRI scalp; write NAME-trans.fif"
DESCRIPTION = (
    "Fit the head -> MRI transform: MRI fiducials (file, or 'auto': the subject's "
    "bem/*-fiducials.fif, MNI through talairach.xfm, or an fsaverage estimate), a weighted "
    "fiducial fit (nasion x10, as MNE), then a robust point-to-surface ICP on electrodes and "
    "head-shape points, omission of points beyond --omit-mm and a final ICP. Prints the QC "
    "(distances in mm, fiducial errors) and writes the transform as an MNE -trans.fif."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dig", required=True, type=Path, metavar="FILE",
                        help="digitisation: .elc .sfp .bvct .hsp/.elp .pos electrodes.tsv, FIF (-dig.fif, "
                             "raw/ave info)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--mri", type=Path, metavar="T1", help="T1 image to extract the scalp from (.nii/.mgz)")
    src.add_argument("--surface", type=Path, metavar="FILE",
                     help="scalp surface: FreeSurfer .surf (mm), MNE -head.fif or a BEM with a head layer")
    parser.add_argument("--fiducials", default="auto", metavar="FILE|auto",
                        help="MRI fiducials file (-fiducials.fif) or 'auto' (default)")
    parser.add_argument("--omit-mm", type=float, default=5.0, metavar="X",
                        help="omit points farther than X mm before the final ICP (default 5; 0 keeps all)")
    parser.add_argument("--scale", choices=("none", "uniform", "3-axis"), default="none",
                        help="scale the MRI to the head (default none)")
    parser.add_argument("--out", required=True, type=Path, metavar="NAME-trans.fif", help="output transform")
    parser.add_argument("--json", type=Path, default=None, metavar="QC", help="write the QC as JSON")
    parser.add_argument("--electrodes", type=Path, default=None, metavar="X_electrodes.tsv",
                        help="also write electrodes in MRI coordinates (BIDS electrodes.tsv + coordsystem.json)")


def run(args: argparse.Namespace) -> int:
    from ..engine.atomic import atomic_write_json
    from ..engine.coreg.export import write_bids_electrodes, write_trans
    from ..engine.coreg.workflow import coregister
    from ..engine.errors import InputError
    from .progressbar import TextProgress

    # check output names before any work, so a bad name writes nothing
    if not args.out.name.endswith(("-trans.fif", "_trans.fif")):
        raise InputError(args.out, "the output name must end in -trans.fif (MNE's convention)")
    if args.electrodes is not None and not args.electrodes.name.endswith("_electrodes.tsv"):
        raise InputError(args.electrodes, "a BIDS electrodes file name must end in _electrodes.tsv")
    if args.omit_mm < 0:
        raise InputError(None, f"--omit-mm must be >= 0, got {args.omit_mm}")
    res = coregister(args.dig, mri=args.mri, surface=args.surface, fiducials=args.fiducials,
                     omit_mm=args.omit_mm, scale=args.scale, progress=TextProgress().progress())
    qc = res.qc
    write_trans(args.out, res.coreg.head_mri)
    if args.json is not None:
        atomic_write_json(args.json, qc)
    if args.electrodes is not None:
        write_bids_electrodes(args.electrodes, res.coreg.dig, res.coreg.head_mri, res.scalp)
    print(f"MRI fiducials: {res.fiducials_from}")
    print(f"scalp: {qc['surface']['n_vertices']} vertices, closed={qc['surface']['closed']}")
    print(f"{qc['n_points']} points ({qc['n_omitted']} omitted): mean {qc['mean_mm']:.2f} mm, "
          f"median {qc['median_mm']:.2f} mm, max {qc['max_mm']:.2f} mm, SD {qc['sd_mm']:.2f} mm; "
          f"beyond 3/5/10 mm: {qc['pct_beyond_3mm']:.0f}/{qc['pct_beyond_5mm']:.0f}/{qc['pct_beyond_10mm']:.0f} %")
    print(f"fiducial errors LPA/NAS/RPA: {qc['fid_lpa_mm']:.1f}/{qc['fid_nasion_mm']:.1f}/{qc['fid_rpa_mm']:.1f} mm")
    if qc["scale"] != [1.0, 1.0, 1.0]:
        print("MRI scale: " + ", ".join(f"{s:.3f}" for s in qc["scale"]))
    print(f"wrote {args.out}")
    return 0
