"""The 3D coregistration tab: clicks and buttons replay to the same engine result.

Like MNE's ``test_coreg_class_gui_match``: fiducials are placed by real clicks on the
rendered scalp, the fit/ICP/omit buttons are pressed, and the resulting transform must
equal the one from the same engine calls. Screenshots go to tests/_artifacts/.
"""

from __future__ import annotations

import mne
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QVBoxLayout, QWidget

from workbench.engine.coreg.dig import dig_from_info
from workbench.engine.coreg.fiducials import read_mri_fiducials
from workbench.engine.coreg.model import Coreg
from workbench.engine.coreg.surface import read_scalp
from workbench.engine.session import Session

pytestmark = pytest.mark.gui


def _montage_from_info(info):
    dig = dig_from_info(info)
    return mne.channels.make_dig_montage(
        ch_pos=dict(zip(dig.eeg_names, dig.eeg)), lpa=dig.fid[0], nasion=dig.fid[1], rpa=dig.fid[2],
        hsp=dig.hsp, hpi=dig.hpi, coord_frame="head")


@pytest.fixture
def sample_session(test_data):
    c = test_data / "coreg"
    info = mne.io.read_info(c / "MEG" / "sample" / "test-ave.fif.gz", verbose="error")
    s = Session()
    s.set_scalp(read_scalp(c / "subjects" / "sample" / "bem" / "outer_skin.surf"))
    s.set_dig(_montage_from_info(info))
    return s, read_mri_fiducials(c / "subjects" / "sample" / "bem" / "sample-fiducials.fif")


@pytest.fixture
def tab(qtbot, sample_session):
    from workbench.gui.coreg import CoregTab

    session, _ = sample_session
    win = QWidget()
    win.resize(1150, 760)
    lay = QVBoxLayout(win)
    t = CoregTab(session, win, auto_fiducials=False)
    lay.addWidget(t)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield t
    if t.busy:
        t.cancel()
        qtbot.waitUntil(lambda: not t.busy, timeout=10000)
    t.scene.close()
    win.close()
    qtbot.wait(1)


def _screen_pos(tab, point_m):
    """Widget pixel position of an MRI-frame point in the current view."""
    ren = tab.scene.plotter.renderer
    ren.SetWorldPoint(*(np.asarray(point_m) * 1e3), 1.0)
    ren.WorldToDisplay()
    x, y, _ = ren.GetDisplayPoint()
    w = tab.scene.plotter
    ratio = w.devicePixelRatioF()
    return QPoint(int(round(x / ratio)), int(round(w.height() - y / ratio)))


