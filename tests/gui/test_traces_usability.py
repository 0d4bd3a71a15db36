"""Trace browser a lab uses every day: an initial scale that shows EEG, rows clipped,
per-type scale, butterfly mode, marker labels that never collide, before/after inside the scan."""

from __future__ import annotations

import itertools

import mne
import numpy as np
import pytest

from workbench.engine.session import Session
from workbench.gui.traces import TracesTab
from workbench.gui.traces.scaling import initial_scales, nice_scale, scan_span
from workbench.gui.traces.view import DEFAULT_SCALES

SF = 2000.0


def scanner_raw(seconds=30.0, lead_in=3.0, tr=2.0, n_eeg=30, artifact=5e-3):
    """A phantom-like in-scanner recording: ~10 µV EEG + alpha, a mV gradient artifact
    (sawtooth at the slice rate) from the first R128 trigger on, an EOG and an ECG."""
    rng = np.random.default_rng(3)
    n = int(SF * seconds)
    t = np.arange(n) / SF
    eeg = rng.standard_normal((n_eeg, n)) * 10e-6 + 20e-6 * np.sin(2 * np.pi * 10 * t)
    eog = rng.standard_normal((1, n)) * 30e-6
    ecg = 1e-3 * np.sin(np.pi * 1.1 * t)[None] ** 20
    data = np.concatenate([eeg, eog, ecg])
    scanning = t >= lead_in
    slice_period = tr / 20
    saw = ((t - lead_in) % slice_period) / slice_period - 0.5
    gains = rng.uniform(0.5, 1.5, (data.shape[0], 1))
    data[:-1] += artifact * gains[:-1] * saw * scanning  # not the ECG (own scale)
    names = [f"EEG{i:02d}" for i in range(n_eeg)] + ["EOG", "ECG"]
    info = mne.create_info(names, SF, ["eeg"] * n_eeg + ["eog", "ecg"])
    raw = mne.io.RawArray(data, info, verbose=False)
    onsets = np.arange(lead_in, seconds - tr, tr)
    raw.set_annotations(mne.Annotations(onsets, 0.0, "Response/R128"))
    return raw


@pytest.fixture
def traces(qtbot):
    session = Session()
    tab = TracesTab(session)
    tab.resize(1366, 700)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitExposed(tab)
    return session, tab


def test_nice_scale_and_scan_span():
    assert nice_scale(73e-6) == pytest.approx(100e-6)
    assert nice_scale(1.5e-5) == pytest.approx(2e-5)
    assert nice_scale(4.2e-3) == pytest.approx(5e-3)
    first, last = scan_span(scanner_raw())
    assert first == pytest.approx(3.0) and last > 27.0


def test_initial_scale_shows_eeg_not_the_gradient_artifact(qtbot, traces):
    session, tab = traces
    raw = scanner_raw()
    # what a fit to the opening window gives: the artifact (mV per row)
    view = tab.view
    session.set_raw(raw)
    eeg = view.scales["eeg"]
    assert 20e-6 <= eeg <= 200e-6, f"EEG opens at {eeg * 1e6:.0f} µV/row"
    assert view.scales["eog"] <= 500e-6
    assert view.scales["ecg"] >= 500e-6  # the ECG has its own (mV) scale
    view.set_time(10.0)  # inside the scan: the artifact is clipped to its row
    view.render()
    _, y = view._curves[3].getData()
    assert np.all(np.abs(y - 3) <= 0.5 + 1e-9)
    # the old behaviour (fit to the visible window inside the scan) would be mV/row
    view.autoscale()
    assert view.scales["eeg"] > 1e-3


def test_initial_scale_without_lead_in_or_from_cleaned():
    raw = scanner_raw(lead_in=0.0)  # scanning from the first sample: only artifact
    sc = initial_scales(raw, None, list(range(len(raw.ch_names))), DEFAULT_SCALES, 1e-3)
    assert sc["eeg"] == pytest.approx(DEFAULT_SCALES["eeg"])
    clean = scanner_raw(lead_in=0.0, artifact=0.0)
    sc = initial_scales(raw, clean, list(range(len(raw.ch_names))), DEFAULT_SCALES, 1e-3)
    assert 20e-6 <= sc["eeg"] <= 200e-6


def test_per_type_scale(qtbot, traces):
    session, tab = traces
    session.set_raw(scanner_raw())
    view = tab.view
    types = [view.scale_type_combo.itemData(i) for i in range(view.scale_type_combo.count())]
    assert types == ["all", "eeg", "eog", "ecg"]
    before = dict(view.scales)
    view.scale_type_combo.setCurrentIndex(types.index("eog"))
    view.scale_up.click()
    assert view.scales["eog"] == pytest.approx(before["eog"] / 1.5)
    assert view.scales["eeg"] == before["eeg"] and view.scales["ecg"] == before["ecg"]
    view.render()
    assert "EOG" in view.scale_label.text() and "ECG" in view.scale_label.text()


