"""The R-peak editor of the Cardiac tab: add, remove, move with undo change the beats and the
project; Apply re-runs the correction with them; the recorded run reproduces the same EEG."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import wait_task
from PyQt6.QtCore import QPointF, Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cardiac"))
from synth import make_recording  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def cardiac(qtbot, window, tmp_path):
    """The main window with a synthetic ECG + BCG recording in a project, the cardiac step run."""
    from workbench.engine.project import Project

    raw, truth = make_recording(duration=40.0, sfreq=500.0, seed=4)
    session = window.session
    (tmp_path / "proj").mkdir()
    session.set_project(Project(tmp_path / "proj"))
    session.set_raw(raw)
    window.step_panel.set_param("cardiac", "bcg_window", 11)
    window.step_panel.set_param("cardiac", "compare", False)
    tab = window.pages["Cardiac"]
    window.show_tab("Cardiac")
    task = tab.runbar.run()
    assert task is not None
    wait_task(qtbot, window, task, timeout=120000)
    assert tab.result is not None, tab.runbar.last_error
    session.undo.clear()
    return session, tab, window, raw, truth


def _stored(session):
    return session.project.settings["params"]["cardiac"].get("beat_edits")


class _Drag:
    """A pyqtgraph drag event as BeatScatter sees it (QTest cannot hold a button while moving)."""

    def __init__(self, start: QPointF, pos: QPointF, start_flag: bool, finish: bool) -> None:
        self._start, self._pos, self._s, self._f = start, pos, start_flag, finish
        self.accepted = False

    def button(self):
        return Qt.MouseButton.LeftButton

    def isStart(self):  # noqa: N802
        return self._s

    def isFinish(self):  # noqa: N802
        return self._f

    def buttonDownPos(self):  # noqa: N802
        return self._start

    def pos(self):
        return self._pos

    def accept(self):
        self.accepted = True

    def ignore(self):
        self.accepted = False


def test_add_remove_move_with_undo_change_the_beats_and_the_project(qtbot, cardiac):
    session, tab, window, raw, truth = cardiac
    ed = tab.editor
    det = ed.detected.copy()
    assert len(det) == len(truth["rpeaks"]) and np.array_equal(ed.beats, det)
    assert _stored(session) is None and not tab.pending()

    # remove (Delete key on the selected beat); undo and redo through the window's menu actions
    ed.select(5)
    ed.ecg_plot.setFocus()
    qtbot.keyClick(ed.ecg_plot, Qt.Key.Key_Delete)
    assert len(ed.beats) == len(det) - 1 and det[5] not in ed.beats
    assert _stored(session) == f"-{det[5]:.5f}" and tab.pending()
    assert "remove beat" in window.act_undo.text()
    window.undo()
    assert np.array_equal(ed.beats, det) and _stored(session) is None and not tab.pending()
    window.redo()
    assert len(ed.beats) == len(det) - 1

    # add back by double-clicking 15 ms after the removed R-peak: snapped onto the QRS
    ed.ecg_plot.setXRange(det[5] - 1.5, det[5] + 1.5, padding=0)
    qtbot.wait(20)
    vb = ed.ecg_plot.getViewBox()
    ymid = float(np.mean(vb.viewRange()[1]))
    scene = vb.mapViewToScene(QPointF(det[5] + 0.015, ymid))
    pos = ed.ecg_plot.mapFromScene(scene)
    qtbot.mouseDClick(ed.ecg_plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.wait(20)
    assert len(ed.beats) == len(det)
    new = ed.beats[np.argmin(np.abs(ed.beats - det[5]))]
    assert abs(new - det[5]) <= 1.0 / ed.sfreq + 1e-9  # on the R-peak, not where clicked

    # nudge with the arrow keys: one sample, then 10 ms with Shift
    ed.select(8)
    t8 = ed.beats[8]
    qtbot.keyClick(ed.ecg_plot, Qt.Key.Key_Right)
    assert ed.beats[8] == pytest.approx(t8 + 1 / ed.sfreq, abs=1e-5)
    qtbot.keyClick(ed.ecg_plot, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert ed.beats[8] == pytest.approx(t8 + 1 / ed.sfreq - 0.01, abs=1e-5)

    # drag beat 12 by +40 ms (the scatter's own drag handler)
    t12, y12 = ed.beats[12], float(ed._y(ed.beats[12:13])[0])
    start = QPointF(t12, y12)
    for ev in (_Drag(start, start, True, False), _Drag(start, QPointF(t12 + 0.02, y12), False, False),
               _Drag(start, QPointF(t12 + 0.04, y12), False, True)):
        ed.scatter.mouseDragEvent(ev)
        assert ev.accepted
    assert np.any(np.abs(ed.beats - (t12 + 0.04)) < 1.5 / ed.sfreq) and not np.any(np.abs(ed.beats - t12) < 1e-6)
    assert "move beat" in window.act_undo.text()

    # every step is undoable back to the detection; the project holds the edits and saves them
    n_edits = 5
    for _ in range(n_edits):
        window.undo()
    assert np.array_equal(ed.beats, det) and _stored(session) is None
    for _ in range(n_edits):
        window.redo()
    stored = _stored(session)
    assert stored and stored.count("+") == 3 and stored.count("-") == 3  # net: beats 5, 8, 12 replaced
    session.project.save()
    from workbench.engine.project import Project

    again = Project.load(session.project.root)
    assert again.settings["params"]["cardiac"]["beat_edits"] == stored


def test_apply_reruns_with_the_edits_and_the_recorded_run_reproduces_the_eeg(qtbot, cardiac):
    from workbench.engine.runner import Runner
    from workbench.engine.steps import builtin_steps
    from workbench.engine.study import Study

    session, tab, window, raw, truth = cardiac
    ed = tab.editor
    det = ed.detected.copy()
    ed.remove_beat(10)
    ed.add_beat(0.5 * (det[20] + det[21]), snap=False)  # a spurious beat
    assert tab.pending() and "Apply" in tab.runbar.status.text()
    wanted = ed.beats.copy()
    task = tab.runbar.run()
    assert task is not None and tab.runbar.cancel_button.isEnabled()
    wait_task(qtbot, window, task, timeout=120000)
    assert not window.errors, window.errors
    q = session.study.results["cardiac"].qc
    assert q["beats_removed_by_hand"] == 1 and q["beats_added_by_hand"] == 1
    np.testing.assert_allclose(session.study.rpeaks, wanted, atol=1e-5)
    assert not tab.pending() and np.array_equal(ed.beats, wanted)
    # the two implausible intervals the edits made are shown in red
    assert len(ed.implausible_times()) >= 2 and ed.next_implausible() is not None
    rec = session.project.steps[-1]
    assert rec.name == "cardiac" and rec.params["beat_edits"] == _stored(session)
    # the beat-locked overlays are drawn (before + the method run)
    assert len(tab.stacks.ci.items) >= 4
    # replay: the recorded parameters on the same recording give the same corrected EEG
    study = Study()
    study.set_raw(raw.copy())
    Runner(study, builtin_steps(), Path("unused"), write_files=False).run_step("cardiac", rec.params)
    np.testing.assert_array_equal(study.eeg.get_data(), session.eeg.get_data())


def test_a_correction_dropped_by_an_earlier_rerun_says_so(qtbot, cardiac):
    """When a step before it runs again, the cardiac version leaves the EEG: the tab says so
    (the pipeline bar shows ↻) until Apply runs it again."""
    session, tab, window, raw, truth = cardiac
    assert "not in the current EEG" not in tab.runbar.status.text().lower()
    session.study.history.clear()  # what the runner does to it when a step before it runs again
    session.cleaned_changed.emit(None)
    assert "not in the current eeg" in tab.runbar.status.text().lower()
    wait_task(qtbot, window, tab.runbar.run(), timeout=120000)
    assert [v.step for v in session.study.history] == ["cardiac"]
    assert "not in the current eeg" not in tab.runbar.status.text().lower()
