"""Main window: open, tree, drag-and-drop, recent, save/load, errors, cancel, export."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import N_EEG, wait_task
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent
from PyQt6.QtWidgets import QMessageBox

from workbench.engine.errors import Cancelled
from workbench.engine.project import Project
from workbench.gui import loading
from workbench.gui.settings import Settings
from workbench.gui.tabs import TABS, UnavailableTab


@pytest.fixture(autouse=True)
def boxes(monkeypatch):
    """Capture message boxes instead of showing them (a modal box would block the test)."""
    shown: list[tuple[str, str]] = []
    for kind in ("warning", "critical", "information", "about"):
        monkeypatch.setattr(QMessageBox, kind,
                            lambda *a, _k=kind: shown.append((_k, a[2] if len(a) > 2 else "")))
    return shown


def _open(qtbot, win, path):
    task = win.open_path(path)
    wait_task(qtbot, win, task)
    return task


def test_window_opens_with_every_tab(qtbot, window, artifacts_dir):
    titles = [t for t, _ in TABS]
    assert list(window.pages) == titles
    assert window.tab_widget.count() == len(titles)
    for title, page in window.pages.items():
        if isinstance(page, UnavailableTab):  # a missing peer view says why, in one line
            assert "\n" not in page.text() and title in page.text()
    assert window.tree.find_items("Loaded data")
    assert window.act_undo.isEnabled() is False
    window.grab().save(str(artifacts_dir / "gui_empty.png"))


def test_open_study_fills_tree_traces_and_slices(qtbot, window, small_study, artifacts_dir, boxes):
    task = _open(qtbot, window, small_study)
    assert task.error is None, task.traceback
    s = window.session
    assert s.raw is not None and len(s.raw.ch_names) == N_EEG + 1
    assert s.anat is not None and s.bold is not None
    assert s.bold_meta.get("RepetitionTime") == 2.0
    # tree: the subject, its recording and the loaded data
    assert window.tree.find_items("sub-01")
    assert window.tree.find_items("sub-01_task-test_eeg.vhdr")
    eeg = window.tree.find_items("EEG")
    assert eeg and "9 ch" in eeg[0].text(1) and "1000 Hz" in eeg[0].text(1)
    # traces: shown, with the R128 markers
    view = window.pages["Traces"].view
    assert window.current_tab_title() == "Traces"
    qtbot.waitUntil(lambda: view.axis.names[:1] == ["EEG01"], timeout=5000)
    assert any("R128" in d for _, d in view.visible_annotations())
    window.grab().save(str(artifacts_dir / "gui_study_traces.png"))
    # slices: the T1 grid is displayed
    slices = window.pages["Slices & Maps"]
    assert slices.base_data is not None and slices.base_data.shape == (86, 86, 86)
    window.show_tab("Slices & Maps")
    qtbot.wait(50)
    window.grab().save(str(artifacts_dir / "gui_study_slices.png"))
    assert not boxes
    # the window title names the project
    assert "study" in window.windowTitle()


def test_scroll_traces_in_the_window(qtbot, window, small_study):
    _open(qtbot, window, small_study)
    view = window.pages["Traces"].view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert view.t0 == pytest.approx(10.0)
    with qtbot.waitSignal(view.rendered, timeout=3000):
        view.request_render()
    x, _ = view._curves[0].getData()
    assert x[0] >= 10.0 - 1e-9 and x[-1] <= 20.0 + 1e-9


def test_peak_downsampling_keeps_a_spike_visible(qtbot, window, small_study):
    """The 400 µV 10-sample spike at 5 s on EEG03 survives downsampling in a 20 s window."""
    _open(qtbot, window, small_study)
    view = window.pages["Traces"].view
    view.set_window(20.0)
    view.scales["eeg"] = 1e-3
    view.set_remove_dc(False)
    view.render()
    row = view.visible_names.index("EEG03")
    _, y = view._curves[row].getData()
    drawn_peak = (row - y).max() * 1e-3  # back to volts
    true = window.session.raw.get_data(picks=["EEG03"])[0].max()
    assert drawn_peak == pytest.approx(true, rel=1e-6)
    assert true > 300e-6


def test_bad_channel_toggle_undo_redo_via_edit_menu(qtbot, window, small_study):
    _open(qtbot, window, small_study)
    tab = window.pages["Traces"]
    tab.toggle_bad("EEG02")
    assert window.session.raw.info["bads"] == ["EEG02"]
    assert window.act_undo.isEnabled() and window.act_undo.text() == "Undo mark EEG02 bad"
    window.act_undo.trigger()
    assert window.session.raw.info["bads"] == []
    assert window.act_redo.text() == "Redo mark EEG02 bad"
    window.act_redo.trigger()
    assert window.session.raw.info["bads"] == ["EEG02"]
    eeg = window.tree.find_items("EEG")[0]
    assert "bad: EEG02" in eeg.text(1)


def test_drop_a_file_opens_it(qtbot, window, small_study):
    vhdr = small_study / "sub-01" / "eeg" / "sub-01_task-test_eeg.vhdr"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(vhdr))])
    ev = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(ev)
    assert window.tasks.busy or window.session.raw is not None
    qtbot.waitUntil(lambda: window.session.raw is not None and not window.tasks.busy, timeout=30000)
    assert window.session.raw.ch_names[0] == "EEG01"
    # a second dropped file (the T1) joins what is open instead of replacing it
    t1 = small_study / "sub-01" / "anat" / "sub-01_T1w.nii.gz"
    mime2 = QMimeData()
    mime2.setUrls([QUrl.fromLocalFile(str(t1))])
    window.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime2,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: window.session.anat is not None and not window.tasks.busy, timeout=30000)
    assert window.session.raw is not None
    kinds = sorted(i.kind for i in window.session.project.inputs)
    assert "anat" in kinds and "eeg" in kinds


def test_recent_projects_are_remembered(qtbot, window, small_study, gui_settings):
    _open(qtbot, window, small_study)
    assert gui_settings.recent[0] == str(small_study.absolute())
    again = Settings(gui_settings.path)  # read back from disk
    assert again.recent[0] == str(small_study.absolute())
    window._fill_recent_menu()
    texts = [a.text() for a in window.recent_menu.actions()]
    assert str(small_study.absolute()) in texts


def test_save_as_and_load_round_trip(qtbot, window, small_study, tmp_path, boxes):
    _open(qtbot, window, small_study)
    window.pages["Traces"].toggle_bad("EEG04")
    out = window.save_project_as(tmp_path / "myproject")
    assert out == tmp_path / "myproject" / "project.json" and out.is_file()
    doc = json.loads(out.read_text())
    assert doc["schema_version"] >= 2
    saved = Project.load(tmp_path / "myproject")
    original = {str((small_study / "x").parent / Path(i.path)) if not Path(i.path).is_absolute()
                else i.path for i in window.session.project.inputs}
    assert {str(saved.abspath(i.path)) for i in saved.inputs} == {
        str(window.session.project.abspath(i.path)) for i in window.session.project.inputs}
    assert original  # inputs are recorded
    # reopening the saved project loads the same data
    raw_before = window.session.raw.get_data(start=0, stop=100)
    _open(qtbot, window, tmp_path / "myproject")
    assert window.session.project.root == (tmp_path / "myproject").absolute()
    np.testing.assert_array_equal(window.session.raw.get_data(start=0, stop=100), raw_before)
    assert window.session.bold is not None and window.session.anat is not None
    assert window.session.raw.info["bads"] == ["EEG04"]  # bad channels are saved with the project
    assert not boxes
    # plain Save writes the same file again; the title loses its unsaved mark
    window.pages["Traces"].toggle_bad("EEG05")
    window.session.project.set_result("note", {"x": 1})
    assert "•" in window.windowTitle()
    assert window.save_project() == out
    assert "•" not in window.windowTitle()


def test_save_with_nothing_open_says_so(qtbot, window, boxes):
    assert window.save_project() is None
    assert len(boxes) == 1 and boxes[0][0] == "warning" and "Nothing to save" in boxes[0][1]


def test_broken_file_gives_one_line_message_and_no_change(qtbot, window, tmp_path, boxes):
    bad = tmp_path / "broken.vhdr"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not a header at all")
    before = sorted(p.name for p in tmp_path.iterdir())
    task = _open(qtbot, window, bad)
    assert task.error is not None
    assert len(boxes) == 1
    kind, text = boxes[0]
    assert kind == "warning"
    assert "\n" not in text and "broken.vhdr" in text
    assert window.session.raw is None and window.session.project is None
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert "broken.vhdr" in window.log_panel.toPlainText()


def test_unexpected_error_is_a_dialog_and_a_logged_traceback(qtbot, window, tmp_path, boxes, monkeypatch):
    def explode(path, progress=None, project=None, subject=None):
        raise ZeroDivisionError("division by zero in a reader")

    monkeypatch.setattr(loading, "load_staged", explode)
    (tmp_path / "x.vhdr").write_text("x")
    _open(qtbot, window, tmp_path / "x.vhdr")
    assert [k for k, _ in boxes] == ["critical"]
    assert "ZeroDivisionError" in boxes[0][1]
    text = window.log_panel.toPlainText()
    assert "Traceback" in text and "explode" in text
    assert window.isVisible()


def test_cancel_stops_a_long_task(qtbot, window):
    def long_job(progress=None):
        for i in range(1000):
            progress(i / 1000, f"step {i}")
            time.sleep(0.01)
        return "finished"

    ticks = []
    from PyQt6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    task = window.tasks.run("Long job", long_job)
    qtbot.waitUntil(lambda: task.fraction > 0.005, timeout=5000)
    qtbot.wait(300)
    timer.stop()
    # the GUI thread kept running its event loop while the job worked (never frozen: a
    # job run on the GUI thread would leave a 10 s gap; 1 s tolerates a loaded CI box)
    assert len(ticks) >= 5 and np.max(np.diff(ticks)) < 1.0
    assert window.task_bar.cancel_button.isVisible()
    assert "Long job" in window.task_bar.label.text()
    t0 = time.monotonic()
    qtbot.mouseClick(window.task_bar.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: task.done, timeout=5000)
    assert time.monotonic() - t0 < 2.0
    assert isinstance(task.error, Cancelled) and task.result is None
    qtbot.waitUntil(lambda: not window.task_bar.cancel_button.isVisible(), timeout=2000)
    assert window.task_bar.label.text() == "Ready"


def test_export_current_view_png_and_svg(qtbot, window, small_study, tmp_path, boxes):
    _open(qtbot, window, small_study)
    png = window.export_view(tmp_path / "traces.png")
    svg = window.export_view(tmp_path / "traces.svg")
    from PyQt6.QtGui import QImage

    img = QImage(str(png))
    assert img.width() > 400 and img.height() > 300
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    assert window.export_view(tmp_path / "view.bmp") is None  # wrong type: message, no file
    assert not (tmp_path / "view.bmp").exists()
    assert len(boxes) == 1 and "view.bmp" in boxes[0][1]


def test_preferences_apply_to_the_trace_view(qtbot, window, gui_settings):
    from dataclasses import replace

    window.apply_preferences(replace(gui_settings.prefs, trace_window_s=4.0, trace_n_channels=5))
    view = window.pages["Traces"].view
    assert view.n_visible == 5
    assert Settings(gui_settings.path).prefs.trace_n_channels == 5


def test_help_texts_and_about(qtbot, window, boxes):
    for title in window.pages:
        window.show_tab(title)
        window.show_teaching()
    assert len(boxes) == len(window.pages)
    assert all(len(text) > 80 for _, text in boxes)
    window.show_about()
    assert "mne" in boxes[-1][1] and "Qt" in boxes[-1][1]


def test_step_panel_parameters_are_undoable(qtbot, window, small_study):
    from workbench.engine.steps import Param, QCSpec, StepSpec
    from workbench.gui.step_panel import StepPanel

    _open(qtbot, window, small_study)
    spec = StepSpec(id="toy", title="Toy step", stage="cleanup", teaching="A toy.",
                    params=(Param("cutoff_hz", "float", 40.0, "Cut-off.", unit="Hz", minimum=1.0,
                                  maximum=500.0),
                            Param("order", "int", 4, "Filter order.", minimum=1, maximum=10)),
                    requires=("eeg",), provides=("eeg",), run=lambda study, params, progress: None,
                    qc=(QCSpec("residual_uV", "Residual", "µV", ".2f", warn_above=5.0),))
    panel = StepPanel(window.session, [spec])
    qtbot.addWidget(panel)
    panel.show_step("toy")
    assert set(panel.param_form.editors) == {"cutoff_hz", "order"}
    assert "Default: 40" in panel.param_form.editors["cutoff_hz"].toolTip()
    panel.set_param("toy", "cutoff_hz", 30.0)
    assert panel.params("toy")["cutoff_hz"] == 30.0
    assert panel.param_form.values()["cutoff_hz"] == 30.0
    window.undo()
    assert panel.params("toy")["cutoff_hz"] == 40.0
    panel.set_param("toy", "order", 99)  # outside the declared bounds: refused
    assert panel.params("toy")["order"] == 4
    window.session.project.record_step("toy", qc={"residual_uV": 1.5})
    assert panel.qc_table.rowCount() == 1
    assert panel.qc_table.item(0, 0).text() == "Residual"
    assert panel.qc_table.item(0, 1).text() == "1.50 µV"


def test_pipeline_states_follow_the_project():
    from types import SimpleNamespace

    from workbench.gui.pipeline_bar import step_states

    steps = [SimpleNamespace(id=n, provides=p) for n, p in
             (("load", ()), ("sync", ("sync",)), ("gradient", ("eeg",)), ("cardiac", ("eeg",)))]
    proj = Project("/tmp/nowhere")
    assert step_states(steps, proj) == {"load": "not run", "sync": "not run", "gradient": "not run",
                                        "cardiac": "not run"}
    proj.record_step("load")
    proj.record_step("sync", status="failed")
    assert step_states(steps, proj) == {"load": "done", "sync": "failed", "gradient": "not run",
                                        "cardiac": "not run"}
    # the gradient step run again drops the cardiac correction made from its earlier EEG
    for name in ("sync", "gradient", "cardiac", "gradient"):
        proj.record_step(name)
    assert step_states(steps, proj)["cardiac"] == "stale"
    assert step_states(steps, proj)["gradient"] == "done"
    proj.record_step("cardiac")
    assert step_states(steps, proj)["cardiac"] == "done"


def test_a_fusion_result_made_from_a_dropped_eeg_is_stale():
    from types import SimpleNamespace

    from workbench.gui.pipeline_bar import step_states

    steps = [SimpleNamespace(id="sync", provides=("sync",), requires=("eeg",), optional=()),
             SimpleNamespace(id="gradient", provides=("eeg",), requires=("eeg", "sync"), optional=()),
             SimpleNamespace(id="cardiac", provides=("eeg",), requires=("eeg",), optional=()),
             SimpleNamespace(id="pm", provides=(), requires=("eeg", "bold"), optional=()),
             SimpleNamespace(id="cca", provides=(), requires=(), optional=("eeg",)),
             SimpleNamespace(id="dcm", provides=(), requires=(), optional=())]
    proj = Project("/tmp/nowhere")
    for name in ("sync", "gradient", "cardiac", "pm", "cca", "dcm"):
        proj.record_step(name)
    assert set(step_states(steps, proj).values()) == {"done"}
    proj.record_step("cardiac")  # cardiac again: the EEG pm and cca read is gone
    states = step_states(steps, proj)
    assert states["pm"] == states["cca"] == "stale"
    assert states["sync"] == states["gradient"] == states["cardiac"] == states["dcm"] == "done"
    proj.record_step("pm")
    assert step_states(steps, proj)["pm"] == "done"
    assert step_states(steps, proj)["cca"] == "stale"


def test_open_the_phantom_study(qtbot, window, phantom_study, artifacts_dir, boxes):
    """The simulator's study opens whole: EEG with triggers, T1, BOLD, dig, scalp, truth."""
    task = _open(qtbot, window, phantom_study)
    assert task.error is None, task.traceback
    s = window.session
    assert s.raw is not None and s.anat is not None and s.bold is not None
    assert s.dig is not None and s.scalp is not None and s.truth is not None
    for name in ("EEG", "T1 anatomy", "BOLD", "Digitisation", "Scalp surface", "Ground truth"):
        assert window.tree.find_items(name), name
    view = window.pages["Traces"].view
    qtbot.waitUntil(lambda: bool(view.axis.names), timeout=5000)
    assert any("R128" in d for _, d in view.visible_annotations())
    window.grab().save(str(artifacts_dir / "gui_phantom_traces.png"))
    window.show_tab("Slices & Maps")
    qtbot.wait(50)
    assert window.pages["Slices & Maps"].base_data is not None
    window.grab().save(str(artifacts_dir / "gui_phantom_slices.png"))
    assert not boxes


