"""Exceptions shared by the engine, the CLI and the GUI.

Every error a user can cause derives from :class:`WorkbenchError`, whose ``str()`` is a
single line that names the file (when there is one) and what is wrong with it. The CLI
prints that line and exits non-zero; the GUI shows it in a dialog. No traceback reaches
the user for these.
"""

from __future__ import annotations

from os import PathLike


class WorkbenchError(Exception):
    """Base class of all user-facing errors (one-line message)."""


class InputError(WorkbenchError):
    """A file or argument the user supplied cannot be used.

    Parameters
    ----------
    path : str | PathLike | None
        The offending file, if any; it is named at the start of the message.
    problem : str
        What is wrong, and when possible how to fix it.
    """

    def __init__(self, path: str | PathLike | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = " ".join(str(problem).split())  # force one line
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")


class ProjectError(InputError):
    """A project file is unreadable, broken or from a newer version."""


class Cancelled(WorkbenchError):
    """Raised inside long work when the user asked to cancel it."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)
