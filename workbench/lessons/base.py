"""The shape of a lesson (Qt-free): a declaration, an experiment and its result.

A :class:`Lesson` is a chapter of the method told on the phantom: text, an experiment
whose settings are the engine's :class:`~workbench.engine.steps.Param` objects (so the
GUI form and the CLI ``--param`` are generated like every step's), and questions.
``lesson.run(params, progress)`` runs the *real* engine on a small phantom and returns
a :class:`LessonResult`: the numbers the text states (:class:`Claim`, every one
computed there and then, never typed in), a table, figures made lazily with matplotlib,
and the true answer to each question (from the phantom's ground truth).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine.errors import InputError
from ..engine.progress import ProgressLike, as_progress
from ..engine.steps.params import Param, validate_values

__all__ = ["Claim", "Question", "LessonFigure", "LessonResult", "Lesson", "check_answer"]


@dataclass(frozen=True)
class Claim:
    """One number a lesson states, computed by the engine in this run.

    Parameters
    ----------
    key : str
        Stable name (tests assert it).
    text : str
        The sentence shown to the student, with the number already formatted.
    value : float
        The number itself (SI or the unit named).
    unit : str
        Unit of ``value``.
    """

    key: str
    text: str
    value: float
    unit: str = ""


@dataclass(frozen=True)
class Question:
    """A quiz question whose answer comes from the experiment's result (the truth).

    Parameters
    ----------
    id : str
        Key of the answer in :attr:`LessonResult.answers`.
    text : str
        The question.
    kind : str
        ``"choice"`` (pick one of ``choices``) or ``"number"`` (type a value in ``unit``).
    choices : tuple of str
        The options for a choice question.
    unit : str
        Unit of a numeric answer.
    rel_tol, abs_tol : float
        A numeric answer is right within ``max(rel_tol * |truth|, abs_tol)``.
    explain : str
        Why; shown after the answer is checked.
    """

    id: str
    text: str
    kind: str = "choice"
    choices: tuple[str, ...] = ()
    unit: str = ""
    rel_tol: float = 0.15
    abs_tol: float = 0.0
    explain: str = ""


@dataclass
class LessonFigure:
    """A figure drawn only when shown or written: ``draw(fig)`` fills a matplotlib Figure."""

    title: str
    draw: Callable[[Any], None]
    caption: str = ""
    size: tuple[float, float] = (7.0, 4.0)

    def make(self) -> Any:
        """A new Agg-backed :class:`matplotlib.figure.Figure` with the drawing."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.size, layout="constrained")
        self.draw(fig)
        return fig


@dataclass
class LessonResult:
    """What one run of a lesson's experiment gives.

    Attributes
    ----------
    params : dict
        The validated experiment settings used.
    claims : dict of str -> Claim
        The numbers the lesson states, in the order they are shown.
    table : dict
        ``{"columns": [...], "rows": [[...], ...]}``: the experiment's table.
    figures : list of LessonFigure
    answers : dict
        Question id -> the true answer (a choice string or a number).
    notes : list of str
        Plain statements about this run (what was simulated, what was skipped).
    """

    params: dict[str, Any]
    claims: dict[str, Claim] = field(default_factory=dict)
    table: dict[str, Any] = field(default_factory=lambda: {"columns": [], "rows": []})
    figures: list[LessonFigure] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def claim(self, key: str, text: str, value: float, unit: str = "") -> None:
        """Record a claim; a non-finite number is an error, never shown as a result."""
        value = float(value)
        if not math.isfinite(value):
            raise InputError(None, f"lesson claim {key!r} is not a finite number ({value}); the experiment failed")
        self.claims[key] = Claim(key, text, value, unit)


