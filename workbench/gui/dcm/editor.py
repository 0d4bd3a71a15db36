"""A simple DCM network editor: regions, inputs, click connections, save ``MODEL.json``.

Regions and inputs are typed as comma-separated names; the canvas draws every possible
connection faintly and a click on one toggles it in the mask being edited: ``A`` (the
endogenous connection), ``B`` (modulated by the chosen input; the A connection is added
too) or, in ``C`` mode, a click on a region toggles whether the chosen input drives it.
The file is the one ``workbench fuse dcm --model`` reads (``a[i][j]``: from j to i).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .view import NODE, NetworkCanvas

__all__ = ["DcmEditor"]


class DcmEditor(QWidget):
    """Edit a model's masks by clicking; :meth:`model_dict` is the ``MODEL.json`` document."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit("model")
        self.regions_edit = QLineEdit("V1, V5, SPC")
        self.inputs_edit = QLineEdit("photic, attention")
        self.mode = QComboBox()
        self.mode.setToolTip("What a click toggles: A = connection, B = its modulation by the input, "
                             "C = the input driving the clicked region")
        self.canvas = NetworkCanvas()
        self.canvas.editable = True
        self.canvas.toggled.connect(self.toggle)
        self.canvas.mousePressEvent = self._canvas_pressed  # C mode needs node clicks too
        self.save_button = QPushButton("Save MODEL.json…")
        self.save_button.clicked.connect(self.save_dialog)
        self.status = QLabel("")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Regions", self.regions_edit)
        form.addRow("Inputs", self.inputs_edit)
        form.addRow("Click toggles", self.mode)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.status, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.canvas, 1)
        lay.addLayout(row)
        self.regions: list[str] = []
        self.inputs: list[str] = []
        self.a = np.zeros((0, 0), bool)
        self.b = np.zeros((0, 0, 0), bool)
        self.c = np.zeros((0, 0), bool)
        self.regions_edit.editingFinished.connect(self._names_changed)
        self.inputs_edit.editingFinished.connect(self._names_changed)
        self._names_changed()

    # ---------------------------------------------------------------- state
    def _names_changed(self) -> None:
        regions = [s.strip() for s in self.regions_edit.text().split(",") if s.strip()]
        inputs = [s.strip() for s in self.inputs_edit.text().split(",") if s.strip()]
        n, m = len(regions), len(inputs)
        a = np.eye(n, dtype=bool)
        b = np.zeros((m, n, n), bool)
        c = np.zeros((n, m), bool)
        for i, ri in enumerate(regions):  # keep what was drawn for names that stay
            for j, rj in enumerate(regions):
                if ri in self.regions and rj in self.regions:
                    a[i, j] |= self.a[self.regions.index(ri), self.regions.index(rj)]
                    for k, u in enumerate(inputs):
                        if u in self.inputs:
                            b[k, i, j] = self.b[self.inputs.index(u), self.regions.index(ri), self.regions.index(rj)]
            for k, u in enumerate(inputs):
                if ri in self.regions and u in self.inputs:
                    c[i, k] = self.c[self.regions.index(ri), self.inputs.index(u)]
        self.regions, self.inputs, self.a, self.b, self.c = regions, inputs, a, b, c
        current = self.mode.currentText()
        self.mode.blockSignals(True)
        self.mode.clear()
        self.mode.addItems(["A: connection"] + [f"B: modulated by {u}" for u in inputs]
                           + [f"C: driven by {u}" for u in inputs])
        if current and self.mode.findText(current) >= 0:
            self.mode.setCurrentText(current)
        self.mode.blockSignals(False)
        self._redraw()

    def toggle(self, i: int, j: int) -> None:
        """Toggle the (to ``i``, from ``j``) entry of the mask chosen in the mode box."""
        mode = self.mode.currentText()
        if mode.startswith("B:"):
            k = self.inputs.index(mode.split("modulated by ", 1)[1])
            self.b[k, i, j] = not self.b[k, i, j]
            if self.b[k, i, j]:
                self.a[i, j] = True
        elif mode.startswith("A:"):
            self.a[i, j] = not self.a[i, j]
            if not self.a[i, j]:
                self.b[:, i, j] = False
        self._redraw()

    def toggle_input(self, i: int) -> None:
        mode = self.mode.currentText()
        if mode.startswith("C:"):
            k = self.inputs.index(mode.split("driven by ", 1)[1])
            self.c[i, k] = not self.c[i, k]
            self._redraw()

    def _canvas_pressed(self, event: Any) -> None:
        x, y = event.position().x(), event.position().y()
        if self.mode.currentText().startswith("C:"):
            for i, p in enumerate(self.canvas.positions()):
                if math.hypot(p.x() - x, p.y() - y) <= NODE:
                    self.toggle_input(i)
                    return
            return
        hit = self.canvas.connection_at(x, y)
        if hit is not None:
            self.toggle(*hit)

    def _redraw(self) -> None:
        conns = []
        n = len(self.regions)
        for i in range(n):
            for j in range(n):
                if self.a[i, j]:
                    conns.append({"kind": "A", "to": self.regions[i], "from": self.regions[j], "input": "",
                                  "mean": 0.0, "var": 1.0, "probability": 0.0})
                for k, u in enumerate(self.inputs):
                    if self.b[k, i, j]:
                        conns.append({"kind": "B", "to": self.regions[i], "from": self.regions[j], "input": u,
                                      "mean": 0.0, "var": 1.0, "probability": 0.0})
            for k, u in enumerate(self.inputs):
                if self.c[i, k]:
                    conns.append({"kind": "C", "to": self.regions[i], "from": "", "input": u,
                                  "mean": 0.0, "var": 1.0, "probability": 0.0})
        self.canvas.candidates = [(i, j) for i in range(n) for j in range(n) if i != j and not self.a[i, j]]
        self.canvas.set_network({"regions": self.regions, "inputs": self.inputs, "connections": conns})

    # ----------------------------------------------------------------- file
    def model_dict(self) -> dict[str, Any]:
        """The ``MODEL.json`` document of what is drawn."""
        return {
            "name": self.name.text().strip() or "model",
            "regions": list(self.regions),
            "inputs": list(self.inputs),
            "a": self.a.astype(int).tolist(),
            "b": {u: self.b[k].astype(int).tolist() for k, u in enumerate(self.inputs) if self.b[k].any()},
            "c": self.c.astype(int).tolist(),
        }

    def save(self, path: str | Path) -> Path:
        from workbench.engine.atomic import atomic_write_json

        doc = self.model_dict()
        if self.inputs and not self.c.any():
            self.status.setText("no input drives any region yet (C mode: click a region)")
        atomic_write_json(Path(path), doc)
        self.status.setText(f"saved {Path(path).name}")
        return Path(path)

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save DCM model", f"{self.name.text() or 'model'}.json",
                                              "DCM model (*.json)")
        if path:
            self.save(path)

    def load_dict(self, doc: dict[str, Any]) -> None:
        """Show a ``MODEL.json`` document (e.g. to edit a variant)."""
        self.name.setText(str(doc.get("name", "model")))
        self.regions, self.inputs = [], []
        self.regions_edit.setText(", ".join(doc["regions"]))
        self.inputs_edit.setText(", ".join(doc.get("inputs", [])))
        self._names_changed()
        self.a = np.asarray(doc["a"], bool) | np.eye(len(self.regions), dtype=bool)
        self.c = np.asarray(doc["c"], bool).reshape(len(self.regions), len(self.inputs))
        for u, mask in (doc.get("b") or {}).items():
            self.b[self.inputs.index(u)] = np.asarray(mask, bool)
        self._redraw()

    def dumps(self) -> str:
        return json.dumps(self.model_dict(), indent=1)
