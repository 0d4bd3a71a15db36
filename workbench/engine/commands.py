"""Undo/redo: every user edit is a command object on an engine-level stack.

Following glue's ``core/command.py``: a command knows how to ``do`` and ``undo``
itself; the stack is Qt-free so tests replay edits without a GUI, and the GUI's undo
menu only displays it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psygnal import Signal


class Command:
    """Base class: subclasses implement :meth:`do` and :meth:`undo`."""

    text: str

    def do(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def undo(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class SetValue(Command):
    """Set ``setter(new)`` and remember ``old`` for undo.

    Parameters
    ----------
    text : str
        What the edit is, shown in the Edit menu ("Undo <text>").
    setter : callable
        Applies a value.
    old, new : Any
        Value before and after the edit.
    """

    text: str
    setter: Callable[[Any], None]
    old: Any
    new: Any

    def do(self) -> None:
        self.setter(self.new)

    def undo(self) -> None:
        self.setter(self.old)


@dataclass
class FunctionCommand(Command):
    """A command built from two callables."""

    text: str
    do_fn: Callable[[], None]
    undo_fn: Callable[[], None]

    def do(self) -> None:
        self.do_fn()

    def undo(self) -> None:
        self.undo_fn()


class CommandStack:
    """An undo/redo stack with a size limit.

    Attributes
    ----------
    changed : Signal
        Emitted after push, undo, redo or clear (views refresh their actions).
    """

    changed = Signal()

    def __init__(self, limit: int = 200) -> None:
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self.limit = limit

    def push(self, cmd: Command) -> None:
        """Run ``cmd`` and record it (clears the redo list)."""
        cmd.do()
        self._undo.append(cmd)
        del self._undo[: max(0, len(self._undo) - self.limit)]
        self._redo.clear()
        self.changed.emit()

    def undo(self) -> Command | None:
        """Undo the last command, if any."""
        if not self._undo:
            return None
        cmd = self._undo.pop()
        cmd.undo()
        self._redo.append(cmd)
        self.changed.emit()
        return cmd

    def redo(self) -> Command | None:
        """Redo the last undone command, if any."""
        if not self._redo:
            return None
        cmd = self._redo.pop()
        cmd.do()
        self._undo.append(cmd)
        self.changed.emit()
        return cmd

    def clear(self) -> None:
        """Forget all history."""
        self._undo.clear()
        self._redo.clear()
        self.changed.emit()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""
