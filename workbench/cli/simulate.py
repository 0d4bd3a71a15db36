"""``workbench simulate OUTDIR``: write a phantom simultaneous EEG-fMRI study with ground truth."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

NAME = "simulate"
HELP = "write a simulated EEG-fMRI study (the phantom) with ground truth"
DESCRIPTION = (
    "Simulate a simultaneous EEG-fMRI study and write it in BIDS layout and real formats: "
    "BrainVision EEG with volume triggers (Response/R128) and task markers, BOLD NIfTI with a "
    "JSON sidecar (SliceTiming), T1w NIfTI, electrodes/fiducials/head-shape points, events, and "
    "a ground_truth/ folder (clean EEG and every artifact component, R-peaks, triggers on both "
    "clocks, head->MRI transform, sources, activation masks) described by ground_truth/index.json. "
    "The same seed gives identical files."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..engine.phantom.config import PhantomConfig

    d = PhantomConfig()
    a = parser.add_argument
    a("outdir", type=Path, metavar="OUTDIR", help="study folder to create (must not exist or be empty)")
    a("--duration", type=float, default=d.duration_s, metavar="S", help=f"EEG length in s (default {d.duration_s:g})")
    a("--sfreq", type=float, default=d.sfreq, metavar="HZ", help=f"EEG sampling rate (default {d.sfreq:g})")
    a("--n-eeg", type=int, default=d.n_eeg, choices=(32, 64), help="scalp EEG channels (plus ECG and EOG)")
    a("--tr", type=float, default=d.tr, metavar="S", help=f"repetition time (default {d.tr:g})")
    a("--slices", type=int, default=d.slices, metavar="N", help=f"slices per volume (default {d.slices})")
    a("--multiband", type=int, default=d.multiband, metavar="N", help="multiband (simultaneous multi-slice) factor")
    a("--dead-time", type=float, default=d.dead_time_s, metavar="S", help="gap without slices at the end of each TR")
    a("--drift-ppm", type=float, default=d.drift_ppm, metavar="PPM",
      help=f"EEG clock drift against the scanner (default {d.drift_ppm:g})")
    a("--missing-triggers", type=int, default=0, metavar="N", help="volume triggers to drop")
    a("--extra-triggers", type=int, default=0, metavar="N", help="spurious volume triggers to add")
    a("--trigger-jitter", type=float, default=0.0, metavar="S", help="SD of the trigger latency (s)")
    a("--slice-markers", action="store_true", help="also mark every slice (Scanner/s)")
    a("--dig-noise-mm", type=float, default=d.dig_noise_mm, metavar="MM", help="RMS digitisation error")
    a("--dig-bias-mm", type=float, default=d.dig_bias_mm, metavar="MM", help="systematic outward digitiser offset")
    a("--head-points", type=int, default=d.n_head_points, metavar="N", help="head-shape points")
    a("--subjects", type=int, default=d.n_subjects, metavar="N", help="number of subjects")
    a("--seed", type=int, default=d.seed, help="random seed (same seed, same files)")
    a("--line-freq", type=float, default=d.line_freq, metavar="HZ", help="mains frequency (50 or 60)")
    a("--heart-rate", type=float, default=d.heart_rate_bpm, metavar="BPM", help="mean heart rate")
    a("--trials", type=int, default=None, metavar="N", help="number of task trials (default: fill the scan)")
    a("--motion-events", type=int, default=0, metavar="N",
      help="small head movements that step the gradient artifact (template tracking test)")
    a("--chunk", type=float, default=d.chunk_s, metavar="S", help="generation block length (memory vs speed)")
    a("--overwrite", action="store_true", help="replace OUTDIR if it exists and is not empty")


def run(args: argparse.Namespace) -> int:
    from ..engine.phantom import PhantomConfig, simulate_study
    from ..engine.phantom.writer import check_out_dir
    from .progressbar import TextProgress

    cfg = PhantomConfig(
        duration_s=args.duration, sfreq=args.sfreq, n_eeg=args.n_eeg, tr=args.tr, slices=args.slices,
        multiband=args.multiband, dead_time_s=args.dead_time, drift_ppm=args.drift_ppm,
        missing_triggers=args.missing_triggers, extra_triggers=args.extra_triggers,
        trigger_jitter_s=args.trigger_jitter, slice_markers=args.slice_markers,
        dig_noise_mm=args.dig_noise_mm, dig_bias_mm=args.dig_bias_mm, n_head_points=args.head_points,
        n_subjects=args.subjects, seed=args.seed, line_freq=args.line_freq,
        heart_rate_bpm=args.heart_rate, n_trials=args.trials, chunk_s=args.chunk,
        motion_events=args.motion_events,
    )
    check_out_dir(args.outdir, args.overwrite)
    for line in cfg.describe():
        print(f"  {line}")
    t0 = time.perf_counter()
    out = simulate_study(args.outdir, cfg, progress=TextProgress().progress(), overwrite=args.overwrite)
    print(f"wrote {cfg.n_subjects} subject(s), {cfg.duration_s:g} s, {cfg.n_eeg + 2} channels at "
          f"{cfg.sfreq:g} Hz, {cfg.n_volumes} volumes to {out} in {time.perf_counter() - t0:.1f} s",
          file=sys.stdout)
    print(f"ground truth: {out / 'ground_truth' / 'index.json'}")
    return 0
