"""The Sources view's layout at 1366×768 and full HD, its time course (units, the current
time marked) and source positions that are not on a grid.

A synthetic estimate with known peaks (``soft`` at A inside the fMRI map, ``hard`` at B,
``weighted`` at A but wider, ``soft_dspm`` unitless) on a ball T1, shown in the real main
window at the size of a 1366×768 laptop with the docks open (the view is then ~530 px
wide: the first version gave the 3D view ~250 px and the time course 90 px, and wrote
the peak labels into the 3D view where they were clipped at its edge)."""

from __future__ import annotations

import functools
import types

import numpy as np
import pytest

pytestmark = pytest.mark.gui

SPACING = 0.01
A = np.array([0.03, -0.02, 0.04])
B = np.array([-0.04, 0.01, 0.02])
SCALE = 2e-8  # A·m: a realistic dipole moment (tens of nA·m)


@functools.lru_cache(maxsize=1)
def _ball_t1(c_ras_mm=(20.0, -25.0, 18.0)):
    """A ball T1 (read only by the tests: made once)."""
    import nibabel as nib

    n, step = 96, 2.0
    aff = np.zeros((4, 4))
    aff[0, 0], aff[1, 2], aff[2, 1], aff[3, 3] = -step, step, -step, 1.0  # LIA, like a FreeSurfer T1
    aff[:3, 3] = np.array([step * n / 2, -step * n / 2, step * n / 2]) + c_ras_mm
    vox = np.indices((n, n, n)).reshape(3, -1).T
    xyz = vox @ aff[:3, :3].T + aff[:3, 3] - np.asarray(c_ras_mm)
    t1 = np.where(np.linalg.norm(xyz, axis=1) < 85, 100.0, 0.0).reshape(n, n, n).astype(np.float32)
    return nib.Nifti1Image(t1, aff)


def _live(pos, grid=None, c_ras_mm=(20.0, -25.0, 18.0)):
    t = np.linspace(-0.1, 0.3, 41)
    env = np.exp(-0.5 * ((t - 0.1) / 0.03) ** 2)

    def blob(c, w=0.012):
        return np.exp(-0.5 * (np.linalg.norm(pos - c, axis=1) / w) ** 2)[:, None] * env[None, :] + 1e-3

    amps = {"none": SCALE * blob(A, 0.03), "soft": SCALE * blob(A), "hard": 3 * SCALE * blob(B),
            "weighted": SCALE * blob(A, 0.02), "soft_dspm": 4.0 * blob(A, 0.02)}
    units = {v: "A·m" for v in amps}
    units["soft_dspm"] = "dSPM (unitless)"
    m2w = np.eye(4)
    m2w[:3, 3] = c_ras_mm
    live = {"source_estimate": True, "amplitudes": amps, "times": t, "pos_mri": pos,
            "fmri_mask": np.linalg.norm(pos - A, axis=1) < 0.012, "mri_to_world_mm": m2w, "spacing_mm": 10.0,
            "units": units, "report_times": [0.1]}
    if grid is not None:
        live["grid_shape"], live["grid_to_mri"] = grid
    return live


def _grid_estimate():
    g = np.arange(-7, 8)
    ijk = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    pos = ijk * SPACING
    pos = pos[np.linalg.norm(pos, axis=1) < 0.07]
    g2m = np.diag([SPACING, SPACING, SPACING, 1.0])
    g2m[:3, 3] = -7 * SPACING
    return _live(pos, ((15, 15, 15), g2m))


def _sphere_surface(radius=0.06, n=1200, seed=0):
    """Vertices on a sphere (a stand-in cortex: not on any grid) and their triangles."""
    from scipy.spatial import ConvexHull

    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3))
    v = radius * v / np.linalg.norm(v, axis=1, keepdims=True)
    return v, ConvexHull(v).simplices


def _inside(widget, outer) -> bool:
    """Whether ``widget``'s rectangle lies within ``outer``'s (both shown)."""
    from PyQt6.QtCore import QPoint, QRect

    top_left = widget.mapTo(outer, QPoint(0, 0))
    return QRect(QPoint(0, 0), outer.size()).contains(QRect(top_left, widget.size()))


@pytest.fixture
def window(qtbot, tmp_path):
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    win = MainWindow(settings=Settings(tmp_path / "s.json"))
    win.resize(1366, 768)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.tasks.cancel_all()
    tab = win.pages["Fusion"]
    if tab.source_view is not None:
        tab.source_view.close_scene()
    win.close()
    qtbot.wait(1)


def _shown_view(qtbot, width: int, height: int):
    """A Sources view on its own, shown at ``width`` x ``height``."""
    from workbench.gui.source import SourceView

    sv = SourceView()
    sv.resize(width, height)
    qtbot.addWidget(sv)
    sv.show()
    qtbot.waitExposed(sv)
    return sv


