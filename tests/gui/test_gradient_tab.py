"""The Gradient tab: run in a worker, before/after, stack, PSD, QC table, cancel, GUI = engine."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gradient"))
from gradsynth import make_recording  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def loaded(qtbot):
    from workbench.engine.session import Session
    from workbench.gui.gradient import GradientTab

    raw, truth, meta = make_recording(duration=30, n_eeg=8)
    session = Session()
    session.set_bold(None, meta["sidecar"])
    session.set_truth({"clean_eeg": truth})
    tab = GradientTab(session)
    qtbot.addWidget(tab)
    tab.resize(1400, 800)
    tab.show()
    qtbot.waitExposed(tab)
    session.set_raw(raw)
    yield session, tab, meta
    if tab.task is not None:
        tab.cancel()
        qtbot.waitUntil(lambda: tab.task is None, timeout=10000)
    qtbot.waitUntil(lambda: tab._stack_task is None, timeout=10000)


def _grab(tab, path: Path) -> None:
    img = tab.grab()
    img.save(str(path))
    arr = img.toImage()
    assert arr.width() > 500


def test_run_sets_cleaned_and_fills_every_view(qtbot, loaded, artifacts_dir: Path) -> None:
    session, tab, meta = loaded
    seen = []
    session.cleaned_changed.connect(lambda r: seen.append(r))
    qtbot.mouseClick(
        tab.run_button, __import__("PyQt6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton
    )
    assert tab.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: tab.task is None, timeout=60000)
    assert len(seen) == 1 and session.cleaned is seen[0]
    assert session.cleaned is not session.raw
    assert tab.table.rowCount() == 8
    assert float(tab.table.item(0, 3).text()) > 20  # dB reduction at the slice harmonics
    assert "NRMSE" in tab.status.text()
    qtbot.waitUntil(lambda: hasattr(tab, "last_stack"), timeout=20000)
    d = tab.last_stack
    assert d["epochs"].shape[0] == tab.window.value() and d["template"].size == d["epochs"].shape[1]
    # the stack view follows the scrollbar through the run
    tab.volume_scroll.setValue(0)
    qtbot.waitUntil(lambda: tab._stack_task is None, timeout=20000)
    qtbot.wait(50)
    assert tab.volume_label.text().startswith("volume 1/")
    assert tab.traces.mode == "overlay"
    for i, name in enumerate(["traces", "stack", "psd", "table"]):
        tab.views.setCurrentIndex(i)
        if name == "traces":
            with qtbot.waitSignal(tab.traces.rendered, timeout=5000):
                tab.traces.request_render()
        qtbot.wait(150)
        _grab(tab, artifacts_dir / f"gradient_tab_{name}.png")


def test_gui_result_equals_the_engine_call(qtbot, loaded) -> None:
    from workbench.engine.gradient import remove_gradient

    session, tab, meta = loaded
    tab.window.setValue(12)
    tab.lowpass.setValue(50.0)
    tab.run()
    qtbot.waitUntil(lambda: tab.task is None, timeout=60000)
    params, opts = tab.params()
    ref = remove_gradient(session.raw, params=params, sidecar=meta["sidecar"], **opts)
    np.testing.assert_allclose(session.cleaned.get_data(), ref.raw.get_data(), rtol=0, atol=1e-12)


def test_cancel_changes_nothing(qtbot, loaded) -> None:
    session, tab, meta = loaded
    tab.run()
    tab.cancel()
    qtbot.waitUntil(lambda: tab.task is None, timeout=60000)
    assert session.cleaned is None or tab.last_error != "cancelled"
    if tab.last_error == "cancelled":
        assert "Cancelled" in tab.status.text()
    assert tab.run_button.isEnabled()


def test_bad_trigger_name_is_a_message_not_a_crash(qtbot, loaded) -> None:
    session, tab, meta = loaded
    tab.volume.setText("Scan Start")
    tab.run()
    qtbot.waitUntil(lambda: tab.task is None, timeout=60000)
    assert "not found" in tab.last_error and "R128" in tab.last_error
    assert session.cleaned is None


def test_every_parameter_explains_itself(loaded) -> None:
    session, tab, meta = loaded
    for w in (
        tab.window,
        tab.window_lf,
        tab.align,
        tab.amplitude_fit,
        tab.wiener,
        tab.alias_orders,
        tab.obs,
        tab.anc,
        tab.lowpass,
        tab.volume,
        tab.slice,
        tab.slices,
        tab.tr,
        tab.run_button,
        tab.cancel_button,
    ):
        assert len(w.toolTip()) > 30
    assert "slice" in tab.HELP_TEXT.lower()
