"""The 3D scene of the source view (pyvistaqt): the head, the source space, the estimate,
the fMRI map and each variant's peak.

Display only: it receives positions (MRI frame, metres; drawn in millimetres) and
values. Drawn once per result: the scalp from the T1 as a faint translucent surface (the
head the sources sit in), the source space as small grey points (a volume grid) or as
the cortical mesh (a surface source space with triangles), the thresholded fMRI map as
translucent cyan cubes (volume) or cyan vertices (surface). Per time: the sources above
the display threshold coloured by amplitude (points, or the mesh's colours), each
variant's peak as a sphere in the variant's colour. The names and positions of the peaks
are not written into the 3D view (labels there were clipped at its edge): the view lists
them in a legend under it, in the same colours (:func:`peak_groups`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyvista as pv
from PyQt6.QtWidgets import QWidget
from pyvistaqt import QtInteractor

__all__ = ["SourceScene", "PEAK_COLORS", "variant_color", "peak_groups", "head_surface"]

PEAK_COLORS = {"none": "#7f7f7f", "dspm": "#8c564b", "sloreta": "#e377c2", "weighted": "#1f77b4",
               "soft": "#2ca02c", "hard": "#d62728", "weighted_dspm": "#17becf", "soft_dspm": "#bcbd22",
               "hard_dspm": "#9467bd"}
_SPARE = ("#ff7f0e", "#393b79", "#637939", "#8c6d31")


def variant_color(name: str) -> str:
    """One colour per variant, used in 3D, in the slices' row titles and in the time course."""
    return PEAK_COLORS.get(name) or _SPARE[sum(map(ord, name)) % len(_SPARE)]


def peak_groups(peaks: dict[str, np.ndarray]) -> list[tuple[list[str], np.ndarray]]:
    """Variants sharing a peak source grouped: [(names, position in mm)], in the given order."""
    groups: dict[tuple[float, ...], list[str]] = {}
    for n, p in peaks.items():
        groups.setdefault(tuple(np.round(np.asarray(p, float) * 1e3, 1)), []).append(n)
    return [(names, np.array(p)) for p, names in groups.items()]


def head_surface(anat: np.ndarray, affine: np.ndarray, mri_to_world_mm: np.ndarray,
                 max_points: int = 64) -> pv.PolyData | None:
    """The scalp of a T1 as a mesh in ``mri`` millimetres (None when it cannot be found).

    The volume is subsampled to at most ``max_points`` voxels a side and cut at a fifth
    of its 99th percentile (air is dark on a T1); the outer surface of that is the head.
    Coarse on purpose: it is drawn faint, for orientation only.
    """
    data = np.asarray(anat, np.float32)
    if data.ndim != 3 or not np.isfinite(data).any():
        return None
    step = max(1, int(np.ceil(max(data.shape) / max_points)))
    small = data[::step, ::step, ::step]
    nz = small[small > 0]
    if nz.size < 100:
        return None
    level = 0.2 * float(np.percentile(nz, 99))
    grid = pv.ImageData(dimensions=small.shape)
    grid.point_data["t1"] = small.ravel(order="F")
    try:
        surf = grid.contour([level], scalars="t1").extract_largest()
    except (ValueError, RuntimeError):
        return None
    if surf.n_points == 0:
        return None
    vox_to_mri = np.linalg.inv(np.asarray(mri_to_world_mm, float)) @ np.asarray(affine, float)
    ijk = np.asarray(surf.points, float) * step
    surf.points = ijk @ vox_to_mri[:3, :3].T + vox_to_mri[:3, 3]
    return surf.extract_surface() if not isinstance(surf, pv.PolyData) else surf