def _show(win, qtbot, live, anat=True):
    from workbench.plugin_api import FusionResult

    tab = win.pages["Fusion"]
    win.show_tab("Fusion")
    if anat:
        win.session.set_anat(_ball_t1())
    tab.show_result(FusionResult(method="fmri-source", live=live))
    sv = tab.source_view
    qtbot.waitUntil(lambda: sv.isVisible() and sv.width() > 0, timeout=5000)
    qtbot.wait(50)
    return sv


def test_the_3d_view_gets_a_useful_size_at_1366x768(window, qtbot):
    """The main window at 1366×768: the 3D view at least 300 px wide and 200 px high (the
    first layout gave it ~250 px between the slices); the slices, one plane with the three
    variants side by side, at least 120 px each."""
    assert (window.width(), window.height()) == (1366, 768)
    sv = _show(window, qtbot, _grid_estimate())
    assert sv.width() < 700  # the docks are open: the view is narrow
    host = sv.scene_host
    assert host.isVisible() and host.width() >= 300 and host.height() >= 200, (host.width(), host.height())
    assert _inside(host, sv)
    shot = sv.scene.screenshot()
    assert shot.std() > 5 and shot.shape[1] >= 300
    sv.show_panel("Slices")
    qtbot.wait(20)
    views = [sv.rows[r]["axial"] for r in range(3)]
    for v in views:
        assert v.isVisible() and v.width() >= 120 and v.height() >= 120, (v.width(), v.height())
        assert _inside(v, sv)
    assert [lab.text().split(" at ")[0] for lab in sv.row_labels] == ["soft", "hard", "weighted"]
    # each column draws its own variant: soft's overlay is not hard's
    assert not np.array_equal(views[0].overlay.image, views[1].overlay.image)


def test_full_hd_shows_3d_and_slices_side_by_side(qtbot):
    sv = _shown_view(qtbot, 1200, 800)
    try:
        sv.set_result(types.SimpleNamespace(live=_grid_estimate()), _ball_t1())
        qtbot.wait(20)
        assert sv.scene_host.isVisible() and sv.slice_host.isVisible()
        assert sv.scene_host.width() >= 0.3 * sv.width()
        assert sv.planes == "3 planes" and all(v.isVisible() for r in sv.rows for v in r.values())
        for r in sv.rows:
            for v in r.values():
                assert v.width() >= 100 and v.height() >= 100 and _inside(v, sv)
    finally:
        sv.close_scene()


def test_peaks_are_listed_inside_the_view_not_clipped_in_3d(window, qtbot):
    """Every variant's peak is named with its position in a list beside the 3D view, in the
    variant's colour, inside the window; no text labels are drawn into the 3D scene (they
    were clipped at its edge)."""
    from workbench.gui.source.scene import variant_color

    sv = _show(window, qtbot, _grid_estimate())
    text = sv.peak_legend.text()
    a_mm = f"({', '.join(str(round(x)) for x in A * 1e3)})"
    b_mm = f"({', '.join(str(round(x)) for x in B * 1e3)})"
    assert "soft" in text and a_mm in text and "hard" in text and b_mm in text, text
    assert variant_color("hard") in text and variant_color("soft") in text
    assert sv.peak_legend.isVisible() and _inside(sv.peak_legend, sv)
    assert sv.peak_legend.width() >= sv.peak_legend.sizeHint().width() - 2  # not cut
    labels = [k for k in sv.scene.plotter.actors if "label" in k.lower()]
    assert labels == [], labels
    # the peaks follow the time: at baseline every source is equal, at 100 ms hard is at B
    sv.set_time(0.1)
    assert b_mm in sv.peak_legend.text()


def test_time_course_readable_with_the_current_time_marked(window, qtbot):
    """Three variants: the time course is at least 140 px high at 1366×768, the current
    time is a line with a dot on each curve, and both follow the time slider."""
    sv = _show(window, qtbot, _grid_estimate())
    assert sv.shown() == ("soft", "hard", "weighted")
    tc = sv.tc_plot
    assert tc.isVisible() and tc.height() >= 140, tc.height()
    t = np.asarray(sv.live["times"])
    for seconds in (0.1, 0.2):
        sv.set_time(seconds)
        i = sv.time_index
        assert tc.time_line.value() == pytest.approx(t[i])
        curves = [c for c in tc.listDataItems() if hasattr(c, "yData") and c.yData is not None]
        assert len(curves) == 3 and len(tc.markers) == 3
        for curve, dot in zip(curves, tc.markers, strict=True):
            x, y = dot.getData()
            assert x[0] == pytest.approx(t[i]) and y[0] == pytest.approx(curve.yData[i])
        assert f"{t[i] * 1e3:.0f} ms" in tc.getPlotItem().titleLabel.text
    # dragging the line moves the slider
    tc.time_line.setValue(0.0)
    assert abs(t[sv.time_index]) < 0.006