def test_preferences_dialog_round_trip_and_dark_theme(qtbot, window, gui_settings):
    from PyQt6.QtWidgets import QApplication

    from workbench.gui.dialogs import PreferencesDialog

    dlg = PreferencesDialog(gui_settings.prefs, window)
    qtbot.addWidget(dlg)
    dlg.window.setValue(3.0)
    dlg.ppp.setValue(4.0)
    dlg.theme.setCurrentText("dark")
    for w in (dlg.window, dlg.nch, dlg.ppp, dlg.autoscale, dlg.markers, dlg.theme):
        assert w.toolTip()
    prefs = dlg.value()
    assert (prefs.trace_window_s, prefs.trace_points_per_pixel, prefs.theme) == (3.0, 4.0, "dark")
    window.apply_preferences(prefs)
    view = window.pages["Traces"].view
    assert view.points_per_pixel == 4.0
    assert QApplication.instance().palette().window().color().lightness() < 80
    window.apply_preferences(gui_settings.prefs.__class__())  # back to light defaults
    assert QApplication.instance().palette().window().color().lightness() > 150


def test_channel_picker_selects_channels(qtbot, window, small_study):
    from workbench.gui.traces.tab import ChannelPicker

    _open(qtbot, window, small_study)
    names = window.session.raw.ch_names
    dlg = ChannelPicker(names, names[:3], window)
    qtbot.addWidget(dlg)
    assert dlg.selected() == names[:3]
    window.pages["Traces"].view.set_selection(dlg.selected())
    assert window.pages["Traces"].view.visible_names == names[:3]


