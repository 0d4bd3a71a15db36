"""Parameter/QC panel: the selected step's explanation, parameters and last QC metrics.

Parameter edits are undoable commands stored in ``project.settings["params"][step]``
(the values a run from the GUI would use).
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.commands import SetValue

from .signals import connect


def format_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)) and len(v) > 6:
        return f"[{len(v)} values]"
    return str(v)


class StepPanel(QWidget):
    """Shows one step (chosen in the pipeline bar)."""

    def __init__(self, session: Any, steps: list[Any], parent: QWidget | None = None,
                 run_step: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        self.run_step = run_step
        self.steps = {s.name: s for s in steps}
        self.current: str | None = None
        self.editors: dict[str, QWidget] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.title = QLabel("<b>No step selected</b>")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.help = QLabel("Click a step in the pipeline bar to see what it does, its "
                           "parameters and the QC of its last run.")
        self.help.setWordWrap(True)
        self.help.setTextFormat(Qt.TextFormat.RichText)
        self.help.setMinimumWidth(120)
        lay.addWidget(self.help)
        self.params_box = QGroupBox("Parameters")
        self.form = QFormLayout(self.params_box)
        lay.addWidget(self.params_box)
        self.run_button = QPushButton("Run this step")
        self.run_button.setToolTip(
            "Run the step on what is open, in the background, with these parameters; it is "
            "recorded in the project's provenance (as `workbench run` would replay it)."
        )
        self.run_button.clicked.connect(self._run_clicked)
        self.run_button.setVisible(run_step is not None)
        lay.addWidget(self.run_button)
        self.qc_box = QGroupBox("QC of the last run")
        qlay = QVBoxLayout(self.qc_box)
        self.qc_status = QLabel("")
        self.qc_status.setWordWrap(True)
        self.qc_status.setMinimumWidth(60)
        qlay.addWidget(self.qc_status)
        self.qc_table = QTableWidget(0, 2)
        self.qc_table.setHorizontalHeaderLabels(["metric", "value"])
        self.qc_table.horizontalHeader().setStretchLastSection(True)
        self.qc_table.setWordWrap(False)
        self.qc_table.verticalHeader().setVisible(False)
        self.qc_table.setToolTip("Quality-control metrics recorded by the step's last run.")
        self.qc_table.setMinimumWidth(120)
        self.qc_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        qlay.addWidget(self.qc_table)
        lay.addWidget(self.qc_box, 1)
        self._drop_project: Any = None
        connect(self, session.project_changed, self._project_changed)
        connect(self, session.undo.changed, lambda *_: self._refresh_params())
        self._project_changed(session.project)

    def _project_changed(self, project: Any) -> None:
        if self._drop_project is not None:
            self._drop_project()
            self._drop_project = None
        if project is not None:
            self._drop_project = connect(self, project.step_added, lambda *_: self.show_step(self.current))
        self.show_step(self.current)

    # ------------------------------------------------------------------ parameters
    def params(self, name: str) -> dict[str, Any]:
        """The step's parameters: defaults overridden by the project's settings."""
        spec = self.steps.get(name)
        out = dict(spec.defaults) if spec is not None else {}
        proj = self.session.project
        if proj is not None:
            out.update(proj.settings.get("params", {}).get(name, {}))
        return out

    def _store_params(self, name: str, values: dict[str, Any]) -> None:
        proj = self.session.project
        if proj is None:
            return
        allp = dict(proj.settings.get("params", {}))
        allp[name] = dict(values)
        proj.settings["params"] = allp
        proj.dirty = True
        proj.changed.emit(f"parameters of {name}")

    def set_param(self, name: str, key: str, value: Any) -> None:
        """Change one parameter of step ``name`` (undoable)."""
        old = self.params(name)
        if old.get(key) == value:
            return
        new = dict(old)
        new[key] = value
        self.session.undo.push(
            SetValue(f"set {name} {key} = {value}", lambda v, n=name: self._store_params(n, v), old, new)
        )

    def _editor(self, step: str, key: str, value: Any, tip: str) -> QWidget:
        if isinstance(value, bool):
            w: QWidget = QCheckBox()
            w.setChecked(value)
            w.toggled.connect(lambda v, k=key: self.set_param(step, k, bool(v)))
        elif isinstance(value, int):
            w = QSpinBox()
            w.setRange(-1_000_000, 1_000_000)
            w.setValue(value)
            w.editingFinished.connect(lambda k=key, e=w: self.set_param(step, k, int(e.value())))
        elif isinstance(value, float):
            w = QDoubleSpinBox()
            w.setDecimals(4)
            w.setRange(-1e9, 1e9)
            w.setValue(value)
            w.editingFinished.connect(lambda k=key, e=w: self.set_param(step, k, float(e.value())))
        else:
            w = QLineEdit(str(value))
            w.editingFinished.connect(lambda k=key, e=w: self.set_param(step, k, e.text()))
        w.setToolTip(tip)
        w.setEnabled(self.session.project is not None)
        w.setMinimumWidth(60)  # a narrow dock must not clip the explanation text
        return w

    def _refresh_params(self) -> None:
        if self.current is None:
            return
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        spec = self.steps.get(self.current)
        helps = getattr(spec, "param_help", {}) or {}
        defaults = dict(spec.defaults) if spec is not None else {}
        values = self.params(self.current)
        for key, value in values.items():
            tip = helps.get(key, "")
            tip = (tip + " " if tip else "") + f"(default: {format_value(defaults.get(key, value))})"
            ed = self._editor(self.current, key, value, tip)
            self.editors[key] = ed
            self.form.addRow(key, ed)
        if not values:
            self.form.addRow(QLabel("this step has no parameters"))

    def _run_clicked(self) -> None:
        if self.current is not None and self.run_step is not None:
            self.run_step(self.current, self.params(self.current))

    # ------------------------------------------------------------------ display
    def show_step(self, name: str | None) -> None:
        """Show step ``name`` (None: nothing selected)."""
        self.current = name
        spec = self.steps.get(name) if name else None
        if name is None:
            self.params_box.setVisible(False)
            self.qc_box.setVisible(False)
            self.run_button.setEnabled(False)
            return
        self.run_button.setEnabled(self.session.project is not None)
        self.params_box.setVisible(True)
        self.qc_box.setVisible(True)
        self.title.setText(f"<b>{(spec.title if spec else '') or name}</b>"
                           f" <span style='color:#777'>({spec.stage if spec else '?'})</span>")
        self.help.setText(spec.help if spec and spec.help else "No description.")
        self._refresh_params()
        proj = self.session.project
        last = None
        if proj is not None:
            for rec in reversed(proj.steps):
                if rec.name == name:
                    last = rec
                    break
        self.qc_table.setRowCount(0)
        if last is None:
            self.qc_status.setText("not run yet in this project")
            return
        self.qc_status.setText(f"{last.status} · {last.finished or last.started}"
                               + (f" · {last.message}" if last.message else ""))
        items = list(last.qc.items())
        self.qc_table.setRowCount(len(items))
        for r, (k, v) in enumerate(items):
            self.qc_table.setItem(r, 0, QTableWidgetItem(str(k)))
            self.qc_table.setItem(r, 1, QTableWidgetItem(format_value(v)))
        self.qc_table.resizeColumnToContents(0)
        # keep room for the values in a narrow dock
        avail = self.qc_table.viewport().width()
        if self.qc_table.columnWidth(0) > 0.65 * avail > 0:
            self.qc_table.setColumnWidth(0, int(0.65 * avail))


class StepDock(QScrollArea):
    """The panel inside a scroll area (for the dock)."""

    def __init__(self, panel: StepPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(240)