def test_time_course_in_units(window, qtbot):
    """In units, dipole moments are on the left axis with an SI prefix (nA·m) and a unitless
    dSPM variant on a right axis of its own; relative, the legend gives each maximum."""
    sv = _show(window, qtbot, _grid_estimate())
    sv.set_variant("soft", "hard", "soft_dspm")
    tc = sv.tc_plot
    legend = [lab.text for _sample, lab in tc.getPlotItem().legend.items]
    assert any("soft" in x and "nA·m" in x for x in legend), legend
    sv.scale_box.setCurrentIndex(1)
    assert "nA·m" in tc.left_axis_label()
    pi = tc.getPlotItem()
    assert pi.getAxis("right").isVisible() and "dSPM" in pi.getAxis("right").labelString()
    left = [c for c in pi.listDataItems() if hasattr(c, "yData") and c.yData is not None]
    k = sv.source_index
    np.testing.assert_allclose(left[0].yData, sv.live["amplitudes"]["soft"][k])  # A·m, shown as nA·m
    assert any(np.allclose(c.yData, sv.live["amplitudes"]["soft_dspm"][k]) for c in tc.right_curves
               if hasattr(c, "yData") and c.yData is not None)
    # back to relative at a source far from every peak (values ~0.1): ticks are the values
    # themselves (pyqtgraph would show 0.1 as "100" with a milli prefix) and no unit is left
    sv.scale_box.setCurrentIndex(0)
    sv.select_source(int(np.argmin(np.linalg.norm(np.asarray(sv.live["pos_mri"]) - (A + B) / 2, axis=1))))
    left = pi.getAxis("left")
    assert max(c.yData.max() for c in pi.listDataItems() if hasattr(c, "yData") and c.yData is not None) < 0.5
    assert left.autoSIPrefixScale == 1.0 and left.labelUnitPrefix == ""
    assert "A·m" not in tc.left_axis_label() and "relative" in tc.left_axis_label()


def test_click_in_3d_selects_that_source(window, qtbot):
    sv = _show(window, qtbot, _grid_estimate())
    pos = np.asarray(sv.live["pos_mri"])
    kb = int(np.argmin(np.linalg.norm(pos - B, axis=1)))
    sv.scene._picked(pos[kb] * 1e3 + 1.0)  # VTK gives the picked point (mm), near the source
    assert sv.source_index == kb
    assert "(-40, 10, 20) mm" in sv.tc_plot.getPlotItem().titleLabel.text


def test_surface_source_positions_off_the_grid(qtbot):
    """Vertices of a (stand-in) cortex, not on a grid, with triangles: 3D draws the mesh;
    the slices put each variant's peak where it is (nearest source) over the T1."""
    pos, tris = _sphere_surface()
    live = _live(pos)
    live["kind"], live["triangles"] = "surface", tris
    peak_soft = pos[np.argmax(live["amplitudes"]["soft"][:, 20])]
    sv = _shown_view(qtbot, 1200, 800)
    try:
        sv.set_result(types.SimpleNamespace(live=live), _ball_t1())
        assert sv.stack.currentIndex() == 0 and not sv.sampler.gridded
        assert sv.scene.mesh is not None and sv.scene.mesh.n_cells == len(tris)
        assert sv.scene.n_active > 0
        world = peak_soft * 1e3 + np.array([20.0, -25.0, 18.0])
        target = np.round(np.linalg.solve(sv.anat_affine, np.r_[world, 1.0])[:3]).astype(int)
        assert np.abs(sv.cursor - target).max() <= 1
        for axis in range(3):
            _, est, fm = sv.plane("soft", axis)
            rest = [d for d in range(3) if d != axis]
            k = np.unravel_index(int(np.argmax(est)), est.shape)
            d = np.hypot((k[0] - target[rest[0]]) * sv._zooms[rest[0]], (k[1] - target[rest[1]]) * sv._zooms[rest[1]])
            assert d <= 12, (axis, d)
            assert est.max() > 0.5
        img = sv.grab().toImage()
        arr = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
        assert arr.std() > 10
    finally:
        sv.close_scene()


