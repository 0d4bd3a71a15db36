"""Make the README's screenshots of the main window.

Opens a study (the demo phantom study by default), runs the "sync" and "gradient" steps
through the window's runner (as "Run this step" does), optionally a fusion step, and
saves the whole window with one tab shown. Needs a display whose screen is at least the
requested size, e.g.::

    Xvfb :57 -screen 0 1366x768x24 &
    DISPLAY=:57 QT_QPA_PLATFORM=xcb .venv/bin/python resources/screenshots/make_main_window.py \
        resources/screenshots/main_window_1366x768.png --size 1366x768 --tab Fusion

    .venv/bin/python resources/screenshots/make_main_window.py [OUT.png] [--size 1920x1080]
        [--tab Traces|Gradient|Fusion|...] [--study FOLDER]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PyQt6.QtWidgets import QApplication


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=str(Path(__file__).with_name("main_window.png")))
    ap.add_argument("--size", default="1920x1080", help="window size WxH (default 1920x1080)")
    ap.add_argument("--tab", default="Traces", help="tab shown (default Traces)")
    ap.add_argument("--study", default=None, help="study folder (default: build/reuse the demo)")
    ap.add_argument("--fusion", default="parametric-modulation", help="fusion step run for --tab Fusion")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)

    app = QApplication(sys.argv[:1])
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    win = MainWindow(settings=Settings(Path(tempfile.mkdtemp()) / "settings.json"))
    win.ask_save_on_close = False
    win.resize(width, height)
    win.show()

    def settle(seconds: float = 1.0) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            app.processEvents()
            time.sleep(0.02)

    def wait(task, timeout: float = 900.0) -> None:
        t0 = time.monotonic()
        while task is not None and not (task.done and not win.tasks.busy):
            if time.monotonic() - t0 > timeout:
                raise SystemExit(f"timed out: {task.title}")
            app.processEvents()
            time.sleep(0.05)
        settle(0.5)

    wait(win.open_path(args.study) if args.study else win.open_demo())
    if win.session.raw is None:
        print("nothing was opened", file=sys.stderr)
        return 1
    steps = ["gradient"] + ([args.fusion] if args.tab == "Fusion" else [])
    for step in steps:  # sync runs first by itself when the gradient step needs it
        if step in win.catalog:
            wait(win.run_step(step))
    win.pipeline.select("gradient")
    win.show_tab(args.tab)
    if args.tab == "Traces":
        view = win.pages["Traces"].view
        if win.session.cleaned is not None:
            view.set_mode("overlay")
        view.set_window(4.0)
        view.set_time(20.0)
        settle()
        view.autoscale()
    settle(3.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(out))
    print(f"saved {out} ({win.width()}×{win.height()}, minimum {win.minimumSizeHint().width()}×"
          f"{win.minimumSizeHint().height()})")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
