"""Command-line options generated from step declarations (DESIGN §2b).

Every declared :class:`~workbench.engine.steps.Param` of a step becomes an option:
``--<step>-<name>`` always, and ``--<name>`` too when no other step of the command
declares that name. Values are validated by the declaration itself, so the CLI, the GUI
forms and pipeline files accept exactly the same values ("off"/"auto" included).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from ..engine.steps import Param, StepSpec

__all__ = ["add_step_options", "step_params"]


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _dest(step: StepSpec, p: Param) -> str:
    return f"step__{step.id.replace('-', '_')}__{p.name}"


def _help(p: Param) -> str:
    text = p.help.replace("%", "%%")
    bits = []
    if p.type == "bool":
        bits.append(f"default {'on' if p.default else 'off'}")
    else:
        default = p.none_label if p.default is None else p.default
        bits.append(f"default {default}{(' ' + p.unit) if p.unit and p.default is not None else ''}")
    if p.choices:
        bits.append("one of " + ", ".join(map(str, p.choices)))
    if p.optional:
        bits.append(f"'{p.none_label}' allowed")
    return f"{text} ({'; '.join(bits)})"


def add_step_options(parser: argparse.ArgumentParser, steps: Iterable[StepSpec]) -> None:
    """Add one option per declared parameter of ``steps`` (a group per step)."""
    steps = list(steps)
    counts: dict[str, int] = {}
    for s in steps:
        for p in s.params:
            counts[p.name] = counts.get(p.name, 0) + 1
    taken = {a for act in parser._actions for a in act.option_strings}
    for s in steps:
        group = parser.add_argument_group(f"{s.title} ({s.id}) parameters")
        for p in s.params:
            names = [f"--{s.id}-{_flag(p.name)}"]
            if counts[p.name] == 1 and f"--{_flag(p.name)}" not in taken:
                names.insert(0, f"--{_flag(p.name)}")
            names = [n for n in names if n not in taken]
            if not names:
                continue
            taken.update(names)
            kw: dict[str, Any] = {"dest": _dest(s, p), "default": None, "help": _help(p)}
            if p.type == "bool":
                group.add_argument(*names, action=argparse.BooleanOptionalAction, **kw)
            else:
                meta = p.unit.upper() if p.unit and p.unit.isalpha() and len(p.unit) <= 3 else "VALUE"
                group.add_argument(*names, metavar=meta, **kw)


def step_params(args: argparse.Namespace, step: StepSpec) -> dict[str, Any]:
    """The parameters of ``step`` given on the command line (raw values; the runner validates)."""
    out: dict[str, Any] = {}
    for p in step.params:
        value = getattr(args, _dest(step, p), None)
        if value is not None:
            out[p.name] = value
    return out
