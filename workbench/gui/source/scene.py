"""The 3D scene of the source view (pyvistaqt): the source space, the estimate, the
fMRI map and each variant's peak.

Display only: it receives positions (MRI frame, metres; drawn in millimetres) and
values. The source space is drawn once as small grey points (the brain's outline); the
sources above the display threshold as larger points coloured by amplitude; the
thresholded fMRI map as translucent cyan cubes; each variant's peak at the current time
as a labelled sphere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvista as pv
from PyQt6.QtWidgets import QWidget
from pyvistaqt import QtInteractor

__all__ = ["SourceScene", "PEAK_COLORS"]

PEAK_COLORS = {"none": "#7f7f7f", "dspm": "#8c564b", "sloreta": "#e377c2", "weighted": "#1f77b4",
               "soft": "#2ca02c", "hard": "#d62728", "weighted_dspm": "#17becf", "soft_dspm": "#bcbd22",
               "hard_dspm": "#9467bd"}


class SourceScene:
    """Owns the :class:`QtInteractor` and the actors of the source view."""

    def __init__(self, parent: QWidget) -> None:
        pv.OFF_SCREEN = False  # off-screen plotters have no interactor
        self.plotter = QtInteractor(parent, auto_update=False)
        self.plotter.set_background("white")
        self.pos_mm = np.zeros((0, 3))
        self.active_actor: Any = None
        self.peak_actors: list[Any] = []
        self.label_actor: Any = None
        self.n_active = 0
        self._camera_set = False

    @property
    def widget(self) -> QWidget:
        return self.plotter.interactor if hasattr(self.plotter, "interactor") else self.plotter

    def set_space(self, pos_m: np.ndarray, fmri_mask: np.ndarray, spacing_mm: float) -> None:
        """Draw the source space and the fMRI map (once per result)."""
        self.plotter.clear()
        self.active_actor, self.peak_actors, self.label_actor = None, [], None
        self.pos_mm = np.asarray(pos_m, float) * 1e3
        self.plotter.add_mesh(pv.PolyData(self.pos_mm), color="#b0b0b0", point_size=3,
                              render_points_as_spheres=True, name="space", opacity=0.5)
        sel = self.pos_mm[np.asarray(fmri_mask, bool)]
        if len(sel):
            cubes = pv.PolyData(sel).glyph(geom=pv.Cube(x_length=spacing_mm, y_length=spacing_mm,
                                                        z_length=spacing_mm), scale=False, orient=False)
            self.plotter.add_mesh(cubes, color="cyan", opacity=0.25, name="fmri", show_edges=False)
        self.plotter.add_axes()
        if not self._camera_set:
            self.plotter.view_vector((-1.0, 0.6, 0.5), viewup=(0.0, 0.0, 1.0))
            self._camera_set = True
        self.plotter.reset_camera()
        self.plotter.camera.zoom(1.4)  # the brain fills the view (reset_camera leaves a wide margin)

    def set_values(self, values: np.ndarray, threshold: float, label: str) -> None:
        """Colour the sources whose value (0..1 of the variant's maximum) passes ``threshold``."""
        values = np.asarray(values, float)
        on = values >= threshold
        self.n_active = int(on.sum())
        if self.active_actor is not None:
            self.plotter.remove_actor(self.active_actor, render=False)
            self.active_actor = None
        if self.n_active:
            cloud = pv.PolyData(self.pos_mm[on])
            cloud["amplitude"] = values[on]
            self.active_actor = self.plotter.add_mesh(
                cloud, scalars="amplitude", cmap="hot", clim=(threshold, 1.0), point_size=11,
                render_points_as_spheres=True, name="active", show_scalar_bar=True,
                scalar_bar_args={"title": label, "vertical": True, "title_font_size": 12,
                                 "label_font_size": 10, "n_labels": 3, "fmt": "%.1f"})

    def set_peaks(self, peaks: dict[str, np.ndarray]) -> None:
        """A labelled sphere at each variant's peak (MRI frame, metres)."""
        for a in self.peak_actors:
            self.plotter.remove_actor(a, render=False)
        self.peak_actors = []
        if self.label_actor is not None:
            self.plotter.remove_actor(self.label_actor, render=False)
            self.label_actor = None
        if not peaks:
            return
        # variants sharing a peak source get one sphere and one label ("soft, hard")
        groups: dict[tuple[float, ...], list[str]] = {}
        for n, p in peaks.items():
            groups.setdefault(tuple(np.round(np.asarray(p, float) * 1e3, 1)), []).append(n)
        pts = np.array(list(groups), float)
        for p, names in groups.items():
            self.peak_actors.append(self.plotter.add_mesh(
                pv.Sphere(radius=3.0, center=p), color=PEAK_COLORS.get(names[0], "black"),
                name=f"peak_{'_'.join(names)}"))
        self.label_actor = self.plotter.add_point_labels(pts + np.array([0.0, 0.0, 4.0]),
                                                         [", ".join(n) for n in groups.values()],
                                                         font_size=10, point_size=1, shape_opacity=0.6,
                                                         always_visible=True, name="peak_labels")

    def render(self) -> None:
        self.plotter.render()

    def screenshot(self) -> np.ndarray:
        return self.plotter.screenshot(return_img=True)

    def close(self) -> None:
        self.plotter.close()