def test_an_estimate_it_cannot_draw_is_said_plainly(qtbot):
    """An unknown kind, values that do not match the sources, NaN: one plain sentence in
    place of the view (not an empty canvas); a good estimate afterwards is drawn again."""
    sv = _shown_view(qtbot, 800, 600)
    cases = [(lambda live: live.update(kind="mixed"), "kind 'mixed'"),
             (lambda live: live["amplitudes"].update(soft=live["amplitudes"]["soft"][:-3]), "'soft' has"),
             (lambda live: live["amplitudes"]["hard"].__setitem__((0, 0), np.nan), "NaN")]
    try:
        for change, words in cases:
            live = _grid_estimate()
            change(live)
            sv.set_result(types.SimpleNamespace(live=live), _ball_t1())
            assert sv.stack.currentWidget() is sv.message and sv.message.isVisible()
            assert words in sv.message.text() and "\n" not in sv.message.text()
            sv.redraw()  # nothing to draw, no error
        sv.set_result(types.SimpleNamespace(live=_grid_estimate()), _ball_t1())
        assert sv.stack.currentIndex() == 0 and sv.scene.n_active > 0
    finally:
        sv.close_scene()


def test_no_t1_says_so_in_the_slices(qtbot):
    sv = _shown_view(qtbot, 1200, 800)
    try:
        sv.set_result(types.SimpleNamespace(live=_grid_estimate()), None)
        assert sv.slice_note.isVisible() and "No T1" in sv.slice_note.text()
        assert not sv.scene.has_head
    finally:
        sv.close_scene()


def test_a_real_click_in_3d_picks_a_source_and_a_drag_does_not(window, qtbot):
    """A Qt click on the 3D view becomes a VTK pick of the source under the mouse (the
    source nearest to the picked point); pressing and dragging turns the view instead."""
    from PyQt6.QtCore import QPoint, Qt

    sv = _show(window, qtbot, _grid_estimate())
    picked: list[int] = []
    select = sv.scene.on_pick
    sv.scene.on_pick = lambda k: (picked.append(k), select(k))
    widget = sv.scene.plotter
    centre = QPoint(widget.width() // 2, widget.height() // 2)
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=centre)
    assert len(picked) == 1 and sv.source_index == picked[0]
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(widget, centre + QPoint(40, 25))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=centre + QPoint(40, 25))
    assert len(picked) == 1


def test_each_variant_in_its_own_3d_view_turned_together(qtbot):
    """"3D: each variant": soft, hard and weighted each in a 3D view side by side, each with
    its own map and peak (hard at B, the others at A), one colour bar, one camera; back to
    one view hides the others."""
    from workbench.gui.source.view import SCENES

    sv = _shown_view(qtbot, 1500, 850)
    try:
        sv.set_result(types.SimpleNamespace(live=_grid_estimate()), _ball_t1())
        sv.set_time(0.1)
        assert len(sv.scenes_shown()) == 1 and sv.extra_scenes == []
        sv.scenes_box.setCurrentText(SCENES[1])
        qtbot.wait(50)
        shown = sv.scenes_shown()
        assert [v for v, _ in shown] == ["soft", "hard", "weighted"]
        for var, sc in shown:
            assert sc.plotter.isVisible() and sc.plotter.width() >= 120, (var, sc.plotter.width())
            assert _inside(sc.plotter, sv)
            shot = sc.screenshot()
            assert shot.std() > 5, var
            (peak,) = [a for k, a in sc.plotter.actors.items() if k.startswith("peak_")]
            expect = B if var == "hard" else A
            assert np.linalg.norm(np.array(peak.GetCenter()) - expect * 1e3) < 6.0, (var, peak.GetCenter())
        # each view colours its own variant: hard's active sources are around B, soft's around A
        import pyvista as pv

        hard_active = np.asarray(pv.wrap(shown[1][1].active_actor.GetMapper().GetInput()).points)
        soft_active = np.asarray(pv.wrap(shown[0][1].active_actor.GetMapper().GetInput()).points)
        assert np.linalg.norm(hard_active.mean(0) - B * 1e3) < 15 and np.linalg.norm(soft_active.mean(0) - A * 1e3) < 15
        assert [len(sc.plotter.scalar_bars) for _v, sc in shown] == [0, 0, 1]
        # turn the first view: the others follow
        cam = shown[0][1].plotter.camera
        cam.azimuth = cam.azimuth + 40
        sv._sync_cameras(shown[0][1])
        for _v, sc in shown[1:]:
            assert np.allclose(sc.plotter.camera_position.position, shown[0][1].plotter.camera_position.position)
        sv.third_box.setCurrentText("(none)")
        qtbot.wait(20)
        assert len(sv.scenes_shown()) == 2 and not sv.extra_scenes[1].plotter.isVisible()
        sv.scenes_box.setCurrentText(SCENES[0])
        qtbot.wait(20)
        assert not any(sc.plotter.isVisible() for sc in sv.extra_scenes)
        assert len(sv.scene.plotter.scalar_bars) == 1
    finally:
        sv.close_scene()