def test_butterfly_puts_all_channels_of_a_type_on_one_axis(qtbot, traces):
    session, tab = traces
    raw = scanner_raw()
    session.set_raw(raw)
    view = tab.view
    view.butterfly_button.click()
    assert view.butterfly
    view.render()
    assert view.axis.names == ["EEG (30)", "EOG (1)", "ECG (1)"]
    curves = [c for c in view._curves if c.isVisible()]
    assert len(curves) == 32  # every channel, not just the 20 of a page
    baselines = [np.median(c.getData()[1]) for c in curves]
    # all 30 EEG curves stay within row 0 (+-half a row), EOG on row 1, ECG on row 2
    for c in curves[:30]:
        y = c.getData()[1]
        assert np.all(np.abs(y) <= 0.5 + 1e-9)
    assert abs(baselines[30] - 1) <= 0.5 and abs(baselines[31] - 2) <= 0.5
    view.set_butterfly(False)
    view.render()
    assert view.axis.names[:2] == ["EEG00", "EEG01"]
    assert not view.butterfly_button.isChecked()


def test_marker_labels_do_not_overlap(qtbot, traces):
    session, tab = traces
    raw = scanner_raw()
    # dense markers with long names: slice-like triggers and events every 0.13 s
    extra = mne.Annotations(np.arange(0.05, 30, 0.13), 0.0, "Stimulus/S 12 long name")
    raw.set_annotations(raw.annotations + extra)
    session.set_raw(raw)
    view = tab.view
    view.render()
    qtbot.wait(50)
    shown = [ti for ti in view._marker_labels if ti.isVisible()]
    assert len(shown) >= 3
    rects = [ti.sceneBoundingRect() for ti in shown]
    for a, b in itertools.combinations(rects, 2):
        assert not a.intersects(b), (a, b)
    # every marker keeps its vertical line
    n_lines = sum(c.getData()[0].size // 2 for c in view._marker_curves if c.isVisible())
    assert n_lines == len(view.visible_annotations())
    # zoomed in, every label fits
    view.set_window(0.5)
    view.render()
    qtbot.wait(50)
    shown = [ti for ti in view._marker_labels if ti.isVisible()]
    assert len(shown) == len(view.visible_annotations())


def test_before_after_view_starts_inside_the_scan(qtbot, traces, artifacts_dir):
    session, tab = traces
    raw = scanner_raw(lead_in=6.0)
    session.set_raw(raw)
    view = tab.view
    assert view.t0 == 0.0  # the raw alone opens at the start
    cleaned = scanner_raw(lead_in=6.0, artifact=0.0)
    session.set_cleaned(cleaned)
    assert view.mode == "overlay"
    assert 6.0 <= view.t0 <= 6.0 + 0.2 * view.window_s
    # a session opened with both already there starts inside the scan too
    view.t0 = 0.0
    view.set_data(raw, cleaned)
    assert view.t0 >= 6.0


def test_screenshot_1366x768(qtbot, artifacts_dir):
    session = Session()
    tab = TracesTab(session)
    tab.resize(1366, 768)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitExposed(tab)
    raw = scanner_raw(lead_in=4.0)
    extra = mne.Annotations(np.arange(4.3, 30, 0.8), 0.0, "Stimulus/S  1")
    raw.set_annotations(raw.annotations + extra)
    session.set_raw(raw)
    session.set_cleaned(scanner_raw(lead_in=4.0, artifact=0.0))
    tab.view.render()
    qtbot.wait(100)
    tab.grab().save(str(artifacts_dir / "gui_traces_1366x768.png"))
    tab.view.set_butterfly(True)
    tab.view.render()
    qtbot.wait(100)
    tab.grab().save(str(artifacts_dir / "gui_traces_butterfly_1366x768.png"))


def test_ecg_and_eog_named_channels_typed_eeg_get_their_own_scale(qtbot, traces):
    """BrainVision files carry no channel types: ECG and VEOG read as EEG."""
    session, tab = traces
    raw = scanner_raw()
    raw.set_channel_types({"EOG": "eeg", "ECG": "eeg"}, on_unit_change="ignore")
    raw.rename_channels({"EOG": "VEOGb"})
    session.set_raw(raw)
    view = tab.view
    view.render()
    assert view.channel_type(raw.ch_names.index("ECG")) == "ecg"
    assert view.channel_type(raw.ch_names.index("VEOGb")) == "eog"
    assert view.scales["ecg"] >= 500e-6 and view.scales["eeg"] <= 200e-6
    assert "ECG" in view.scale_label.text()
