"""The DCM view: fitted network, model comparison and observed vs predicted BOLD.

A view of a ``dcm`` fusion result's saved outputs (the ``models`` and ``parameters``
tables and the ``bold_fit`` time courses), so it shows the same thing after a run from the
GUI, the CLI or a reopened project. It never calls the plugin's algorithms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

__all__ = ["DcmView", "NetworkCanvas", "has_dcm", "network_from_rows"]

NODE = 24.0  # node radius (px)
RED, BLUE, GREEN, PURPLE = QColor(200, 40, 40), QColor(40, 90, 200), QColor(30, 140, 60), QColor(130, 60, 170)


def has_dcm(result: Any) -> bool:
    """Whether a fusion result is a DCM result this view can show."""
    tables = getattr(result, "tables", None) or {}
    return getattr(result, "method", "") == "dcm" and "parameters" in tables and "models" in tables


def network_from_rows(rows: list[dict[str, Any]], model: str, models: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """Regions, inputs and the posterior of A, B, C of one model from the parameters table
    (region and input order from the models table when it lists them)."""
    row = next((r for r in models if str(r.get("model")) == model), {})
    regions = [x for x in str(row.get("regions") or "").split(",") if x]
    inputs = [x for x in str(row.get("inputs") or "").split(",") if x]
    conns: list[dict[str, Any]] = []
    first = next((r.get("subject") for r in rows if r.get("model") == model), None)
    for r in rows:
        if r.get("model") != model or r.get("subject") != first:  # a group: the first subject's fit
            continue
        kind = r.get("kind")
        for key in ("to", "from"):
            name = r.get(key)
            if kind in ("A", "B", "C") and name not in ("", None) and str(name) not in regions:
                regions.append(str(name))
        if kind in ("B", "C") and r.get("input") not in ("", None) and str(r["input"]) not in inputs:
            inputs.append(str(r["input"]))
        if kind in ("A", "B", "C"):
            conns.append({"kind": kind, "to": str(r["to"]), "from": str(r.get("from") or ""),
                          "input": str(r.get("input") or ""), "mean": float(r["mean"]),
                          "var": float(r["var"]), "probability": float(r["probability"])})
    return {"regions": regions, "inputs": inputs, "connections": conns}


class NetworkCanvas(QWidget):
    """Regions as nodes on a circle, connections as arrows (painted with QPainter).

    Showing a fit: arrow colour = sign (red excitatory, blue inhibitory), width = posterior
    probability, label = mean (Hz) and probability; modulations (B) purple, inputs (C)
    green. Editing (:attr:`editable`): a click on a pair of nodes' connection line toggles it
    (:attr:`toggled` is emitted with ``(to, from)``).
    """

    toggled = pyqtSignal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.regions: list[str] = []
        self.inputs: list[str] = []
        self.conns: list[dict[str, Any]] = []
        self.candidates: list[tuple[int, int]] = []  # drawn faintly in the editor (absent connections)
        self.editable = False
        self.setMinimumSize(260, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_network(self, net: dict[str, Any]) -> None:
        self.regions, self.inputs, self.conns = net["regions"], net["inputs"], net["connections"]
        self.update()

    def positions(self) -> list[QPointF]:
        w, h = self.width(), self.height()
        cx, cy, rad = w / 2, h / 2, 0.33 * min(w, h)
        n = max(len(self.regions), 1)
        if n == 1:
            return [QPointF(cx, cy)]
        return [QPointF(cx + rad * math.cos(math.pi / 2 + 2 * math.pi * k / n),
                        cy + rad * math.sin(math.pi / 2 + 2 * math.pi * k / n)) for k in range(n)]

    def _ends(self, i: int, j: int, pos: list[QPointF], node: float) -> tuple[QPointF, QPointF, QPointF]:
        p0, p1 = pos[j], pos[i]
        dx, dy = p1.x() - p0.x(), p1.y() - p0.y()
        L = math.hypot(dx, dy) or 1.0
        ux, uy = dx / L, dy / L
        off = QPointF(-uy * 7, ux * 7)  # two directions side by side
        a = QPointF(p0.x() + ux * node, p0.y() + uy * node) + off
        b = QPointF(p1.x() - ux * node, p1.y() - uy * node) + off
        return a, b, QPointF(-uy, ux)

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(255, 255, 255))
        if not self.regions:
            p.setPen(QColor(120, 120, 120))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no network")
            return
        pos = self.positions()
        node = NODE
        idx = {r: k for k, r in enumerate(self.regions)}
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1.5))
        for i, j in self.candidates:
            a, b, _ = self._ends(i, j, pos, node)
            p.setPen(QPen(QColor(200, 200, 200), 1, Qt.PenStyle.DotLine))
            p.drawLine(a, b)
        for c in self.conns:
            if c["kind"] != "A" or c["to"] == c["from"] or c["var"] <= 0:
                continue
            i, j = idx[c["to"]], idx[c["from"]]
            a, b, nrm = self._ends(i, j, pos, node)
            color = RED if c["mean"] >= 0 else BLUE
            self._arrow(p, a, b, color, 1.0 + 4.0 * c["probability"] ** 4)
            cx, cy = (a.x() + b.x()) / 2, (a.y() + b.y()) / 2
            mid = QPointF(cx + nrm.x() * 14, cy + nrm.y() * 14)
            p.setFont(small)
            if not self.editable:
                self._label(p, mid, f"{c['mean']:+.2f} Hz ({c['probability']:.2f})", color)
            mods = [m for m in self.conns if m["kind"] == "B" and m["to"] == c["to"] and m["from"] == c["from"]
                    and m["var"] > 0]
            for k, m in enumerate(mods):
                q = QPointF(cx - nrm.x() * 14 * (k + 1), cy - nrm.y() * 14 * (k + 1))  # other side
                self._label(p, q, f"B {m['input']}" + ("" if self.editable else
                                                       f" {m['mean']:+.2f} ({m['probability']:.2f})"), PURPLE)
        for c in self.conns:
            if c["kind"] != "C" or c["var"] <= 0:
                continue
            i = idx[c["to"]]
            k = self.inputs.index(c["input"]) if c["input"] in self.inputs else 0
            v = pos[i]
            cx, cy = self.width() / 2, self.height() / 2
            dx, dy = v.x() - cx, v.y() - cy
            L = math.hypot(dx, dy) or 1.0
            ux, uy = (dx / L, dy / L) if L > 1 else (0.0, 1.0)
            tip = QPointF(v.x() + ux * node, v.y() + uy * node)
            src = QPointF(v.x() + ux * (node + 48) + 40 * k * uy, v.y() + uy * (node + 48) - 40 * k * ux)
            self._arrow(p, src, tip, GREEN, 2.0)
            p.setPen(GREEN)
            p.setFont(small)
            label = c["input"] + ("" if self.editable else f" {c['mean']:.2f} ({c['probability']:.2f})")
            box = QRectF(src.x() - 70, src.y() + (4 if uy >= 0 else -22), 140, 18)
            box.moveTop(min(max(box.top(), 2.0), self.height() - 20.0))  # keep the label inside
            box.moveLeft(min(max(box.left(), 2.0), self.width() - 142.0))
            self._label(p, box.center(), label, GREEN)
        bold = QFont(self.font())
        bold.setBold(True)
        for k, r in enumerate(self.regions):
            p.setPen(QPen(QColor(60, 60, 60), 1.5))
            p.setBrush(QBrush(QColor(240, 240, 240)))
            p.drawEllipse(pos[k], node, node)
            self_c = next((c for c in self.conns if c["kind"] == "A" and c["to"] == r and c["from"] == r), None)
            shown = self_c is not None and not self.editable
            p.setFont(bold)
            p.drawText(QRectF(pos[k].x() - node, pos[k].y() - node - (7 if shown else 0), 2 * node, 2 * node),
                       Qt.AlignmentFlag.AlignCenter, r)
            if shown:  # the self-inhibition inside the node, under the name
                p.setFont(small)
                p.setPen(QColor(90, 90, 90))
                p.drawText(QRectF(pos[k].x() - node, pos[k].y() + 1, 2 * node, 14), Qt.AlignmentFlag.AlignCenter,
                           f"{-0.5 * math.exp(self_c['mean']):.2f}")

    @staticmethod
    def _label(p: QPainter, at: QPointF, text: str, color: QColor) -> None:
        """Text centred at ``at`` on a white box (readable over arrows)."""
        w = p.fontMetrics().horizontalAdvance(text) + 6
        box = QRectF(at.x() - w / 2, at.y() - 8, w, 16)
        p.fillRect(box, QColor(255, 255, 255, 225))
        p.setPen(color)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _arrow(p: QPainter, a: QPointF, b: QPointF, color: QColor, width: float) -> None:
        p.setPen(QPen(color, width))
        p.drawLine(a, b)
        dx, dy = b.x() - a.x(), b.y() - a.y()
        L = math.hypot(dx, dy) or 1.0
        ux, uy = dx / L, dy / L
        s = 6 + width
        head = QPolygonF([b, QPointF(b.x() - ux * s - uy * s * 0.5, b.y() - uy * s + ux * s * 0.5),
                          QPointF(b.x() - ux * s + uy * s * 0.5, b.y() - uy * s - ux * s * 0.5)])
        path = QPainterPath()
        path.addPolygon(head)
        p.fillPath(path, QBrush(color))

    def connection_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The directed pair (to, from) whose line passes closest to (x, y), within 8 px."""
        pos = self.positions()
        best, where = 8.0, None
        n = len(self.regions)
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                a, b, _ = self._ends(i, j, pos, NODE)
                d = _segment_distance(x, y, a, b)
                if d < best:
                    best, where = d, (i, j)
        return where

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if not self.editable:
            return
        hit = self.connection_at(event.position().x(), event.position().y())
        if hit is not None:
            self.toggled.emit(*hit)


