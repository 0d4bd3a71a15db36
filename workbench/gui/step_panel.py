"""Parameter/QC panel: the selected step's explanation, parameters and last QC metrics.

The form is generated from the step's declaration (:class:`~workbench.gui.param_form.ParamForm`);
the QC table names each value, gives its unit and flags it against the step's declared
limits. Parameter edits are undoable commands stored in
``project.settings["params"][step]`` (the values a run from the GUI uses).
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QBrush, QColor
from PyQt6.QtWidgets import (
    QGroupBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.steps import format_value

from .param_form import ParamForm
from .signals import connect
from .step_params import set_value, step_values, store_values


def qc_rows(spec: Any, qc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(label, value with unit, flag, tooltip) per QC value; declared ones first, in order."""
    rows = []
    seen = set()
    for q in getattr(spec, "qc", ()):
        if q.key in qc and not isinstance(qc[q.key], dict):
            rows.append((q.label, q.format(qc[q.key]), q.flag(qc[q.key]), q.help or q.key))
            seen.add(q.key)
    for key, value in qc.items():
        if key in seen or isinstance(value, dict):
            continue
        rows.append((key.replace("_", " "), format_value(value), "", key))
    return rows


class StepPanel(QWidget):
    """Shows one step (chosen in the pipeline bar)."""

    def __init__(self, session: Any, steps: list[Any], parent: QWidget | None = None,
                 run_step: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        self.run_step = run_step
        self.steps = {s.id: s for s in steps}
        self.current: str | None = None
        self.param_form: ParamForm | None = None
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
        self.params_lay = QVBoxLayout(self.params_box)
        self.params_lay.setContentsMargins(4, 4, 4, 4)
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
        self.qc_table.setHorizontalHeaderLabels(["measure", "value"])
        # labels wrap onto two lines in a narrow dock: readable without scrolling sideways
        head = self.qc_table.horizontalHeader()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.qc_table.setWordWrap(True)
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
        """The step's parameters: declared defaults overridden by the project's stored values."""
        return step_values(self.session, self.steps.get(name), name)

    def _store_params(self, name: str, values: dict[str, Any]) -> None:
        store_values(self.session, name, values)

    def set_param(self, name: str, key: str, value: Any) -> None:
        """Change one parameter of step ``name`` (validated by its declaration; undoable)."""
        set_value(self.session, self.steps.get(name), name, key, value)

    def _refresh_params(self) -> None:
        if self.current is None:
            return
        spec = self.steps.get(self.current)
        values = self.params(self.current)
        if self.param_form is not None and self.param_form.property("step") == self.current:
            self.param_form.set_values(values)
            self.param_form.set_enabled(self.session.project is not None)
            return
        if self.param_form is not None:
            self.param_form.setParent(None)
            self.param_form.deleteLater()
        self.param_form = ParamForm(spec.params if spec is not None else (), values)
        self.param_form.setProperty("step", self.current)
        self.param_form.value_edited.connect(lambda k, v, n=self.current: self.set_param(n, k, v))
        self.param_form.set_enabled(self.session.project is not None)
        self.params_lay.addWidget(self.param_form)

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
        self.help.setText(spec.teaching if spec and spec.teaching else "No description.")
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
        rows = qc_rows(spec, last.qc)
        self.qc_table.setRowCount(len(rows))
        for r, (label, value, flag, tip) in enumerate(rows):
            a, b = QTableWidgetItem(label), QTableWidgetItem(value + ("  ⚠" if flag == "warn" else ""))
            a.setToolTip(tip)
            b.setToolTip(f"{tip}: outside the expected range, check it" if flag == "warn" else tip)
            if flag == "warn":
                b.setForeground(QBrush(QColor("#b26a00")))
            elif flag == "ok":
                b.setForeground(QBrush(QColor("#2e7d32")))
            self.qc_table.setItem(r, 0, a)
            self.qc_table.setItem(r, 1, b)
        self.qc_table.resizeRowsToContents()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.qc_table.resizeRowsToContents()  # wrapped labels follow the dock's width


class StepDock(QScrollArea):
    """The panel inside a scroll area (for the dock)."""

    def __init__(self, panel: StepPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(200)
