"""A layout that wraps its widgets onto more rows when the width runs out (Qt's flow layout).

Tool rows above the plots use it, so a narrow screen (a 1366×768 laptop with the docks
open) gets two rows of controls instead of a window wider than the screen.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QPoint, QRect, QSize, Qt
from PyQt6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QWidget, QWidgetItem


class FlowLayout(QLayout):
    """Widgets left to right, wrapping to a new row; its minimum width is its widest item."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    # QLayout interface
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802
        self._items.append(item)

    def addWidget(self, widget: QWidget, stretch: int = 0, alignment: Any = None) -> None:  # noqa: N802
        """Add a widget (``stretch`` and ``alignment`` accepted for QHBoxLayout compatibility)."""
        self.addChildWidget(widget)
        self.addItem(QWidgetItem(widget))
        self.invalidate()

    def insertWidget(self, index: int, widget: QWidget, stretch: int = 0, alignment: Any = None) -> None:  # noqa: N802
        """Insert a widget at ``index`` (clamped to the items there are)."""
        self.addChildWidget(widget)
        self._items.insert(max(0, min(index, len(self._items))), QWidgetItem(widget))
        self.invalidate()

    def addStretch(self, stretch: int = 0) -> None:  # noqa: N802
        """Nothing to stretch in a flow (kept so code written for a QHBoxLayout works)."""

    def addSpacing(self, size: int) -> None:  # noqa: N802
        """Ignored (see :meth:`addStretch`)."""

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._do_layout(QRect(0, 0, width, 0), test_only=True)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._do_layout(rect, test_only=False)

    def sizeHint(self) -> QSize:  # noqa: N802
        """One row of everything (what it needs with room to spare)."""
        w = h = 0
        for item in self._visible():
            s = item.sizeHint()
            w += s.width() + self.spacing()
            h = max(h, s.height())
        m = self.contentsMargins()
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    # ------------------------------------------------------------------ layout
    def _visible(self) -> list[QLayoutItem]:
        out = []
        for item in self._items:
            w = item.widget()
            if w is None or not w.isHidden():
                out.append(item)
        return out

    def _do_layout(self, rect: QRect, test_only: bool) -> int:
        m = self.contentsMargins()
        eff = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line_h = eff.x(), eff.y(), 0
        space = self.spacing()
        for item in self._visible():
            hint = item.sizeHint()
            w = item.widget()
            if w is not None and w.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Fixed:
                hint = hint.expandedTo(w.minimumSize())
            next_x = x + hint.width() + space
            if next_x - space > eff.right() + 1 and line_h > 0:
                x = eff.x()
                y += line_h + space
                next_x = x + hint.width() + space
                line_h = 0
            if not test_only:
                item.setGeometry(QRect(QPoint(x, y), hint.boundedTo(QSize(eff.width(), hint.height()))))
            x = next_x
            line_h = max(line_h, hint.height())
        return y + line_h - rect.y() + m.bottom()