class SourceScene:
    """Owns the :class:`QtInteractor` and the actors of the source view."""

    def __init__(self, parent: QWidget) -> None:
        pv.OFF_SCREEN = False  # off-screen plotters have no interactor
        self.plotter = QtInteractor(parent, auto_update=False)
        self.plotter.set_background("white")
        self.pos_mm = np.zeros((0, 3))
        self.triangles: np.ndarray | None = None
        self.active_actor: Any = None
        self.peak_actors: list[Any] = []
        self.mesh: pv.PolyData | None = None
        self.n_active = 0
        self.has_head = False
        self.peak_radius = 4.0
        self.on_pick: Callable[[int], None] | None = None
        self._picking = False
        self._press_at: Any = None
        #: whether :meth:`set_space` drew the current result's head and source space
        self.space_drawn = False

    @property
    def widget(self) -> QWidget:
        return self.plotter.interactor if hasattr(self.plotter, "interactor") else self.plotter

    def set_space(self, pos_m: np.ndarray, fmri_mask: np.ndarray, spacing_mm: float,
                  triangles: np.ndarray | None = None, head: pv.PolyData | None = None,
                  focus_m: np.ndarray | None = None) -> None:
        """Draw the head, the source space and the fMRI map (once per result).

        ``triangles`` (source indices, (n, 3)): a surface source space, drawn as a mesh.
        ``focus_m``: a position (the first peak) the camera looks at from outside the head,
        so it is not hidden behind the rest of the source space; else a view from the
        front left.
        """
        self.plotter.clear()
        self.space_drawn = True
        self.active_actor, self.peak_actors, self.mesh = None, [], None
        self.pos_mm = np.asarray(pos_m, float) * 1e3
        self.peak_radius = max(4.0, 0.55 * float(spacing_mm))  # bigger than a coloured source
        self.triangles = None if triangles is None or len(triangles) == 0 else np.asarray(triangles, int)
        mask = np.asarray(fmri_mask, bool)
        self.has_head = head is not None
        if head is not None:
            self.plotter.add_mesh(head, color="#e8cfc0", opacity=0.1, name="head", pickable=False)
        if self.triangles is not None:
            faces = np.c_[np.full(len(self.triangles), 3), self.triangles].ravel()
            self.mesh = pv.PolyData(self.pos_mm, faces)
            self.mesh["amplitude"] = np.zeros(len(self.pos_mm))
            self.plotter.add_mesh(self.mesh, color="#c8c8c8", name="space", smooth_shading=True)
            if mask.any():
                self.plotter.add_mesh(pv.PolyData(self.pos_mm[mask]), color="cyan", point_size=6,
                                      render_points_as_spheres=True, name="fmri", pickable=False)
        else:
            self.plotter.add_mesh(pv.PolyData(self.pos_mm), color="#a0a0a0", point_size=2,
                                  render_points_as_spheres=True, name="space", opacity=0.35)
            sel = self.pos_mm[mask]
            if len(sel):
                cubes = pv.PolyData(sel).glyph(geom=pv.Cube(x_length=spacing_mm, y_length=spacing_mm,
                                                            z_length=spacing_mm), scale=False, orient=False)
                self.plotter.add_mesh(cubes, color="cyan", opacity=0.25, name="fmri", show_edges=False,
                                      pickable=False)
        self.plotter.add_axes()
        direction = np.array([-1.0, 0.6, 0.5])
        if focus_m is not None and len(self.pos_mm):
            out = np.asarray(focus_m, float) * 1e3 - self.pos_mm.mean(0)
            if np.linalg.norm(out) > 1e-6:  # from outside, over the peak, a little from above
                direction = out / np.linalg.norm(out) + np.array([0.0, 0.0, 0.35])
        self.plotter.view_vector(tuple(direction), viewup=(0.0, 0.0, 1.0))
        self.plotter.reset_camera()
        self.plotter.camera.zoom(1.3 if head is None else 1.15)
        if not self._picking:  # a click (press and release in place) picks; a drag only turns the view
            iren = self.plotter.iren
            iren.add_observer("LeftButtonPressEvent", self._pressed)
            iren.add_observer("LeftButtonReleaseEvent", self._released)
            self._picking = True

    def _pressed(self, *_args: Any) -> None:
        self._press_at = self.plotter.iren.get_event_position()

    def _released(self, *_args: Any) -> None:
        start, self._press_at = self._press_at, None
        end = self.plotter.iren.get_event_position()
        if start is None or max(abs(start[0] - end[0]), abs(start[1] - end[1])) > 3:
            return
        self.pick_at(int(end[0]), int(end[1]))

    def pick_at(self, x: int, y: int) -> bool:
        """Pick the source drawn nearest to display pixel (x, y) (VTK's origin: bottom left)."""
        from vtkmodules.vtkRenderingCore import vtkPointPicker

        picker = vtkPointPicker()
        picker.SetTolerance(0.02)
        if not picker.Pick(x, y, 0, self.plotter.renderer) or picker.GetPointId() < 0:
            return False
        self._picked(picker.GetPickPosition())
        return True

    def _picked(self, point: Any, *args: Any) -> None:
        if point is None or self.on_pick is None or not len(self.pos_mm):
            return
        k = int(np.argmin(np.linalg.norm(self.pos_mm - np.asarray(point, float)[:3], axis=1)))
        self.on_pick(k)

    def set_values(self, values: np.ndarray, threshold: float, label: str, bar: bool = True) -> None:
        """Colour the sources whose value (0..1 of the variant's maximum) passes ``threshold``
        (with a colour bar unless ``bar`` is False: views side by side share one)."""
        values = np.asarray(values, float)
        on = values >= threshold
        self.n_active = int(on.sum())
        if self.active_actor is not None:
            self.plotter.remove_actor(self.active_actor, render=False)
            self.active_actor = None
        show_bar = bar
        for title in list(self.plotter.scalar_bars.keys()):  # a bar outlives its actor in PyVista
            self.plotter.remove_scalar_bar(title, render=False)
        bar_args = {"title": label, "vertical": True, "title_font_size": 12, "label_font_size": 10,
               "n_labels": 3, "fmt": "%.1f", "position_x": 0.86, "position_y": 0.08, "height": 0.45,
               "width": 0.08}
        if self.mesh is not None:  # a surface: the mesh coloured, below the threshold transparent
            shown = self.mesh.copy()
            shown["amplitude"] = np.where(on, values, np.nan)
            self.active_actor = self.plotter.add_mesh(
                shown, scalars="amplitude", cmap="hot", clim=(threshold, 1.0), nan_opacity=0.0,
                name="active", show_scalar_bar=show_bar, scalar_bar_args=bar_args, smooth_shading=True,
                pickable=False, render=False)
        elif self.n_active:
            cloud = pv.PolyData(self.pos_mm[on])
            cloud["amplitude"] = values[on]
            self.active_actor = self.plotter.add_mesh(
                cloud, scalars="amplitude", cmap="hot", clim=(threshold, 1.0), point_size=11,
                render_points_as_spheres=True, name="active", show_scalar_bar=show_bar, scalar_bar_args=bar_args,
                pickable=False, render=False)

    def set_peaks(self, peaks: dict[str, np.ndarray]) -> list[tuple[list[str], np.ndarray]]:
        """A sphere at each variant's peak (MRI frame, metres), in the first variant's colour
        when several share it; returns the groups (:func:`peak_groups`) for the legend."""
        for a in self.peak_actors:
            self.plotter.remove_actor(a, render=False)
        self.peak_actors = []
        groups = peak_groups(peaks)
        for names, p in groups:
            self.peak_actors.append(self.plotter.add_mesh(
                pv.Sphere(radius=self.peak_radius, center=p), color=variant_color(names[0]), name=f"peak_{'_'.join(names)}",
                pickable=False, render=False))
        return groups

    def set_title(self, text: str, color: str) -> None:
        """A title in the view's top left corner (the variant, when several views are shown)."""
        self.plotter.remove_actor("title", render=False)
        if text:
            self.plotter.add_text(text, position="upper_left", font_size=10, color=color, name="title")

    def render(self) -> None:
        self.plotter.render()

    def screenshot(self) -> np.ndarray:
        return self.plotter.screenshot(return_img=True)

    def close(self) -> None:
        self.plotter.close()
