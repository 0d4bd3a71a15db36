"""The source view (workbench.gui.source): 3D and slices of a source estimate over time, per
variant, and its tab in the Fusion tab. A synthetic estimate with known peaks on a ball T1
whose scanner RAS differs from the ``mri`` frame (as a FreeSurfer T1's does), so a wrong
frame puts the overlay in the wrong place."""

from __future__ import annotations

import re
import types

import numpy as np
import pytest

pytestmark = pytest.mark.gui

SPACING = 0.01
C_RAS_MM = np.array([20.0, -25.0, 18.0])  # mri -> scanner RAS translation
A = np.array([0.03, -0.02, 0.04])  # the "soft" peak (inside the fMRI map)
B = np.array([-0.04, 0.01, 0.02])  # the "hard" peak


def _estimate():
    import nibabel as nib

    g = np.arange(-7, 8)
    ijk = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    pos = ijk * SPACING
    keep = np.linalg.norm(pos, axis=1) < 0.07
    pos, ijk = pos[keep], ijk[keep] + 7
    grid_to_mri = np.diag([SPACING, SPACING, SPACING, 1.0])
    grid_to_mri[:3, 3] = -7 * SPACING
    t = np.linspace(-0.1, 0.3, 41)
    env = np.exp(-0.5 * ((t - 0.1) / 0.03) ** 2)

    def blob(c, w=0.012):
        return np.exp(-0.5 * (np.linalg.norm(pos - c, axis=1) / w) ** 2)[:, None] * env[None, :] + 1e-3

    amps = {"none": blob(A, 0.03), "soft": blob(A), "hard": blob(B), "weighted": blob(A, 0.02)}
    mask = np.linalg.norm(pos - A, axis=1) < 0.012
    m2w = np.eye(4)
    m2w[:3, 3] = C_RAS_MM
    live = {"source_estimate": True, "amplitudes": amps, "times": t, "pos_mri": pos, "fmri_mask": mask,
            "fmri_values": mask * 5.0, "grid_shape": (15, 15, 15), "grid_to_mri": grid_to_mri,
            "mri_to_world_mm": m2w, "spacing_mm": 10.0, "units": {v: "A·m" for v in amps},
            "report_times": [0.1]}
    # a ball T1 (2 mm, LIA like a conformed FreeSurfer T1) in scanner RAS
    n, step = 96, 2.0
    aff = np.zeros((4, 4))
    aff[0, 0], aff[1, 2], aff[2, 1], aff[3, 3] = -step, step, -step, 1.0
    aff[:3, 3] = [step * n / 2, -step * n / 2, step * n / 2]
    aff[:3, 3] += C_RAS_MM
    vox = np.indices((n, n, n)).reshape(3, -1).T
    xyz = vox @ aff[:3, :3].T + aff[:3, 3] - C_RAS_MM
    t1 = np.where(np.linalg.norm(xyz, axis=1) < 85, 100.0, 0.0).reshape(n, n, n).astype(np.float32)
    return live, nib.Nifti1Image(t1, aff)


@pytest.fixture
def view(qtbot):
    from workbench.gui.source import SourceView

    v = SourceView()
    v.resize(1200, 700)
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.close_scene()


def _world_vox(view, pos_m):
    """The T1 voxel (the view's RAS grid) of an ``mri`` position, computed here."""
    world = np.asarray(pos_m) * 1e3 + C_RAS_MM
    return np.round(np.linalg.solve(view.anat_affine, np.r_[world, 1.0])[:3]).astype(int)


def test_slices_put_each_variant_where_its_peak_is(view, qtbot):
    live, t1 = _estimate()
    view.set_result(types.SimpleNamespace(live=live), t1)
    view.set_variant("soft", "hard")
    assert view.time_label.text() == "100 ms"
    # the cursor went to soft's peak; the soft plane's maximum is there, within one grid step
    target = _world_vox(view, A)
    assert np.abs(view.cursor - target).max() <= 1
    zoom = view._zooms
    for axis in range(3):
        _, est, fm = view.plane("soft", axis)
        rest = [d for d in range(3) if d != axis]
        k = np.unravel_index(int(np.argmax(est)), est.shape)
        assert abs(k[0] - target[rest[0]]) * zoom[rest[0]] <= 10 and abs(k[1] - target[rest[1]]) * zoom[rest[1]] <= 10
        assert fm.max() > 0.5  # the fMRI map crosses every plane through its cluster
    # the compared variant: hard's peak is elsewhere; moving the cursor there finds it
    view.select_voxel(_world_vox(view, B))
    _, est, _ = view.plane("hard", 2)
    k = np.unravel_index(int(np.argmax(est)), est.shape)
    tb = _world_vox(view, B)
    assert abs(k[0] - tb[0]) * zoom[0] <= 10 and abs(k[1] - tb[1]) * zoom[1] <= 10
    # the overlay of the compare row draws the fMRI outline (cyan) and hot pixels
    rgba = view.rows[1]["axial"].overlay.image
    assert rgba is not None and np.any((rgba[..., 3] > 0) & (rgba[..., 0] > 200))