def test_run_a_pipeline_step_from_the_panel(qtbot, window, small_study, monkeypatch, boxes):
    """A declared step runs through the runner in a worker on a study fork; adopted on the GUI thread."""
    from workbench.engine.errors import InputError
    from workbench.engine.steps import Param, StepResult, StepSpec

    def toy(study, params, progress):
        raw = study.eeg.copy().load_data()
        raw.apply_function(lambda x: x * params["gain"])
        return StepResult(qc={"gain": params["gain"]}, provides={"eeg": raw})

    def broken(study, params, progress):
        raise InputError(None, "needs scanner triggers; none found")

    common = dict(stage="cleanup", teaching="", requires=("eeg",), provides=("eeg",))
    monkeypatch.setitem(window.catalog, "toy", StepSpec(
        id="toy", title="Toy", params=(Param("gain", "float", 0.5, "Gain."),), run=toy, **common))
    monkeypatch.setitem(window.catalog, "broken", StepSpec(
        id="broken", title="Broken", params=(), run=broken, **common))
    _open(qtbot, window, small_study)
    raw_before = window.session.raw.get_data(start=0, stop=50)
    task = window.run_step("toy", {"gain": 0.25})
    wait_task(qtbot, window, task)
    assert task.error is None, task.traceback
    cleaned = window.session.cleaned
    np.testing.assert_allclose(cleaned.get_data(start=0, stop=50), 0.25 * raw_before, atol=1e-15)
    np.testing.assert_array_equal(window.session.raw.get_data(start=0, stop=50), raw_before)
    rec = window.session.project.last_step("toy")
    assert rec is not None and rec.qc["gain"] == 0.25 and rec.params == {"gain": 0.25}
    assert window.session.study.results["toy"].qc == {"gain": 0.25}
    assert window.pages["Traces"].view.mode == "overlay"
    assert window.tree.find_items("Cleaned EEG")
    # a failing step: recorded as failed, one-line message, nothing else changes
    task = window.run_step("broken", {})
    wait_task(qtbot, window, task)
    assert boxes and "needs scanner triggers" in boxes[-1][1] and "\n" not in boxes[-1][1]
    assert window.session.project.steps[-1].status == "failed"
    assert window.session.cleaned is cleaned
    # an unknown parameter is refused before anything runs
    n = len(window.session.project.steps)
    task = window.run_step("toy", {"gian": 2})
    wait_task(qtbot, window, task)
    assert "no parameter 'gian'" in boxes[-1][1]
    assert len(window.session.project.steps) == n


