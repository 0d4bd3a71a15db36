"""Lessons: a teaching mode that walks through the method chapter by chapter on the phantom.

Each lesson is one module here with a ``LESSON`` (:class:`~workbench.lessons.base.Lesson`);
its experiment runs the real engine (coregistration, sync, gradient, cardiac, cleanup,
haemodynamics, the fusion plugins through plugin discovery) on a small phantom and states
only numbers it computed. Qt-free: the GUI panel and ``workbench lesson`` are views of it.
"""

from __future__ import annotations

import importlib

from ..engine.errors import InputError
from .base import Claim, Lesson, LessonFigure, LessonResult, Question, check_answer

__all__ = ["LESSON_IDS", "Lesson", "LessonResult", "LessonFigure", "Claim", "Question", "check_answer",
           "all_lessons", "get_lesson"]

#: lesson id -> module, in course order
_MODULES = {
    "coreg": "coreg",
    "drift": "drift",
    "gradient": "gradient",
    "bcg": "bcg",
    "cleanup": "cleanup",
    "hemodynamics": "hemodynamics",
    "eeg-informed-fmri": "eeg_informed_fmri",
    "fmri-informed-eeg": "fmri_informed_eeg",
    "symmetric": "symmetric",
    "dcm": "dcm",
    "deep-fusion": "deep_fusion",
}
LESSON_IDS = tuple(_MODULES)


def get_lesson(lesson_id: str) -> Lesson:
    """The lesson ``lesson_id`` (its module is imported on first use).

    Raises
    ------
    InputError
        Unknown id (the known ones are listed).
    """
    if lesson_id not in _MODULES:
        raise InputError(None, f"unknown lesson {lesson_id!r}; lessons: {', '.join(LESSON_IDS)}")
    return importlib.import_module(f"{__name__}.{_MODULES[lesson_id]}").LESSON


def all_lessons() -> list[Lesson]:
    """Every lesson in course order (including unavailable ones, which say why)."""
    return [get_lesson(i) for i in LESSON_IDS]
