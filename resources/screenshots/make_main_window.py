"""Make ``resources/screenshots/main_window.png``: the main window on the demo study.

Opens the demo phantom study, runs the registered "sync" and "gradient" pipeline steps
from the step panel (as a user would with "Run this step"), so the pipeline bar shows
them done, the QC panel their metrics and the traces raw (grey) and cleaned (blue) EEG,
and saves the whole window. Needs a display (e.g. ``xvfb-run -s "-screen 0 1920x1200x24"``).

    .venv/bin/python resources/screenshots/make_main_window.py [OUT.png]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("main_window.png")


def main() -> int:
    app = QApplication([])
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    win = MainWindow(settings=Settings(Path(tempfile.mkdtemp()) / "settings.json"))
    win.resize(1600, 1000)
    win.show()
    task = win.open_demo()
    state = {"phase": "load", "t0": time.monotonic()}

    def settle(n: int = 20) -> None:
        for _ in range(n):
            app.processEvents()
            time.sleep(0.05)

    def shoot() -> None:
        win.show_tab("Traces")
        view = win.pages["Traces"].view
        if win.session.cleaned is not None:
            view.set_mode("overlay")
        view.set_window(4.0)
        view.set_time(40.0)
        settle()
        view.autoscale()
        settle()
        OUT.parent.mkdir(parents=True, exist_ok=True)
        win.grab().save(str(OUT))
        print(f"saved {OUT}")
        win.close()
        app.quit()

    todo = ["sync", "gradient"]

    def poll() -> None:
        if time.monotonic() - state["t0"] > 600:
            print("timed out", file=sys.stderr)
            app.exit(1)
            return
        if not task.done or win.tasks.busy:
            QTimer.singleShot(300, poll)
            return
        names = [s.name for s in win.pipeline.steps]
        while todo and todo[0] not in names:
            todo.pop(0)
        if todo and win.session.raw is not None:
            win.run_step(todo.pop(0))
            QTimer.singleShot(300, poll)
            return
        if "gradient" in names:
            win.pipeline.select("gradient")
        shoot()

    QTimer.singleShot(500, poll)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