def check_answer(question: Question, truth: Any, answer: Any) -> tuple[bool, str]:
    """Whether ``answer`` is right, and a one-line feedback naming the true answer.

    Parameters
    ----------
    question : Question
    truth : str | float
        The true answer from :attr:`LessonResult.answers`.
    answer : str | float
        What the student gave (a numeric answer may be text).
    """
    if question.kind == "number":
        try:
            given = float(str(answer).replace(",", ".").split()[0])
        except (ValueError, IndexError):
            return False, f"not a number: {answer!r}"
        tol = max(question.rel_tol * abs(float(truth)), question.abs_tol)
        ok = abs(given - float(truth)) <= tol
        shown = f"{float(truth):.3g} {question.unit}".strip()
        verdict = "Right" if ok else "Not quite"
        return ok, f"{verdict}: the phantom says {shown} (accepted within ±{tol:.2g} {question.unit})".rstrip()
    ok = str(answer).strip().lower() == str(truth).strip().lower()
    return ok, ("Right" if ok else "Not quite") + f": the phantom says {truth}"


RunFn = Callable[[dict[str, Any], Any], LessonResult]


@dataclass(frozen=True)
class Lesson:
    """The declaration of one lesson.

    Parameters
    ----------
    id : str
        Lesson id (``workbench lesson ID``).
    chapter : int
        Its place in the course.
    title : str
    summary : str
        One line for lists and menus.
    text : tuple of str
        The explanation, paragraph by paragraph (plain text; ``*word*`` for emphasis).
    params : tuple of Param
        The experiment's settings (defaults keep it to a few seconds).
    run_fn : callable | None
        ``run_fn(params, progress) -> LessonResult``; None when the lesson is unavailable.
    questions : tuple of Question
    engine : tuple of str
        The engine modules / steps / plugins the experiment runs (said in the handout).
    unavailable_reason : str
        Why the lesson cannot run here; empty if it can.
    plugins : tuple of str
        Fusion plugins (method ids) the experiment runs; a missing or broken one makes the
        lesson unavailable, saying which.
    """

    id: str
    chapter: int
    title: str
    summary: str
    text: tuple[str, ...]
    params: tuple[Param, ...]
    run_fn: RunFn | None
    questions: tuple[Question, ...] = ()
    engine: tuple[str, ...] = ()
    unavailable_reason: str = ""
    plugins: tuple[str, ...] = ()

    @property
    def why_unavailable(self) -> str:
        """Why the lesson cannot run here ('' when it can): not built, or a plugin missing or broken."""
        if self.unavailable_reason:
            return self.unavailable_reason
        if self.run_fn is None:
            return "this lesson has no experiment"
        if self.plugins:
            from ..plugin_api import discover

            records = {r.id: r for r in discover()}
            for pid in self.plugins:
                rec = records.get(pid)
                if rec is None:
                    return f"needs the {pid} fusion plugin, which is not installed"
                if not rec.ok:
                    return f"the {pid} fusion plugin cannot be used: {rec.error or 'disabled'}"
        return ""

    @property
    def available(self) -> bool:
        return not self.why_unavailable

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every setting's value (defaults overridden by ``given``, strings converted, checked)."""
        return validate_values(self.params, given, f"lesson {self.id!r}")

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    def run(self, params: Mapping[str, Any] | None = None, progress: ProgressLike | None = None) -> LessonResult:
        """Run the experiment with ``params`` (validated first).

        Raises
        ------
        InputError
            A bad setting, or the lesson is unavailable here (the message says why).
        """
        why = self.why_unavailable
        if why:
            raise InputError(None, f"lesson {self.id!r} cannot run: {why}")
        values = self.validate(params)
        p = as_progress(progress)
        p(0.0, self.title)
        result = self.run_fn(values, p)  # type: ignore[misc]
        result.params = dict(values)
        missing = [q.id for q in self.questions if q.id not in result.answers]
        if missing:
            raise InputError(None, f"lesson {self.id!r} gave no true answer for {', '.join(missing)}")
        p(1.0, f"{self.title}: done")
        return result


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """A lesson table (rows are formatted for display by the views)."""
    return {"columns": list(columns), "rows": [list(r) for r in rows]}
