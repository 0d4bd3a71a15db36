"""``workbench plugins [list | check ID | enable ID | disable ID]``."""

from __future__ import annotations

import argparse
import json

NAME = "plugins"
HELP = "list fusion plugins, run the contract checks on one, enable or disable one"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action", nargs="?", default="list", choices=("list", "check", "enable", "disable")
    )
    p.add_argument("id", nargs="?", help="plugin (method) id for check/enable/disable")
    p.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.engine.errors import InputError
    from workbench.plugin_api import discover, set_plugin_enabled

    if args.action != "list" and not args.id:
        raise InputError(None, f"`workbench plugins {args.action}` needs a plugin id")
    if args.action == "list":
        records = discover()
        if args.json:
            print(json.dumps([r.to_dict() for r in records], indent=2))
            return 0
        if not records:
            print(
                "no fusion plugins found (entry points 'workbench.fusion' or the user plugin folder)"
            )
        for r in records:
            title = r.method.title if r.method is not None else ""
            print(f"{r.id:28s} {r.status:9s} {title}")
            print(f"{'':28s} {'':9s} from {r.source}")
            if r.error:
                print(f"{'':28s} {'':9s} error: {r.error}")
        return 0
    if args.action in ("enable", "disable"):
        known = {r.id for r in discover()}
        if args.id not in known:
            raise InputError(
                None, f"no plugin {args.id!r}; known: {', '.join(sorted(known)) or 'none'}"
            )
        set_plugin_enabled(args.id, args.action == "enable")
        print(f"{args.id}: {args.action}d")
        return 0
    from workbench.plugin_api import get_method
    from workbench.testing import check_fusion_method

    get_method(args.id)  # unknown, broken or disabled: a one-line error
    report = check_fusion_method(args.id, raise_on_fail=False)
    print(report)
    return 0 if report.ok else 1
