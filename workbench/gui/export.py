"""Export any widget (a view) as PNG or SVG."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QRect, QSize
from PyQt6.QtGui import QPainter
from PyQt6.QtWidgets import QWidget

from workbench.engine.atomic import atomic_path
from workbench.engine.errors import InputError


def export_widget(widget: QWidget, path: str | Path) -> Path:
    """Save what ``widget`` shows to ``path`` (``.png`` or ``.svg``), atomically.

    PNG grabs the pixels (OpenGL/3D views included under a real display); SVG records
    the widget's painting as vectors (OpenGL content becomes an embedded image).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise InputError(path, "export as .png or .svg")
    with atomic_path(path) as tmp:
        if suffix == ".png":
            if not widget.grab().save(str(tmp), "PNG"):
                raise InputError(path, "could not write the image")
        else:
            from PyQt6.QtSvg import QSvgGenerator

            gen = QSvgGenerator()
            gen.setFileName(str(tmp))
            size = widget.size()
            gen.setSize(QSize(size.width(), size.height()))
            gen.setViewBox(QRect(0, 0, size.width(), size.height()))
            gen.setTitle(widget.windowTitle() or "EEG-fMRI Workbench view")
            painter = QPainter()
            if not painter.begin(gen):
                raise InputError(path, "could not write the SVG")
            try:
                widget.render(painter)
            finally:
                painter.end()
    return path