def _segment_distance(x: float, y: float, a: QPointF, b: QPointF) -> float:
    ax, ay, bx, by = a.x(), a.y(), b.x(), b.y()
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy or 1.0
    t = min(1.0, max(0.0, ((x - ax) * dx + (y - ay) * dy) / L2))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


class DcmView(QWidget):
    """Fitted network (model chooser), model-comparison bars and BOLD fit per region."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self.model_box = QComboBox()
        self.model_box.setToolTip("Model whose posterior network is drawn (the best one first).")
        self.model_box.currentTextChanged.connect(self._draw_network)
        self.canvas = NetworkCanvas()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_box, 1)
        ll.addLayout(top)
        ll.addWidget(self.canvas, 1)
        ll.addWidget(self.summary)
        self.bars = pg.PlotWidget(background="w")
        self.bars.setMinimumHeight(120)
        self.bars.setLabel("left", "P(model | data)")
        self.bars.setYRange(0, 1)
        self.fits = pg.GraphicsLayoutWidget()
        self.fits.setBackground("w")
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.bars)
        right.addWidget(self.fits)
        right.setSizes([160, 440])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([560, 420])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    def set_result(self, result: Any) -> None:
        """Show a DCM fusion result (a FusionResult with the dcm tables)."""
        self.result = result
        models = sorted(result.tables.get("models", []), key=lambda r: -float(r.get("F") or -np.inf))
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItems([str(r["model"]) for r in models])
        self.model_box.blockSignals(False)
        self._draw_bars(result.tables.get("models", []))
        self._draw_fits(result.timecourses.get("bold_fit"))
        self._draw_network(self.model_box.currentText())

    def _draw_network(self, name: str) -> None:
        if self.result is None or not name:
            self.canvas.set_network({"regions": [], "inputs": [], "connections": []})
            return
        self.canvas.set_network(network_from_rows(self.result.tables.get("parameters", []), name,
                                                  self.result.tables.get("models", [])))
        row = next((r for r in self.result.tables.get("models", []) if str(r["model"]) == name), {})
        conv = row.get("converged")
        subjects = {r.get("subject") for r in self.result.tables.get("parameters", [])} - {None}
        group = (f" — group of {len(subjects)} subjects: F summed, the network drawn is the first "
                 f"subject's fit" if len(subjects) > 1 else "")
        self.summary.setText(
            f"<b>{name}</b>: F = {float(row.get('F', float('nan'))):.1f}, P(model) = "
            f"{float(row.get('posterior_probability', float('nan'))):.3f}, explained variance "
            f"{100 * float(row.get('explained_variance', float('nan'))):.0f} %"
            + ("" if conv in (True, "True", None) else " — <span style='color:#a02020'>did not converge</span>")
            + group
            + "<br><span style='color:#666'>Arrows: connection strength (Hz) and, in brackets, the posterior "
              "probability that it is not zero (line width). Red excitatory, blue inhibitory; purple: modulation "
              "by an input (B); green: driving input (C, SPM's units); in each node its self-inhibition (Hz)."
              "</span>")

    def _draw_bars(self, models: list[dict[str, Any]]) -> None:
        self.bars.clear()
        if not models:
            return
        names = [str(r["model"]) for r in models]
        probs = [float(r.get("posterior_probability") or 0.0) for r in models]
        x = np.arange(len(names))
        if "exceedance_probability" in models[0]:  # a group: fixed effects beside random-effects exceedance
            xp = [float(r.get("exceedance_probability") or 0.0) for r in models]
            self.bars.addItem(pg.BarGraphItem(x=x - 0.17, height=probs, width=0.32, brush=(70, 110, 200)))
            self.bars.addItem(pg.BarGraphItem(x=x + 0.17, height=xp, width=0.32, brush=(230, 140, 40)))
            self.bars.setTitle("Group: FFX probability (blue), RFX exceedance (orange)", size="9pt")
        else:
            self.bars.addItem(pg.BarGraphItem(x=x, height=probs, width=0.6, brush=(70, 110, 200)))
            self.bars.setTitle("Model comparison (from F)", size="9pt")
        self.bars.getAxis("bottom").setTicks([list(zip(x.tolist(), names))])
        self.bars.setXRange(-0.6, len(names) - 0.4, padding=0)
        self.bars.setYRange(0, 1)

    def _draw_fits(self, tc: dict[str, Any] | None) -> None:
        self.fits.clear()
        if not tc:
            return
        t = np.asarray(tc["t"], float)
        regions = [k[: -len(" observed")] for k in tc["series"] if k.endswith(" observed")]
        first = None
        for r, name in enumerate(regions):
            plot = self.fits.addPlot(row=r, col=0)
            plot.setLabel("left", name)
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.plot(t, np.asarray(tc["series"][f"{name} observed"], float), pen=pg.mkPen((150, 150, 150), width=1))
            plot.plot(t, np.asarray(tc["series"][f"{name} predicted"], float), pen=pg.mkPen((200, 40, 40), width=2))
            if first is None:
                first = plot
                plot.setTitle("BOLD % (grey), fit (red)", size="9pt")
            else:
                plot.setXLink(first)
            if r == len(regions) - 1:
                plot.setLabel("bottom", "time (s)")
