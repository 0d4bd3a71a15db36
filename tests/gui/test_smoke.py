"""Real-window smoke test (a separate process on the Xvfb display) and `workbench gui` errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def _image_stats(path: Path) -> tuple[float, int]:
    from PyQt6.QtGui import QImage

    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    arr = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)[..., :3]
    colours = np.unique(arr.reshape(-1, 3), axis=0).shape[0]
    return float(arr.std()), int(colours)


def test_real_window_opens_a_study_and_draws_it(qapp, small_study, tmp_path, artifacts_dir):
    """`python -m workbench gui STUDY --smoke-test PNG` shows the window, loads, exits 0."""
    assert os.environ.get("DISPLAY"), "pytest-xvfb should provide a display"
    shot = artifacts_dir / "gui_smoke_window.png"
    shot.unlink(missing_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), MNE_DONTWRITE_HOME="true")
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "gui", str(small_study), "--smoke-test", str(shot)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert shot.is_file()
    std, colours = _image_stats(shot)
    assert std > 20 and colours > 50, (std, colours)
    # the study's settings were stored in the temporary config, not the user's
    assert (tmp_path / "config" / "eegfmri-workbench" / "gui.json").is_file()


def test_gui_without_display_says_so(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is Linux-specific")
    code = main(["gui"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1
    assert "no display" in err[0] and "workbench demo --headless" in err[0]


def test_the_leak_check_sees_a_forgotten_widget(qapp):
    """The autouse leak fixture's check reports a shown window and one of ours left alive."""
    from gui_helpers import leaked_widgets, live_top_level
    from PyQt6.QtWidgets import QLabel

    from workbench.gui.log_panel import LogPanel

    before = live_top_level()
    shown = QLabel("forgotten")
    shown.show()
    ours = LogPanel()  # never shown, never deleted
    leaked = leaked_widgets(before)
    assert "PyQt6.QtWidgets.QLabel (still shown)" in leaked
    assert any(s.startswith("workbench.gui.log_panel.LogPanel") for s in leaked)
    for w in (shown, ours):
        if hasattr(w, "detach"):
            w.detach()
        w.close()
        w.deleteLater()
    assert leaked_widgets(before) == []
