"""The time course at the selected source, one curve per variant shown, in the estimate's units.

Two scales (the plot's own selector, :attr:`TimeCoursePlot.scale`):

* ``relative`` (default): each variant divided by its own maximum over all sources and
  times, so shapes can be compared although the variants' amplitudes differ a lot (the
  hard mask squeezes the same field into fewer sources); the legend gives each
  variant's maximum in its unit;
* ``units``: the amplitudes themselves. Current-dipole variants (A·m, shown with an SI
  prefix, e.g. nA·m) share the left axis; unitless noise-normalised ones (dSPM,
  sLORETA) go on a right axis of their own, since the two cannot share a scale.

The current time is a green vertical line (draggable: it moves the view's time slider),
written in green in the title, with a dot on every curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal

__all__ = ["TimeCoursePlot", "SCALES", "format_amplitude"]

SCALES = ("relative", "units")


def format_amplitude(value: float, unit: str) -> str:
    """``7.9 nA·m`` for a current dipole, ``3.3`` plus the unit's name for a unitless one."""
    if unit and "unitless" not in unit:
        return pg.siFormat(float(value), precision=2, suffix=unit)
    return f"{value:.3g}" + (f" ({unit.split(' ')[0]})" if unit else "")


def _plain_axis(axis: pg.AxisItem) -> None:
    """Tick values as they are: pyqtgraph scales a unitless axis whose range is below 1 by
    an SI prefix (0.15 shown as 150) even with the automatic prefix off."""
    axis.setLabel(units="")
    axis.setSIPrefixEnableRanges(())
    axis.enableAutoSIPrefix(False)


class TimeCoursePlot(pg.PlotWidget):
    """Time courses of the selected source; emits :attr:`time_moved` when the line is dragged."""

    time_moved = pyqtSignal(float)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumHeight(150)
        self.scale = SCALES[0]
        pi = self.getPlotItem()
        pi.setLabel("bottom", "time", units="s")
        pi.showGrid(x=True, y=True, alpha=0.15)
        # one row of entries at the top, on white, above the curves (the y range leaves room for it)
        self.legend = pi.addLegend(offset=(5, 2), labelTextSize="7pt", labelTextColor="k", colCount=3,
                                   brush=pg.mkBrush(255, 255, 255, 220), pen=pg.mkPen(200, 200, 200))
        self.time_line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen((0, 160, 0), width=2))
        self.time_line.setZValue(10)
        self.time_line.sigPositionChanged.connect(self._line_moved)
        # a right axis for a second unit (dSPM/sLORETA beside A·m)
        self.right_box = pg.ViewBox()
        pi.scene().addItem(self.right_box)
        pi.getAxis("right").linkToView(self.right_box)
        self.right_box.setXLink(pi)
        pi.vb.sigResized.connect(self._sync_right)
        self.markers: list[Any] = []
        self.right_curves: list[Any] = []
        self._busy = False
        self._title = ""
        self._curves: list[tuple[np.ndarray, np.ndarray]] = []

    def _sync_right(self) -> None:
        pi = self.getPlotItem()
        self.right_box.setGeometry(pi.vb.sceneBoundingRect())
        self.right_box.linkedViewChanged(pi.vb, self.right_box.XAxis)

    def _line_moved(self) -> None:
        if not self._busy:
            self.time_moved.emit(float(self.time_line.value()))

    def show_series(self, times: np.ndarray, series: Sequence[dict[str, Any]], index: int, title: str) -> None:
        """Draw ``series`` (dicts: ``name``, ``values`` (raw, per time), ``unit``, ``vmax`` (the
        variant's maximum over sources and times), ``color``) and mark time ``index``."""
        pi = self.getPlotItem()
        pi.clear()
        self.legend.clear()
        for c in self.right_curves:
            self.right_box.removeItem(c)
        self.right_curves, self.markers, self._curves = [], [], []
        pi.addItem(self.time_line)
        t = np.asarray(times, float)
        left_unit = next((s["unit"] for s in series), "")
        right_units: list[str] = []
        for s in series:
            vmax = float(s["vmax"]) if s["vmax"] else 1.0
            raw = np.asarray(s["values"], float)
            pen = pg.mkPen(s["color"], width=2)
            if self.scale == "relative":
                y, box = raw / max(vmax, 1e-300), None
                name = f"{s['name']} ≤ {format_amplitude(vmax, s['unit'])}"
            else:
                y, name = raw, s["name"]
                box = None if s["unit"] == left_unit else self.right_box
                if box is not None and s["unit"] not in right_units:
                    right_units.append(s["unit"])
            curve = pg.PlotDataItem(t, y, pen=pen, name=name)
            dot = pg.ScatterPlotItem([t[index]], [y[index]], size=9, brush=pg.mkBrush(s["color"]),
                                     pen=pg.mkPen("k", width=1))
            dot.setZValue(11)
            if box is None:
                pi.addItem(curve)
                pi.addItem(dot)
            else:
                box.addItem(curve)
                box.addItem(dot)
                self.right_curves += [curve, dot]
                self.legend.addItem(curve, f"{name} (right axis)")
            self.markers.append(dot)
            self._curves.append((t, y))
        left = pi.getAxis("left")
        tops = [float(np.max(c.yData)) for c in pi.listDataItems() if isinstance(c, pg.PlotDataItem) and len(c.yData)]
        pi.setYRange(0.0, (max(tops) if tops else 1.0) * 1.4, padding=0)  # room for the legend
        if self.scale == "relative":
            _plain_axis(left)
            pi.setLabel("left", "relative to max")
        elif left_unit and "unitless" not in left_unit:
            left.setSIPrefixEnableRanges(None)  # pyqtgraph's default: a prefix for a unit (nA·m)
            left.enableAutoSIPrefix(True)
            pi.setLabel("left", "amplitude", units=left_unit)
        else:
            _plain_axis(left)
            pi.setLabel("left", left_unit or "amplitude")
        if right_units:
            pi.showAxis("right")
            _plain_axis(pi.getAxis("right"))
            pi.setLabel("right", ", ".join(right_units))
            rtops = [float(np.max(c.yData)) for c in self.right_curves if isinstance(c, pg.PlotDataItem)]
            self.right_box.setYRange(0.0, (max(rtops) if rtops else 1.0) * 1.4, padding=0)
            self._sync_right()
        else:
            pi.hideAxis("right")
        self._title = title
        self.set_index(t, index)

    def move_to(self, index: int) -> None:
        """Only the time changed: move the line and the dots (the curves stay)."""
        for dot, (t, y) in zip(self.markers, self._curves, strict=True):
            dot.setData([t[index]], [y[index]])
        if self._curves:
            self.set_index(self._curves[0][0], index)

    def set_index(self, times: np.ndarray, index: int) -> None:
        """Move the time line (and its label) to ``times[index]`` without emitting."""
        self._busy = True
        try:
            self.time_line.setPos(float(times[index]))
        finally:
            self._busy = False
        self.getPlotItem().setTitle(f"<span style='color:#00a000'>&#9474; {times[index] * 1e3:.0f} ms</span>"
                                    f" &nbsp; {self._title}", size="9pt")

    def left_axis_label(self) -> str:
        """The left axis's label as shown (text and unit with its prefix)."""
        ax = self.getPlotItem().getAxis("left")
        return ax.labelString()
