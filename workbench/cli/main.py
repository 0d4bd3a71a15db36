"""Entry point of the ``workbench`` command."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from .. import __version__
from ..engine.errors import Cancelled, WorkbenchError

_NOT_SUBCOMMANDS = {"main", "progressbar", "common", "stepopts"}

#: the order subcommands are listed in ``workbench --help``
_ORDER = ("gui", "demo", "simulate", "info", "sync", "clean", "coreg", "fuse", "run", "steps", "plugins", "lesson")


def _subcommands() -> list[ModuleType]:
    pkg = importlib.import_module("workbench.cli")
    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in _NOT_SUBCOMMANDS or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"workbench.cli.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    rank = {n: i for i, n in enumerate(_ORDER)}
    return sorted(mods, key=lambda m: (rank.get(m.NAME, len(rank)), m.NAME))


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    """The argument parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="EEG-fMRI Workbench: sync, artifact correction, coregistration and fusion "
        "of simultaneous EEG-fMRI. Without a subcommand the GUI opens.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    mods = {}
    subparsers = {}
    for mod in _subcommands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        mods[mod.NAME] = mod
        subparsers[mod.NAME] = p
    parser.set_defaults(_subparsers=subparsers)
    return parser, mods


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, mods = build_parser()
    known = set(mods) | {"-h", "--help", "--version", "-v", "--verbose"}
    # `workbench` and `workbench PROJECT` open the GUI (DESIGN §3.1)
    if "gui" in mods and (not argv or (argv[0] not in known and not argv[0].startswith("-"))):
        argv = ["gui", *argv]
    # a subcommand may add options that depend on its first argument (fuse METHOD: the
    # method's declared file inputs); only the command being run pays for that
    if argv and argv[0] in mods and hasattr(mods[argv[0]], "extend_arguments"):
        try:
            mods[argv[0]].extend_arguments(parser.get_default("_subparsers")[argv[0]], argv[1:])
        except WorkbenchError as exc:
            print(f"workbench {argv[0]}: error: {exc}", file=sys.stderr)
            return 1
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        try:
            import mne

            mne.set_log_level("ERROR")
        except ImportError:  # pragma: no cover
            pass
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(mods[args.command].run(args) or 0)
    except Cancelled:
        print("workbench: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    except WorkbenchError as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"workbench {args.command}: error: out of memory", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
