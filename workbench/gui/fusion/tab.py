"""The Fusion tab: pick a method, fill its declared parameters, run it in a worker, see outputs.

Nothing here is specific to a plugin: the method list comes from plugin discovery, the
form from the declared parameters, the result views from the declared output kinds.
Maps are also pushed to ``session.set_stat`` so the Slices & Maps view overlays them.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.plugin_api import (
    FusionMethod,
    FusionResult,
    discover,
    inputs_from_session,
    run_method,
)

from .form import ParamForm
from .hemo_view import HemodynamicsView
from .outputs import MapView, MatrixView, TableView, TimecourseView

log = logging.getLogger(__name__)

HELP_TEXT = (
    "<b>Fusion</b> combines EEG and fMRI. Pick a method on the left: its explanation and "
    "parameters (hover for help) appear below it. <b>Run</b> works in the background "
    "(Cancel stops it). Maps appear under <i>Maps</i> (click a voxel for its time course and "
    "model fit) and in the Slices &amp; Maps tab; the design matrix, time courses and tables "
    "in their own tabs. <i>Hemodynamics</i> shows how neural activity becomes BOLD."
)


def compute(
    method: FusionMethod, inputs: Any, params: dict[str, Any], progress: Any
) -> FusionResult:
    """Worker body: run the method, then prepare what the views need (off the GUI thread)."""
    result = run_method(method, inputs, params, progress.sub(0.0, 0.92))
    progress(0.94, "preparing the views")
    if inputs.bold is not None:
        bold = inputs.bold
        result.live["background"] = np.asarray(
            bold.dataobj[..., : min(5, bold.shape[3])], dtype=np.float32
        ).mean(axis=3)
    make_fitted = result.live.get("fitted_image")
    if callable(make_fitted):
        result.live["fitted"] = make_fitted()
    progress(1.0, "done")
    return result


class FusionTab(QWidget):
    """Method list, parameter form, Run/Cancel with progress, generic output views."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.records = []
        self.method: FusionMethod | None = None
        self.form: ParamForm | None = None
        self.result: FusionResult | None = None
        self.task: Any = None
        self._own_tasks: Any = None
        self.last_error = ""
        self._build()
        self.refresh_methods()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.method_list = QListWidget()
        self.method_list.setToolTip(
            "Fusion methods found (installed plugins and the user plugin folder)."
        )
        self.method_list.currentRowChanged.connect(self._method_changed)
        self.current_record: Any = None
        self.toggle_button = QPushButton("Disable")
        self.toggle_button.setToolTip(
            "Disable or enable the selected plugin (kept in the plugin settings)."
        )
        self.toggle_button.clicked.connect(self.toggle_enabled)
        self.refresh_button = QPushButton("Rescan")
        self.refresh_button.setToolTip("Look for plugins again (after installing one).")
        self.refresh_button.clicked.connect(
            lambda: self.refresh_methods(select=getattr(self.method, "id", None))
        )
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        self.explanation.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the method on the open study in the background.")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setToolTip("Reset every parameter to its declared default.")
        self.defaults_button.clicked.connect(
            lambda: self.form and self.form.set_values(self.method.defaults())
        )
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.defaults_button):
            buttons.addWidget(b)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Methods</b>"))
        left.addWidget(self.method_list, 1)
        plug_buttons = QHBoxLayout()
        plug_buttons.addWidget(self.refresh_button)
        plug_buttons.addWidget(self.toggle_button)
        left.addLayout(plug_buttons)
        left.addWidget(self.explanation, 2)
        left.addWidget(self.form_area, 4)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        lw = QWidget()
        lw.setLayout(left)
        self.views = QTabWidget()
        self.map_view = MapView()
        self.matrix_view = MatrixView()
        self.tc_view = TimecourseView()
        self.table_view = TableView()
        self.qc_view = TableView()
        self.hemo_view = HemodynamicsView()
        self.views.addTab(self.map_view, "Maps")
        self.views.addTab(self.matrix_view, "Design")
        self.views.addTab(self.tc_view, "Time courses")
        self.views.addTab(self.table_view, "Tables")
        self.views.addTab(self.qc_view, "QC")
        self.views.addTab(self.hemo_view, "Hemodynamics")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(lw)
        split.addWidget(self.views)
        split.setSizes([380, 900])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

    # ----------------------------------------------------------------- methods
    def refresh_methods(self, select: str | None = None) -> None:
        """(Re)discover plugins; broken and disabled ones are listed but cannot run."""
        self.records = discover()
        self.method_list.clear()
        first_ok = -1
        for i, rec in enumerate(self.records):
            title = rec.method.title if rec.method is not None else rec.id
            item = QListWidgetItem(f"{title}  [{rec.status}]" if not rec.ok else title)
            item.setData(Qt.ItemDataRole.UserRole, rec.id)
            if not rec.ok:  # listed and selectable (to read the error or enable it), not runnable
                item.setForeground(QColor(170, 40, 40) if rec.error else QColor(130, 130, 130))
                item.setToolTip(rec.error or "disabled in the plugin settings")
            else:
                item.setToolTip(f"{rec.id} {rec.method.version} from {rec.source}")
                if first_ok < 0:
                    first_ok = i
            self.method_list.addItem(item)
        wanted = [i for i, r in enumerate(self.records) if r.id == select]
        pm = [i for i, r in enumerate(self.records) if r.id == "parametric-modulation" and r.ok]
        if wanted:
            self.method_list.setCurrentRow(wanted[0])
        elif first_ok >= 0:
            self.method_list.setCurrentRow(pm[0] if pm else first_ok)
        else:
            self._show_method(None)

    def select_method(self, method_id: str) -> None:
        for i, rec in enumerate(self.records):
            if rec.id == method_id:
                self.method_list.setCurrentRow(i)
                return
        raise KeyError(method_id)

    def _method_changed(self, row: int) -> None:
        rec = self.records[row] if 0 <= row < len(self.records) else None
        self.current_record = rec
        self.toggle_button.setEnabled(rec is not None)
        self.toggle_button.setText("Enable" if rec is not None and not rec.enabled else "Disable")
        if rec is not None and not rec.ok:
            self._show_method(None)
            why = (
                f"<span style='color:#a02020'>{html.escape(rec.error)}</span>"
                if rec.error
                else "Disabled in the plugin settings."
            )
            self.explanation.setText(
                f"<b>{html.escape(rec.id)}</b> ({html.escape(rec.source)})<br>{why}"
            )
            return
        self._show_method(rec.method if rec is not None else None)

    def toggle_enabled(self) -> None:
        """Disable (or re-enable) the selected plugin in the plugin settings."""
        from workbench.plugin_api import set_plugin_enabled

        rec = self.current_record
        if rec is None:
            return
        set_plugin_enabled(rec.id, not rec.enabled)
        self.refresh_methods(select=rec.id)

    def _show_method(self, method: FusionMethod | None) -> None:
        self.method = method
        if method is None:
            self.explanation.setText(
                "No usable fusion method is installed (see `workbench plugins list`)."
            )
            self.form = None
            self.form_area.setWidget(QWidget())
            self.run_button.setEnabled(False)
            return
        needs = ", ".join(method.inputs) or "nothing"
        self.explanation.setText(
            f"<b>{html.escape(method.title)}</b><br>{html.escape(method.explanation)}"
            f"<br><i>Needs: {html.escape(needs)}.</i>"
        )
        self.form = ParamForm(method)
        self.form_area.setWidget(self.form)
        self.run_button.setEnabled(self.task is None)

    # --------------------------------------------------------------------- run
    def _tasks(self) -> Any:
        win = self.window()
        tasks = getattr(win, "tasks", None) if win is not self else None
        if tasks is not None and hasattr(tasks, "run"):
            return tasks
        if self._own_tasks is None:
            from ..workers import TaskManager

            self._own_tasks = TaskManager(self)
        return self._own_tasks

    def run(self) -> None:
        """Validate, then run the current method in a worker (progress, Cancel)."""
        if self.method is None or self.form is None or self.task is not None:
            return
        try:
            params = self.method.validate_params(self.form.values())
            inputs = inputs_from_session(self.session)
            inputs.require(self.method.inputs, self.method.id)
        except WorkbenchError as exc:
            self._set_status(str(exc), error=True)
            return
        self.last_error = ""
        self.progress.setValue(0)
        self._set_status(f"running {self.method.title}...")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.task = self._tasks().run(
            f"Fusion: {self.method.title}",
            compute,
            self.method,
            inputs,
            params,
            on_result=self.show_result,
        )
        self.task.progressed.connect(self._on_progress)
        self.task.failed.connect(self._on_failed)
        self.task.ended.connect(self._on_ended)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self._set_status("cancelling...")

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"%p%  {message}")

    def _on_failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self._set_status("cancelled: nothing was changed")
        else:
            msg = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
            self._set_status(msg.splitlines()[0] if msg else type(exc).__name__, error=True)

    def _on_ended(self) -> None:
        self.task = None
        self.cancel_button.setEnabled(False)
        self.run_button.setEnabled(self.method is not None)

    def _set_status(self, text: str, error: bool = False) -> None:
        if error:
            self.last_error = text
        self.status.setStyleSheet("color:#a02020" if error else "color:#333")
        self.status.setText(text)

    # ----------------------------------------------------------------- results
    def show_result(self, result: FusionResult) -> None:
        """Fill the generic views and push the maps to the session (GUI thread)."""
        self.result = result
        live = result.live
        self.map_view.selected = None
        self.map_view.set_maps(result.maps, live.get("background"), live.get("voxel_fit"))
        self.matrix_view.set_matrices(result.matrices)
        self.tc_view.set_timecourses(result.timecourses)
        self.table_view.set_tables(result.tables)
        self.qc_view.set_tables({"QC": [{"metric": k, "value": v} for k, v in result.qc.items()]})
        fitted = live.get("fitted")
        for name, img in result.maps.items():
            if name == "mask":
                continue
            entry = {"map": img, "fitted": fitted} if fitted is not None else img
            self.session.set_stat(f"{result.method}: {name}", entry)
        peak = result.qc.get("peak_z_modulator", result.qc.get("peak_z_main"))
        extra = f" (peak z {peak:.1f})" if isinstance(peak, float) else ""
        self._set_status(f"done{extra}; " + "; ".join(result.messages))
        self.progress.setValue(1000)
