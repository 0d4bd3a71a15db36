"""fmri-source: the source estimate is saved with the result (source_estimate.npz) and the
Sources view opens from a reopened project, showing what the session computed (the peaks in
result.json), on the plugin's small ball head through ``workbench fuse``."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("workbench_fmri_source")

from workbench_fmri_source.example import ball_study  # noqa: E402
from workbench_fmri_source.result import SourceResult  # noqa: E402

from workbench.engine.errors import InputError  # noqa: E402


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """``workbench fuse fmri-source`` from files (in this process): its output folder."""
    import mne
    import nibabel as nib

    from workbench.cli.main import main

    tmp = tmp_path_factory.mktemp("saved")
    inp, truth = ball_study(0, folder=tmp)
    inp.eeg.save(tmp / "sub-01_eeg.fif", verbose="error")
    inp.events.to_csv(tmp / "events.tsv", sep="\t", index=False)
    nib.save(inp.anat, tmp / "T1.nii.gz")
    mne.write_trans(tmp / "sub-01-trans.fif", inp.trans, verbose="error")
    out = tmp / "out"
    rc = main(["fuse", "fmri-source", "--eeg", str(tmp / "sub-01_eeg.fif"), "--events", str(tmp / "events.tsv"),
               "--mri", str(tmp / "T1.nii.gz"), "--trans", str(tmp / "sub-01-trans.fif"),
               "--fmri", str(truth["fmri"]), "--param", "spacing=15", "--param", "times=0.1,0.15",
               "--out", str(out)])
    assert rc == 0
    return out


def _peak_checks(live, doc):
    """Every variant's peak at every report time, from the saved estimate, is the one the
    run wrote into result.json (position and amplitude)."""
    t = np.asarray(live["times"])
    assert set(live["amplitudes"]) == set(doc["peaks"])
    for v, by_time in doc["peaks"].items():
        for key, pk in by_time.items():
            a = live["amplitudes"][v][:, int(np.argmin(np.abs(t - float(key))))]
            k = int(np.argmax(a))
            np.testing.assert_allclose(live["pos_mri"][k], pk["position_m"], atol=1e-9, err_msg=f"{v} {key}")
            np.testing.assert_allclose(a[k], pk["amplitude"], rtol=1e-6)


def test_estimate_saved_and_read_back(project):
    from workbench.gui.source.saved import load_saved_result

    doc = json.loads((project / "result.json").read_text())
    assert doc["source_estimate"]["file"] == "source_estimate.npz"
    res = SourceResult.load(project)
    assert res.peaks == doc["peaks"]
    live = res.live
    assert live["source_estimate"] and live["units"]["soft"] == "A·m"
    assert live["amplitudes"]["soft"].shape == (len(live["pos_mri"]), len(live["times"]))
    assert live["fmri_mask"].sum() == doc["qc"]["n_sources_in_fmri_map"]
    assert len(live["fmri_clusters"]) == doc["qc"]["n_fmri_clusters"]
    assert np.all(np.concatenate(live["fmri_clusters"]) < len(live["pos_mri"]))
    _peak_checks(live, doc)
    # the GUI reads it through the plugin API (without importing the plugin): the same numbers
    gui = load_saved_result(project).live
    for v in live["amplitudes"]:
        np.testing.assert_array_equal(gui["amplitudes"][v], live["amplitudes"][v])
    np.testing.assert_array_equal(gui["grid_to_mri"], live["grid_to_mri"])


def test_bad_estimate_file_one_line(project, tmp_path):
    from workbench.plugin_api.source_estimate import read_source_estimate

    broken = tmp_path / "source_estimate.npz"
    broken.write_bytes((project / "source_estimate.npz").read_bytes()[:5000])
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    for path, words in ((broken, "unreadable"), (other, "not a source estimate"),
                        (tmp_path / "missing.npz", "missing")):
        with pytest.raises(InputError) as exc:
            read_source_estimate(path)
        msg = str(exc.value)
        assert words in msg and path.name in msg and "\n" not in msg


def test_no_estimate_left_when_saving_fails(project, tmp_path, monkeypatch):
    from workbench.plugin_api import FusionResult

    res = SourceResult.load(project)

    def boom(self, out_dir, extra=None):
        raise OSError("disk full")

    monkeypatch.setattr(FusionResult, "save", boom)
    with pytest.raises(OSError):
        res.save(tmp_path / "o")
    assert not any((tmp_path / "o").iterdir())


@pytest.mark.gui
def test_sources_view_opens_from_a_reopened_project(project, qtbot, tmp_path):
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    doc = json.loads((project / "result.json").read_text())
    win = MainWindow(settings=Settings(tmp_path / "s.json"))
    win.resize(1366, 768)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    try:
        task = win.open_path(project)
        qtbot.waitUntil(lambda: task.done and task not in win.tasks.tasks, timeout=60000)
        qtbot.wait(20)
        assert not win.errors, win.errors
        tab = win.pages["Fusion"]
        win.show_tab("Fusion")
        qtbot.waitUntil(lambda: tab.source_view is not None, timeout=20000)
        sv = tab.source_view
        assert tab.views.isTabVisible(tab.views.indexOf(sv))
        assert sv.variant == "soft" and sv.compare == "hard"
        assert tab.spec.id == "fmri-source"  # the method list shows the method of the result shown
        # the first report time, and the view's peak is the session's soft peak
        assert sv.time_label.text() == "100 ms"
        pk = doc["peaks"]["soft"]["0.100"]
        pos = np.asarray(sv.live["pos_mri"])
        k = int(np.argmax(sv.values("soft")))
        np.testing.assert_allclose(pos[k], pk["position_m"], atol=1e-9)
        assert "soft at 100 ms: peak at (" + ", ".join(f"{x * 1e3:.0f}" for x in pk["position_m"]) + ") mm" in sv.info.text()
        _peak_checks(sv.live, doc)
        # the generic views got the saved maps and tables too
        assert "soft_source" in tab.result.maps and "peaks" in tab.result.tables
        # a study without a saved estimate hides the view again
        win.session.study.project = None
        tab._study_changed()
        assert not tab.views.isTabVisible(tab.views.indexOf(sv))
    finally:
        win.tasks.cancel_all()
        win.close()