def test_open_demo_builds_then_opens_in_a_worker(qtbot, window, small_study, tmp_path, monkeypatch):
    """File ▸ Open demo: the engine's demo builder runs in the worker, then the study opens."""
    import workbench.engine.demo as demo

    calls = []

    def fake_build(out_dir, progress=None, config=None):
        calls.append(Path(out_dir))
        progress(0.5, "simulating")
        return small_study

    monkeypatch.setattr(demo, "build_demo_study", fake_build)
    task = window.open_demo(tmp_path / "demo")
    wait_task(qtbot, window, task)
    assert task.error is None, task.traceback
    assert calls == [tmp_path / "demo"]
    assert window.session.raw is not None and window.session.project.root == small_study.absolute()
    assert window.settings.recent[0] == str(small_study.absolute())


def test_open_real_files_from_test_data(qtbot, window, test_data, artifacts_dir, boxes):
    """A real BrainVision recording with positions, then a real MGZ T1 added to it."""
    import mne

    vhdr = test_data / "coreg" / "montage" / "bv_dig_test.vhdr"
    task = _open(qtbot, window, vhdr)
    assert task.error is None, task.traceback
    expect = mne.io.read_raw_brainvision(vhdr, preload=False, verbose="error")
    assert window.session.raw.ch_names == expect.ch_names
    view = window.pages["Traces"].view
    view.render()
    assert view.visible_names == expect.ch_names[: view.n_visible]
    t1 = test_data / "coreg" / "subjects" / "sample" / "mri" / "T1.mgz"
    _open(qtbot, window, t1)
    assert window.session.anat is not None and window.session.anat.shape == (86, 86, 86)
    assert window.session.raw is not None  # the recording stayed open
    assert window.pages["Slices & Maps"].base_data.shape == (86, 86, 86)
    window.grab().save(str(artifacts_dir / "gui_real_files.png"))
    assert not boxes


