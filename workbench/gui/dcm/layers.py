"""Teaching view of a DCM's three layers: inputs -> neural state -> haemodynamics -> BOLD.

Shows the ``layers`` time course a dcm result carries (the best model at its posterior
means) for one region at a time, one plot per layer with linked time axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

__all__ = ["LayersView"]

TEXT = ("How the model makes BOLD: the inputs drive the <b>neural</b> state (fast, seconds); it drives a "
        "vasodilatory signal that raises blood <b>flow</b>; venous <b>volume</b> and <b>deoxyhaemoglobin</b> "
        "follow slowly; the <b>BOLD</b> signal is a nonlinear mix of volume and dHb, peaking ~5 s after the "
        "neural change. Best model, posterior means.")


class LayersView(QWidget):
    """Region chooser and four stacked plots (inputs, neural, haemodynamics, BOLD)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tc: dict[str, Any] | None = None
        self.region = QComboBox()
        self.region.currentTextChanged.connect(self._draw)
        self.text = QLabel(TEXT)
        self.text.setWordWrap(True)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        top = QHBoxLayout()
        top.addWidget(QLabel("Region"))
        top.addWidget(self.region, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.text)
        lay.addWidget(self.plots, 1)

    def set_timecourse(self, tc: dict[str, Any] | None) -> None:
        self.tc = tc
        regions = [] if not tc else [k[: -len(" neural")] for k in tc["series"] if k.endswith(" neural")]
        self.region.blockSignals(True)
        self.region.clear()
        self.region.addItems(regions)
        self.region.blockSignals(False)
        self._draw(self.region.currentText())

    def _draw(self, region: str) -> None:
        self.plots.clear()
        if not self.tc or not region:
            return
        t = np.asarray(self.tc["t"], float)
        S = {k: np.asarray(v, float) for k, v in self.tc["series"].items()}
        rows = [
            ("inputs", [(k[len("input "):], S[k]) for k in S if k.startswith("input ")]),
            ("neural z", [("neural", S[f"{region} neural"])]),
            ("haemodynamics", [(x, S[f"{region} {x}"]) for x in ("flow", "volume", "dHb")]),
            ("BOLD (%)", [("BOLD", S[f"{region} BOLD"])]),
        ]
        colors = [(200, 40, 40), (40, 150, 60), (40, 90, 200), (140, 60, 170)]
        first = None
        for r, (label, curves) in enumerate(rows):
            plot = self.plots.addPlot(row=r, col=0)
            plot.setLabel("left", label)
            plot.getAxis("left").enableAutoSIPrefix(False)
            if len(curves) > 1:
                plot.addLegend(offset=(-10, 5), labelTextSize="8pt")
            for k, (name, y) in enumerate(curves):
                step = label == "inputs"
                yy = y + 1.2 * k if step else y
                plot.plot(t, yy, pen=pg.mkPen(colors[k % len(colors)], width=1.5), name=name,
                          stepMode=None)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            if r == len(rows) - 1:
                plot.setLabel("bottom", "time (s)")
