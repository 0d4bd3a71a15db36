"""Opening real files in the window (issue 9 item 4): a BIDS EEG-fMRI folder whose EEG
signal files are absent lists its subjects and shows the header-only recording greyed out
with the reason; a FreeSurfer subject folder opens as anatomy."""

from __future__ import annotations

import pytest
from gui_helpers import wait_task
from PyQt6.QtWidgets import QMessageBox


@pytest.fixture(autouse=True)
def boxes(monkeypatch):
    shown: list[tuple[str, str]] = []
    for kind in ("warning", "critical", "information", "about"):
        monkeypatch.setattr(QMessageBox, kind,
                            lambda *a, _k=kind: shown.append((_k, a[2] if len(a) > 2 else "")))
    return shown


def _open(qtbot, win, path):
    task = win.open_path(path)
    wait_task(qtbot, win, task)
    assert task.error is None, task.traceback
    return task


def test_open_bids_folder_lists_its_subjects_and_the_header_only_eeg(qtbot, window, test_data, boxes):
    _open(qtbot, window, test_data / "markers/bids_eeg_rest_fmri")
    tree = window.tree
    (subjects,) = tree.find_items("Subjects")
    assert subjects.text(1) == "3"
    assert [subjects.child(i).text(0) for i in range(subjects.childCount())] == ["sub-32", "sub-35", "sub-36"]
    assert tree.find_items("sub-35")[0].text(1) == "not loaded"
    assert window.session.raw is None  # nothing to plot
    (hdr,) = tree.find_items("EEG (header only)")
    assert "64 ch" in hdr.text(1) and "5000 Hz" in hdr.text(1) and "398 markers" in hdr.text(1)
    rows = {hdr.child(i).text(0): hdr.child(i).text(1) for i in range(hdr.childCount())}
    assert rows["signal"] == "signal file absent: sub-32_task-rest_eeg.eeg"
    assert rows["markers"].startswith("398 markers (SyncStatus/Sync On")
    assert rows["channels"] == "64 ch · 5000 Hz"
    # greyed out: drawn in the disabled text colour
    assert hdr.foreground(0).color() != tree.palette().color(tree.palette().ColorRole.Text)
    assert "signal file absent: sub-32_task-rest_eeg.eeg" in window.statusBar().currentMessage()
    assert not boxes


def test_open_freesurfer_subject_as_anatomy(qtbot, window, test_data, boxes):
    _open(qtbot, window, test_data / "coreg/subjects/sample")
    s = window.session
    assert s.anat is not None and s.scalp is not None
    assert window.tree.find_items("T1 anatomy") and window.tree.find_items("Scalp surface")
    assert window.tree.find_items("MRI fiducials")
    assert not boxes
