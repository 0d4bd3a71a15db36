"""Generic views of declared fusion outputs: maps, matrices, time courses, tables, QC.

They show any :class:`~workbench.plugin_api.FusionResult`; nothing here knows a plugin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

_PENS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _threshold_key(map_name: str) -> str | None:
    """The QC key holding the corrected threshold of a map (``z_modulator`` -> ``modulator``)."""
    for prefix in ("z_", "t_"):
        if map_name.startswith(prefix):
            return map_name[len(prefix):]
    return None


#: the uncorrected threshold shown for orientation when nothing survives the correction
EXPLORATORY_Z = 3.09  # p < 0.001, one-sided


class ColorBar(pg.PlotWidget):
    """A vertical colour bar for a symmetric map (values on the right axis)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMouseEnabled(False, False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.hideAxis("bottom")
        self.hideAxis("left")
        self.showAxis("right")
        self.getAxis("right").setWidth(36)
        self.setFixedWidth(64)
        self.item = pg.ImageItem()
        self.addItem(self.item)
        self.thr_lines = [pg.InfiniteLine(angle=0, pen=pg.mkPen((0, 0, 0), width=1.5)) for _ in range(2)]
        for ln in self.thr_lines:
            self.addItem(ln)
        self.vmax = 1.0

    def set_range(self, vmax: float, threshold: float | None, label: str = "") -> None:
        self.vmax = float(vmax) or 1.0
        cmap = pg.colormap.get("RdBu_r", source="matplotlib")
        ramp = np.linspace(0, 1, 256)
        rgba = cmap.map(ramp, mode="byte").reshape(1, 256, 4)
        self.item.setImage(rgba)
        self.item.setRect(QRectF(0, -self.vmax, 1, 2 * self.vmax))
        self.setXRange(0, 1, padding=0)
        self.setYRange(-self.vmax, self.vmax, padding=0)
        for ln, sign in zip(self.thr_lines, (1, -1)):
            ln.setVisible(threshold is not None and threshold < self.vmax)
            if threshold is not None:
                ln.setPos(sign * threshold)
        self.setLabel("right", label)


#: what the map view says while it has no map
NO_MAP_TEXT = "No brain map to show: no method that makes one has run, or this result has none."

class MapView(QWidget):
    """A map in three orthogonal planes over a background, with a colour bar and threshold.

    The threshold starts at the corrected (FDR) level the method reported for the map
    (``qc["fdr_threshold_<name>"]``); when no voxel survives the correction the view says
    so and shows an uncorrected |z| >= 3.09 for orientation only. A click in any plane
    selects a voxel: its scanner coordinates (mm), its value, and its data and model fit
    below. ``voxel_clicked(i, j, k)`` is emitted on a selection.
    """

    voxel_clicked = pyqtSignal(int, int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ..slices.viewer import VIEWS, SliceView

        self._maps: dict[str, Any] = {}
        self._qc: dict[str, Any] = {}
        self._bg: np.ndarray | None = None
        self._data: np.ndarray | None = None
        self._affine = np.eye(4)
        self._zooms = (1.0, 1.0, 1.0)
        self.fit_fn: Any = None
        self.selected: tuple[int, int, int] | None = None
        self.cursor = np.zeros(3, int)
        self.corrected: float | None = None  # the corrected threshold of the map shown
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setToolTip("Which map to show (z maps are the usual choice).")
        self.combo.currentIndexChanged.connect(lambda *_: self._select())
        self.thr_spin = QDoubleSpinBox()
        self.thr_spin.setRange(0.0, 1000.0)
        self.thr_spin.setDecimals(2)
        self.thr_spin.setSingleStep(0.1)
        self.thr_spin.setPrefix("|value| ≥ ")
        self.thr_spin.setToolTip(
            "Voxels below this |value| are transparent. It starts at the corrected (FDR) "
            "threshold the method reported; 'Corrected' goes back to it."
        )
        self.thr_spin.valueChanged.connect(lambda *_: self._draw())
        self.corrected_button = QPushButton("Corrected")
        self.corrected_button.setToolTip("Threshold at the corrected (FDR) level of this map.")
        self.corrected_button.clicked.connect(self.reset_threshold)
        for w, stretch in ((QLabel("Map"), 0), (self.combo, 1), (self.thr_spin, 0),
                           (self.corrected_button, 0)):
            top.addWidget(w, stretch)
        self.banner = QLabel(NO_MAP_TEXT)
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.coord_label = QLabel("")
        self.coord_label.setWordWrap(True)
        self.coord_label.setToolTip("Selected voxel: index on the map's grid, scanner coordinates (mm), value.")
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        self.views: dict[str, Any] = {}
        for col, name in enumerate(VIEWS):
            v = SliceView(name)
            v.setMinimumSize(120, 120)
            v.setToolTip(f"{name.capitalize()} plane: click to select a voxel.")
            v.clicked.connect(lambda x, y, n=name: self._view_clicked(n, x, y))
            grid.addWidget(v, 0, col)
            self.views[name] = v
        self.colorbar = ColorBar()
        grid.addWidget(self.colorbar, 0, len(VIEWS))
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(grid_host)
        self.fit_plot = pg.PlotWidget()
        self.fit_plot.setBackground("w")
        self.fit_plot.setMinimumHeight(120)
        self.fit_plot.addLegend(offset=(-10, 10))
        self.fit_plot.setLabel("bottom", "time", units="s")
        self.fit_plot.setLabel("left", "BOLD (%)")
        self.fit_plot.getAxis("left").enableAutoSIPrefix(False)  # percent, never "(x0.001)"
        self.fit_plot.getAxis("left").setToolTip("BOLD signal change, % of the voxel's mean")
        self.data_curve = self.fit_plot.plot(
            [], [], pen=pg.mkPen((40, 40, 40), width=1.2), name="data"
        )
        self.fit_curve = self.fit_plot.plot(
            [], [], pen=pg.mkPen((214, 39, 40), width=2), name="model fit"
        )
        split.addWidget(self.fit_plot)
        split.setSizes([400, 180])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.banner)
        lay.addWidget(split, 1)
        lay.addWidget(self.coord_label)

    # ------------------------------------------------------------------ data
    def set_maps(
        self, maps: dict[str, Any], background: np.ndarray | None, fit_fn: Any = None,
        qc: dict[str, Any] | None = None,
    ) -> None:
        """Show ``maps`` (name -> 3D image) over ``background`` (3D array on the same grid).

        ``qc`` is the method's QC: ``fdr_threshold_<name>`` and ``n_significant_<name>``
        give each z map's corrected threshold.
        """
        self._maps = {k: v for k, v in maps.items() if k != "mask"}
        self._qc = dict(qc or {})
        self._bg = background
        self.fit_fn = fit_fn
        self.selected = None
        self.combo.blockSignals(True)
        self.combo.clear()
        names = sorted(self._maps, key=lambda n: (not n.startswith("z_"), not n.endswith("modulator"), n))
        for n in names:
            self.combo.addItem(n, n)
        self.combo.blockSignals(False)
        self._select()

    def select_map(self, name: str) -> None:
        idx = self.combo.findData(name)
        if idx >= 0:
            self.combo.setCurrentIndex(idx)

    def _select(self) -> None:
        name = self.combo.currentData()
        img = self._maps.get(name) if name else None
        self._data = None if img is None else np.nan_to_num(np.asarray(img.dataobj, dtype=np.float32))
        if self._data is not None:
            self._affine = np.asarray(img.affine, float)
            self._zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
            if np.any(self._data):
                peak = np.unravel_index(int(np.argmax(np.abs(self._data))), self._data.shape)
            else:
                peak = tuple(s // 2 for s in self._data.shape)
            self.cursor = np.array(peak, int)
            for vname, v in self.views.items():
                h, w = _PLANE_AXES[vname]
                v.set_extent(self._data.shape[h] * self._zooms[h], self._data.shape[w] * self._zooms[w])
            if self.selected is None and self.fit_fn is not None:
                self.selected = tuple(int(x) for x in peak)
                self.show_fit()
        self.reset_threshold()

    def reset_threshold(self) -> None:
        """Threshold at the corrected level of the current map (or say none survives)."""
        name = self.combo.currentData() or ""
        key = _threshold_key(name)
        self.corrected = None
        if self._data is None:
            self.banner.setText(NO_MAP_TEXT if not self._maps else "")
            self._draw()
            return
        peak = float(np.max(np.abs(self._data))) if self._data.size else 0.0
        if key is not None and f"fdr_threshold_{key}" in self._qc:
            thr = self._qc.get(f"fdr_threshold_{key}")
            n_sig = self._qc.get(f"n_significant_{key}")
            if thr is None or n_sig == 0 or (isinstance(thr, float) and thr >= peak):
                self.banner.setText(
                    f"<span style='color:#a02020'><b>No voxel survives the FDR correction</b> for "
                    f"{name} (peak |z| {peak:.2f}).</span> Shown for orientation only: uncorrected "
                    f"|z| ≥ {EXPLORATORY_Z:.2f} (p &lt; 0.001), not a significant result."
                )
                value = EXPLORATORY_Z
            else:
                self.corrected = float(thr)
                self.banner.setText(
                    f"Thresholded at the FDR-corrected level |z| ≥ {thr:.2f} "
                    f"({n_sig} voxel{'s' if n_sig != 1 else ''} survive; peak |z| {peak:.2f})."
                )
                value = float(thr)
        elif name.startswith(("zthr_", "mask")):
            self.banner.setText(f"{name}: already thresholded by the method (non-zero voxels shown).")
            value = 0.0
        else:
            self.banner.setText(f"{name}: no corrected threshold for this map; all non-zero voxels shown.")
            value = 0.0
        self.thr_spin.blockSignals(True)
        self.thr_spin.setValue(value)
        self.thr_spin.blockSignals(False)
        self._draw()

    @property
    def threshold(self) -> float:
        return float(self.thr_spin.value())

    # ------------------------------------------------------------------ drawing
    def _draw(self) -> None:
        if self._data is None:
            for v in self.views.values():
                v.base.clear()
                v.show_overlay(None)
            self.coord_label.setText("")
            return
        from workbench.engine import imaging

        vmax = float(np.max(np.abs(self._data))) or 1.0
        cmap = pg.colormap.get("RdBu_r", source="matplotlib")
        thr = self.threshold
        bg_ok = self._bg is not None and self._bg.shape == self._data.shape
        levels = imaging.robust_levels(self._bg) if bg_ok else (0.0, 1.0)
        for vname, v in self.views.items():
            axis = imaging.VIEW_AXES[vname]
            idx = int(self.cursor[axis])
            if bg_ok:
                v.show_base(imaging.plane(self._bg, axis, idx), levels)
            else:
                v.show_base(np.zeros([self._data.shape[a] for a in _PLANE_AXES[vname]]), (0, 1))
            sl = imaging.plane(self._data, axis, idx)
            rgba = cmap.map(((np.clip(sl / vmax, -1, 1) + 1) / 2).ravel(), mode="byte")
            rgba = rgba.reshape(*sl.shape, 4).copy()
            rgba[..., 3] = np.where((np.abs(sl) >= thr) & (sl != 0), 230, 0)
            v.show_overlay(rgba)
            h, w = _PLANE_AXES[vname]
            v.vline.setPos((self.cursor[h] + 0.5) * self._zooms[h])
            v.hline.setPos((self.cursor[w] + 0.5) * self._zooms[w])
            lo, hi = _axis_letters(self._affine, h)
            v.left_label.setText(lo)
            v.right_label.setText(hi)
            v.setTitle(f"{vname.capitalize()} · {_plane_coordinate(self._affine, self.cursor, axis)}",
                       color="w", size="10pt")
        name = self.combo.currentData() or ""
        self.colorbar.set_range(vmax, thr if thr > 0 else None, name)
        xyz = self._affine @ np.r_[self.cursor, 1.0]
        value = float(self._data[tuple(self.cursor)])
        self.coord_label.setText(
            f"voxel ({self.cursor[0]}, {self.cursor[1]}, {self.cursor[2]})  ·  scanner "
            f"({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm  ·  {name} = {value:.2f}"
            + ("" if abs(value) >= thr else "  (below the threshold)")
        )

    def _view_clicked(self, name: str, x_mm: float, y_mm: float) -> None:
        if self._data is None:
            return
        h, w = _PLANE_AXES[name]
        ijk = self.cursor.copy()
        ijk[h] = int(np.clip(np.floor(x_mm / self._zooms[h]), 0, self._data.shape[h] - 1))
        ijk[w] = int(np.clip(np.floor(y_mm / self._zooms[w]), 0, self._data.shape[w] - 1))
        self.select_voxel(*(int(x) for x in ijk))

    def select_voxel(self, i: int, j: int, k: int) -> None:
        """Select a voxel: move the planes there, draw its data and model fit."""
        self.selected = (i, j, k)
        self.cursor = np.array([i, j, k], int)
        self.voxel_clicked.emit(i, j, k)
        self.show_fit()
        self._draw()

    def show_fit(self) -> None:
        fit = self.fit_fn(self.selected) if (self.fit_fn is not None and self.selected) else None
        if fit is None:
            self.data_curve.setData([], [])
            self.fit_curve.setData([], [])
            self.fit_plot.setTitle(
                "no model fit at this voxel (outside the analysis mask)", size="9pt"
            )
            return
        self.data_curve.setData(fit["t"], fit["data"])
        self.fit_curve.setData(fit["t"], fit["fit"])
        value = self._data[self.selected] if self._data is not None else float("nan")
        self.fit_plot.setTitle(
            f"voxel {self.selected}: {self.combo.currentData()} = {value:.2f}", size="9pt"
        )


#: (horizontal, vertical) grid axes of each plane (as in the Slices view)
_PLANE_AXES = {"sagittal": (1, 2), "coronal": (0, 2), "axial": (0, 1)}


def _plane_coordinate(affine: np.ndarray, ijk: np.ndarray, axis: int) -> str:
    """The scanner coordinate (mm) a plane through voxel ``ijk`` along ``axis`` sits at."""
    import nibabel as nib

    code = nib.aff2axcodes(affine)[axis] or "?"
    world = {"R": 0, "L": 0, "A": 1, "P": 1, "S": 2, "I": 2}.get(code)
    if world is None:
        return f"slice {int(ijk[axis])}"
    xyz = affine @ np.r_[np.asarray(ijk, float), 1.0]
    return f"{'xyz'[world]} = {xyz[world]:.0f} mm"


def _axis_letters(affine: np.ndarray, axis: int) -> tuple[str, str]:
    """Anatomical letters at the low and high end of a voxel axis (e.g. ('L', 'R'))."""
    import nibabel as nib

    code = nib.aff2axcodes(affine)[axis]
    opposite = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}
    return (opposite.get(code, "?"), code or "?")


class MatrixView(QWidget):
    """A matrix output as an image (columns scaled to their maximum, SPM style)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.currentIndexChanged.connect(lambda *_: self._draw())
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.invertY(True)
        self.item = pg.ImageItem()
        self.plot.addItem(self.item)
        self.plot.setLabel("left", "row (scan)")
        self._mats: dict[str, dict[str, Any]] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo)
        lay.addWidget(self.plot, 1)

    def set_matrices(self, mats: dict[str, dict[str, Any]]) -> None:
        self._mats = dict(mats)
        self.combo.clear()
        for n in self._mats:
            self.combo.addItem(n, n)

    def _draw(self) -> None:
        m = self._mats.get(self.combo.currentData())
        if m is None:
            self.item.clear()
            return
        X = np.asarray(m["values"], float)
        scale = np.abs(X).max(axis=0)
        scale[scale == 0] = 1
        self.item.setImage((X / scale).T, levels=(-1, 1))
        self.item.setColorMap(pg.colormap.get("gray", source="matplotlib"))
        cols = list(m.get("columns", []))
        ax = self.plot.getAxis("bottom")
        ax.setTicks([[(i + 0.5, c) for i, c in enumerate(cols)]])
        self.plot.setToolTip("Columns: " + ", ".join(cols))


class TimecourseView(QWidget):
    """Time-course outputs: every series of the chosen output as a curve."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.currentIndexChanged.connect(lambda *_: self._draw())
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.plot.setLabel("bottom", "time", units="s")
        self._tcs: dict[str, dict[str, Any]] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo)
        lay.addWidget(self.plot, 1)

    def set_timecourses(self, tcs: dict[str, dict[str, Any]]) -> None:
        self._tcs = dict(tcs)
        self.combo.clear()
        for n in self._tcs:
            self.combo.addItem(n, n)

    def _draw(self) -> None:
        self.plot.clear()
        self.legend.clear()
        tc = self._tcs.get(self.combo.currentData())
        if tc is None:
            return
        t = np.asarray(tc["t"], float)
        sparse = len(t) < 200 and np.median(np.diff(t)) > 1.5 if len(t) > 2 else True
        for i, (label, y) in enumerate(tc["series"].items()):
            pen = pg.mkPen(_PENS[i % len(_PENS)], width=1.8)
            if sparse:  # per-event values: stems as points
                self.plot.plot(
                    t,
                    np.asarray(y, float),
                    pen=None,
                    symbol="o",
                    symbolSize=6,
                    symbolBrush=_PENS[i % len(_PENS)],
                    name=label,
                )
            else:
                self.plot.plot(t, np.asarray(y, float), pen=pen, name=label)
        unit = tc.get("unit", "")
        if unit in ("V", "s", "Hz"):  # SI units: let the axis pick the prefix (µV, ms)
            self.plot.setLabel("left", self.combo.currentData(), units=unit)
        else:
            self.plot.getAxis("left").enableAutoSIPrefix(False)
            self.plot.setLabel("left", f"{self.combo.currentData()} ({unit})" if unit else "")


class TableView(QWidget):
    """Table outputs (and the QC dict) in a plain table widget."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.currentIndexChanged.connect(lambda *_: self._draw())
        self.table = QTableWidget()
        self._tables: dict[str, list[dict[str, Any]]] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo)
        lay.addWidget(self.table, 1)

    def set_tables(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        self._tables = dict(tables)
        self.combo.clear()
        for n in self._tables:
            self.combo.addItem(n, n)

    def _draw(self) -> None:
        rows = self._tables.get(self.combo.currentData(), [])
        cols: list[str] = []
        for r in rows:
            cols += [c for c in r if c not in cols]
        self.table.clear()
        self.table.setColumnCount(len(cols))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(cols)
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                self.table.setItem(i, j, QTableWidgetItem(_fmt(r.get(c))))
        if not rows:
            self.table.setRowCount(1)
            self.table.setColumnCount(1)
            self.table.setHorizontalHeaderLabels(["(empty)"])
            self.table.setItem(
                0, 0, QTableWidgetItem("no rows (e.g. no cluster survived the threshold)")
            )
        self.table.resizeColumnsToContents()
