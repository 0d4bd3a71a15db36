"""The Fusion tab is a view of the fusion steps: declared form, runs through the runner (task bar,
Cancel, provenance), results from result_changed; maps in three planes at the corrected threshold."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir()
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))


@pytest.fixture
def session(window, tmp_path):
    """The window's session holding the synthetic study, with its events as an input."""
    from workbench.engine.project import Project
    from workbench.testing.synthetic import small_study

    inputs, truth = small_study(seed=2)
    s = window.session
    (tmp_path / "proj" / "func").mkdir(parents=True)
    proj = Project(tmp_path / "proj")
    ev = tmp_path / "proj" / "func" / "sub-01_task-x_events.tsv"
    inputs.events.to_csv(ev, sep="\t", index=False)
    proj.add_input(ev, "events")
    s.set_project(proj)
    s.set_files({"events": ev})
    s.set_raw(inputs.eeg)
    s.set_bold(inputs.bold, inputs.bold_meta)
    s.truth_masks = truth["masks"]
    return s


def _tab(qtbot, window):
    tab = window.pages["Fusion"]
    window.show_tab("Fusion")
    qtbot.wait(10)
    return tab


def _not_blank(img) -> None:
    arr = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
    assert arr.std() > 10 and len(np.unique(arr)) > 50


def _files(session) -> list:
    d = session.project.derivatives
    return sorted(p for p in d.rglob("*") if p.is_file()) if d.exists() else []


def _run(qtbot, window, tab):
    from gui_helpers import wait_task

    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    task = tab.task
    assert task is not None and task in window.tasks.tasks  # the task bar shows it
    assert not tab.run_button.isEnabled() and tab.cancel_button.isEnabled()
    wait_task(qtbot, window, task)
    qtbot.waitUntil(lambda: tab.result is not None or bool(tab.last_error), timeout=30000)
    assert tab.last_error == "", tab.last_error
    return task


def test_form_is_built_from_the_step_declaration(qtbot, window, session):
    tab = _tab(qtbot, window)
    spec = window.catalog["parametric-modulation"]
    assert tab.method is spec and tab.spec.stage == "fusion"
    assert set(tab.form.editors) == {p.name for p in spec.params}
    fdr = tab.form.editors["fdr_alpha"]
    assert fdr.maximum() == 0.5 and spec.param("fdr_alpha").help in fdr.toolTip()
    assert tab.form.editors["feature"].count() == 3
    assert tab.form.values() == spec.defaults()
    assert "EEG-informed fMRI" in tab.explanation.text()
    assert "No brain map to show" in tab.map_view.banner.text()  # not a silent black canvas
    # edits are the project's stored parameters (the step panel shows the same), undoable
    combo = tab.form.editors["noise_model"]
    other = next(c for c in spec.param("noise_model").choices if c != spec.defaults()["noise_model"])
    combo.setCurrentIndex(combo.findData(other))
    assert window.step_panel.params("parametric-modulation")["noise_model"] == other
    window.undo()
    assert tab.form.values()["noise_model"] == spec.defaults()["noise_model"]
    tab.set_param("cluster_size", 3)
    tab.reset_defaults()
    assert tab.params() == spec.defaults()


