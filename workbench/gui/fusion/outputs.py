"""Generic views of declared fusion outputs: maps, matrices, time courses, tables, QC.

They show any :class:`~workbench.plugin_api.FusionResult`; nothing here knows a plugin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
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


class MapView(QWidget):
    """An axial slice of a map over a background, a threshold slider, click for a voxel's fit.

    ``voxel_clicked(i, j, k)`` is emitted on a click; :meth:`show_fit` draws the data and
    the model fit the result's live accessor returns for it.
    """

    voxel_clicked = pyqtSignal(int, int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._maps: dict[str, Any] = {}
        self._bg: np.ndarray | None = None
        self._data: np.ndarray | None = None
        self.fit_fn: Any = None
        self.selected: tuple[int, int, int] | None = None
        top = QHBoxLayout()
        self.combo = QComboBox()
        self.combo.setToolTip("Which map to show (z maps are the usual choice).")
        self.combo.currentIndexChanged.connect(lambda *_: self._select())
        self.slice_slider = QSlider(Qt.Orientation.Horizontal)
        self.slice_slider.setToolTip("Axial slice")
        self.slice_slider.valueChanged.connect(lambda *_: self._draw())
        self.thr_slider = QSlider(Qt.Orientation.Horizontal)
        self.thr_slider.setRange(0, 100)
        self.thr_slider.setValue(31)
        self.thr_slider.setToolTip(
            "Threshold |value| (tenths): voxels below it are transparent. z > 3.1 is p < 0.001 "
            "uncorrected; the FDR-thresholded maps (zthr_*) are already corrected."
        )
        self.thr_slider.valueChanged.connect(lambda *_: self._draw())
        self.thr_label = QLabel()
        for w, s in (
            (QLabel("Map"), 0),
            (self.combo, 2),
            (QLabel("Slice"), 0),
            (self.slice_slider, 2),
            (QLabel("Threshold"), 0),
            (self.thr_slider, 2),
            (self.thr_label, 0),
        ):
            top.addWidget(w, s)
        split = QSplitter(Qt.Orientation.Vertical)
        self.image_plot = pg.PlotWidget()
        self.image_plot.setBackground("k")
        self.image_plot.setAspectLocked(True)
        self.image_plot.hideAxis("left")
        self.image_plot.hideAxis("bottom")
        self.bg_item = pg.ImageItem()
        self.ov_item = pg.ImageItem()
        self.cross = pg.ScatterPlotItem(size=12, symbol="+", pen=pg.mkPen("y", width=2), brush=None)
        for it in (self.bg_item, self.ov_item, self.cross):
            self.image_plot.addItem(it)
        self.image_plot.scene().sigMouseClicked.connect(self._clicked)
        self.fit_plot = pg.PlotWidget()
        self.fit_plot.setBackground("w")
        self.fit_plot.addLegend(offset=(-10, 10))
        self.fit_plot.setLabel("bottom", "time", units="s")
        self.fit_plot.setLabel("left", "BOLD (% signal change)")
        self.data_curve = self.fit_plot.plot(
            [], [], pen=pg.mkPen((40, 40, 40), width=1.2), name="data"
        )
        self.fit_curve = self.fit_plot.plot(
            [], [], pen=pg.mkPen((214, 39, 40), width=2), name="model fit"
        )
        split.addWidget(self.image_plot)
        split.addWidget(self.fit_plot)
        split.setSizes([400, 200])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(split, 1)

    def set_maps(
        self, maps: dict[str, Any], background: np.ndarray | None, fit_fn: Any = None
    ) -> None:
        """Show ``maps`` (name -> 3D image) over ``background`` (3D array on the same grid)."""
        self._maps = dict(maps)
        self._bg = background
        self.fit_fn = fit_fn
        self.combo.blockSignals(True)
        self.combo.clear()
        names = sorted(self._maps, key=lambda n: (not n.startswith("z_"), n))
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
        self._data = None if img is None else np.asarray(img.dataobj, dtype=np.float32)
        if self._data is not None:
            nz = self._data.shape[2]
            peak = np.unravel_index(int(np.nanargmax(np.abs(self._data))), self._data.shape)
            self.slice_slider.blockSignals(True)
            self.slice_slider.setRange(0, nz - 1)
            self.slice_slider.setValue(int(peak[2]))
            self.slice_slider.blockSignals(False)
            if self.selected is None and self.fit_fn is not None:
                self.select_voxel(*(int(x) for x in peak))
        self._draw()

    @property
    def threshold(self) -> float:
        return self.thr_slider.value() / 10.0

    def _draw(self) -> None:
        self.thr_label.setText(f"{self.threshold:.1f}")
        if self._data is None:
            self.bg_item.clear()
            self.ov_item.clear()
            return
        k = self.slice_slider.value()
        if self._bg is not None and self._bg.shape == self._data.shape:
            bg = self._bg[:, :, k]
            hi = float(np.percentile(self._bg, 99)) or 1.0
            self.bg_item.setImage(bg, levels=(0, hi))
        else:
            self.bg_item.setImage(np.zeros(self._data.shape[:2]), levels=(0, 1))
        sl = self._data[:, :, k]
        vmax = float(np.nanmax(np.abs(self._data))) or 1.0
        cmap = pg.colormap.get("RdBu_r", source="matplotlib")
        rgba = cmap.map((np.clip(sl / vmax, -1, 1) + 1) / 2, mode="byte")
        rgba = rgba.reshape(*sl.shape, 4)
        rgba[..., 3] = np.where(np.abs(sl) >= self.threshold, 255, 0)
        self.ov_item.setImage(rgba)
        if self.selected is not None and self.selected[2] == k:
            self.cross.setData([self.selected[0] + 0.5], [self.selected[1] + 0.5])
        else:
            self.cross.setData([], [])

    def _clicked(self, ev: Any) -> None:
        if self._data is None:
            return
        pos = self.ov_item.mapFromScene(ev.scenePos())
        i, j = int(np.floor(pos.x())), int(np.floor(pos.y()))
        if 0 <= i < self._data.shape[0] and 0 <= j < self._data.shape[1]:
            self.select_voxel(i, j, self.slice_slider.value())

    def select_voxel(self, i: int, j: int, k: int) -> None:
        """Select a voxel: draw its cross and its data and model fit."""
        self.selected = (i, j, k)
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
