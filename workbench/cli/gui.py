"""``workbench gui [PATH]``: open the desktop GUI."""

from __future__ import annotations

import argparse
import os
import sys

from ..engine.errors import WorkbenchError

NAME = "gui"
HELP = "open the GUI (on a project, a BIDS study folder or a data file)"
DESCRIPTION = (
    "Open the EEG-fMRI Workbench window, optionally on a project folder, a BIDS study "
    "folder or a data file. Loading runs in the background; the window stays responsive."
)


class NoDisplayError(WorkbenchError):
    """No screen to open a window on."""


def has_display() -> bool:
    """True when a window can be shown (always on Windows/macOS)."""
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="project folder, BIDS study folder or data file")
    parser.add_argument("--demo", action="store_true", help="build and open the demo study")
    parser.add_argument("--smoke-test", metavar="PNG",
                        help="close once loaded, after saving a window screenshot (for tests)")


def run(args: argparse.Namespace) -> int:
    if not has_display():
        raise NoDisplayError(
            "no display available (DISPLAY/WAYLAND_DISPLAY unset); run "
            "`workbench demo --headless` instead, or start an X server (e.g. xvfb-run)"
        )
    # imported here, not at module level: the rest of the CLI never loads Qt
    from workbench.gui.app import run_gui

    return run_gui(args.path, demo=args.demo, smoke_test=args.smoke_test)