def test_run_through_the_runner_shows_outputs_and_pushes_maps(qtbot, window, session, artifacts_dir):
    tab = _tab(qtbot, window)
    tab.set_param("noise_model", "ols")  # quicker
    _run(qtbot, window, tab)
    res = tab.result
    assert res is session.study.results["parametric-modulation"].details["fusion"]
    assert res.params["noise_model"] == "ols"
    rec = session.project.steps[-1]
    assert rec.name == "parametric-modulation" and rec.status == "done"
    assert rec.params["noise_model"] == "ols"
    assert any(p.name == "result.json" for p in _files(session))
    assert "parametric-modulation: z_modulator" in session.stats
    entry = session.stats["parametric-modulation: z_modulator"]
    assert entry["fitted"].shape == session.bold.shape  # 4D model fit for the Slices view
    # the map view: three planes, colour bar, corrected threshold by default
    mv = tab.map_view
    tab.views.setCurrentWidget(mv)
    mv.select_map("z_modulator")
    n_sig = res.qc["n_significant_modulator"]
    if n_sig:
        assert mv.threshold == pytest.approx(res.qc["fdr_threshold_modulator"], abs=0.01)
        assert "FDR-corrected" in mv.banner.text()
    else:
        assert "No voxel survives" in mv.banner.text() and mv.corrected is None
    assert mv.colorbar.vmax == pytest.approx(float(np.abs(np.asarray(res.maps["z_modulator"].dataobj)).max()),
                                             rel=1e-4)
    i, j, k = (int(x) for x in np.argwhere(session.truth_masks["modulated"])[0])
    mv.select_voxel(i, j, k)
    assert " mm" in mv.coord_label.text() and "z_modulator" in mv.coord_label.text()
    xyz = res.maps["z_modulator"].affine @ np.array([i, j, k, 1.0])
    assert f"{xyz[0]:.1f}" in mv.coord_label.text()
    x, y = mv.data_curve.getData()
    fx, fy = mv.fit_curve.getData()
    assert len(y) == session.bold.shape[3] and np.corrcoef(y, fy)[0, 1] > 0.7
    qtbot.wait(100)
    img = tab.grab().toImage()
    _not_blank(img)
    img.save(str(artifacts_dir / "fusion_tab_maps.png"))
    tab.views.setCurrentWidget(tab.matrix_view)
    qtbot.wait(50)
    tab.grab().save(str(artifacts_dir / "fusion_tab_design.png"))
    assert tab.matrix_view.item.image is not None
    tab.views.setCurrentWidget(tab.tc_view)
    tab.tc_view.combo.setCurrentIndex(tab.tc_view.combo.findData("eeg_feature"))
    qtbot.wait(50)
    tab.grab().save(str(artifacts_dir / "fusion_tab_feature.png"))
    tab.views.setCurrentWidget(tab.table_view)
    tab.table_view.combo.setCurrentIndex(tab.table_view.combo.findData("clusters_modulator"))
    assert tab.table_view.table.rowCount() >= 1
    # the Slices & Maps view overlays the pushed map with the model fit
    import nibabel as nib

    session.set_anat(nib.Nifti1Image(np.asarray(session.bold.dataobj).mean(axis=3), session.bold.affine))
    slices = window.pages["Slices & Maps"]
    idx = slices.stat_combo.findData("parametric-modulation: z_modulator")
    assert idx > 0
    slices.stat_combo.setCurrentIndex(idx)
    slices.set_cursor(np.argwhere(session.truth_masks["modulated"])[5])
    _, data = slices.tc_curve.getData()
    _, fit = slices.fit_curve.getData()
    assert data is not None and fit is not None and len(fit) == len(data)
    assert np.corrcoef(data, fit)[0, 1] > 0.7


def test_a_run_from_the_step_panel_shows_in_the_tab(qtbot, window, session):
    from gui_helpers import wait_task

    tab = _tab(qtbot, window)
    window.step_panel.set_param("parametric-modulation", "noise_model", "ols")
    task = window.run_step("parametric-modulation")
    wait_task(qtbot, window, task)
    qtbot.waitUntil(lambda: tab.result is not None, timeout=30000)
    assert tab.step_result is session.study.results["parametric-modulation"]
    assert tab.result.params["noise_model"] == "ols"


def test_cancel_cancels_the_run_and_changes_nothing(qtbot, window, session):
    """Fails when Cancel does nothing: the run would finish, push maps and write files."""
    from gui_helpers import wait_task

    tab = _tab(qtbot, window)
    tab.run()
    task = tab.task
    assert task is not None
    tab.cancel()
    wait_task(qtbot, window, task)
    assert task.cancelled and type(task.error).__name__ == "Cancelled"
    assert tab.result is None and "parametric-modulation" not in session.study.results
    assert not session.stats
    assert session.project.steps[-1].status == "cancelled"
    assert _files(session) == []
    assert "cancel" in tab.status.text()
    assert tab.run_button.isEnabled()


def test_nothing_surviving_is_said_plainly(qtbot):
    """No survivor: no threshold equal to the peak; the banner says nothing is significant."""
    import nibabel as nib

    from workbench.gui.fusion.outputs import EXPLORATORY_Z, MapView

    z = np.zeros((8, 8, 6), np.float32)
    z[3, 4, 2] = 2.7
    z[5, 5, 3] = -1.5
    img = nib.Nifti1Image(z, np.diag([3.0, 3.0, 3.0, 1.0]))
    view = MapView()
    qtbot.addWidget(view)
    view.set_maps({"z_modulator": img}, None, qc={"fdr_threshold_modulator": 2.7,
                                                  "n_significant_modulator": 0})
    assert "No voxel survives the FDR correction" in view.banner.text()
    assert view.threshold == pytest.approx(EXPLORATORY_Z) and view.corrected is None
    view.set_maps({"z_modulator": img}, None, qc={"fdr_threshold_modulator": 2.5,
                                                  "n_significant_modulator": 1})
    assert view.threshold == pytest.approx(2.5) and view.corrected == pytest.approx(2.5)
    assert "FDR-corrected" in view.banner.text() and "1 voxel survive" in view.banner.text()
    assert tuple(view.cursor) == (3, 4, 2)  # opens at the peak
    assert "(9.0, 12.0, 6.0) mm" in view.coord_label.text()
    titles = {n: v.plotItem.titleLabel.text for n, v in view.views.items()}
    assert "x = 9 mm" in titles["sagittal"] and "y = 12 mm" in titles["coronal"]
    assert "z = 6 mm" in titles["axial"]


