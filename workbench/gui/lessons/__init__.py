"""Lessons in the GUI: a Lessons menu and a lesson window (text beside live figures,
experiment controls generated from the lesson's Params, a quiz checked against the truth,
large fonts and a presentation mode for a projector)."""

from .window import LessonsWindow, install_lessons_menu

__all__ = ["LessonsWindow", "install_lessons_menu"]
