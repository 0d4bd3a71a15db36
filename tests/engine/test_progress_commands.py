"""Progress/cancel protocol and the undo/redo stack."""

from __future__ import annotations

import pytest

from workbench.engine.commands import CommandStack, SetValue
from workbench.engine.errors import Cancelled
from workbench.engine.progress import Progress, as_progress


def test_sub_ranges_map_to_the_whole_task():
    seen = []
    p = Progress(lambda f, m: seen.append((round(f, 3), m)))
    p.sub(0.0, 0.5)(1.0, "a")
    p.sub(0.5, 1.0).sub(0.5, 1.0)(0.5, "b")
    assert seen == [(0.5, "a"), (0.875, "b")]


def test_cancel_raises_at_next_report():
    p = Progress()
    p(0.1)
    p.token.cancel()
    with pytest.raises(Cancelled):
        p.sub(0.2, 0.4)(0.5, "x")


def test_as_progress_wraps_plain_callables():
    seen = []
    as_progress(lambda f, m: seen.append(f))(2.0, "clamped")
    assert seen == [1.0]
    as_progress(None)(0.3)  # silent


def test_undo_redo_restores_values():
    state = {"v": 1}
    stack = CommandStack()
    stack.push(SetValue("set v", lambda x: state.__setitem__("v", x), 1, 2))
    stack.push(SetValue("set v", lambda x: state.__setitem__("v", x), 2, 3))
    assert state["v"] == 3
    stack.undo()
    stack.undo()
    assert state["v"] == 1 and not stack.can_undo and stack.redo_text == "set v"
    stack.redo()
    assert state["v"] == 2
    stack.push(SetValue("set v", lambda x: state.__setitem__("v", x), 2, 5))
    assert not stack.can_redo