def test_missing_inputs_and_broken_plugins_are_shown_not_raised(qtbot, window, session, tmp_path):
    bad = tmp_path / "user_plugins" / "broken"
    bad.mkdir()
    (bad / "workbench-plugin.toml").write_text(
        "[plugin]\nid = 'broken-one'\ndeclaration = 'nope_mod:M'\n"
    )
    session.set_bold(None)
    tab = _tab(qtbot, window)
    tab.refresh_methods()
    texts = [tab.method_list.item(i).text() for i in range(tab.method_list.count())]
    assert any("broken-one" in t and "[broken]" in t for t in texts)
    tab.select_method("broken-one")
    assert "ModuleNotFoundError" in tab.explanation.text() and not tab.run_button.isEnabled()
    tab.select_method("parametric-modulation")
    tab.run()
    assert tab.task is None
    assert "needs bold" in tab.last_error


def test_hemodynamics_view_sliders_change_the_balloon_curve(qtbot, artifacts_dir):
    from workbench.gui.fusion import HemodynamicsView

    view = HemodynamicsView()
    view.resize(1300, 700)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    t, bw = view.c_bw.getData()
    peak0 = t[np.argmax(bw)]
    assert 3.5 < peak0 - 2.0 < 7.0  # BOLD peaks ~4-6 s after the 2 s onset
    t, f = view.c_f.getData()
    assert f.max() > 1.0 and t[np.argmax(f)] < peak0  # flow leads BOLD
    view.sliders["tau"].setValue(350)  # slower transit -> later, broader response
    view.update_curves()
    t, bw2 = view.c_bw.getData()
    assert t[np.argmax(bw2)] > peak0 + 0.5
    view.stimulus.setCurrentText("two events")
    view.reset()
    view.update_curves()
    r = view.result
    assert r.bold_balloon.max() < r.bold_linear.max()  # saturation: non-linear < linear
    qtbot.wait(50)
    img = view.grab().toImage()
    _not_blank(img)
    img.save(str(artifacts_dir / "fusion_hemodynamics.png"))


def test_main_window_hosts_the_fusion_tab(window):
    from workbench.gui.fusion import FusionTab

    tabs = [w for w in window.findChildren(FusionTab)]
    assert len(tabs) == 1
    assert tabs[0].catalog is window.catalog  # one catalogue, runs through the window's runner
    assert tabs[0].run_step == window.run_step


def test_disable_and_enable_from_the_tab(qtbot, window, session):
    from workbench.plugin_api import disabled_plugins

    tab = _tab(qtbot, window)
    tab.select_method("parametric-modulation")
    tab.toggle_enabled()
    assert "parametric-modulation" in disabled_plugins()
    assert not tab.current_record.available and not tab.run_button.isEnabled()
    assert not window.catalog["parametric-modulation"].available  # the window's runs see it
    assert tab.toggle_button.text() == "Enable"
    tab.toggle_enabled()
    assert "parametric-modulation" not in disabled_plugins()
    assert tab.method is not None and tab.run_button.isEnabled()




def test_a_result_made_from_a_dropped_eeg_says_so(qtbot, window, session, caplog):
    from gui_helpers import wait_task

    from workbench.gui.fusion.tab import STALE_RESULT_TEXT

    tab = _tab(qtbot, window)
    session.project.record_step("notch")  # an EEG version the fusion method then reads
    window.step_panel.set_param("parametric-modulation", "noise_model", "ols")
    wait_task(qtbot, window, window.run_step("parametric-modulation"))
    qtbot.waitUntil(lambda: tab.result is not None, timeout=30000)
    assert "Made from an EEG" not in tab.status.text()
    session.project.record_step("notch")  # the notch step again: the EEG it read is gone
    session.result_changed.emit("notch", session.study.results["parametric-modulation"])
    assert tab.status.text() == STALE_RESULT_TEXT
    said = [r for r in caplog.records if "has changed since" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "WARNING"  # in the log panel too, once
    session.result_changed.emit("notch", session.study.results["parametric-modulation"])
    assert len([r for r in caplog.records if "has changed since" in r.getMessage()]) == 1