def test_time_threshold_and_3d(view, qtbot):
    live, t1 = _estimate()
    view.set_result(types.SimpleNamespace(live=live), t1)
    view.set_variant("none", "soft")
    view.set_time(0.1)
    busy = view.scene.n_active
    view.threshold_box.setValue(0.8)
    assert 0 < view.scene.n_active < busy
    view.set_time(-0.1)  # baseline: flat 1e-3 everywhere -> every source at its maximum
    assert view.time_label.text() == "-100 ms"
    assert view.scene.n_active == len(live["pos_mri"])
    view.set_time(0.1)
    view.set_variant("soft")
    assert ", 0 mm from the fMRI map" in view.info.text()
    view.set_variant("hard")
    far = float(re.search(r", (\d+) mm from the fMRI map", view.info.text()).group(1))
    assert far > 50, view.info.text()
    img = view.grab().toImage()
    arr = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
    assert arr.std() > 10 and len(np.unique(arr)) > 50
    shot = view.scene.screenshot()
    assert shot.std() > 5


def test_click_gives_that_sources_time_course(view, qtbot):
    live, t1 = _estimate()
    view.set_result(types.SimpleNamespace(live=live), t1)
    view.set_variant("hard", "soft")
    tb = _world_vox(view, B)
    z = view._zooms
    view._clicked("axial", tb[0] * z[0], tb[1] * z[1])
    view._clicked("coronal", tb[0] * z[0], tb[2] * z[2])
    k = view.source_index
    assert np.linalg.norm(live["pos_mri"][k] - B) < SPACING
    curve = view.tc_plot.listDataItems()[0]
    y = curve.getData()[1]
    np.testing.assert_allclose(y, live["amplitudes"]["hard"][k] / live["amplitudes"]["hard"].max())
    # dragging the time line moves the slider
    view.time_line.setValue(0.2)
    assert abs(live["times"][view.time_index] - 0.2) < 0.011


def test_fusion_tab_shows_sources_for_a_source_estimate(qtbot, tmp_path):
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings
    from workbench.plugin_api import FusionResult

    win = MainWindow(settings=Settings(tmp_path / "s.json"))
    win.resize(1366, 768)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    try:
        live, t1 = _estimate()
        tab = win.pages["Fusion"]
        win.show_tab("Fusion")
        win.session.set_anat(t1)
        tab.show_result(FusionResult(method="fmri-source", live=live))
        sv = tab.source_view
        assert sv is not None and tab.views.currentWidget() is sv
        assert tab.views.isTabVisible(tab.views.indexOf(sv))
        assert sv.variant == "soft" and sv.compare == "hard"
        tab.show_result(FusionResult(method="other"))
        assert not tab.views.isTabVisible(tab.views.indexOf(sv))
    finally:
        win.tasks.cancel_all()
        win.close()


def test_three_variants_side_by_side_and_the_third_row_hidden(view, qtbot):
    """soft, hard and the fixed weighting in three rows by default (the issue's "three
    variants side by side"); each row's slices show its own variant; "(none)" hides the third."""
    from workbench.gui.source.view import NO_THIRD

    live, t1 = _estimate()
    view.set_result(types.SimpleNamespace(live=live), t1)
    assert view.shown() == ("soft", "hard", "weighted")
    assert all(v.isVisible() for v in view.rows[2].values())
    assert [lab.text().split(" at ")[0] for lab in view.row_labels] == ["soft", "hard", "weighted"]
    # the third row draws the weighting (peak at A like soft, not at hard's B)
    view.select_voxel(_world_vox(view, A))
    third = view.rows[2]["axial"].overlay.image
    second = view.rows[1]["axial"].overlay.image
    assert third is not None and not np.array_equal(third, second)
    assert len(view.tc_plot.getPlotItem().legend.items) == 3
    view.set_variant("soft", "hard", NO_THIRD)
    assert view.shown() == ("soft", "hard") and view.third is None
    assert not any(v.isVisible() for v in view.rows[2].values())
    assert len(view.tc_plot.getPlotItem().legend.items) == 2
