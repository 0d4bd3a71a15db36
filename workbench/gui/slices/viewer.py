"""Orthogonal slice viewer: anatomy, BOLD layer, stat-map overlays, voxel time course.

Everything is shown on the anatomy's grid reoriented to RAS (neurological convention:
the patient's left is on the left of axial and coronal views, labelled L/R). BOLD
volumes and stat maps are resampled plane by plane with nibabel
(:func:`workbench.engine.imaging.sample_plane`). A click sets the cursor in all three
views and plots that voxel's BOLD time course (and a model fit when the stat result
provides one) below.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.engine import imaging

from ..flow import FlowLayout
from ..signals import connect

log = logging.getLogger(__name__)

VIEWS = ("sagittal", "coronal", "axial")
#: (horizontal, vertical) grid axes of each view
VIEW_PLANE_AXES = {"sagittal": (1, 2), "coronal": (0, 2), "axial": (0, 1)}
VIEW_LABELS = {"sagittal": ("P", "A"), "coronal": ("L", "R"), "axial": ("L", "R")}
COLORMAPS = {"cold-hot (±)": "RdBu_r", "hot (+)": "hot", "viridis": "viridis"}

HELP_TEXT = (
    "<b>Slices &amp; Maps</b> shows the anatomy (T1) in three orthogonal planes. The BOLD "
    "series can replace it as the background (pick a volume with the slider): it has far "
    "coarser voxels (~3 mm) and is distorted, which is why EEG and fMRI must be "
    "coregistered. Statistical maps from a fusion analysis are drawn on top: voxels below "
    "the threshold are transparent. Click anywhere to move the cursor; the plot below shows "
    "that voxel's BOLD signal over time (it lags neural activity by ~5 s: the "
    "hemodynamic response), and the model fit when the analysis provides one."
)


def _stat_image(entry: Any) -> Any:
    """The 3D map of a ``session.stats`` entry (an image, or a dict with ``"map"``)."""
    if isinstance(entry, dict):
        img = entry.get("map")
        return entry.get("img") if img is None else img
    return entry


def _stat_fit(entry: Any) -> Any:
    """A 4D model fit of a stats entry (dict key ``"fitted"``), if any."""
    if isinstance(entry, dict):
        return entry.get("fitted")
    return getattr(entry, "fitted", None)


class SliceView(pg.PlotWidget):
    """One plane: background image, overlay image and a crosshair."""

    clicked = pyqtSignal(float, float)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setBackground("k")
        self.setAspectLocked(True)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setTitle(name.capitalize(), color="w", size="10pt")
        self.base = pg.ImageItem()
        self.overlay = pg.ImageItem()
        self.overlay.setZValue(1)
        self.addItem(self.base)
        self.addItem(self.overlay)
        pen = pg.mkPen((0, 255, 0, 180), width=1)
        self.vline = pg.InfiniteLine(angle=90, pen=pen, movable=False)
        self.hline = pg.InfiniteLine(angle=0, pen=pen, movable=False)
        for line in (self.vline, self.hline):
            line.setZValue(2)
            self.addItem(line)
        lo, hi = VIEW_LABELS[name]
        self.left_label = pg.TextItem(lo, color=(255, 255, 0), anchor=(0, 0.5))
        self.right_label = pg.TextItem(hi, color=(255, 255, 0), anchor=(1, 0.5))
        for t in (self.left_label, self.right_label):
            t.setZValue(3)
            self.addItem(t)
        self.scene().sigMouseClicked.connect(self._scene_clicked)
        self.extent = (1.0, 1.0)

    def set_extent(self, width_mm: float, height_mm: float) -> None:
        self.extent = (width_mm, height_mm)
        rect = QRectF(0, 0, width_mm, height_mm)
        self.left_label.setPos(0, height_mm / 2)
        self.right_label.setPos(width_mm, height_mm / 2)
        self.getViewBox().setRange(rect, padding=0.02)

    def show_base(self, image: np.ndarray, levels: tuple[float, float]) -> None:
        self.base.setImage(image, levels=levels, autoLevels=False)
        self.base.setRect(QRectF(0, 0, *self.extent))

    def show_overlay(self, rgba: np.ndarray | None) -> None:
        if rgba is None:
            self.overlay.setVisible(False)
            return
        self.overlay.setImage(rgba, autoLevels=False)
        self.overlay.setRect(QRectF(0, 0, *self.extent))
        self.overlay.setVisible(True)

    def _scene_clicked(self, ev: Any) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        self.clicked.emit(p.x(), p.y())


class SlicesTab(QWidget):
    """Orthogonal slices of ``session.anat`` with BOLD and stat-map layers."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None, prefs: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        self.base_img: Any = None  # canonical 3D image defining the display grid
        self.base_data: np.ndarray | None = None
        self.base_levels = (0.0, 1.0)
        self.bold_data: np.ndarray | None = None  # 4D, in memory, original orientation
        self.bold_affine: np.ndarray | None = None
        self.volume = 0
        self._bold_vol_img: Any = None
        self._stat_img: Any = None
        self.cursor = np.zeros(3, int)
        self.last_timecourse: np.ndarray | None = None
        self._build()
        connect(self, session.anat_changed, lambda *_: self.reload())
        connect(self, session.bold_changed, lambda *_: self.reload())
        connect(self, session.stats_changed, lambda *_: self._refresh_stats())
        self.reload()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        bar = FlowLayout()  # wraps onto a second row on a narrow screen
        self.layer_combo = QComboBox()
        self.layer_combo.addItem("T1 anatomy", "anat")
        self.layer_combo.addItem("BOLD volume", "bold")
        self.layer_combo.setToolTip(
            "Background layer: the T1 anatomy or one BOLD volume resampled onto the T1 grid."
        )
        self.layer_combo.currentIndexChanged.connect(lambda *_: self.redraw())
        self.vol_slider = QSlider(Qt.Orientation.Horizontal)
        self.vol_slider.setToolTip("BOLD volume shown (one per TR).")
        self.vol_slider.valueChanged.connect(self.set_volume)
        self.vol_label = QLabel("vol –")
        self.stat_combo = QComboBox()
        self.stat_combo.setToolTip("Statistical map drawn over the slices (from fusion results).")
        self.stat_combo.currentIndexChanged.connect(lambda *_: self._select_stat())
        self.thr_slider = QSlider(Qt.Orientation.Horizontal)
        self.thr_slider.setRange(0, 100)
        self.thr_slider.setValue(30)
        self.thr_slider.setToolTip(
            "Threshold: voxels with |value| below this fraction of the map's maximum are "
            "transparent (for a t-map, |t| > 3 is a typical uncorrected threshold)."
        )
        self.thr_slider.valueChanged.connect(lambda *_: self.redraw())
        self.thr_label = QLabel("thr –")
        self.thr_label.setMinimumWidth(80)
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(list(COLORMAPS))
        self.cmap_combo.setToolTip("Colour map of the overlay (cold-hot for signed t/z maps).")
        self.cmap_combo.currentIndexChanged.connect(lambda *_: self.redraw())
        self.alpha_slider = QSlider(Qt.Orientation.Horizontal)
        self.alpha_slider.setRange(0, 100)
        self.alpha_slider.setValue(80)
        self.alpha_slider.setToolTip("Overlay opacity (0 transparent, 100 opaque).")
        self.alpha_slider.valueChanged.connect(lambda *_: self.redraw())
        self.cross_check = QCheckBox("Crosshair")
        self.cross_check.setChecked(True)
        self.cross_check.setToolTip("Show the cursor lines.")
        self.cross_check.toggled.connect(lambda *_: self.redraw())
        for sl in (self.vol_slider, self.thr_slider, self.alpha_slider):
            sl.setMinimumWidth(110)
        for w, stretch in ((QLabel("Layer"), 0), (self.layer_combo, 0), (self.vol_slider, 2),
                           (self.vol_label, 0), (QLabel("Map"), 0), (self.stat_combo, 1),
                           (self.thr_slider, 1), (self.thr_label, 0), (self.cmap_combo, 0),
                           (QLabel("Opacity"), 0), (self.alpha_slider, 1), (self.cross_check, 0)):
            bar.addWidget(w, stretch)
        lay.addLayout(bar)

        split = QSplitter(Qt.Orientation.Vertical)
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        self.views: dict[str, SliceView] = {}
        for col, name in enumerate(VIEWS):
            v = SliceView(name)
            v.setToolTip(f"{name.capitalize()} slice: click to move the cursor.")
            v.clicked.connect(lambda x, y, n=name: self._view_clicked(n, x, y))
            grid.addWidget(v, 0, col)
            self.views[name] = v
        split.addWidget(grid_host)
        self.tc_plot = pg.PlotWidget()
        self.tc_plot.setBackground("w")
        self.tc_plot.setLabel("bottom", "time", units="s")
        self.tc_plot.setLabel("left", "BOLD (a.u.)")
        self.legend = self.tc_plot.addLegend(offset=(-10, 10))
        self.tc_plot.setToolTip("BOLD time course of the voxel under the cursor (and model fit).")
        self.tc_curve = self.tc_plot.plot([], [], pen=pg.mkPen((20, 20, 20), width=1.5), name="BOLD")
        self.fit_curve = self.tc_plot.plot([], [], pen=pg.mkPen((220, 50, 50), width=2))
        self.vol_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((20, 90, 200), style=Qt.PenStyle.DashLine))
        self.tc_plot.addItem(self.vol_line)
        split.addWidget(self.tc_plot)
        split.setSizes([500, 180])
        lay.addWidget(split, 1)
        self.info_label = QLabel("")
        self.info_label.setToolTip("Cursor: voxel index on the T1 grid, scanner coordinates (mm), value.")
        lay.addWidget(self.info_label)

    # ------------------------------------------------------------------ data
    def reload(self) -> None:
        """Rebuild the display grid from the session's anatomy (or BOLD mean)."""
        s = self.session
        self.bold_data = None
        self._bold_vol_img = None
        if s.bold is not None:
            self.bold_data = np.asarray(np.asanyarray(s.bold.dataobj), dtype=np.float32)
            if self.bold_data.ndim == 3:
                self.bold_data = self.bold_data[..., None]
            self.bold_affine = s.bold.affine
        if s.anat is not None:
            self.base_img = imaging.canonical(imaging.in_memory(s.anat))
        elif s.bold is not None:
            self.base_img = imaging.canonical(imaging.mean_volume(s.bold))
        else:
            self.base_img = None
        has_bold = self.bold_data is not None
        n_vol = self.bold_data.shape[3] if has_bold else 1
        self.vol_slider.blockSignals(True)
        self.vol_slider.setRange(0, max(0, n_vol - 1))
        self.volume = min(self.volume, n_vol - 1)
        self.vol_slider.setValue(self.volume)
        self.vol_slider.blockSignals(False)
        self.vol_slider.setEnabled(has_bold)
        self.layer_combo.model().item(1).setEnabled(has_bold)
        if not has_bold:
            self.layer_combo.setCurrentIndex(0)
        if self.base_img is None:
            self.base_data = None
            for v in self.views.values():
                v.base.clear()
                v.overlay.clear()
            self.info_label.setText("No anatomy or BOLD loaded: open a study (File ▸ Open) or the demo.")
            self.tc_curve.setData([], [])
            self.fit_curve.setData([], [])
            return
        self.base_data = np.asarray(self.base_img.dataobj, dtype=np.float32)
        self.base_levels = imaging.robust_levels(self.base_data)
        zooms = self.base_img.header.get_zooms()[:3]
        shape = self.base_data.shape
        for name, v in self.views.items():
            h, w = VIEW_PLANE_AXES[name]
            v.set_extent(shape[h] * zooms[h], shape[w] * zooms[w])
        self.cursor = np.array(shape[:3]) // 2
        self._refresh_stats()  # also redraws

    def _refresh_stats(self) -> None:
        names = [n for n, e in self.session.stats.items() if _stat_image(e) is not None]
        current = self.stat_combo.currentData()
        self.stat_combo.blockSignals(True)
        self.stat_combo.clear()
        self.stat_combo.addItem("(none)", None)
        for n in names:
            self.stat_combo.addItem(n, n)
        idx = self.stat_combo.findData(current) if current in names else (1 if names else 0)
        self.stat_combo.setCurrentIndex(max(0, idx))
        self.stat_combo.blockSignals(False)
        self._select_stat()

    def _select_stat(self) -> None:
        name = self.stat_combo.currentData()
        entry = self.session.stats.get(name) if name else None
        img = _stat_image(entry)
        self._stat_img = imaging.in_memory(img) if img is not None else None
        for w in (self.thr_slider, self.cmap_combo, self.alpha_slider):
            w.setEnabled(self._stat_img is not None)
        if self._stat_img is None:
            self.thr_label.setText("no map")
        self.redraw()
        self._update_timecourse()

    def set_volume(self, index: int) -> None:
        """Show BOLD volume ``index`` (when the BOLD layer is on) and mark it in the plot."""
        if self.bold_data is None:
            return
        self.volume = int(np.clip(index, 0, self.bold_data.shape[3] - 1))
        self._bold_vol_img = None
        if self.vol_slider.value() != self.volume:
            self.vol_slider.blockSignals(True)
            self.vol_slider.setValue(self.volume)
            self.vol_slider.blockSignals(False)
        self.redraw()

    def set_layer(self, layer: str) -> None:
        """``"anat"`` or ``"bold"``."""
        self.layer_combo.setCurrentIndex(self.layer_combo.findData(layer))

    def set_cursor(self, ijk: Any) -> None:
        """Move the cursor to voxel ``ijk`` of the display grid (clamped)."""
        if self.base_data is None:
            return
        hi = np.array(self.base_data.shape[:3]) - 1
        self.cursor = np.clip(np.asarray(ijk, int), 0, hi)
        self.redraw()
        self._update_timecourse()

    def cursor_world(self) -> np.ndarray:
        """Scanner coordinates (mm) of the cursor voxel."""
        return imaging.voxel_to_world(self.base_img.affine, self.cursor)[0]

    # ------------------------------------------------------------------ drawing
    def _bold_volume_img(self) -> Any:
        if self._bold_vol_img is None and self.bold_data is not None:
            import nibabel as nib

            self._bold_vol_img = nib.Nifti1Image(self.bold_data[..., self.volume], self.bold_affine)
        return self._bold_vol_img

    def _overlay_rgba(self, values: np.ndarray) -> np.ndarray:
        vmax = float(np.nanmax(np.abs(self._stat_data_range()))) or 1.0
        thr = self.thr_slider.value() / 100.0 * vmax
        name = COLORMAPS[self.cmap_combo.currentText()]
        cmap = pg.colormap.get(name, source="matplotlib")
        v = np.nan_to_num(values, nan=0.0)
        if name == "RdBu_r":
            norm = np.clip(0.5 + 0.5 * v / vmax, 0, 1)
        else:
            norm = np.clip(np.abs(v) / vmax, 0, 1) if name == "hot" else np.clip(v / vmax, 0, 1)
        rgba = cmap.map(norm.ravel(), mode="byte").reshape(*v.shape, 4).copy()
        visible = (np.abs(v) >= thr) & (np.abs(v) > 0) & np.isfinite(values)
        if name == "hot":
            visible &= v > 0
        rgba[..., 3] = np.where(visible, int(self.alpha_slider.value() / 100 * 255), 0)
        self.thr_label.setText(f"|v| ≥ {thr:.3g}")
        return rgba

    def _stat_data_range(self) -> np.ndarray:
        d = np.asanyarray(self._stat_img.dataobj)
        return np.array([np.nanmin(d), np.nanmax(d)])

    def redraw(self) -> None:
        """Draw the three planes at the cursor."""
        if self.base_data is None:
            return
        layer = self.layer_combo.currentData()
        shape = self.base_data.shape
        aff = self.base_img.affine
        zooms = self.base_img.header.get_zooms()[:3]
        bold_img = self._bold_volume_img() if layer == "bold" else None
        if bold_img is not None:
            blev = imaging.robust_levels(self.bold_data[..., self.volume])
        for name, v in self.views.items():
            axis = imaging.VIEW_AXES[name]
            idx = int(self.cursor[axis])
            if bold_img is not None:
                img2d = imaging.sample_plane(bold_img, shape, aff, axis, idx, order=1)
                v.show_base(np.nan_to_num(img2d, nan=0.0), blev)
            else:
                v.show_base(imaging.plane(self.base_data, axis, idx), self.base_levels)
            if self._stat_img is not None:
                st = imaging.sample_plane(self._stat_img, shape, aff, axis, idx, order=1)
                v.show_overlay(self._overlay_rgba(st))
            else:
                v.show_overlay(None)
            h, w = VIEW_PLANE_AXES[name]
            v.vline.setPos((self.cursor[h] + 0.5) * zooms[h])
            v.hline.setPos((self.cursor[w] + 0.5) * zooms[w])
            v.vline.setVisible(self.cross_check.isChecked())
            v.hline.setVisible(self.cross_check.isChecked())
        if self.bold_data is not None:
            tr = imaging.repetition_time(self.session.bold, self.session.bold_meta) or 1.0
            self.vol_label.setText(f"vol {self.volume + 1}/{self.bold_data.shape[3]}")
            self.vol_line.setPos(self.volume * tr)
        self.vol_line.setVisible(self.bold_data is not None)
        xyz = self.cursor_world()
        val = self.base_data[tuple(self.cursor)]
        self.info_label.setText(
            f"voxel ({self.cursor[0]}, {self.cursor[1]}, {self.cursor[2]})  ·  "
            f"scanner ({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm  ·  T1 {val:.4g}"
        )

    def _view_clicked(self, name: str, x_mm: float, y_mm: float) -> None:
        if self.base_data is None:
            return
        zooms = self.base_img.header.get_zooms()[:3]
        h, w = VIEW_PLANE_AXES[name]
        ijk = self.cursor.copy()
        ijk[h] = int(np.floor(x_mm / zooms[h]))
        ijk[w] = int(np.floor(y_mm / zooms[w]))
        self.set_cursor(ijk)

    def _update_timecourse(self) -> None:
        self.last_timecourse = None
        if self.bold_data is None or self.base_data is None:
            self.tc_curve.setData([], [])
            self.fit_curve.setData([], [])
            return
        xyz = self.cursor_world()
        tc = imaging.voxel_timecourse(self.bold_data, self.bold_affine, xyz)
        tr = imaging.repetition_time(self.session.bold, self.session.bold_meta) or 1.0
        if tc is None:
            self.tc_curve.setData([], [])
            self.fit_curve.setData([], [])
            self.tc_plot.setTitle("cursor outside the BOLD field of view", color="k", size="9pt")
            return
        t = np.arange(tc.size) * tr
        self.tc_curve.setData(t, tc)
        self.last_timecourse = tc
        self.tc_plot.setTitle(
            f"BOLD at ({xyz[0]:.0f}, {xyz[1]:.0f}, {xyz[2]:.0f}) mm, TR {tr:.3g} s", color="k", size="9pt"
        )
        name = self.stat_combo.currentData()
        fit_img = _stat_fit(self.session.stats.get(name)) if name else None
        if fit_img is not None:
            fdata = np.asanyarray(fit_img.dataobj)
            ftc = imaging.voxel_timecourse(fdata, fit_img.affine, xyz)
            if ftc is not None:
                self.fit_curve.setData(np.arange(ftc.size) * tr, ftc)
                self.fit_curve.setVisible(True)
                if not any(getattr(sample, "item", None) is self.fit_curve for sample, _ in self.legend.items):
                    self.legend.addItem(self.fit_curve, "model fit")
                return
        self.fit_curve.setData([], [])
        self.fit_curve.setVisible(False)
        self.legend.removeItem(self.fit_curve)