def test_real_header_without_its_data_file_opens_for_inspection(qtbot, window, test_data, boxes):
    """The real EEG-fMRI headers in the test data lack their signal file: they open header-only,
    with one line saying why the signal is not plotted (no error box, no traceback)."""
    vhdr = test_data / "markers" / "farm_emg_fmri" / "me3mb3_tr1600_sl54.vhdr"
    _open(qtbot, window, vhdr)
    assert window.session.raw is None  # no signal to plot
    assert not [b for b in boxes if b[0] in ("critical", "warning")], boxes
    msg = window.statusBar().currentMessage()
    assert "\n" not in msg and "signal" in msg and "me3mb3_tr1600_sl54" in msg, msg
    assert window.session.project.inputs_of("eeg")  # listed for inspection


@pytest.mark.parametrize("answer", ["Save", "Discard", "Cancel"])
def test_closing_asks_to_save_unsaved_changes(qtbot, window, small_study, monkeypatch, answer):
    """Save writes project.json and closes; Discard closes without writing; Cancel stays open."""
    _open(qtbot, window, small_study)
    proj = window.session.project
    window.step_panel.set_param("gradient", "window", 12)  # an unsaved change
    assert proj.dirty and not proj.file.exists()
    asked = []
    B = QMessageBox.StandardButton
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or getattr(B, answer))
    monkeypatch.setattr(type(window), "ask_save_on_close", True)
    closed = window.close()
    assert len(asked) == 1 and "unsaved changes" in asked[0]
    assert closed is (answer != "Cancel")
    assert window.isVisible() is (answer == "Cancel")
    assert proj.file.exists() is (answer == "Save")
    if answer == "Save":
        assert not proj.dirty
        saved = json.loads(proj.file.read_text())
        assert saved["settings"]["params"]["gradient"]["window"] == 12
    # nothing unsaved: no question
    monkeypatch.setattr(type(window), "ask_save_on_close", True)
    if answer == "Cancel":
        proj.dirty = False
        asked.clear()
        assert window.close() and asked == []


