"""``workbench steps [--json]``: every step (built-in and plugin) with its declaration."""

from __future__ import annotations

import argparse
import json

NAME = "steps"
HELP = "list every available step with its parameters (built-in stages and fusion plugins)"
DESCRIPTION = (
    "Lists each step's id, stage, title, parameters (name, type, default, unit, help), what it "
    "requires from the study and what it provides. --json prints the declarations as JSON."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the declarations as JSON")


def run(args: argparse.Namespace) -> int:
    from ..engine.steps import format_value
    from ..plugin_api import all_steps

    specs = list(all_steps().values())
    if args.json:
        print(json.dumps({"steps": [s.to_dict() for s in specs]}, indent=2, default=str))
        return 0
    for s in specs:
        state = "" if s.available else f"  [unavailable: {s.unavailable_reason}]"
        print(f"{s.id}  ({s.stage}) {s.title}{state}")
        if s.requires or s.provides:
            print(f"    requires: {', '.join(s.requires) or '-'}; provides: {', '.join(s.provides) or '-'}")
        for p in s.params:
            default = p.none_label if p.default is None else format_value(p.default, unit=p.unit)
            print(f"    {p.name:<18} {p.type:<6} default {default}")
    return 0
