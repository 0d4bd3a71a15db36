"""The stage contract seen from the GUI: a run from the window equals a CLI run and a replay.

Issue 8: "a GUI run, a CLI run and a replay of the same step with the same parameters
give identical numbers and identical provenance records". The window's step runs through
the runner on a fork of the study; the CLI's `clean` runs the same steps from the files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from gui_helpers import wait_task

from workbench.cli.main import main

#: QC keys that hold numbers computed by the gradient step (not timings)
_KEYS = ("harmonic_rms_before_uv", "harmonic_rms_after_uv", "harmonic_reduction_db", "power_kept_1_40",
         "n_volumes", "max_shift_samples")


@pytest.fixture
def study(phantom_study: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "study"
    shutil.copytree(phantom_study, dst)
    return dst


def test_gui_run_equals_cli_run_and_replay(window, qtbot, study: Path, tmp_path: Path) -> None:
    wait_task(qtbot, window, window.open_path(study))
    window.step_panel.show_step("gradient")
    window.step_panel.set_param("gradient", "window", 8)  # a non-default value must travel too
    task = window.run_step("gradient")
    assert task is not None
    wait_task(qtbot, window, task, timeout=120000)
    assert not window.errors, window.errors
    proj = window.session.project
    names = [s.name for s in proj.steps]
    assert names[-2:] == ["sync", "gradient"], names  # sync ran first: the gradient needs the timeline
    gui = proj.steps[-1]
    assert gui.status == "done"
    assert gui.params["window"] == 8
    # the view model got the cleaned EEG, and the step's result is on the study
    assert window.session.cleaned is not None
    assert "gradient" in window.session.study.results
    # the derivative was written under a BIDS-derivative name
    assert any(o.endswith("_desc-gradclean_eeg.fif") for o in gui.outputs)

    vhdr = next((study / "sub-01" / "eeg").glob("*_eeg.vhdr"))
    side = next((study / "sub-01" / "func").glob("*_bold.json"))
    qc_file = tmp_path / "qc.json"
    rc = main(["clean", str(vhdr), str(tmp_path / "clean.fif"), "--steps", "sync,gradient", "--window", "8",
               "--slice-timing", str(side), "--json", str(qc_file)])
    assert rc == 0
    cli = json.loads(qc_file.read_text())["gradient"]
    for key in _KEYS:
        assert cli[key] == pytest.approx(gui.qc[key], rel=1e-9), key
    # what the data decided is in the QC table as plain values, the same both ways
    assert isinstance(gui.qc["alignment_kept"], bool) and cli["alignment_kept"] == gui.qc["alignment_kept"]
    assert 1 <= gui.qc["spatial_rank"] <= 8 and cli["spatial_rank"] == gui.qc["spatial_rank"]
    assert cli["params"] == gui.params

    # replay of what the GUI recorded reproduces every QC key and the parameters
    proj.save()
    out = tmp_path / "replay"
    assert main(["run", str(proj.root), "--out", str(out)]) == 0
    replayed = json.loads((out / "project.json").read_text())["steps"]
    rep = next(s for s in replayed if s["name"] == "gradient")
    assert rep["params"] == gui.params
    for key in _KEYS:
        assert rep["qc"][key] == pytest.approx(gui.qc[key], rel=1e-9), key


def test_coreg_tab_fit_all_runs_the_coreg_step(window, qtbot, study: Path) -> None:
    """'Fit all' in the 3D tab is the coreg step through the runner: recorded, and shown."""
    import numpy as np

    wait_task(qtbot, window, window.open_path(study))
    tab = window.pages["3D Coregistration"]
    if not hasattr(tab, "fit_all"):  # the page sits in a scroll area
        tab = tab.widget()
    qtbot.waitUntil(lambda: tab.coreg is not None and tab.fid_source != "" and not tab.busy, timeout=60000)
    n_before = len(window.session.project.steps)
    tab.fit_all()
    qtbot.waitUntil(lambda: not window.tasks.busy, timeout=180000)
    qtbot.wait(50)
    rec = window.session.project.steps[n_before:]
    assert [r.name for r in rec] == ["coreg"] and rec[0].status == "done", [(r.name, r.message) for r in rec]
    assert rec[0].params["omit_mm"] == float(tab.omit_slider.value())
    trans = window.session.trans
    assert trans is not None
    np.testing.assert_allclose(tab.coreg.head_mri, trans["trans"], atol=1e-12)
    assert "coreg" in window.session.study.results
