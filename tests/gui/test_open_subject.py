"""Choosing another subject of a BIDS study from the project tree reopens the study with it."""

from __future__ import annotations

import pytest
from gui_helpers import wait_task

from workbench.gui.project_tree import SUBJECT_ROLE


@pytest.fixture(scope="module")
def two_subjects(tmp_path_factory):
    from workbench.engine.phantom import PhantomConfig, simulate_study

    root = tmp_path_factory.mktemp("twosub") / "study"
    simulate_study(root, PhantomConfig(duration_s=20, sfreq=500, n_eeg=32, tr=2.0, slices=10,
                                       n_subjects=2, seed=3))
    return root


def _eeg_inputs(win):
    proj = win.session.project
    return sorted({i.subject for i in proj.inputs if i.kind == "eeg"})


def test_double_click_a_subject_that_is_not_loaded_opens_it(qtbot, window, two_subjects):
    wait_task(qtbot, window, window.open_path(two_subjects))
    assert window.session.study.subject == "01" and _eeg_inputs(window) == ["01"]
    first = window.session.raw.get_data(start=0, stop=200)
    items = window.tree.find_items("sub-02")
    assert len(items) == 1 and items[0].data(0, SUBJECT_ROLE) == "02"
    assert items[0].text(1) == "not loaded"
    # what a user does: double-click the greyed subject
    with qtbot.waitSignal(window.tree.open_subject, timeout=2000) as sig:
        window.tree.itemDoubleClicked.emit(items[0], 0)
    assert sig.args == ["02"]
    qtbot.waitUntil(lambda: window.session.study.subject == "02", timeout=60000)
    qtbot.waitUntil(lambda: not window.tasks.tasks, timeout=60000)
    assert _eeg_inputs(window) == ["02"]
    second = window.session.raw.get_data(start=0, stop=200)
    assert second.shape == first.shape and not (second == first).all()
    # now sub-01 is the one listed as not loaded
    assert window.tree.find_items("sub-01")[0].text(1) == "not loaded"
    assert window.tree.find_items("sub-02")[0].text(1) != "not loaded"
