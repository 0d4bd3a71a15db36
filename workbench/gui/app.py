"""Start the GUI: ``run_gui(path=None, demo=False)``."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger("workbench.gui")

ORG_NAME = "EEG-fMRI Workbench"
APP_NAME = "workbench"
#: a smoke test gives up after this many seconds
SMOKE_TIMEOUT_S = 180.0


def _excepthook(exc_type, exc, tb) -> None:  # pragma: no cover - last line of defence
    """Log unexpected exceptions from Qt slots instead of aborting the application."""
    import traceback

    log.error("unexpected error: %s\n%s", exc, "".join(traceback.format_exception(exc_type, exc, tb)))


def run_gui(path: str | os.PathLike | None = None, demo: bool = False,
            smoke_test: str | os.PathLike | None = None) -> int:
    """Open the main window (optionally on ``path`` or the demo study); returns the exit code.

    Parameters
    ----------
    path : path-like | None
        A project folder, BIDS study folder or data file to open (in a worker).
    demo : bool
        Build (or reuse) the demo phantom study and open it.
    smoke_test : path-like | None
        Close automatically once the window is shown and the data are loaded, after
        saving a screenshot of the whole window to this PNG (exit 0); exit 1 if loading
        failed, 2 on timeout. Used by the real-window smoke test.
    """
    from PyQt6.QtWidgets import QApplication

    from .main_window import MainWindow, app_icon, apply_theme
    from .settings import Settings

    # the log panel shows INFO; the terminal keeps the CLI's level (WARNING unless -v)
    root = logging.getLogger()
    for handler in root.handlers:
        if handler.level == logging.NOTSET:
            handler.setLevel(root.level)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("EEG-fMRI Workbench")
    app.setWindowIcon(app_icon())
    settings = Settings()
    apply_theme(settings.prefs.theme)
    sys.excepthook = _excepthook
    win = MainWindow(settings=settings)
    win.show()
    task = None
    if demo:
        task = win.open_demo()
    elif path is not None:
        task = win.open_path(Path(path))
    if smoke_test is not None:
        _arm_smoke_test(app, win, task, Path(smoke_test))
    code = app.exec()
    return int(code)


def _arm_smoke_test(app, win, task, shot: Path) -> None:
    """Exit once ``task`` ended (and the window painted), saving a screenshot."""
    from PyQt6.QtCore import QTimer

    t0 = time.monotonic()

    def finish(code: int) -> None:
        shot.parent.mkdir(parents=True, exist_ok=True)
        win.grab().save(str(shot), "PNG")
        print(f"smoke test: screenshot {shot}, exit {code}", flush=True)
        win.ask_save_on_close = False  # nobody is there to answer
        win.close()
        app.exit(code)

    def poll() -> None:
        if time.monotonic() - t0 > SMOKE_TIMEOUT_S:
            finish(2)
            return
        if task is None or task.done:
            failed = task is not None and task.error is not None
            # give the views one more moment to draw what was loaded
            QTimer.singleShot(1500, lambda: finish(1 if failed or win.errors else 0))
            return
        QTimer.singleShot(200, poll)

    QTimer.singleShot(500, poll)
