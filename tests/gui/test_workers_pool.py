"""Long tasks do not starve short ones: Qt's global pool defaults to one thread per core."""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.gui


def test_a_short_task_runs_while_long_ones_wait(qtbot) -> None:
    from workbench.gui.workers import TaskManager

    tm = TaskManager()
    gate = threading.Event()

    def long(progress=None):  # noqa: ANN001, ANN202
        gate.wait(30)
        return "long"

    def short(progress=None):  # noqa: ANN001, ANN202
        return "short"

    longs = [tm.run(f"long {i}", long) for i in range(4)]  # e.g. a live stream, a run, a cohort
    quick = tm.run("view", short)
    try:
        qtbot.waitUntil(lambda: quick.done, timeout=5000)
        assert quick.result == "short" and not any(t.done for t in longs)
    finally:
        gate.set()
        qtbot.waitUntil(lambda: all(t.done for t in longs), timeout=10000)
