"""Slice viewer: grid, clicks, BOLD layer, stat overlay threshold, voxel time course."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import ACTIVE_VOXEL
from PyQt6.QtCore import QPoint, QPointF, Qt

from workbench.engine import imaging
from workbench.engine.session import Session
from workbench.gui.slices import SlicesTab


@pytest.fixture
def loaded(qtbot, small_study_master, test_data):
    session = Session()
    tab = SlicesTab(session)
    tab.resize(1200, 800)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitExposed(tab)
    anat = nib.load(test_data / "coreg/subjects/sample/mri/T1.mgz")
    bold = nib.load(small_study_master / "sub-01/func/sub-01_task-test_bold.nii.gz")
    session.set_anat(anat)
    session.set_bold(bold, {"RepetitionTime": 2.0})
    return session, tab, anat, bold


def _world_of_bold_voxel(bold, ijk):
    return imaging.voxel_to_world(bold.affine, ijk)[0]


def test_cursor_time_course_is_the_bold_voxel_under_it(qtbot, loaded):
    session, tab, anat, bold = loaded
    xyz = _world_of_bold_voxel(bold, ACTIVE_VOXEL)
    ijk = np.rint(imaging.world_to_voxel(tab.base_img.affine, xyz)[0]).astype(int)
    tab.set_cursor(ijk)
    # ground truth read independently with nibabel
    truth = np.asarray(bold.dataobj)[ACTIVE_VOXEL]
    np.testing.assert_allclose(tab.last_timecourse, truth, rtol=1e-6)
    x, y = tab.tc_curve.getData()
    np.testing.assert_allclose(x, np.arange(truth.size) * 2.0)
    assert np.std(y) > 20  # the active voxel's sine, not noise (std ~1)


def test_click_in_a_view_moves_the_cursor(qtbot, loaded):
    session, tab, anat, bold = loaded
    view = tab.views["axial"]
    zooms = tab.base_img.header.get_zooms()[:3]
    target_i, target_j = 30, 55
    p_view = QPointF((target_i + 0.5) * zooms[0], (target_j + 0.5) * zooms[1])
    p_scene = view.getViewBox().mapViewToScene(p_view)
    p_widget = view.mapFromScene(p_scene)
    k_before = tab.cursor[2]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(p_widget.x(), p_widget.y()))
    assert tuple(tab.cursor) == (target_i, target_j, k_before)
    # the other views follow: the sagittal view marks the new j (anterior-posterior)
    assert tab.views["sagittal"].vline.value() == pytest.approx((target_j + 0.5) * zooms[1])


def test_bold_layer_and_volume_slider(qtbot, loaded, artifacts_dir):
    session, tab, anat, bold = loaded
    tab.set_layer("bold")
    tab.set_volume(3)
    assert tab.vol_label.text() == "vol 4/10"
    assert tab.vol_line.value() == pytest.approx(6.0)
    img = tab.views["axial"].base.image
    assert img.shape == tab.base_data.shape[:2]
    # BOLD values (~100) now, not T1 intensities
    assert 80 < np.median(img[img > 0]) < 120
    tab.grab().save(str(artifacts_dir / "gui_slices_bold.png"))


def test_stat_overlay_threshold_hides_weak_voxels(qtbot, loaded, artifacts_dir):
    session, tab, anat, bold = loaded
    stat = np.zeros(bold.shape[:3], np.float32)
    stat[ACTIVE_VOXEL] = 8.0
    stat[2, 2, 2] = 2.0  # weak: below a 30 % threshold of 8
    session.set_stat("task > rest (t)", nib.Nifti1Image(stat, bold.affine))
    assert tab.stat_combo.currentText() == "task > rest (t)"
    xyz = _world_of_bold_voxel(bold, ACTIVE_VOXEL)
    tab.set_cursor(np.rint(imaging.world_to_voxel(tab.base_img.affine, xyz)[0]).astype(int))
    tab.thr_slider.setValue(30)
    rgba = tab.views["axial"].overlay.image
    assert rgba.shape[-1] == 4
    assert rgba[..., 3].max() > 0  # the strong voxel is drawn
    i, j = tab.cursor[0], tab.cursor[1]
    assert rgba[i, j, 3] > 0
    tab.grab().save(str(artifacts_dir / "gui_slices_stat.png"))
    # weak voxel: its world position on the base grid is transparent at 30 %
    wx = _world_of_bold_voxel(bold, (2, 2, 2))
    wijk = np.rint(imaging.world_to_voxel(tab.base_img.affine, wx)[0]).astype(int)
    tab.set_cursor(wijk)
    assert tab.views["axial"].overlay.image[wijk[0], wijk[1], 3] == 0
    tab.thr_slider.setValue(10)  # 0.8: now visible
    assert tab.views["axial"].overlay.image[wijk[0], wijk[1], 3] > 0
    tab.alpha_slider.setValue(0)
    assert tab.views["axial"].overlay.image[..., 3].max() == 0


def test_model_fit_from_stat_result(qtbot, loaded):
    session, tab, anat, bold = loaded
    fit = np.zeros(bold.shape, np.float32)
    fit[ACTIVE_VOXEL] = np.arange(bold.shape[3], dtype=np.float32)
    stat = np.zeros(bold.shape[:3], np.float32)
    session.set_stat("glm", {"map": nib.Nifti1Image(stat, bold.affine),
                             "fitted": nib.Nifti1Image(fit, bold.affine)})
    xyz = _world_of_bold_voxel(bold, ACTIVE_VOXEL)
    tab.set_cursor(np.rint(imaging.world_to_voxel(tab.base_img.affine, xyz)[0]).astype(int))
    _, y = tab.fit_curve.getData()
    np.testing.assert_allclose(y, np.arange(bold.shape[3]))
    tab.set_cursor(np.rint(imaging.world_to_voxel(tab.base_img.affine, xyz)[0]).astype(int))
    labels = [label.text for _, label in tab.legend.items]
    assert labels.count("model fit") == 1  # moving the cursor must not stack legend entries


def test_sample_plane_matches_nibabel_full_resampling(small_study_master, test_data):
    """Plane-by-plane resampling equals resampling the whole volume with nibabel."""
    from nibabel.processing import resample_from_to

    anat = imaging.canonical(imaging.in_memory(nib.load(test_data / "coreg/subjects/sample/mri/T1.mgz")))
    bold = imaging.in_memory(nib.load(small_study_master / "sub-01/func/sub-01_task-test_bold.nii.gz"), volume=0)
    full = np.asarray(resample_from_to(bold, anat, order=1, cval=np.nan).dataobj)
    for axis, idx in ((0, 40), (1, 30), (2, 50)):
        pl = imaging.sample_plane(bold, anat.shape, anat.affine, axis, idx, order=1)
        np.testing.assert_allclose(pl, np.take(full, idx, axis=axis), rtol=1e-5, equal_nan=True)


def test_empty_viewer_explains(qtbot):
    tab = SlicesTab(Session())
    qtbot.addWidget(tab)
    assert "No anatomy" in tab.info_label.text()
