"""Teaching view: the same neural input through the canonical HRF and the balloon model.

Sliders set the Balloon-Windkessel constants and the stimulus; the curves come from
:func:`workbench.engine.hemo.teaching.compare_models` (a few milliseconds), so the view
only draws.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.hemo import BalloonParams
from workbench.engine.hemo.teaching import STIMULI, compare_models

HELP = (
    "<b>Hemodynamics.</b> Neural activity does not show in fMRI directly: it dilates vessels "
    "(vasodilatory signal <i>s</i>), blood flow <i>f</i> rises within seconds, the venous "
    "balloon swells (volume <i>v</i>) and washes out deoxyhaemoglobin (<i>q</i>); the BOLD "
    "signal rises because <i>q</i> falls. The <b>canonical HRF</b> (SPM) treats this as a "
    "fixed linear filter; the <b>Balloon-Windkessel model</b> (SPM12's equations) is "
    "non-linear: two events close together give less than twice the response, and strong "
    "inputs saturate. Move the sliders to see which constant shapes which part of the curve."
)

#: (attribute, label, min, max, help) of the sliders; values are scaled by 100
SLIDERS = (
    (
        "kappa",
        "κ signal decay (1/s)",
        0.2,
        1.5,
        "Rate of decay of the vasodilatory signal (SPM 0.64).",
    ),
    ("gamma", "γ autoregulation (1/s)", 0.1, 0.8, "Rate of flow-dependent elimination (SPM 0.32)."),
    (
        "tau",
        "τ transit time (s)",
        0.5,
        4.0,
        "Mean transit time of blood through the venous balloon (SPM 2 s).",
    ),
    (
        "alpha",
        "α Grubb exponent",
        0.15,
        0.6,
        "Stiffness of the balloon: outflow = v^(1/α) (SPM 0.32).",
    ),
    ("E0", "E0 resting extraction", 0.2, 0.7, "Resting oxygen extraction fraction (SPM 0.4)."),
)


class HemodynamicsView(QWidget):
    """Canonical HRF versus Balloon-Windkessel, parameters on sliders, hidden states plotted."""

    HELP_TEXT = HELP

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.params = BalloonParams()
        self.result: Any = None
        self.sliders: dict[str, QSlider] = {}
        self._labels: dict[str, QLabel] = {}
        controls = QFormLayout()
        self.stimulus = QComboBox()
        self.stimulus.addItems(STIMULI)
        self.stimulus.setToolTip(
            "Neural input pattern (two events 3 s apart show the non-linearity)."
        )
        self.stimulus.currentIndexChanged.connect(lambda *_: self.schedule())
        controls.addRow("Stimulus", self.stimulus)
        self.amplitude = self._slider(
            "amplitude", 0.05, 2.0, 0.5, "Neural input amplitude (SPM units)."
        )
        controls.addRow("Amplitude", self._with_label("amplitude", self.amplitude))
        self.duration = self._slider("duration", 0.1, 5.0, 1.0, "Duration of each event (s).")
        controls.addRow("Duration (s)", self._with_label("duration", self.duration))
        defaults = BalloonParams()
        for attr, label, lo, hi, tip in SLIDERS:
            s = self._slider(attr, lo, hi, getattr(defaults, attr), tip)
            controls.addRow(label, self._with_label(attr, s))
        reset = QPushButton("SPM defaults")
        reset.setToolTip("Reset every constant to SPM12's value.")
        reset.clicked.connect(self.reset)
        controls.addRow(reset)
        text = QLabel(HELP)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        left = QVBoxLayout()
        left.addWidget(text)
        left.addLayout(controls)
        left.addStretch(1)

        grid = QGridLayout()
        self.p_neural = self._plot("Neural input u(t)", "u")
        self.p_bold = self._plot("BOLD: canonical HRF vs balloon model", "% signal change")
        self.p_flow = self._plot(
            "Hidden states: flow f, volume v, deoxyhaemoglobin q", "relative to rest"
        )
        self.p_s = self._plot("Vasodilatory signal s", "1/s")
        grid.addWidget(self.p_neural, 0, 0)
        grid.addWidget(self.p_bold, 0, 1)
        grid.addWidget(self.p_s, 1, 0)
        grid.addWidget(self.p_flow, 1, 1)
        self.c_neural = self.p_neural.plot(
            [], [], pen=pg.mkPen((60, 60, 60), width=2), fillLevel=0, brush=(60, 60, 60, 60)
        )
        self.c_hrf = self.p_bold.plot(
            [],
            [],
            pen=pg.mkPen((31, 119, 180), width=2, style=Qt.PenStyle.DashLine),
            name="canonical HRF (scaled)",
        )
        self.c_lin = self.p_bold.plot(
            [], [], pen=pg.mkPen((44, 160, 44), width=1.5), name="balloon, linearised"
        )
        self.c_bw = self.p_bold.plot(
            [], [], pen=pg.mkPen((214, 39, 40), width=2.5), name="balloon model"
        )
        self.c_f = self.p_flow.plot([], [], pen=pg.mkPen((214, 39, 40), width=2), name="flow f")
        self.c_v = self.p_flow.plot([], [], pen=pg.mkPen((31, 119, 180), width=2), name="volume v")
        self.c_q = self.p_flow.plot(
            [], [], pen=pg.mkPen((148, 103, 189), width=2), name="deoxyHb q"
        )
        self.c_s = self.p_s.plot([], [], pen=pg.mkPen((255, 127, 14), width=2))
        lay = QHBoxLayout(self)
        lw = QWidget()
        lw.setLayout(left)
        lw.setMaximumWidth(380)
        lay.addWidget(lw)
        lay.addLayout(grid, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self.update_curves)
        self.update_curves()

    def _plot(self, title: str, ylabel: str) -> pg.PlotWidget:
        p = pg.PlotWidget()
        p.setBackground("w")
        p.setTitle(title, color="k", size="9pt")
        p.setLabel("bottom", "time", units="s")
        p.setLabel("left", ylabel)
        p.addLegend(offset=(-10, 10))
        p.showGrid(x=True, y=True, alpha=0.2)
        p.getAxis("left").enableAutoSIPrefix(False)
        return p

    def _slider(self, name: str, lo: float, hi: float, value: float, tip: str) -> QSlider:
        s = QSlider(Qt.Orientation.Horizontal)
        s.setRange(int(round(lo * 100)), int(round(hi * 100)))
        s.setValue(int(round(value * 100)))
        s.setToolTip(tip)
        s.setObjectName(f"slider_{name}")
        s.valueChanged.connect(lambda *_: self.schedule())
        self.sliders[name] = s
        return s

    def _with_label(self, name: str, slider: QSlider) -> QWidget:
        w = QWidget()
        h = QHBoxLayout(w)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(slider, 1)
        lab = QLabel()
        lab.setMinimumWidth(36)
        self._labels[name] = lab
        h.addWidget(lab)
        return w

    def value(self, name: str) -> float:
        return self.sliders[name].value() / 100.0

    def reset(self) -> None:
        defaults = BalloonParams()
        for attr, *_ in SLIDERS:
            self.sliders[attr].setValue(int(round(getattr(defaults, attr) * 100)))

    def schedule(self) -> None:
        """Redraw shortly (coalesces slider drags)."""
        self._timer.start()

    def update_curves(self) -> None:
        for name, lab in self._labels.items():
            lab.setText(f"{self.value(name):.2f}")
        self.params = replace(BalloonParams(), **{a: self.value(a) for a, *_ in SLIDERS})
        r = compare_models(
            self.stimulus.currentText(),
            self.params,
            duration=self.value("duration"),
            amplitude=self.value("amplitude"),
        )
        self.result = r
        self.c_neural.setData(r.t, r.neural)
        self.c_hrf.setData(r.t, 100 * r.bold_hrf)
        self.c_lin.setData(r.t, 100 * r.bold_linear)
        self.c_bw.setData(r.t, 100 * r.bold_balloon)
        self.c_f.setData(r.t, r.flow)
        self.c_v.setData(r.t, r.volume)
        self.c_q.setData(r.t, r.deoxy)
        self.c_s.setData(r.t, r.vasodilatory)
        peak = (
            float(r.t[int(np.argmax(r.bold_balloon))]) if r.bold_balloon.max() > 0 else float("nan")
        )
        self.p_bold.setTitle(
            f"BOLD: canonical HRF vs balloon model (balloon peak {100 * r.bold_balloon.max():.2f} % at {peak:.1f} s)",
            color="k",
            size="9pt",
        )
