"""The 3D Coregistration tab inside the main window, on a phantom study (scalp, electrodes,
head-shape points), and the scalp-from-T1 path on a study that has only a T1."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import wait_task
from PyQt6.QtCore import Qt

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def phantom_study(tmp_path_factory):
    from workbench.engine.phantom import PhantomConfig, simulate_study

    study = tmp_path_factory.mktemp("coreg_gui") / "study"
    simulate_study(study, PhantomConfig(duration_s=12.0, sfreq=500.0, n_eeg=32, seed=11))
    return study


def test_phantom_in_main_window_fits_to_truth(qtbot, window, phantom_study, artifacts_dir):
    tab = window.pages["3D Coregistration"]
    task = window.open_path(phantom_study)
    wait_task(qtbot, window, task)
    window.tab_widget.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.coreg is not None, timeout=20000)
    # fiducials are estimated from fsaverage in a worker when the study opens
    qtbot.waitUntil(lambda: not tab.busy and tab.coreg.mri_fiducials is not None, timeout=30000)
    assert tab.coreg.points.shape[0] > 100  # electrodes + head-shape points
    qtbot.mouseClick(tab.btn_fit_fid, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tab.btn_icp, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy, timeout=30000)
    qtbot.wait(50)
    qc = tab.last_qc
    assert qc["tre_mean_mm"] < 4.0 and qc["rotation_error_deg"] < 2.0
    assert tab.qc_table.item(15, 1).text() == f"{qc['tre_mean_mm']:.2f}"
    assert window.session.trans is not None
    tab.set_camera("left")
    window.grab().save(str(artifacts_dir / "coreg_main_window.png"))


def test_extract_scalp_from_t1_button(qtbot, window, small_study, artifacts_dir):
    tab = window.pages["3D Coregistration"]
    task = window.open_path(small_study)
    wait_task(qtbot, window, task)
    qtbot.waitUntil(lambda: tab.btn_extract.isEnabled(), timeout=10000)
    assert window.session.scalp is None
    window.tab_widget.setCurrentWidget(tab)
    qtbot.mouseClick(tab.btn_extract, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.scalp is not None and not tab.busy, timeout=30000)
    assert len(window.session.scalp["rr"]) > 5000
    assert tab.scene.scalp_actor is not None
    tab.set_camera("front")
    tab.save_screenshot(str(artifacts_dir / "coreg_scalp_from_t1.png"))
    img = __import__("matplotlib.image", fromlist=["imread"]).imread(str(artifacts_dir / "coreg_scalp_from_t1.png"))
    assert np.std(img[..., :3]) > 0.02
