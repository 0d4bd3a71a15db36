"""Pieces of the trace view's plot: the channel-name axis and the scrolling view box."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, Qt, pyqtSignal


class ChannelAxis(pg.AxisItem):
    """Left axis whose tick labels are channel names; a click on a name emits its row."""

    row_clicked = pyqtSignal(int)

    def __init__(self) -> None:
        super().__init__("left")
        self.names: list[str] = []
        self.setWidth(90)

    def set_names(self, names: list[str]) -> None:
        self.names = list(names)
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802
        return [(1.0, [float(i) for i in range(len(self.names))])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        out = []
        for v in values:
            i = int(round(v))
            out.append(self.names[i] if 0 <= i < len(self.names) else "")
        return out

    def row_at(self, scene_pos: QPointF) -> int | None:
        view = self.linkedView()
        if view is None:
            return None
        y = view.mapSceneToView(scene_pos).y()
        i = int(round(y))
        return i if 0 <= i < len(self.names) else None

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            row = self.row_at(ev.scenePos())
            if row is not None:
                ev.accept()
                self.row_clicked.emit(row)
                return
        ev.ignore()

    def mouseDragEvent(self, ev: Any) -> None:  # noqa: N802
        ev.ignore()


class TraceViewBox(pg.ViewBox):
    """View box whose wheel/drag scroll the recording instead of zooming the plot."""

    def __init__(self, owner: Any) -> None:
        super().__init__(enableMenu=False)
        self.owner = owner
        self.setMouseEnabled(False, False)
        self.invertY(True)

    def wheelEvent(self, ev: Any, axis: Any = None) -> None:  # noqa: N802
        steps = ev.delta() / 120.0
        mods = ev.modifiers()
        if mods & Qt.KeyboardModifier.ControlModifier:
            self.owner.zoom_time(0.8 if steps > 0 else 1.25)
        elif mods & Qt.KeyboardModifier.ShiftModifier:
            self.owner.scroll_channels(-int(np.sign(steps)) * 3)
        else:
            self.owner.scroll_time(-steps * 0.1)
        ev.accept()

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p0 = self.mapSceneToView(ev.lastScenePos())
        p1 = self.mapSceneToView(ev.scenePos())
        dx = p0.x() - p1.x()
        if dx:
            self.owner.set_time(self.owner.t0 + dx)