def test_fits_a_1366x768_laptop_screen(qtbot, window, small_study):
    """The window can be as small as a 1366×768 laptop screen (minus the desktop's bars);
    at that size the traces page fits without scrolling."""
    hint = window.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 768 - 68, (hint.width(), hint.height())
    for title, page in window.pages.items():  # a page larger than the tab scrolls, never clips
        assert window._page_hosts[title].widget() is page
    _open(qtbot, window, small_study)
    window.resize(1366, 700)
    window.resizeDocks([window.tree_dock, window.step_dock], [220, 250], Qt.Orientation.Horizontal)
    qtbot.wait(200)
    assert window.width() == 1366 and window.height() == 700
    host = window._page_hosts["Traces"]
    assert not host.horizontalScrollBar().isVisible() and not host.verticalScrollBar().isVisible()
    view = window.pages["Traces"].view
    assert view.plot.height() > 300 and view.plot.width() > 600  # plots keep room, axes and titles
    window.show_tab("Slices & Maps")
    qtbot.wait(100)
    slices = window._page_hosts["Slices & Maps"]
    assert not slices.horizontalScrollBar().isVisible() and not slices.verticalScrollBar().isVisible()
    assert window.pages["Slices & Maps"].tc_plot.height() > 60


def _within_window(widget, window) -> bool:
    """Whether ``widget`` is shown and its whole rectangle lies inside the window's."""
    from PyQt6.QtCore import QPoint, QRect

    if not widget.isVisible() or widget.visibleRegion().isEmpty():
        return False
    top_left = widget.mapTo(window, QPoint(0, 0))
    return QRect(QPoint(0, 0), window.size()).contains(QRect(top_left, widget.size()))


