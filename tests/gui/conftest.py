"""Fixtures for GUI tests: a small BIDS-like study, isolated settings, a main window."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gui_helpers import leaked_widgets, live_top_level, write_small_study


@pytest.fixture(scope="session")
def small_study_master(tmp_path_factory: pytest.TempPathFactory, test_data: Path) -> Path:
    t1 = test_data / "coreg" / "subjects" / "sample" / "mri" / "T1.mgz"
    return write_small_study(tmp_path_factory.mktemp("study") / "study", t1)


@pytest.fixture
def small_study(small_study_master: Path, tmp_path: Path) -> Path:
    """A fresh copy per test (tests may write projects next to it)."""
    dst = tmp_path / "study"
    shutil.copytree(small_study_master, dst)
    return dst


@pytest.fixture
def gui_settings(tmp_path: Path):
    from workbench.gui.settings import Settings

    return Settings(tmp_path / "gui-settings.json")


@pytest.fixture(autouse=True)
def _no_modal_dialogs(monkeypatch):
    """Message boxes are recorded, never shown: a modal dialog would block the test."""
    from PyQt6.QtWidgets import QMessageBox

    shown: list[tuple[str, str]] = []
    for kind in ("warning", "critical", "information", "about"):
        monkeypatch.setattr(QMessageBox, kind,
                            lambda *a, _k=kind, **_kw: shown.append((_k, a[2] if len(a) > 2 else "")))
    return shown


@pytest.fixture(autouse=True)
def _no_save_question_on_close(monkeypatch):
    """Closing a window never asks to save in tests (test_main_window checks the question)."""
    from workbench.gui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "ask_save_on_close", False)


@pytest.fixture(autouse=True)
def _no_leaked_widgets(qapp):
    """Fail a test that leaves a shown window or one of our widgets alive behind it.

    A widget a test forgets (not given to ``qtbot.addWidget``, not closed) keeps painting
    in later tests; pyqtgraph items deleted under it have crashed whole runs. Widgets
    given to ``qtbot.addWidget`` are closed and deleted by pytest-qt before this runs.
    """
    before = live_top_level()
    yield
    leaked = leaked_widgets(before)
    if leaked:
        from PyQt6.QtWidgets import QApplication

        for w in QApplication.topLevelWidgets():  # clean up, so one leak fails one test
            if id(w) not in before:
                w.close()
                w.deleteLater()
        pytest.fail("widgets leaked by this test (give them to qtbot.addWidget or close and "
                    f"delete them): {', '.join(sorted(set(leaked)))}", pytrace=False)


@pytest.fixture(autouse=True)
def _close_3d():
    yield
    try:
        import pyvista

        pyvista.close_all()
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture
def window(qtbot, gui_settings):
    """A shown main window with isolated settings; closed (tasks cancelled) afterwards."""
    from workbench.gui.main_window import MainWindow

    win = MainWindow(settings=gui_settings)
    win.resize(1500, 950)  # pytest-xvfb's screen is 800×600; tests keep the full-HD layout
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    from PyQt6 import sip

    if sip.isdeleted(win):  # pytest-qt closed and deleted it first (a fixture waited on events)
        return
    win.tasks.cancel_all()
    qtbot.waitUntil(lambda: not win.tasks.busy, timeout=10000)
    win.close()
    qtbot.wait(1)




@pytest.fixture(scope="session")
def phantom_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short phantom study written by the engine's simulator (real formats + truth)."""
    from workbench.engine.phantom import PhantomConfig, simulate_study

    out = tmp_path_factory.mktemp("phantom") / "study"
    simulate_study(out, PhantomConfig(duration_s=12.0, sfreq=1000.0, n_eeg=32, tr=2.0,
                                      slices=20, seed=3))
    return out
