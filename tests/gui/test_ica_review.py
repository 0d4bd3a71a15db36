"""The ICA review tab: components with map, time course, spectrum, labels; remove/keep with undo;
Apply runs the step with the choice (recorded); Cancel during the fit changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import wait_task
from PyQt6.QtCore import Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cardiac"))
from synth import make_recording  # noqa: E402

pytestmark = pytest.mark.gui

#: columns of the component table
BOX, LABEL, SCORE = 1, 3, 4


@pytest.fixture
def ica_tab(qtbot, window, tmp_path):
    from workbench.engine.project import Project

    raw, truth = make_recording(duration=30.0, sfreq=250.0, seed=2)
    session = window.session
    (tmp_path / "proj").mkdir()
    session.set_project(Project(tmp_path / "proj"))
    session.set_raw(raw)
    session.study.rpeaks = truth["rpeaks"]  # as the cardiac step would have found them
    tab = window.pages["ICA"]
    window.show_tab("ICA")
    return session, tab, window, raw, truth


def _stored(session):
    return session.project.settings.get("params", {}).get("ica", {}).get("exclude")


def test_review_remove_keep_undo_and_apply(qtbot, ica_tab, artifacts_dir):
    session, tab, window, raw, truth = ica_tab
    assert tab.table.rowCount() == 0 and "Run ICA" in tab.summary.text()
    task = tab.runbar.run()
    assert task is not None and tab.runbar.cancel_button.isEnabled()
    wait_task(qtbot, window, task, timeout=120000)
    assert not window.errors, window.errors
    res = session.study.results["ica"]
    n = res.qc["n_components"]
    assert tab.table.rowCount() == n
    # the detection's labels with their scores are in the table, and their boxes ticked
    auto = sorted(res.details["auto"])
    assert auto and not tab.pending()
    labels = {i: tab.table.item(i, LABEL).text() for i in range(n)}
    assert any(labels[i] == "EOG" for i in auto) and any(labels[i] == "cardiac" for i in auto)
    assert all(tab.table.item(i, SCORE).text() for i in auto)
    assert [i for i in range(n) if tab.table.item(i, BOX).checkState() == Qt.CheckState.Checked] == auto
    # a component's map, spectrum and time course are drawn
    keep = next(i for i in range(n) if i not in auto)
    tab.table.selectRow(keep)
    assert tab.current == keep
    assert len(tab.fig.axes) >= 1 and tab.fig.axes[0].images  # the topomap
    assert len(tab.spectrum.getPlotItem().listDataItems()) == 1
    assert len(tab.course.getPlotItem().listDataItems()) == 1
    window.grab().save(str(artifacts_dir / "ica_review.png"))

    # reject one more component (tick), keep a detected one (untick); undo both, redo both
    tab.table.item(keep, BOX).setCheckState(Qt.CheckState.Checked)
    assert _stored(session) == ",".join(str(i) for i in sorted([*auto, keep])) and tab.pending()
    assert "remove ICA component" in window.act_undo.text()
    cardiac_ic = next(i for i in auto if labels[i] == "cardiac")
    tab.table.item(cardiac_ic, BOX).setCheckState(Qt.CheckState.Unchecked)
    chosen = sorted(set(auto) - {cardiac_ic} | {keep})
    assert tab.excluded() == chosen
    window.undo()
    window.undo()
    assert _stored(session) is None and tab.excluded() == auto and not tab.pending()
    assert tab.table.item(keep, BOX).checkState() == Qt.CheckState.Unchecked
    window.redo()
    window.redo()
    assert tab.excluded() == chosen and tab.table.item(cardiac_ic, BOX).checkState() == Qt.CheckState.Unchecked

    # Apply: the step runs with the choice, records it, and the EEG loses exactly those components
    task = tab.runbar.run()
    wait_task(qtbot, window, task, timeout=120000)
    res2 = session.study.results["ica"]
    assert res2.qc["excluded"] == chosen and not tab.pending()
    rec = session.project.steps[-1]
    assert rec.name == "ica" and rec.params["exclude"] == _stored(session)
    assert [v.step for v in session.study.history] == ["ica"]  # replaced, not stacked
    ica = res2.details["ica"]
    expect = raw.copy().load_data()
    ica.apply(expect, exclude=chosen, verbose="error")
    np.testing.assert_allclose(session.eeg.get_data(), expect.get_data(), atol=1e-12)
    # "Use detection" goes back to the automatic choice (undoable)
    tab.auto_button.click()
    assert _stored(session) is None and tab.excluded() == auto


def test_cancel_during_the_fit_changes_nothing(qtbot, ica_tab):
    session, tab, window, raw, _ = ica_tab
    task = tab.runbar.run()
    assert task is not None
    qtbot.waitUntil(lambda: "iteration" in tab.runbar.status.text() or task.done, timeout=60000)
    tab.runbar.cancel()
    wait_task(qtbot, window, task, timeout=60000)
    assert tab.runbar.last_error == "cancelled"
    assert "ica" not in session.study.results and session.study.history == []
    assert session.project.steps[-1].status == "cancelled"
    assert tab.runbar.apply_button.isEnabled() and not tab.runbar.cancel_button.isEnabled()
