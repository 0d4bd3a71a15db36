"""Trace browser: peak downsampling, visible-window fetching, navigation, bad channels."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from gui_helpers import make_raw
from PyQt6.QtCore import QPoint, QPointF, Qt

from workbench.engine.session import Session
from workbench.gui.traces import TracesTab, TraceView, peak_downsample


def test_peak_downsample_keeps_every_extreme_of_every_bin():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((3, 10_007))
    data[1, 4321] = 50.0  # a one-sample spike
    times = np.arange(data.shape[1]) / 5000.0
    t_ds, d_ds = peak_downsample(data, times, 500)
    per = -(-data.shape[1] // 500)  # 21 samples per bin; the last bin is shorter
    edges = np.arange(0, data.shape[1], per)
    # brute force: each bin's min and max
    expect = np.array([[[data[c, e:e + per].min(), data[c, e:e + per].max()] for e in edges]
                       for c in range(3)])
    np.testing.assert_array_equal(np.sort(d_ds.reshape(3, edges.size, 2), axis=2), expect)
    assert d_ds.shape[1] == 2 * edges.size <= 1000
    # pairs are ordered as they happen in a monotonic signal
    ramp = np.arange(1000.0)[None, :]
    _, up = peak_downsample(ramp, np.arange(1000.0), 100)
    _, down = peak_downsample(-ramp, np.arange(1000.0), 100)
    assert np.all(np.diff(up[0]) >= 0) and np.all(np.diff(down[0]) <= 0)
    assert d_ds.max() == 50.0
    np.testing.assert_array_equal(d_ds.min(1), data.min(1))
    assert t_ds.shape == (d_ds.shape[1],)
    assert np.all(np.diff(t_ds) >= 0)
    # fewer samples than 2 per bin: unchanged
    t2, d2 = peak_downsample(data[:, :100], times[:100], 500)
    assert d2.shape == (3, 100)


class CountingRaw:
    """Wraps a Raw and records every get_data call (proves only the window is read)."""

    def __init__(self, raw):
        self._raw = raw
        self.calls: list[tuple[int, int]] = []

    def get_data(self, picks=None, start=0, stop=None, **kw):
        self.calls.append((start, stop))
        return self._raw.get_data(picks=picks, start=start, stop=stop, **kw)

    def __getattr__(self, name):
        return getattr(self._raw, name)


@pytest.fixture
def traces(qtbot):
    session = Session()
    tab = TracesTab(session)
    tab.resize(1200, 700)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitExposed(tab)
    return session, tab


def test_only_the_visible_window_is_read_and_drawn(qtbot, traces, artifacts_dir):
    session, tab = traces
    raw = CountingRaw(make_raw(seconds=60.0))
    session.set_raw(raw)
    view = tab.view
    with qtbot.waitSignal(view.rendered, timeout=5000):
        view.request_render()
    sf = raw.info["sfreq"]
    assert raw.calls, "nothing was read"
    for start, stop in raw.calls:  # the window plus half a window of read-ahead per side
        assert stop - start <= 2 * view.window_s * sf + 1
    # downsampled: a few points per pixel, not 50,000 samples per channel
    width = view.vb.width()
    per_channel = view.n_points_drawn / view.n_visible
    assert per_channel <= 2 * width * view.points_per_pixel / 2 + 4
    assert per_channel < 0.1 * view.window_s * sf
    assert [t for t, _ in view.visible_annotations()] == [0, 2, 4, 6, 8, 10]  # window [0, 10] s
    tab.grab().save(str(artifacts_dir / "gui_traces.png"))
    # scrolling by less than half a window is served from the read-ahead block
    n_calls = len(raw.calls)
    view.set_time(20.0)
    view.render()
    n_calls = len(raw.calls)
    view.scroll_time(0.25)
    view.render()
    view.scroll_time(0.25)
    view.render()
    assert len(raw.calls) == n_calls
    view.set_time(45.0)  # a jump reads again
    view.render()
    assert len(raw.calls) == n_calls + 1


def test_keyboard_and_wheel_scroll_time_and_channels(qtbot, traces):
    session, tab = traces
    session.set_raw(make_raw(seconds=60.0))
    view = tab.view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.t0 == pytest.approx(2.5)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert view.t0 == pytest.approx(12.5)
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.t0 == pytest.approx(60.0 - view.window_s)
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.t0 == 0.0
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert view.ch_start == 13  # 33 channels, 20 shown: clamped to the last page
    assert view.visible_names[-1] == "ECG"
    qtbot.keyClick(view, Qt.Key.Key_BracketRight)  # zoom out x2 around the centre
    assert view.window_s == pytest.approx(20.0)
    before = dict(view.scales)
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.scales["eeg"] == pytest.approx(before["eeg"] / 1.5)
    # the scrollbar follows
    view.set_time(30.0)
    assert view.hscroll.value() == 30000


def test_rendered_trace_matches_the_data(qtbot, traces):
    """The drawn curve of a channel is its data / scale, offset to its row."""
    session, tab = traces
    raw = make_raw(n_ch=5, sfreq=1000.0, seconds=20.0)
    session.set_raw(raw)
    view = tab.view
    view.set_window(0.5)  # 500 samples: fewer than 2 per pixel, drawn as is
    view.scales["eeg"] = 1e-3  # no clipping
    view.set_remove_dc(False)
    view.render()
    x, y = view._curves[1].getData()
    expect = raw.get_data(picks=[1], start=0, stop=501)[0]
    np.testing.assert_allclose(y, 1 - expect / 1e-3, atol=1e-9)
    np.testing.assert_allclose(x, np.arange(501) / 1000.0)
    # with DC removal (the default) the row is centred on the window mean
    view.set_remove_dc(True)
    view.render()
    _, y = view._curves[1].getData()
    np.testing.assert_allclose(y, 1 - (expect - expect.mean()) / 1e-3, atol=1e-9)


def test_click_channel_name_toggles_bad_with_undo_redo(qtbot, traces):
    session, tab = traces
    session.set_raw(make_raw(seconds=10.0))
    view = tab.view
    view.render()
    qtbot.wait(50)
    # a real mouse click on the label of row 3 in the channel-name axis
    y_scene = view.vb.mapViewToScene(pg.Point(view.t0, 3)).y()
    x_scene = view.axis.sceneBoundingRect().center().x()
    pos = view.plot.mapFromScene(QPointF(x_scene, y_scene))
    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    assert session.raw.info["bads"] == ["EEG03"]
    assert session.undo.undo_text == "mark EEG03 bad"
    qtbot.waitUntil(lambda: "✕ EEG03" in view.axis.names, timeout=2000)
    session.undo.undo()
    assert session.raw.info["bads"] == []
    session.undo.redo()
    assert session.raw.info["bads"] == ["EEG03"]
    tab.toggle_bad("EEG03")  # clicking again marks it good
    assert session.raw.info["bads"] == []
    assert session.undo.undo_text == "mark EEG03 good"


def test_cleaned_overlay_and_channel_selection(qtbot, traces):
    session, tab = traces
    raw = make_raw(n_ch=6, seconds=10.0)
    session.set_raw(raw)
    view = tab.view
    assert not view.mode_combo.isEnabled()
    cleaned = raw.copy()
    cleaned._data *= 0.5
    session.set_cleaned(cleaned)
    assert view.mode == "overlay" and view.mode_combo.isEnabled()
    view.render()
    assert view._under[0].isVisible() and view._curves[0].isVisible()
    view.set_mode("raw")
    view.render()
    assert not view._under[0].isVisible()
    view.set_selection(["EEG01", "ECG"])
    view.render()
    assert view.visible_names == ["EEG01", "ECG"]
    assert view.axis.names == ["EEG01", "ECG"]


def test_empty_view_says_what_to_do(qtbot):
    view = TraceView()
    qtbot.addWidget(view)
    view.render()
    assert view.empty_text.isVisible()
    assert "open" in view.empty_text.textItem.toPlainText().lower()


def test_hide_markers_by_name(qtbot, traces):
    session, tab = traces
    raw = make_raw(seconds=10.0)
    raw.set_annotations(raw.annotations + __import__("mne").Annotations([1.0, 3.0], 0.0, "Stimulus/S  1"))
    session.set_raw(raw)
    view = tab.view
    assert view.marker_names() == {"Response/R128": 5, "Stimulus/S  1": 2}
    assert {a.data() for a in view.marker_menu.actions()} == {"Response/R128", "Stimulus/S  1"}
    view.set_marker_visible("Response/R128", False)
    assert [d for _, d in view.visible_annotations()] == ["Stimulus/S  1", "Stimulus/S  1"]
    assert not next(a for a in view.marker_menu.actions() if a.data() == "Response/R128").isChecked()
    view.set_marker_visible("Response/R128", True)
    assert len(view.visible_annotations()) == 7


def test_mouse_wheel_scrolls_and_ctrl_wheel_zooms(qtbot, traces):
    from PyQt6.QtCore import QPoint
    from PyQt6.QtGui import QWheelEvent
    from PyQt6.QtWidgets import QApplication

    session, tab = traces
    session.set_raw(make_raw(seconds=60.0))
    view = tab.view
    view.set_time(30.0)
    vp = view.plot.viewport()
    centre = QPointF(vp.width() / 2, vp.height() / 2)

    def wheel(dy, mods=Qt.KeyboardModifier.NoModifier):
        ev = QWheelEvent(centre, QPointF(vp.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                         QPoint(0, dy), Qt.MouseButton.NoButton, mods,
                         Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(vp, ev)

    wheel(-120)  # wheel down: later in time by a tenth of the window
    assert view.t0 == pytest.approx(31.0)
    wheel(120)
    assert view.t0 == pytest.approx(30.0)
    wheel(-120, Qt.KeyboardModifier.ControlModifier)  # zoom out around the centre
    assert view.window_s == pytest.approx(12.5)
    assert view.t0 + view.window_s / 2 == pytest.approx(35.0)
