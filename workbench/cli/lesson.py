"""``workbench lesson list`` / ``workbench lesson NAME --out DIR``: lessons on the phantom as HTML handouts."""

from __future__ import annotations

import argparse
import shlex

NAME = "lesson"
HELP = "teaching mode: list the lessons or write one as an HTML handout (figures computed on the spot)"
DESCRIPTION = (
    "`workbench lesson list` lists the lessons (coreg, drift, gradient, bcg, cleanup, hemodynamics, "
    "eeg-informed-fmri, fmri-informed-eeg, symmetric, dcm, deep-fusion) with their settings. "
    "`workbench lesson NAME --out DIR [--param key=value ...]` runs the lesson's experiment on the phantom "
    "with the real engine and writes DIR/handout.html (text, settings, the numbers computed, the table, "
    "figures, questions) and DIR/lesson.json. --answers adds the true answers (teacher's copy)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="`list`, or a lesson id")
    parser.add_argument("--out", metavar="DIR", help="folder for handout.html and lesson.json")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="change a setting of the experiment (repeatable); see `workbench lesson list`")
    parser.add_argument("--answers", action="store_true", help="include the true answers to the questions")


def _list() -> int:
    from ..engine.steps import format_value
    from ..lessons import all_lessons

    for lesson in all_lessons():
        why = lesson.why_unavailable
        state = f"  [not available: {why}]" if why else ""
        print(f"{lesson.chapter:>2}. {lesson.id:<18} {lesson.title}{state}")
        print(f"    {lesson.summary}")
        for p in lesson.params:
            default = p.none_label if p.default is None else format_value(p.default, unit=p.unit)
            print(f"      {p.name:<16} {p.type:<6} default {default}")
    return 0


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..engine.atomic import atomic_write_json, atomic_write_text
    from ..engine.errors import InputError
    from ..lessons import get_lesson
    from ..plugin_api import params_from_strings
    from .progressbar import TextProgress

    if args.name == "list":
        return _list()
    lesson = get_lesson(args.name)
    if not args.out:
        raise InputError(None, "--out DIR is required to write a handout")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(out, "is a file, not a folder")
    given = params_from_strings(args.param)
    params = lesson.validate(given)  # bad settings fail before anything runs
    result = lesson.run(params, progress=TextProgress().progress())
    from ..lessons.handout import handout_html, result_json

    cmd = "workbench lesson " + lesson.id + " --out " + shlex.quote(str(out)) + "".join(
        f" --param {shlex.quote(k + '=' + str(v))}" for k, v in given.items())
    text = handout_html(lesson, result, answers=args.answers, command=cmd)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "lesson.json", result_json(lesson, result))
    atomic_write_text(out / "handout.html", text)
    print(f"wrote {out / 'handout.html'}")
    for c in result.claims.values():
        print(f"  {c.text}")
    return 0
