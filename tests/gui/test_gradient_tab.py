"""The Gradient tab is a view of the ``gradient`` step: declared form, runs through the runner,
shows the latest result whoever ran it; Cancel cancels the run (nothing adopted or written)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import wait_task
from PyQt6.QtCore import Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gradient"))
from gradsynth import make_recording  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def loaded(qtbot, window, tmp_path):
    """The main window with a synthetic slice-artifact recording in a project."""
    from workbench.engine.project import Project

    raw, truth, meta = make_recording(duration=30, n_eeg=8)
    session = window.session
    (tmp_path / "proj").mkdir()
    session.set_project(Project(tmp_path / "proj"))
    session.set_bold(None, meta["sidecar"])
    session.set_raw(raw)
    tab = window.pages["Gradient"]
    window.show_tab("Gradient")
    yield session, tab, window
    # Views still drawing on a loaded machine must end before the next test. pytest-qt has
    # closed and deleteLater'd the window by now, so the tab may be gone before its
    # ``ended`` slots run: wait on the tasks' own ``done`` flags, which their live Task
    # objects set whatever became of the tab.
    tasks = [t for t in (tab._stack_task, tab._view_task) if t is not None]
    qtbot.waitUntil(lambda: all(t.done for t in tasks), timeout=90000)


def _derivatives(session) -> list[Path]:
    d = session.project.derivatives
    return sorted(p for p in d.rglob("*") if p.is_file()) if d.exists() else []


def _run(qtbot, window, tab):
    qtbot.mouseClick(tab.runbar.apply_button, Qt.MouseButton.LeftButton)
    task = tab.runbar.task
    assert task is not None and task in window.tasks.tasks  # the task bar shows it
    assert tab.runbar.cancel_button.isEnabled() and not tab.runbar.apply_button.isEnabled()
    wait_task(qtbot, window, task)
    qtbot.waitUntil(lambda: tab.view_data is not None, timeout=30000)
    return task


def test_the_form_is_the_step_declaration_shared_with_the_step_panel(qtbot, loaded):
    session, tab, window = loaded
    spec = window.catalog["gradient"]
    form = tab.forms["gradient"]
    assert set(form.editors) == {p.name for p in spec.params}
    assert set(tab.forms["sync"].editors) == {p.name for p in window.catalog["sync"].params}
    for ed in form.editors.values():
        assert len(ed.toolTip()) > 30
    assert len(tab.runbar.apply_button.toolTip()) > 30 and len(tab.runbar.cancel_button.toolTip()) > 30
    # an edit in the tab is the step panel's value (one store), undoable
    form.editors["window"].setValue(12)
    form.editors["window"].editingFinished.emit()
    assert window.step_panel.params("gradient")["window"] == 12
    assert session.project.settings["params"]["gradient"]["window"] == 12
    window.undo()
    assert tab.params()["window"] == spec.defaults()["window"]
    assert form.values()["window"] == spec.defaults()["window"]
    # and an edit in the step panel shows in the tab
    window.step_panel.set_param("gradient", "lowpass", None)
    assert form.values()["lowpass"] is None and tab.params()["lowpass"] is None
    assert "slice" in tab.HELP_TEXT.lower()


def test_run_goes_through_the_runner_and_fills_every_view(qtbot, loaded, artifacts_dir):
    session, tab, window = loaded
    seen = []
    session.result_changed.connect(lambda sid, r: seen.append(sid))
    tab.set_param("gradient", "window", 12)
    _run(qtbot, window, tab)
    # recorded: sync (prepended) then gradient, with the parameters used
    recs = [(r.name, r.status) for r in session.project.steps]
    assert recs == [("sync", "done"), ("gradient", "done")]
    assert session.project.steps[-1].params["window"] == 12
    assert seen == ["sync", "gradient"]
    result = session.study.results["gradient"]
    assert tab.step_result is result and tab.result is result.details["gradient"]
    assert session.cleaned is result.details["gradient"].raw  # adopted by the session, not the tab
    assert any(p.name.endswith("_desc-gradclean_eeg.fif") for p in _derivatives(session))
    assert tab.table.rowCount() == 8
    assert float(tab.table.item(0, 3).text()) > 20  # dB reduction at the slice harmonics
    assert "Slice-harmonic reduction" in tab.summary.text()
    qtbot.waitUntil(lambda: hasattr(tab, "last_stack"), timeout=20000)
    d = tab.last_stack
    assert d["epochs"].shape[0] == 12 and d["template"].size == d["epochs"].shape[1]
    assert not d["tracked"] and "nearest volumes" in tab.stack_note.text()
    tab.volume_scroll.setValue(0)
    qtbot.waitUntil(lambda: tab._stack_task is None, timeout=20000)
    qtbot.wait(50)
    assert tab.volume_label.text().startswith("volume 1/")
    assert tab.traces.mode == "overlay"
    for i, name in enumerate(["traces", "stack", "psd", "table"]):
        tab.views.setCurrentIndex(i)
        if name == "traces":
            with qtbot.waitSignal(tab.traces.rendered, timeout=5000):
                tab.traces.request_render()
        qtbot.wait(150)
        img = tab.grab()
        assert img.width() > 500
        img.save(str(artifacts_dir / f"gradient_tab_{name}.png"))


def test_with_tracking_the_epoch_view_shows_the_chosen_neighbours(qtbot, loaded, artifacts_dir):
    session, tab, window = loaded
    tab.set_param("gradient", "track", True)
    _run(qtbot, window, tab)
    res = tab.result
    qtbot.waitUntil(lambda: hasattr(tab, "last_stack"), timeout=20000)
    qtbot.waitUntil(lambda: tab._stack_task is None, timeout=20000)
    d = tab.last_stack
    ch, v = int(tab.channel_combo.currentData()), int(tab.volume_scroll.value())
    assert d["tracked"] and d["volume"] == v
    np.testing.assert_array_equal(d["neighbours"], np.sort(res.aas.neighbours[ch][v]))
    assert d["epochs"].shape[0] == 20
    assert "Tracking on" in tab.stack_note.text()
    tab.views.setCurrentIndex(1)
    qtbot.wait(150)
    tab.grab().save(str(artifacts_dir / "gradient_tab_stack_tracked.png"))


def test_a_run_from_the_step_panel_shows_the_same_in_the_tab(qtbot, loaded):
    """Whatever ran the step, the tab shows its latest result; equal to a direct runner call."""
    from workbench.engine.runner import Runner

    session, tab, window = loaded
    window.step_panel.set_param("gradient", "lowpass", 50.0)
    window.step_panel.show_step("gradient")
    before = session.eeg
    qtbot.mouseClick(window.step_panel.run_button, Qt.MouseButton.LeftButton)
    task = window.tasks.tasks[-1]
    wait_task(qtbot, window, task)
    qtbot.waitUntil(lambda: tab.view_data is not None, timeout=30000)
    result = session.study.results["gradient"]
    assert tab.step_result is result and result.params["lowpass"] == 50.0
    # the same step through a runner on a fresh study: the same numbers
    from workbench.engine.study import Study

    st = Study()
    st.set_raw(before)
    st.set_bold(None, dict(session.bold_meta))
    ref = Runner(st, window.catalog, session.project.root / "ref", write_files=False).run(
        [("sync", {}), ("gradient", dict(result.params))])
    np.testing.assert_allclose(session.cleaned.get_data(), st.eeg.get_data(), rtol=0, atol=1e-12)
    assert ref[-1].qc["harmonic_rms_after_uv"] == result.qc["harmonic_rms_after_uv"]


def test_cancel_cancels_the_run_and_changes_nothing(qtbot, loaded):
    """Fails when Cancel does nothing: the run would finish, adopt an EEG and write files."""
    session, tab, window = loaded
    tab.runbar.run()
    task = tab.runbar.task
    assert task is not None
    tab.runbar.cancel()
    wait_task(qtbot, window, task)
    assert task.cancelled and task.error is not None
    assert type(task.error).__name__ == "Cancelled"
    assert session.cleaned is None and session.study.history == []
    assert "gradient" not in session.study.results
    assert tab.step_result is None and tab.view_data is None
    assert session.project.steps and session.project.steps[-1].status == "cancelled"
    assert _derivatives(session) == []
    assert tab.runbar.last_error == "cancelled" and "Cancelled" in tab.runbar.status.text()
    assert tab.runbar.apply_button.isEnabled() and not tab.runbar.cancel_button.isEnabled()


def test_bad_trigger_name_is_a_message_not_a_crash(qtbot, loaded):
    session, tab, window = loaded
    tab.set_param("sync", "volume_trigger", "Scan Start")
    tab.runbar.run()
    wait_task(qtbot, window, tab.runbar.task)
    assert "not found" in tab.runbar.last_error and "R128" in tab.runbar.last_error
    assert session.cleaned is None
    assert [r.status for r in session.project.steps] == ["failed", "failed"]


def test_a_reopened_study_shows_its_own_result(qtbot, loaded):
    """A new study replaces what the tab shows (no stale result of the previous one)."""
    from workbench.engine.project import Project

    session, tab, window = loaded
    _run(qtbot, window, tab)
    assert tab.step_result is not None
    raw, _truth, meta = make_recording(duration=20, n_eeg=4, seed=5)
    from workbench.engine.session import Session
    from workbench.gui import loading

    staged = Session()
    staged.project = Project(session.project.root.parent / "other")
    staged.raw = raw
    loading.apply_staged(session, staged)
    assert tab.step_result is None and tab.table.rowCount() == 0
    assert "Not run yet" in tab.summary.text()


def test_a_reopened_project_shows_its_recorded_qc(qtbot, loaded, tmp_path):
    """A saved project reopened: the tab shows the recorded run's QC (no stale views)."""
    session, tab, window = loaded
    _run(qtbot, window, tab)
    assert window.save_project() is not None
    task = window.open_path(session.project.root)
    wait_task(qtbot, window, task)
    assert task.error is None, task.traceback
    assert tab.view_data is None and tab.table.rowCount() == 0
    text = tab.summary.text()
    assert "Last recorded run: done" in text and "Slice-harmonic reduction" in text


def test_edits_made_during_a_run_are_kept(qtbot, loaded):
    """The run's records join the open project; a parameter edited meanwhile is not lost."""
    session, tab, window = loaded
    proj = session.project
    tab.runbar.run()
    task = tab.runbar.task
    tab.set_param("gradient", "window", 15)  # while the run works
    wait_task(qtbot, window, task)
    assert session.project is proj  # the same document, with the run's records added
    assert [r.name for r in proj.steps] == ["sync", "gradient"]
    assert proj.steps[-1].params["window"] is None  # what the run used: auto
    assert tab.params()["window"] == 15 and proj.settings["params"]["gradient"]["window"] == 15
    window.undo()
    assert tab.params()["window"] is None


def test_a_run_never_reverts_what_changed_meanwhile(qtbot, loaded):
    """A transform set while the gradient step runs stays (the run did not provide one)."""
    import numpy as np

    session, tab, window = loaded
    tab.runbar.run()
    task = tab.runbar.task
    new_trans = np.eye(4)
    session.set_trans(new_trans)  # e.g. a coregistration edit during the run
    wait_task(qtbot, window, task)
    assert session.trans is new_trans
    assert session.study.sync is not None and session.cleaned is not None  # what the run provided
