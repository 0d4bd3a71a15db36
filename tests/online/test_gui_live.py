"""The live view: a replay runs in a worker thread and the window shows it."""

from __future__ import annotations

import os

import numpy as np
import pytest
from test_lsl_replay import _lsl_works


def test_live_view_replays_and_reports(qtbot, short_recording, tmp_path) -> None:
    why = _lsl_works()
    if why:
        pytest.skip(why)
    from workbench.gui.online import OnlineWindow

    path, raw = short_recording
    win = OnlineWindow()
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    win.path.setText(str(path))
    win.start()
    # mid-run: traces drawn, latency shown
    qtbot.waitUntil(lambda: "gradient correction running" in " ".join(win.messages), timeout=60000)
    qtbot.wait(1500)
    shot = tmp_path / "online_live.png"
    win.grab().save(str(shot))
    if os.environ.get("WB_SCREENSHOT_DIR"):
        win.grab().save(os.path.join(os.environ["WB_SCREENSHOT_DIR"], "online_live_1366x768.png"))
    x, y = win.c_clean.getData()
    assert x is not None and np.isfinite(y).sum() > 100
    assert "ms" in win.lat_lbl.text()
    # the counters follow the run (the engine's snapshot with each chunk), not only at the end
    assert not win.start_btn.isEnabled()  # still running
    mid = win.vol_lbl.text()
    n_mid = int(mid.split("/")[0])
    assert n_mid >= 3 and "1.000 s" in mid, mid
    qtbot.waitUntil(lambda: int(win.vol_lbl.text().split("/")[0]) > n_mid, timeout=5000)
    assert not win.start_btn.isEnabled()
    qtbot.waitUntil(lambda: win.start_btn.isEnabled(), timeout=60000)
    assert win.state_lbl.text().startswith("finished"), win.state_lbl.text()
    assert win.drop_lbl.text() == "0"
    from PyQt6.QtGui import QImage

    img = QImage(str(shot))
    assert img.width() >= 1300
    win.close()


def test_live_view_says_why_it_cannot_start(qtbot, tmp_path) -> None:
    from workbench.gui.online import OnlineWindow

    win = OnlineWindow()
    qtbot.addWidget(win)
    win.start()
    assert "give a recording" in win.messages[-1]
    win.path.setText(str(tmp_path / "missing.vhdr"))
    win.start()
    qtbot.waitUntil(lambda: win.start_btn.isEnabled(), timeout=10000)
    assert "file not found" in win.messages[-1]
