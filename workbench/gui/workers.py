"""Run engine calls off the GUI thread, with progress and Cancel.

A :class:`Task` wraps one engine call ``fn(*args, progress=..., **kwargs)`` in a superqt
``FunctionWorker`` (napari's pattern). The engine function receives a
:class:`~workbench.engine.progress.Progress` whose callback emits a Qt signal; Qt
queues it to the GUI thread, so widgets are only ever touched there. Cancel sets the
task's :class:`~workbench.engine.progress.CancelToken`; the engine raises
:class:`~workbench.engine.errors.Cancelled` at its next progress check.

Results are handed to ``on_result`` on the GUI thread, which is where the Session is
changed. The :class:`TaskManager` keeps the running tasks; the task bar observes it.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QThreadPool, pyqtSignal
from superqt.utils import create_worker

from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.progress import CancelToken, Progress

log = logging.getLogger("workbench.gui.tasks")

#: minimum time between two progress signals (s); engines may report far more often
_PROGRESS_INTERVAL = 0.05


class Task(QObject):
    """One engine call running in a worker thread.

    Signals
    -------
    progressed(float, str)
        Fraction of the task done and a message (GUI thread).
    succeeded(object)
        The return value.
    failed(object)
        The exception (``Cancelled`` included).
    ended()
        Always emitted last, whatever happened.
    """

    progressed = pyqtSignal(float, str)
    succeeded = pyqtSignal(object)
    failed = pyqtSignal(object)
    ended = pyqtSignal()

    def __init__(self, title: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.title = title
        self.token = CancelToken()
        self.fraction = 0.0
        self.message = ""
        self.result: Any = None
        self.error: BaseException | None = None
        self.traceback = ""
        self.done = False
        self._last_emit = 0.0
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._worker: Any = None

    # runs in the worker thread: only touches plain attributes and emits signals
    def _report(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._last_emit >= _PROGRESS_INTERVAL or fraction >= 1.0:
            self._last_emit = now
            self.progressed.emit(float(fraction), str(message))

    def _call(self) -> Any:
        progress = Progress(self._report, self.token)
        try:
            return self._fn(*self._args, progress=progress, **self._kwargs)
        except BaseException:
            self.traceback = traceback.format_exc()
            raise

    # GUI thread
    def start(self) -> None:
        """Start the worker thread."""
        self.progressed.connect(self._remember)
        self._worker = create_worker(self._call, _start_thread=False, _ignore_errors=True)
        self._worker.returned.connect(self._on_returned)
        self._worker.errored.connect(self._on_errored)
        self._worker.start()

    def cancel(self) -> None:
        """Ask the engine call to stop at its next progress check."""
        if not self.done:
            log.info("%s: cancel requested", self.title)
            self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def _remember(self, fraction: float, message: str) -> None:
        self.fraction, self.message = fraction, message

    def _on_returned(self, value: Any) -> None:
        self.result = value
        self.done = True
        self.succeeded.emit(value)
        self.ended.emit()

    def _on_errored(self, exc: BaseException) -> None:
        self.error = exc
        self.done = True
        self.failed.emit(exc)
        self.ended.emit()


class TaskManager(QObject):
    """Starts tasks and tells observers (the task bar, the main window) about them.

    Signals
    -------
    started(Task), progressed(Task, float, str), ended(Task)
    user_error(Task, str)
        A :class:`WorkbenchError` (one-line message for a message box).
    crashed(Task, str, str)
        An unexpected exception: short message and the traceback (for the log).
    """

    started = pyqtSignal(object)
    progressed = pyqtSignal(object, float, str)
    ended = pyqtSignal(object)
    user_error = pyqtSignal(object, str)
    crashed = pyqtSignal(object, str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks: list[Task] = []
        # Tasks run on Qt's global thread pool, whose default size is the number of cores:
        # on a 2-core machine a long task (a live stream, a cohort, a step run) and one more
        # filled it, and a view's preparation then waited behind them (a CI run timed out
        # after 90 s waiting for the Gradient tab's views). The workers mostly wait on
        # NumPy, files or the network, so more threads than cores is fine.
        pool = QThreadPool.globalInstance()
        if pool is not None:
            pool.setMaxThreadCount(max(pool.maxThreadCount(), 8))

    @property
    def busy(self) -> bool:
        """True while any task runs."""
        return bool(self.tasks)

    def run(
        self,
        title: str,
        fn: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> Task:
        """Run ``fn(*args, progress=p, **kwargs)`` in a worker; ``on_result`` gets its value.

        ``on_result`` runs on the GUI thread; an exception inside it is reported like
        one from the worker (never a crash).
        """
        task = Task(title, fn, *args, **kwargs)
        self.tasks.append(task)
        task.progressed.connect(lambda f, m, t=task: self.progressed.emit(t, f, m))
        task.succeeded.connect(lambda v, t=task, cb=on_result: self._succeeded(t, v, cb))
        task.failed.connect(lambda e, t=task: self._failed(t, e))
        task.ended.connect(lambda t=task: self._ended(t))
        log.info("%s: started", title)
        self.started.emit(task)
        task.start()
        return task

    def cancel_all(self) -> None:
        """Cancel every running task."""
        for t in list(self.tasks):
            t.cancel()

    def _succeeded(self, task: Task, value: Any, cb: Callable[[Any], None] | None) -> None:
        if cb is None:
            log.info("%s: done", task.title)
            return
        try:
            cb(value)
            log.info("%s: done", task.title)
        except WorkbenchError as exc:
            self._failed(task, exc)
        except Exception as exc:  # noqa: BLE001 - reported, never a crash
            task.traceback = traceback.format_exc()
            self._failed(task, exc)

    def _failed(self, task: Task, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            log.warning("%s: cancelled", task.title)
        elif isinstance(exc, WorkbenchError):
            log.error("%s: %s", task.title, exc)
            self.user_error.emit(task, str(exc))
        else:
            short = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            log.error("%s failed unexpectedly: %s\n%s", task.title, short, task.traceback)
            self.crashed.emit(task, short, task.traceback)

    def _ended(self, task: Task) -> None:
        if task in self.tasks:
            self.tasks.remove(task)
        self.ended.emit(task)
