"""``workbench demo``: the phantom study in the GUI, or the whole pipeline headless."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .progressbar import TextProgress

NAME = "demo"
HELP = "build the demo study from the phantom and open it (or --headless: run the whole pipeline)"
DESCRIPTION = (
    "Builds a simulated simultaneous EEG-fMRI study with ground truth and opens it in the GUI. "
    "With --headless, runs every pipeline step on it and writes DIR/report.html, "
    "DIR/project.json and DIR/derivatives/."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true", help="run without a GUI and write a report")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: ./demo-out with --headless, a cache folder otherwise)")
    parser.add_argument("--duration", type=float, default=None, help="length of the simulated run in s")


def _has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                    or os.environ.get("QT_QPA_PLATFORM") == "offscreen")
    return True


def run(args: argparse.Namespace) -> int:
    from ..engine.demo import DEMO_CONFIG, run_demo_headless

    config = dict(DEMO_CONFIG)
    if args.duration is not None:
        config["duration_s"] = float(args.duration)
    if not args.headless:
        if not _has_display():
            print("workbench demo: no display found; running headless instead", file=sys.stderr)
        else:
            from ..gui.app import run_gui  # the CLI only imports the GUI when asked to open it

            return run_gui(demo=True)
    from ..plugin_api import all_steps

    out = (args.out or Path("demo-out")).absolute()
    path = run_demo_headless(out, all_steps(), TextProgress().progress(), config)
    print(f"report: {path}")
    return 0
