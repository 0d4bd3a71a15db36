"""The HTML handout of a lesson: its text, the experiment's settings, the numbers it computed,
the table, figures drawn on the spot (PNG embedded) and the questions.

Written by ``workbench lesson NAME --out DIR``; self-contained (no external files), so it
can be mailed or printed. Kept here as plain string building (the project's MNE report is
made for pipeline runs, with sections and provenance a handout does not need).
"""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import UTC, datetime
from typing import Any

from .. import __version__
from ..engine.steps import format_value
from .base import Lesson, LessonResult

__all__ = ["handout_html", "figure_png", "result_json"]

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.5;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
.summary { color: #555; font-size: 1.1em; }
table { border-collapse: collapse; margin: 0.8em 0; } td, th { border: 1px solid #bbb; padding: 0.25em 0.6em; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; } figcaption { color: #555; font-size: 0.9em; }
ol.questions li { margin-bottom: 0.6em; } .choices { color: #555; }
.claims li { margin-bottom: 0.3em; } .meta { color: #777; font-size: 0.85em; }
.answer { background: #f5f9f0; padding: 0.2em 0.5em; }
"""


def _inline(text: str) -> str:
    """Escape, then ``*word*`` -> emphasis."""
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", html.escape(text))


def figure_png(fig_def: Any, dpi: int = 110) -> bytes:
    """The PNG bytes of a :class:`~workbench.lessons.base.LessonFigure` (drawn now)."""
    fig = fig_def.make()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _cell(v: Any) -> str:
    text = format_value(v) if isinstance(v, float) else str(v)
    cls = ' class="num"' if re.fullmatch(r"[-+0-9.,e% ]+", text.strip() or "x") else ""
    return f"<td{cls}>{html.escape(text)}</td>"


def handout_html(lesson: Lesson, result: LessonResult, answers: bool = False, command: str = "") -> str:
    """The handout as one HTML document.

    Parameters
    ----------
    lesson : Lesson
    result : LessonResult
        A run of its experiment (figures are drawn now).
    answers : bool
        Add the true answers (for the teacher's copy).
    command : str
        The command line that reproduces it (shown at the end).
    """
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Lesson {lesson.chapter}: "
             f"{e(lesson.title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Lesson {lesson.chapter}: {e(lesson.title)}</h1>", f"<p class='summary'>{e(lesson.summary)}</p>"]
    parts += [f"<p>{_inline(p)}</p>" for p in lesson.text]
    parts.append("<h2>The experiment</h2><table><tr><th>setting</th><th>value</th><th>what it is</th></tr>")
    for p in lesson.params:
        v = result.params.get(p.name, p.default)
        shown = p.none_label if v is None else format_value(v, unit=p.unit)
        parts.append(f"<tr><td>{e(p.display)}</td><td class='num'>{e(shown)}</td><td>{e(p.help)}</td></tr>")
    parts.append("</table>")
    parts.append("<h2>What the phantom shows</h2><ul class='claims'>")
    parts += [f"<li data-claim='{e(c.key)}' data-value='{c.value!r}'>{_inline(c.text)}</li>"
              for c in result.claims.values()]
    parts.append("</ul>")
    if result.table.get("rows"):
        parts.append("<table><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in result.table["columns"]) + "</tr>")
        for row in result.table["rows"]:
            parts.append("<tr>" + "".join(_cell(v) for v in row) + "</tr>")
        parts.append("</table>")
    for f in result.figures:
        data = base64.b64encode(figure_png(f)).decode("ascii")
        parts.append(f"<figure><img alt='{e(f.title)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption><b>{e(f.title)}.</b> {e(f.caption)}</figcaption></figure>")
    if lesson.questions:
        parts.append("<h2>Questions</h2><ol class='questions'>")
        for q in lesson.questions:
            extra = (f"<div class='choices'>Choose: {e(' / '.join(q.choices))}</div>" if q.kind == "choice"
                     else f"<div class='choices'>Answer in {e(q.unit) or 'a number'}.</div>")
            ans = ""
            if answers:
                truth = result.answers[q.id]
                shown = f"{truth:.3g} {q.unit}".strip() if isinstance(truth, float) else str(truth)
                ans = f"<div class='answer'>Answer: {e(shown)}. {e(q.explain)}</div>"
            parts.append(f"<li>{e(q.text)}{extra}{ans}</li>")
        parts.append("</ol>")
    if result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in result.notes) + "</ul>")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p class='meta'>Computed on the spot by EEG-fMRI Workbench {e(__version__)} on {stamp} "
                 f"with {e(', '.join(lesson.engine))}."
                 + (f" Reproduce: <code>{e(command)}</code>" if command else "") + "</p></body></html>")
    return "\n".join(parts)


def result_json(lesson: Lesson, result: LessonResult) -> dict[str, Any]:
    """The run as plain data (``lesson.json`` beside the handout)."""
    return {
        "lesson": lesson.id, "title": lesson.title, "params": result.params,
        "claims": {k: {"text": c.text, "value": c.value, "unit": c.unit} for k, c in result.claims.items()},
        "table": result.table, "answers": result.answers, "notes": result.notes,
    }
