"""A parameter form built from a fusion method's declared parameters (no plugin-specific code)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from workbench.plugin_api import FusionMethod, Param

_BIG = 1e9


def _tooltip(p: Param) -> str:
    bits = [p.help]
    if p.minimum is not None or p.maximum is not None:
        lo = "-inf" if p.minimum is None else f"{p.minimum:g}"
        hi = "inf" if p.maximum is None else f"{p.maximum:g}"
        bits.append(f"Range {lo} to {hi}{' ' + p.unit if p.unit else ''}.")
    bits.append(f"Default: {p.default}.")
    return " ".join(bits)


class ParamForm(QWidget):
    """One editor per declared parameter; tooltips are the declared help texts.

    Numbers get spin boxes limited to the declared bounds, choices a combo box, booleans a
    check box, strings a line edit. :meth:`values` returns a dict the declaration validates.
    """

    def __init__(self, method: FusionMethod, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = method
        self.editors: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for p in method.params:
            editor = self._editor(p)
            editor.setToolTip(_tooltip(p))
            editor.setObjectName(f"param_{p.name}")
            label = QLabel(p.display.capitalize() + (f" ({p.unit})" if p.unit else ""))
            label.setToolTip(_tooltip(p))
            layout.addRow(label, editor)
            self.editors[p.name] = editor
        self.set_values(method.defaults())

    def _editor(self, p: Param) -> QWidget:
        if p.type == "float":
            w = QDoubleSpinBox()
            text = repr(float(p.default or 0.0))  # enough decimals to show the default exactly
            needed = len(text.split(".")[1]) if "." in text and "e" not in text else 8
            w.setDecimals(min(10, max(3, needed)))
            w.setRange(
                -_BIG if p.minimum is None else p.minimum, _BIG if p.maximum is None else p.maximum
            )
            step = abs(float(p.default)) / 10 if p.default else 0.1
            w.setSingleStep(step or 0.1)
            return w
        if p.type == "int":
            w = QSpinBox()
            w.setRange(
                int(-(2**31) + 1 if p.minimum is None else p.minimum),
                int(2**31 - 1 if p.maximum is None else p.maximum),
            )
            return w
        if p.type == "bool":
            return QCheckBox()
        if p.type == "choice":
            w = QComboBox()
            for c in p.choices:
                w.addItem(str(c), c)
            return w
        return QLineEdit()

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            w = self.editors.get(name)
            if isinstance(w, QDoubleSpinBox):
                w.setValue(float(value))
            elif isinstance(w, QSpinBox):
                w.setValue(int(value))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                idx = w.findData(value)
                w.setCurrentIndex(max(idx, 0))
            elif isinstance(w, QLineEdit):
                w.setText("" if value is None else str(value))

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, w in self.editors.items():
            if isinstance(w, QDoubleSpinBox | QSpinBox):
                out[name] = w.value()
            elif isinstance(w, QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, QComboBox):
                out[name] = w.currentData()
            elif isinstance(w, QLineEdit):
                out[name] = w.text()
        return out