def test_every_pipeline_step_is_on_screen_at_1366(qtbot, window):
    """At 1366 px the dozen step titles did not fit and the fusion methods sat off-screen
    behind a scroll bar: the titles shorten to the declared labels until the bar fits; at a
    wide window the full titles come back; each tooltip keeps the full title."""
    bar = window.pipeline
    window.resize(1366, 740)
    qtbot.wait(100)
    scroll = bar.parentWidget().parentWidget()
    assert not scroll.horizontalScrollBar().isVisible()
    texts = {n: b.text() for n, b in bar.buttons.items()}
    assert texts["cca"].endswith(" CCA") and texts["sync"].endswith(" Sync")
    for name, b in bar.buttons.items():
        assert _within_window(b, window), (name, b.text())
        spec = next(s for s in bar.steps if s.id == name)
        assert spec.title in b.toolTip()
    window.resize(3200, 900)  # wider than any test screen: the layout still gets the width
    qtbot.wait(100)
    if bar.width() >= 2400:
        assert bar.buttons["gradient"].text().endswith("Gradient artifact")


def test_fusion_run_button_is_on_screen_at_1366(qtbot, window):
    """The Fusion tab's Run / Cancel and status line stay below its scrolled form: inside
    the scroll area they were below the fold at 1366×768, stale-result warning included."""
    window.resize(1366, 740)
    window.show_tab("Fusion")
    tab = window.pages["Fusion"]
    for row in range(tab.method_list.count()):  # the tallest form among the methods
        tab.method_list.setCurrentRow(row)
        qtbot.wait(30)
        assert _within_window(tab.run_button, window), tab.method_list.item(row).text()
        assert _within_window(tab.cancel_button, window)
    tab.runbar.say("a status line")
    qtbot.wait(30)
    assert _within_window(tab.status, window)


def test_step_panel_follows_the_step_tab_shown(qtbot, window):
    """The Gradient tab shown: the pipeline bar and the Step / QC panel show the gradient
    step (they kept the last step clicked, Scanner sync beside the Gradient tab); the Fusion
    tab: its selected method; a view tab (Traces) changes nothing."""
    window.pipeline.select("sync")
    for tab, step in (("Gradient", "gradient"), ("Cardiac", "cardiac"), ("ICA", "ica")):
        window.show_tab(tab)
        assert window.pipeline.buttons[step].isChecked(), tab
        assert window.step_panel.current == step
    window.show_tab("Traces")
    assert window.step_panel.current == "ica"
    window.show_tab("Fusion")
    fusion = window.pages["Fusion"]
    assert window.step_panel.current == fusion.spec.id
    ids = list(fusion.specs)
    other = next(i for i, sid in enumerate(ids) if sid != fusion.spec.id)
    fusion.method_list.setCurrentRow(other)
    assert window.step_panel.current == ids[other]
