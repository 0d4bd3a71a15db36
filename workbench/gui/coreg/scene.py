"""The 3D scene of the coregistration tab (pyvistaqt): scalp, points, fiducials.

Display only: it receives arrays and transforms and draws them. Everything is shown
in millimetres in the MRI frame; head-frame points are drawn once and moved by the
actor's user matrix (the head -> MRI transform), so an ICP iteration only changes a
4x4 matrix and a colour array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyvista as pv
from PyQt6.QtWidgets import QWidget
from pyvistaqt import QtInteractor

FID_COLORS = {"lpa": "#d62728", "nasion": "#2ca02c", "rpa": "#1f77b4"}
CMAP = "RdYlGn_r"
CLIM_MM = (0.0, 10.0)

CAMERA_PRESETS = {
    # direction from the head centre to the camera (MRI RAS), and the view-up vector
    "front": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "left": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "right": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "top": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
}


def _mm_matrix(head_mri: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """The head -> MRI transform for mm coordinates, divided by the MRI scale.

    The scalp is drawn unscaled, so points are shown in unscaled MRI coordinates.
    """
    m = np.array(head_mri, float)
    m[:3, 3] *= 1e3
    if scale is not None:
        m[:3, :] /= np.asarray(scale, float)[:, None]
    return m


def _faces(tris: np.ndarray) -> np.ndarray:
    return np.hstack([np.full((len(tris), 1), 3), tris]).astype(np.int64).ravel()


class CoregScene:
    """Owns the :class:`QtInteractor` and the actors of the coregistration view.

    Parameters
    ----------
    parent : QWidget
    on_pick : callable
        ``on_pick(point_m)`` with the clicked scalp point (MRI frame, metres).
    """

    def __init__(self, parent: QWidget, on_pick: Callable[[np.ndarray], None]) -> None:
        pv.OFF_SCREEN = False  # off-screen plotters have no interactor (no picking)
        self.plotter = QtInteractor(parent, auto_update=False)
        self.plotter.set_background("white")
        self._on_pick = on_pick
        self.scalp_actor: Any = None
        self.point_mesh: pv.PolyData | None = None
        self.point_actors: list[Any] = []
        self.dig_fid_actor: Any = None
        self.mri_fid_actors: list[Any] = []
        self.label_actor: Any = None
        self._label_pts_mm = np.zeros((0, 3))
        self._label_names: list[str] = []
        self._labels_on = True
        self._pose_mm = np.eye(4)
        self.scalar_bar_added = False
        self._center = np.zeros(3)
        self._size = 200.0
        self._picking = False
        self.opacity = 0.85
        try:  # labels follow a camera moved with the mouse
            self.plotter.iren.add_observer("EndInteractionEvent", self._camera_moved)
        except AttributeError:  # pragma: no cover - no interactor
            pass

    @property
    def widget(self) -> QWidget:
        return self.plotter

    # ------------------------------------------------------------------ content
    def clear(self) -> None:
        self.plotter.clear()
        self.plotter.enable_lightkit()  # Plotter.clear() also removes the lights
        self.scalp_actor = None
        self.point_mesh = None
        self.point_actors = []
        self.dig_fid_actor = None
        self.mri_fid_actors = []
        self.label_actor = None
        self._label_pts_mm = np.zeros((0, 3))
        self._label_names = []
        self.scalar_bar_added = False

    def set_scalp(self, rr_m: np.ndarray, tris: np.ndarray) -> None:
        """Draw the (display) scalp, pickable."""
        if self.scalp_actor is not None:
            self.plotter.remove_actor(self.scalp_actor, render=False)
        mesh = pv.PolyData(np.asarray(rr_m, float) * 1e3, _faces(np.asarray(tris)))
        self.scalp_actor = self.plotter.add_mesh(
            mesh, color="#e8c4a8", opacity=self.opacity, smooth_shading=True, pickable=True,
            ambient=0.15, diffuse=0.85, specular=0.15,
            name="scalp", reset_camera=False, render=False)
        self._center = mesh.center
        self._size = float(np.ptp(mesh.points, axis=0).max())
        if not self._picking:
            # a cell picker returns the first surface hit along the ray (a point picker may
            # return a vertex on the far side of the head)
            self.plotter.enable_surface_point_picking(callback=self._picked, left_clicking=True,
                                                      show_message=False, show_point=False)
            self._picking = True

    def _picked(self, point: Any, *args: Any) -> None:
        if point is None:
            return
        self._on_pick(np.asarray(point, float) * 1e-3)

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        if self.scalp_actor is not None:
            self.scalp_actor.GetProperty().SetOpacity(self.opacity)

    def set_points(self, pts_head_m: np.ndarray, kinds: np.ndarray, fid_head_m: np.ndarray | None) -> None:
        """Draw the digitised points (head frame) once; they move by their user matrix."""
        for a in self.point_actors:
            self.plotter.remove_actor(a, render=False)
        self.point_actors = []
        if self.dig_fid_actor is not None:
            self.plotter.remove_actor(self.dig_fid_actor, render=False)
            self.dig_fid_actor = None
        if len(pts_head_m):
            cloud = pv.PolyData(np.asarray(pts_head_m, float) * 1e3)
            cloud["distance (mm)"] = np.zeros(len(pts_head_m))
            self.point_mesh = cloud
            sizes = {"eeg": 14, "hsp": 8, "hpi": 10}
            for kind in ("eeg", "hsp", "hpi"):
                sel = np.flatnonzero(kinds == kind)
                if not len(sel):
                    continue
                sub = pv.PolyData(cloud.points[sel])
                sub["distance (mm)"] = np.zeros(len(sel))
                sub["orig"] = sel
                actor = self.plotter.add_mesh(
                    sub, scalars="distance (mm)", cmap=CMAP, clim=CLIM_MM, nan_color="#b0b0b0",
                    point_size=sizes[kind], render_points_as_spheres=True, pickable=False,
                    show_scalar_bar=not self.scalar_bar_added, reset_camera=False, render=False,
                    name=f"points-{kind}",
                    scalar_bar_args={"title": "residual (mm)", "n_labels": 6, "fmt": "%.0f",
                                     "color": "black", "vertical": True, "position_x": 0.87,
                                     "position_y": 0.15, "height": 0.6, "width": 0.05,
                                     "title_font_size": 14, "label_font_size": 12})
                self.scalar_bar_added = True
                actor._wb_kind = kind
                actor._wb_mesh = sub
                self.point_actors.append(actor)
        if fid_head_m is not None and np.all(np.isfinite(fid_head_m)):
            fm = pv.PolyData(np.asarray(fid_head_m, float) * 1e3)
            fm["rgb"] = np.array([[214, 39, 40], [44, 160, 44], [31, 119, 180]], np.uint8)
            self.dig_fid_actor = self.plotter.add_mesh(
                fm, scalars="rgb", rgb=True, point_size=22, render_points_as_spheres=True, pickable=False,
                reset_camera=False, render=False, name="dig-fiducials")

    def set_mri_fiducials(self, fid_m: np.ndarray | None) -> None:
        """MRI fiducials as translucent spheres on the scalp (the targets of the fit)."""
        for a in self.mri_fid_actors:
            self.plotter.remove_actor(a, render=False)
        self.mri_fid_actors = []
        if fid_m is None:
            return
        for name, p in zip(("lpa", "nasion", "rpa"), np.asarray(fid_m, float)):
            if not np.all(np.isfinite(p)):
                continue
            sph = pv.Sphere(radius=5.0, center=p * 1e3)
            self.mri_fid_actors.append(self.plotter.add_mesh(
                sph, color=FID_COLORS[name], opacity=0.45, pickable=False, reset_camera=False, render=False,
                name=f"mri-{name}"))

    def set_labels(self, pts_head_m: np.ndarray, names: list[str]) -> None:
        """Electrode names at the electrodes (head frame); they follow the pose."""
        self._label_pts_mm = np.asarray(pts_head_m, float).reshape(-1, 3) * 1e3
        self._label_names = [str(n) for n in names]
        self._draw_labels()

    def show_labels(self, on: bool) -> None:
        """Show or hide the electrode names."""
        self._labels_on = bool(on)
        self._draw_labels()

    def _draw_labels(self) -> None:
        if self.label_actor is not None:
            self.plotter.remove_actor(self.label_actor, render=False)
            self.label_actor = None
        if not self._labels_on or not len(self._label_names):
            return
        m = self._pose_mm
        pts = self._label_pts_mm @ m[:3, :3].T + m[:3, 3]
        # a 2D label actor cannot take a user matrix: it is redrawn at the moved points. Only the
        # electrodes on the side of the head facing the camera are labelled (VTK's z-buffer test
        # would also hide the visible ones, behind their own sphere glyphs); redrawn when the
        # camera stops moving
        cam = np.asarray(self.plotter.camera.position, float)
        facing = np.einsum("ij,ij->i", pts - np.asarray(self._center, float), cam - pts) > 0
        if not facing.any():
            return
        names = [n for n, f in zip(self._label_names, facing) if f]
        self.label_actor = self.plotter.add_point_labels(
            pts[facing], names, font_size=11, bold=True, text_color="#1a1a1a", shape=None, show_points=False,
            always_visible=True, pickable=False, name="eeg-labels", reset_camera=False, render=False)

    def _camera_moved(self, *args: Any) -> None:
        if self._labels_on and len(self._label_names):
            self._draw_labels()
            self.plotter.render()

    def update_pose(self, head_mri: np.ndarray, scale: np.ndarray, dist_mm: np.ndarray, omitted: np.ndarray) -> None:
        """Move the head-frame points and recolour them by their residual (omitted: grey)."""
        m = _mm_matrix(head_mri, scale)
        self._pose_mm = m  # the labels follow at the next show_labels() (they are hidden while ICP animates)
        vals = np.where(omitted, np.nan, np.abs(dist_mm))
        for a in self.point_actors:
            a.user_matrix = m
            sub = a._wb_mesh
            sub["distance (mm)"] = vals[sub["orig"]]
        if self.dig_fid_actor is not None:
            self.dig_fid_actor.user_matrix = m

    # ------------------------------------------------------------------ camera / output
    def camera(self, preset: str) -> None:
        direction, up = CAMERA_PRESETS[preset]
        c = np.asarray(self._center, float)
        pos = c + np.asarray(direction) * self._size * 2.6
        self.plotter.camera_position = [tuple(pos), tuple(c), up]
        self.plotter.reset_camera_clipping_range()
        if self._labels_on and len(self._label_names):
            self._draw_labels()

    def render(self) -> None:
        self.plotter.render()

    def screenshot(self, path: str) -> None:
        self.plotter.render()
        self.plotter.screenshot(str(path))

    def close(self) -> None:
        self.plotter.close()
