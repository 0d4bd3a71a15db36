"""DCM views: the fitted network with model comparison and BOLD fit, the three layers, a network editor."""

from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import QTabWidget, QWidget

from .editor import DcmEditor
from .layers import LayersView
from .view import DcmView, NetworkCanvas, has_dcm, network_from_rows

__all__ = ["DcmPanel", "DcmView", "DcmEditor", "LayersView", "NetworkCanvas", "has_dcm", "network_from_rows"]


class DcmPanel(QTabWidget):
    """The "Network" page of the fusion views: the fit and an editor starting from it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = DcmView()
        self.editor = DcmEditor()
        self.layers = LayersView()
        self.addTab(self.view, "Fitted network")
        self.addTab(self.layers, "Three layers")
        self.addTab(self.editor, "Network editor")

    def set_result(self, result: Any) -> None:
        self.view.set_result(result)
        self.layers.set_timecourse(result.timecourses.get("layers"))
        name = self.view.model_box.currentText()
        if not name:
            return
        net = network_from_rows(result.tables.get("parameters", []), name, result.tables.get("models", []))
        R, U = net["regions"], net["inputs"]
        a = [[0] * len(R) for _ in R]
        c = [[0] * len(U) for _ in R]
        b = {u: [[0] * len(R) for _ in R] for u in U}
        for x in net["connections"]:
            i = R.index(x["to"])
            if x["kind"] == "A":
                a[i][R.index(x["from"])] = 1
            elif x["kind"] == "B":
                b[x["input"]][i][R.index(x["from"])] = 1
            elif x["kind"] == "C":
                c[i][U.index(x["input"])] = 1
        self.editor.load_dict({"name": f"{name}-variant", "regions": R, "inputs": U, "a": a, "b": b, "c": c})