def _not_blank(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(str(path))[..., :3]
    colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    return img.std() > 0.02 and colours > 50


def _wait_idle(qtbot, tab, timeout=30000):
    qtbot.waitUntil(lambda: not tab.busy, timeout=timeout)
    qtbot.wait(50)


def test_gui_clicks_match_engine_calls(qtbot, tab, sample_session, artifacts_dir):
    session, true_fid = sample_session
    assert tab.coreg is not None and tab.coreg.mri_fiducials is None
    tab.save_screenshot(str(artifacts_dir / "coreg_initial.png"))
    assert _not_blank(artifacts_dir / "coreg_initial.png")

    # 1) place the three MRI fiducials by clicking the rendered scalp
    views = {"lpa": "left", "nasion": "front", "rpa": "right"}
    qtbot.mouseClick(tab.pick_buttons["lpa"], Qt.MouseButton.LeftButton)
    for i, name in enumerate(("lpa", "nasion", "rpa")):
        assert tab.pick_buttons[name].isChecked()
        tab.set_camera(views[name])
        qtbot.wait(20)
        qtbot.mouseClick(tab.scene.plotter, Qt.MouseButton.LeftButton, pos=_screen_pos(tab, true_fid[i]))
        qtbot.wait(20)
        placed = tab.coreg.mri_fiducials[i]
        assert np.all(np.isfinite(placed)), f"click on {name} did not pick"
        assert np.linalg.norm(placed - true_fid[i]) < 8e-3, (name, placed, true_fid[i])
    picked = tab.coreg.mri_fiducials.copy()
    assert session.undo.can_undo

    # 2) buttons: fit fiducials, ICP, omit at 5 mm, ICP
    qtbot.mouseClick(tab.btn_fit_fid, Qt.MouseButton.LeftButton)
    after_fid = tab.coreg.head_mri.copy()
    qtbot.mouseClick(tab.btn_icp, Qt.MouseButton.LeftButton)
    assert tab.busy
    _wait_idle(qtbot, tab)
    tab.omit_slider.setValue(5)
    qtbot.mouseClick(tab.btn_omit, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tab.btn_icp, Qt.MouseButton.LeftButton)
    _wait_idle(qtbot, tab)
    gui_trans = np.asarray(session.trans["trans"], float)

    # the same engine calls give the same transform
    dig = dig_from_montage_of(session)
    co = Coreg(dig, tab.coreg.scalp, picked)
    co.fit_fiducials(scale="none")
    np.testing.assert_allclose(co.head_mri, after_fid, atol=1e-12)
    params = tab.icp_params()
    co.fit_icp(**params)
    co.omit(5e-3)
    co.fit_icp(**params)
    np.testing.assert_allclose(gui_trans, co.head_mri, atol=1e-9)
    np.testing.assert_array_equal(tab.coreg.omitted, co.omitted)
    assert tab.last_qc["mean_mm"] == pytest.approx(co.qc()["mean_mm"])
    assert tab.qc_table.item(2, 1).text() == f"{co.qc()['mean_mm']:.2f}"
    assert tab.last_qc["mean_mm"] < 2.5

    for preset in ("front", "left", "top"):
        tab.set_camera(preset)
        tab.save_screenshot(str(artifacts_dir / f"coreg_fitted_{preset}.png"))
        assert _not_blank(artifacts_dir / f"coreg_fitted_{preset}.png")
    tab.window().grab().save(str(artifacts_dir / "coreg_tab.png"))

    # the exported transform is the GUI's
    tab.save_trans(str(artifacts_dir / "coreg_gui-trans.fif"))
    np.testing.assert_allclose(mne.read_trans(artifacts_dir / "coreg_gui-trans.fif")["trans"], gui_trans)

    # 3) undo back to just after the fiducial fit, then redo to the end
    for _ in range(3):  # ICP, omit, ICP
        session.undo.undo()
    np.testing.assert_allclose(tab.coreg.head_mri, after_fid, atol=1e-12)
    np.testing.assert_allclose(session.trans["trans"], after_fid, atol=1e-12)
    assert not tab.coreg.omitted.any()
    for _ in range(3):
        session.undo.redo()
    np.testing.assert_allclose(session.trans["trans"], gui_trans, atol=1e-12)


def dig_from_montage_of(session):
    from workbench.engine.coreg.dig import dig_from_montage

    return dig_from_montage(session.dig)


def test_icp_animates_and_stays_responsive(qtbot, tab, sample_session):
    session, true_fid = sample_session
    tab.set_fiducials(true_fid)
    tab.fit_fiducials()
    poses = []
    orig = tab.scene.update_pose

    def spy(head_mri, *a, **k):
        poses.append(np.array(head_mri))
        return orig(head_mri, *a, **k)

    tab.scene.update_pose = spy
    # with matched fiducials ICP converges in ~6 iterations and a software-GL render under Xvfb
    # takes ~0.3 s on a busy machine: pace the frames so several iterations get drawn
    tab.frame_interval = 0.3
    tab.run_icp()
    # the event loop keeps running while ICP works: timers fire
    ticks = []
    from PyQt6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    _wait_idle(qtbot, tab)
    timer.stop()
    assert len(ticks) > 0
    distinct = {p.tobytes() for p in poses}
    assert len(distinct) >= 3, (tab.last_error, len(poses))  # the points moved during the fit, not only at the end


def test_cancel_keeps_previous_state(qtbot, tab, sample_session):
    """Cancel during ICP leaves the pose as it was and records no edit (fails if Cancel does nothing).

    The animation is paced slowly, so ICP cannot finish between its first iteration
    and the cancel: the test asserts the cancelled outcome every time.
    """
    session, true_fid = sample_session
    tab.set_fiducials(true_fid)
    tab.fit_fiducials()
    before = tab.coreg.head_mri.copy()
    undo_before = session.undo.undo_text
    steps = []
    tab.frame_interval = 0.4  # seconds between iterations: ICP takes many of them
    tab.run_icp()
    tab._worker.yielded.connect(lambda item: steps.append(item))
    qtbot.waitUntil(lambda: len(steps) >= 1, timeout=20000)
    tab.cancel()
    _wait_idle(qtbot, tab, timeout=120000)
    assert session.undo.undo_text == undo_before != "ICP"
    np.testing.assert_array_equal(tab.coreg.head_mri, before)


def test_opacity_and_no_fiducial_error(qtbot, tab):
    tab.opacity.setValue(30)
    assert tab.scene.scalp_actor.GetProperty().GetOpacity() == pytest.approx(0.3)
    assert not tab.btn_fit_fid.isEnabled()  # no MRI fiducials yet
    tab.fit_fiducials()  # called anyway: a clear message, no crash, no change
    assert "fiducials" in tab.last_error


def test_noise_vs_bias_dialog(qtbot, tab, sample_session, artifacts_dir):
    _, true_fid = sample_session
    tab.set_fiducials(true_fid)
    from workbench.gui.coreg.teach import NoiseBiasDialog

    dlg = NoiseBiasDialog(tab.coreg.scalp, tab.coreg.mri_fiducials, tab)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.start(n_repeats=2)
    qtbot.waitUntil(lambda: dlg.result is not None, timeout=60000)
    res = dlg.result
    assert res["tre_bias_mm"][-1] > res["tre_noise_mm"][-1]
    dlg.grab().save(str(artifacts_dir / "coreg_noise_vs_bias.png"))
    dlg.close()
