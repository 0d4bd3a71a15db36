"""The DCM page of the Fusion tab: fitted network, model bars, BOLD fit, and the editor."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt
from workbench_dcm.fit import fit_dcm
from workbench_dcm.integrate import make_design
from workbench_dcm.method import make_result
from workbench_dcm.model import load_model
from workbench_dcm.simulate import block_events, random_truth, simulate

from .conftest import three_models

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def saved_result(tmp_path_factory):
    ms = three_models()
    r = np.random.default_rng(31)
    m = ms["mod-V5"]
    th = random_truth(m, r)
    ev = block_events(m.inputs, 120 * 2.0, r)
    sim = simulate(m, th, 2.0, 120, ev, snr=2.0, seed=31)
    d = make_design(2.0, 120, ev, m.inputs)
    res = make_result([fit_dcm(ms[k], sim.bold, d) for k in ("no-mod", "mod-V5")], {})
    folder = tmp_path_factory.mktemp("dcm-result")
    res.save(folder)
    return folder


@pytest.fixture
def window(qtbot, tmp_path):
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    MainWindow.ask_save_on_close = False
    win = MainWindow(settings=Settings(tmp_path / "gui-settings.json"))
    win.resize(1366, 768)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.tasks.cancel_all()
    qtbot.waitUntil(lambda: not win.tasks.busy, timeout=10000)
    win.close()
    qtbot.wait(1)


def _not_blank(img) -> None:
    arr = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
    assert arr.std() > 10 and len(np.unique(arr)) > 50


def test_network_page_shows_a_reopened_dcm_result(qtbot, window, saved_result, tmp_path, artifacts_dir):
    from workbench.plugin_api import FusionResult

    result = FusionResult.load(saved_result)  # what a reopened project or a CLI run gives the tab
    tab = window.pages["Fusion"]
    window.show_tab("Fusion")
    tab.show_result(result)
    qtbot.wait(50)
    panel = tab.dcm_panel
    assert tab.views.currentWidget() is panel and tab.views.tabText(0) == "Network"
    view = panel.view
    assert view.model_box.itemText(0) == "mod-V5"  # the best (true) model first
    assert view.canvas.regions == ["V1", "V5", "SPC"]
    a = {(c["to"], c["from"]) for c in view.canvas.conns if c["kind"] == "A" and c["to"] != c["from"]}
    assert a == {("V5", "V1"), ("SPC", "V5")}
    assert any(c["kind"] == "B" and c["input"] == "attention" for c in view.canvas.conns)
    img = window.grab().toImage()
    img.save(str(artifacts_dir / "dcm_network_1366x768.png"))
    _not_blank(img)
    # the teaching view: the best model's layers for the chosen region
    panel.setCurrentWidget(panel.layers)
    qtbot.wait(20)
    assert [panel.layers.region.itemText(i) for i in range(panel.layers.region.count())] == ["V1", "V5", "SPC"]
    assert len(panel.layers.plots.ci.items) == 4
    window.grab().toImage().save(str(artifacts_dir / "dcm_layers_1366x768.png"))
    # the editor starts from the shown model; a click on the V1 -> SPC line adds that connection
    panel.setCurrentWidget(panel.editor)
    ed = panel.editor
    qtbot.wait(20)
    pos = ed.canvas.positions()
    a_, b_, _ = ed.canvas._ends(2, 0, pos, 24.0)
    mid = QPointF((a_.x() + b_.x()) / 2, (a_.y() + b_.y()) / 2)
    assert not ed.a[2, 0]
    qtbot.mouseClick(ed.canvas, Qt.MouseButton.LeftButton, pos=mid.toPoint())
    assert ed.a[2, 0]
    window.grab().toImage().save(str(artifacts_dir / "dcm_editor_1366x768.png"))
    model = load_model(ed.save(tmp_path / "variant.json"))
    assert model.inputs == ["photic", "attention"] and model.regions == ["V1", "V5", "SPC"]
    assert model.a[2, 0] and model.b[1][1, 0] and model.c[0, 0] and model.c.sum() == 1
    # a result of another method hides the page
    tab.show_result(FusionResult(method="cca"))
    assert not tab.views.isTabVisible(tab.views.indexOf(panel))


def test_group_rows_draw_the_first_subjects_network():
    from workbench.gui.dcm import network_from_rows

    row = {"model": "m", "kind": "A", "to": "V5", "from": "V1", "input": "", "var": 0.01, "probability": 0.9}
    rows = [{**row, "subject": "s1", "mean": 0.3}, {**row, "subject": "s2", "mean": -0.2}]
    models = [{"model": "m", "regions": "V1,V5", "inputs": "photic"}]
    net = network_from_rows(rows, "m", models)
    assert net["regions"] == ["V1", "V5"] and net["inputs"] == ["photic"]
    assert [c["mean"] for c in net["connections"]] == [0.3]
