"""A parameter form generated from step declarations (:class:`~workbench.engine.steps.Param`).

Every step's form in the GUI (step panel, Gradient and Fusion tabs) is this widget: a
check box for ``bool``, a combo box for ``choice``, spin boxes with the declared bounds
and unit for numbers, a line edit for text, and an "auto"/"off" check box beside any
parameter that may be ``None``. Values are validated by the declaration (the same
``Param.coerce`` the CLI and pipeline files use) before they are emitted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from workbench.engine.errors import InputError
from workbench.engine.steps import Param, format_value

__all__ = ["ParamForm", "param_tooltip"]


def param_tooltip(p: Param) -> str:
    """What the parameter does, its default (with unit) and what None means."""
    default = p.none_label if p.default is None else format_value(p.default, unit=p.unit)
    tip = f"{p.help}\n\nDefault: {default}."
    if p.minimum is not None or p.maximum is not None:
        tip += f" Range: {format_value(p.minimum)} – {format_value(p.maximum)} {p.unit}".rstrip() + "."
    if p.optional:
        tip += f" '{p.none_label}' is allowed."
    return tip


def _decimals(p: Param) -> int:
    ref = [abs(v) for v in (p.default, p.minimum, p.maximum) if isinstance(v, int | float) and v]
    smallest = min(ref) if ref else 1.0
    n = int(min(6, max(2, 2 - math.floor(math.log10(smallest))))) if smallest < 1 else 2
    if isinstance(p.default, float) and math.isfinite(p.default):
        # enough decimals to show (and keep) the declared default exactly, e.g. 1/128 Hz
        text = repr(p.default)
        if "e" not in text and "." in text:
            n = max(n, min(10, len(text.split(".")[1])))
    return n


class ParamForm(QWidget):
    """Editors for a list of declared parameters.

    Signals
    -------
    value_edited(str, object)
        A parameter's new, validated value (``None`` for auto/off).
    """

    value_edited = pyqtSignal(str, object)

    def __init__(self, params: Sequence[Param], values: Mapping[str, Any] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.params = {p.name: p for p in params}
        self.editors: dict[str, QWidget] = {}
        self.none_boxes: dict[str, QCheckBox] = {}
        self.browse_buttons: dict[str, QPushButton] = {}
        self._kept: dict[str, float] = {}  # the number shown before auto/off was ticked
        self._updating = False
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for p in params:
            self._add_row(p)
        if not params:
            self.form.addRow(QLabel("this step has no parameters"))
        self.set_values(values or {})

    # ------------------------------------------------------------------ building
    def _add_row(self, p: Param) -> None:
        tip = param_tooltip(p)
        if p.type == "bool":
            ed: QWidget = QCheckBox()
            ed.toggled.connect(lambda v, n=p.name: self._edited(n, bool(v)))
        elif p.type == "choice":
            ed = QComboBox()
            for c in p.choices:
                ed.addItem(str(c), c)
            ed.currentIndexChanged.connect(lambda _i, n=p.name, e=ed: self._edited(n, e.currentData()))
        elif p.type == "int":
            ed = QSpinBox()
            ed.setRange(int(p.minimum) if p.minimum is not None else -1_000_000,
                        int(p.maximum) if p.maximum is not None else 1_000_000)
            if p.unit:
                ed.setSuffix(f" {p.unit}")
            ed.editingFinished.connect(lambda n=p.name, e=ed: self._edited(n, int(e.value())))
        elif p.type == "float":
            ed = QDoubleSpinBox()
            ed.setDecimals(_decimals(p))
            ed.setRange(float(p.minimum) if p.minimum is not None else -1e9,
                        float(p.maximum) if p.maximum is not None else 1e9)
            if p.unit:
                ed.setSuffix(f" {p.unit}")
            ed.editingFinished.connect(lambda n=p.name, e=ed: self._edited(n, float(e.value())))
        else:
            ed = QLineEdit()
            if p.optional:
                ed.setPlaceholderText(p.none_label)
            ed.editingFinished.connect(lambda n=p.name, e=ed: self._edited(n, e.text().strip() or None))
        ed.setToolTip(tip)
        ed.setMinimumWidth(60)
        self.editors[p.name] = ed
        label = QLabel(p.display)
        label.setToolTip(tip)
        if p.browse and isinstance(ed, QLineEdit):  # a file or folder: typed, or chosen
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(ed, 1)
            button = QPushButton("Browse…")
            button.setToolTip(f"Choose the {'folder' if p.browse == 'folder' else 'file'}: {tip}")
            button.clicked.connect(lambda _c=False, n=p.name: self.browse(n))
            lay.addWidget(button)
            self.browse_buttons[p.name] = button
            self.form.addRow(label, row)
        elif p.optional and p.type in ("int", "float", "choice"):
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(ed, 1)
            box = QCheckBox(p.none_label)
            box.setToolTip(f"{p.none_label}: {tip}")
            box.toggled.connect(lambda on, n=p.name: self._none_toggled(n, on))
            lay.addWidget(box)
            self.none_boxes[p.name] = box
            self.form.addRow(label, row)
        else:
            self.form.addRow(label, ed)

    def browse(self, name: str) -> None:
        """Choose the file (or folder) of parameter ``name`` in a dialog; the choice is
        edited as if typed (validated, undoable)."""
        from PyQt6.QtWidgets import QFileDialog

        p = self.params[name]
        ed = self.editors[name]
        start = ed.text().strip()
        if p.browse == "folder":
            path = QFileDialog.getExistingDirectory(self, p.display, start)
        else:
            path = QFileDialog.getOpenFileName(self, p.display, start, f"{p.browse};;All files (*)")[0]
        if path:
            ed.setText(path)
            self._edited(name, path)

    # ------------------------------------------------------------------ values
    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` (missing names show their declared default); emits nothing."""
        self._updating = True
        try:
            for name, p in self.params.items():
                v = values.get(name, p.default)
                ed = self.editors[name]
                box = self.none_boxes.get(name)
                if box is not None:
                    box.setChecked(v is None)
                    ed.setEnabled(v is not None)
                    self._show_none(name, v is None)
                    if v is None:
                        if isinstance(ed, QSpinBox | QDoubleSpinBox):
                            continue  # shows "auto"/"off", not a number nobody chose
                        v = p.default if p.default is not None else (p.minimum or 0)
                if isinstance(ed, QCheckBox):
                    ed.setChecked(bool(v))
                elif isinstance(ed, QComboBox):
                    idx = ed.findData(v)
                    ed.setCurrentIndex(max(idx, 0))
                elif isinstance(ed, QSpinBox):
                    ed.setValue(int(v) if v is not None else ed.minimum())
                elif isinstance(ed, QDoubleSpinBox):
                    ed.setValue(float(v) if v is not None else ed.minimum())
                elif isinstance(ed, QLineEdit):
                    ed.setText("" if v is None else str(v))
        finally:
            self._updating = False

    def values(self) -> dict[str, Any]:
        """The values shown (validated by each declaration)."""
        out: dict[str, Any] = {}
        for name, p in self.params.items():
            box = self.none_boxes.get(name)
            if box is not None and box.isChecked():
                out[name] = None
                continue
            ed = self.editors[name]
            if isinstance(ed, QCheckBox):
                out[name] = ed.isChecked()
            elif isinstance(ed, QComboBox):
                out[name] = ed.currentData()
            elif isinstance(ed, QSpinBox):
                out[name] = int(ed.value())
            elif isinstance(ed, QDoubleSpinBox):
                out[name] = float(ed.value())
            else:
                text = ed.text().strip()
                out[name] = p.coerce(text if text or not p.optional else None)
        return out

    def set_enabled(self, on: bool) -> None:
        for name, ed in self.editors.items():
            box = self.none_boxes.get(name)
            ed.setEnabled(on and not (box is not None and box.isChecked()))
            if box is not None:
                box.setEnabled(on)
        for button in self.browse_buttons.values():
            button.setEnabled(on)

    # ------------------------------------------------------------------ edits
    def _show_none(self, name: str, on: bool) -> None:
        """A number box under a ticked auto/off shows that word instead of a number."""
        ed = self.editors[name]
        if not isinstance(ed, QSpinBox | QDoubleSpinBox):
            return
        if on:
            if ed.specialValueText():
                return
            self._kept[name] = ed.value()
            ed.setSpecialValueText(self.params[name].none_label)
            ed.setValue(ed.minimum())
        elif ed.specialValueText():
            ed.setSpecialValueText("")
            p = self.params[name]
            kept = self._kept.get(name, p.default if p.default is not None else ed.minimum())
            ed.setValue(kept)

    def _none_toggled(self, name: str, on: bool) -> None:
        self.editors[name].setEnabled(not on)
        self._show_none(name, on)
        if not self._updating:
            self._edited(name, None if on else self.values()[name])

    def _edited(self, name: str, value: Any) -> None:
        if self._updating:
            return
        try:
            value = self.params[name].coerce(value)
        except InputError as exc:
            self.editors[name].setToolTip(f"{exc}\n\n{param_tooltip(self.params[name])}")
            return
        self.value_edited.emit(name, value)
