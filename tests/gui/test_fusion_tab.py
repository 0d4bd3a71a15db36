"""The Fusion tab: method list, declared-parameter form, worker run with progress/Cancel,
generic output views, maps pushed to the session; the hemodynamics teaching view."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


_WIDGETS: list = []


@pytest.fixture(autouse=True)
def _delete_widgets_in_the_test(qtbot):
    """Close and delete this test's widgets before the next test starts.

    pyqtgraph items whose C++ side is deleted by a later test's event processing can
    segfault a paint (seen when many tests share one process); deleting them here, with
    the events flushed and Python's garbage collected, keeps each test self-contained.
    """
    yield
    import gc

    from PyQt6.QtWidgets import QApplication

    while _WIDGETS:
        w = _WIDGETS.pop()
        try:
            w.close()
            w.deleteLater()
        except RuntimeError:  # already deleted
            pass
    QApplication.processEvents()
    QApplication.sendPostedEvents(None, 0)
    gc.collect()
    QApplication.processEvents()


@pytest.fixture(autouse=True)
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir()
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))


@pytest.fixture
def session(tmp_path):
    """A session holding the synthetic study, with its events as a project input."""
    from workbench.engine.project import Project
    from workbench.engine.session import Session
    from workbench.testing.synthetic import small_study

    inputs, truth = small_study(seed=2)
    s = Session()
    proj = Project(tmp_path / "proj")
    (tmp_path / "proj" / "func").mkdir(parents=True)
    ev = tmp_path / "proj" / "func" / "sub-01_task-x_events.tsv"
    inputs.events.to_csv(ev, sep="\t", index=False)
    proj.add_input(ev, "events")
    s.set_project(proj)
    s.set_raw(inputs.eeg)
    s.set_bold(inputs.bold, inputs.bold_meta)
    s.truth_masks = truth["masks"]
    return s


def _tab(qtbot, session):
    from workbench.gui.fusion import FusionTab

    tab = FusionTab(session)
    tab.resize(1400, 820)
    _WIDGETS.append(tab)
    tab.show()
    qtbot.waitExposed(tab)
    return tab


def _not_blank(img) -> None:
    arr = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
    assert arr.std() > 10 and len(np.unique(arr)) > 50


def test_form_is_built_from_the_declaration(qtbot, session):
    tab = _tab(qtbot, session)
    assert tab.method is not None and tab.method.id == "parametric-modulation"
    decl = tab.method
    assert set(tab.form.editors) == {p.name for p in decl.params}
    fdr = tab.form.editors["fdr_alpha"]
    assert fdr.maximum() == 0.5 and decl.param("fdr_alpha").help in fdr.toolTip()
    assert tab.form.editors["feature"].count() == 3
    assert tab.form.values() == decl.defaults()
    assert "EEG-informed fMRI" in tab.explanation.text()


def test_run_shows_outputs_and_pushes_maps(qtbot, session, artifacts_dir):
    tab = _tab(qtbot, session)
    tab.form.editors["noise_model"].setCurrentIndex(1)  # ols: quicker
    qtbot.mouseClick(tab.run_button, qtbot_button())
    assert not tab.run_button.isEnabled() and tab.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: tab.task is None, timeout=60000)
    assert tab.last_error == "", tab.last_error
    res = tab.result
    assert res is not None and res.params["noise_model"] == "ols"
    assert "parametric-modulation: z_modulator" in session.stats
    entry = session.stats["parametric-modulation: z_modulator"]
    assert entry["fitted"].shape == session.bold.shape  # 4D model fit for the Slices view
    # the map view: z_modulator, click on the modulated region, data and fit drawn
    tab.views.setCurrentWidget(tab.map_view)
    tab.map_view.select_map("z_modulator")
    i, j, k = (int(x) for x in np.argwhere(session.truth_masks["modulated"])[0])
    tab.map_view.slice_slider.setValue(k)
    tab.map_view.select_voxel(i, j, k)
    x, y = tab.map_view.data_curve.getData()
    fx, fy = tab.map_view.fit_curve.getData()
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
    assert tab.table_view.table.horizontalHeaderItem(0).text() == "cluster_id"


def test_cancel_leaves_no_result(qtbot, session):
    tab = _tab(qtbot, session)
    tab.run()
    tab.cancel()
    qtbot.waitUntil(lambda: tab.task is None, timeout=60000)
    assert tab.result is None
    assert "cancel" in tab.status.text()
    assert not session.stats
    assert tab.run_button.isEnabled()


def test_missing_inputs_and_broken_plugins_are_shown_not_raised(qtbot, session, tmp_path):
    bad = tmp_path / "user_plugins" / "broken"
    bad.mkdir()
    (bad / "workbench-plugin.toml").write_text(
        "[plugin]\nid = 'broken-one'\ndeclaration = 'nope_mod:M'\n"
    )
    session.set_bold(None)
    tab = _tab(qtbot, session)
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
    _WIDGETS.append(view)
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


def qtbot_button():
    from PyQt6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_main_window_hosts_the_fusion_tab(window):
    from workbench.gui.fusion import FusionTab

    tabs = [w for w in window.findChildren(FusionTab)]
    assert len(tabs) == 1
    assert tabs[0]._tasks() is window.tasks  # runs go through the window's task bar


def test_disable_and_enable_from_the_tab(qtbot, session):
    from workbench.plugin_api import disabled_plugins

    tab = _tab(qtbot, session)
    tab.select_method("parametric-modulation")
    tab.toggle_enabled()
    assert "parametric-modulation" in disabled_plugins()
    assert tab.current_record.status == "disabled" and not tab.run_button.isEnabled()
    assert tab.toggle_button.text() == "Enable"
    tab.toggle_enabled()
    assert "parametric-modulation" not in disabled_plugins()
    assert tab.method is not None and tab.run_button.isEnabled()


def test_maps_overlay_in_the_slices_view_with_model_fit(qtbot, session, artifacts_dir):
    """The z map and 4D model fit pushed by the Fusion tab drive the Slices & Maps view."""
    import nibabel as nib

    from workbench.engine.progress import Progress
    from workbench.gui.fusion.tab import compute
    from workbench.gui.slices import SlicesTab
    from workbench.plugin_api import get_method, inputs_from_session

    bold = session.bold
    mean = np.asarray(bold.dataobj).mean(axis=3)
    session.set_anat(nib.Nifti1Image(mean, bold.affine))
    slices = SlicesTab(session)
    slices.resize(1100, 800)
    _WIDGETS.append(slices)
    slices.show()
    qtbot.waitExposed(slices)
    tab = _tab(qtbot, session)
    method = get_method("parametric-modulation")
    result = compute(method, inputs_from_session(session), method.validate_params({}), Progress())
    tab.show_result(result)
    idx = slices.stat_combo.findData("parametric-modulation: z_modulator")
    assert idx > 0
    slices.stat_combo.setCurrentIndex(idx)
    ijk = np.argwhere(session.truth_masks["modulated"])[5]
    slices.set_cursor(ijk)
    _, data = slices.tc_curve.getData()
    _, fit = slices.fit_curve.getData()
    assert data is not None and fit is not None and len(fit) == len(data)
    assert np.corrcoef(data, fit)[0, 1] > 0.7
    qtbot.wait(100)
    img = slices.grab().toImage()
    _not_blank(img)
    img.save(str(artifacts_dir / "fusion_slices_overlay.png"))
