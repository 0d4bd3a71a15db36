"""The Fusion tab: a view of the fusion steps (their declared forms and latest results).

Every fusion method is a step found by plugin discovery
(:func:`workbench.plugin_api.all_steps`). The tab lists them, shows the selected one's
form generated from its declaration (:class:`~workbench.gui.param_form.ParamForm`, values
stored in the project like the step panel's: :mod:`workbench.gui.step_params`) and runs
it through the main window's runner (recorded in the provenance, in the task bar with
Cancel). Results come from ``session.result_changed`` (``details["fusion"]``, a
:class:`~workbench.plugin_api.FusionResult`) whoever ran the step, or from
``session.study.results`` when the tab is built or a study is reopened. Maps are shown
in three orthogonal planes thresholded at the corrected level, and pushed to
``session.set_stat`` so the Slices & Maps view overlays them. Nothing here is specific
to a plugin.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.errors import WorkbenchError

from ..param_form import ParamForm
from ..runbar import StepRunBar
from ..signals import connect
from ..step_params import reset_values, set_value, step_values
from ..workers import Task
from .file_inputs import FileInputsForm
from .hemo_view import HemodynamicsView
from .outputs import MapView, MatrixView, TableView, TimecourseView

log = logging.getLogger(__name__)

DISABLED = "disabled in the plugin settings"

HELP_TEXT = (
    "<b>Fusion</b> combines EEG and fMRI. Pick a method on the left: its explanation and "
    "parameters (hover for help) appear below it. <b>Run</b> works in the background "
    "through the same runner as every step (recorded in the project; Cancel stops it). "
    "Maps appear under <i>Maps</i> in three planes, thresholded at the corrected (FDR) "
    "level (click a voxel for its coordinates, time course and model fit) and in the "
    "Slices &amp; Maps tab; the design matrix, time courses and tables in their own tabs. "
    "<i>Hemodynamics</i> shows how neural activity becomes BOLD."
)


def method_file_inputs(method_id: str) -> list[Any]:
    """The declared file inputs (:class:`~workbench.plugin_api.FileInput`) of a working method."""
    from workbench.plugin_api import discover

    rec = next((r for r in discover() if r.id == method_id and r.ok), None)
    return list(rec.method.file_inputs) if rec is not None else []


def fusion_steps() -> dict[str, Any]:
    """Every fusion step (working, broken or disabled) from plugin discovery."""
    from workbench.plugin_api import all_steps

    return {k: s for k, s in all_steps().items() if s.stage == "fusion"}


def prepare_views(result: Any, bold: Any, progress: Any = None) -> dict[str, Any]:
    """Worker body: what the views need besides the result (mean BOLD, 4D model fit)."""
    out: dict[str, Any] = {}
    if bold is not None:
        out["background"] = np.asarray(
            bold.dataobj[..., : min(5, bold.shape[3])], dtype=np.float32
        ).mean(axis=3)
    make_fitted = result.live.get("fitted_image")
    if callable(make_fitted):
        out["fitted"] = make_fitted()
    return out



#: what the tab says when the result shown was made from an EEG version dropped since
STALE_RESULT_TEXT = ("<b>Made from an EEG that has changed since: a correction step before it ran again. "
                     "Run the method again to use the current EEG.</b>")

class Explanation(QTextBrowser):
    """The method's explanation: scrolls within a few lines so the form stays in view."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(True)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.setMinimumWidth(100)
        self.setMaximumHeight(150)
        self.viewport().setAutoFillBackground(False)

    def text(self) -> str:
        """The plain text shown (as a QLabel would answer)."""
        return self.toPlainText()

    def setText(self, html_text: str) -> None:  # noqa: N802
        self.setHtml(html_text)


class FusionTab(QWidget):
    """Method list, declared form, Run/Cancel through the runner, generic output views."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.run_step: Any = None
        self.catalog: dict[str, Any] | None = None  # the window's (shared) catalogue
        self.specs: dict[str, Any] = {}
        self.spec: Any = None  # the selected method's step
        self.form: ParamForm | None = None
        self.file_form: FileInputsForm | None = None
        self.step_result: Any = None
        self.result: Any = None  # its FusionResult
        self.view_extras: dict[str, Any] = {}
        self.source_view: Any = None  # workbench.gui.source.SourceView, made for a source estimate
        self._view_task: Task | None = None
        self._build()
        self.refresh_methods()
        connect(self, session.result_changed, self._result_changed)
        connect(self, session.project_changed, lambda *_: self._study_changed())
        connect(self, session.raw_changed, lambda *_: self._study_changed())
        connect(self, session.undo.changed, lambda *_: self._refresh_form())
        self._study_changed()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.method_list = QListWidget()
        self.method_list.setToolTip(
            "Fusion methods found (installed plugins and the user plugin folder)."
        )
        self.method_list.setMinimumHeight(60)
        self.method_list.currentRowChanged.connect(self._method_changed)
        self.toggle_button = QPushButton("Disable")
        self.toggle_button.setToolTip(
            "Disable or enable the selected plugin (kept in the plugin settings)."
        )
        self.toggle_button.clicked.connect(self.toggle_enabled)
        self.refresh_button = QPushButton("Rescan")
        self.refresh_button.setToolTip("Look for plugins again (after installing one).")
        self.refresh_button.clicked.connect(
            lambda: self.refresh_methods(select=getattr(self.spec, "id", None))
        )
        self.explanation = Explanation()
        self.form_host = QWidget()
        self.form_lay = QVBoxLayout(self.form_host)
        self.form_lay.setContentsMargins(0, 0, 0, 0)
        self.runbar = StepRunBar(
            "", self.params, "Run",
            "Run the method on the open study in the background, through the runner: it is "
            "recorded in the project's provenance and shown in the task bar.", status_below=True)
        self.runbar.precheck = self._precheck
        self.runbar.on_finished = self._update_buttons
        self.run_button, self.cancel_button = self.runbar.apply_button, self.runbar.cancel_button
        self.status = self.runbar.status
        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setToolTip("Reset every parameter to its declared default (undoable).")
        self.defaults_button.clicked.connect(self.reset_defaults)
        buttons = QHBoxLayout()
        buttons.addWidget(self.runbar, 1)
        buttons.addWidget(self.defaults_button, 0, Qt.AlignmentFlag.AlignTop)
        plug_buttons = QHBoxLayout()
        plug_buttons.addWidget(self.refresh_button)
        plug_buttons.addWidget(self.toggle_button)
        inner = QWidget()
        left = QVBoxLayout(inner)
        left.setContentsMargins(2, 2, 2, 2)
        left.addWidget(QLabel("<b>Methods</b>"))
        left.addWidget(self.method_list)
        left.addLayout(plug_buttons)
        left.addWidget(self.explanation)
        left.addWidget(self.form_host)
        left.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(inner)
        # Run / Cancel / status stay below the scrolled form: at 1366x768 the form is taller than
        # the tab, and a run bar inside the scroll area was off-screen (with the stale-result text)
        self.side = QWidget()
        side_lay = QVBoxLayout(self.side)
        side_lay.setContentsMargins(0, 0, 0, 0)
        side_lay.addWidget(self.scroll, 1)
        side_lay.addLayout(buttons)
        self.side.setMinimumWidth(220)
        self.views = QTabWidget()
        self.views.setUsesScrollButtons(True)
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
        split.setChildrenCollapsible(False)
        split.addWidget(self.side)
        split.addWidget(self.views)
        split.setStretchFactor(1, 1)
        split.setSizes([340, 900])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(split)

    def set_runner(self, run_step: Any, catalog: dict[str, Any]) -> None:
        """Run through ``run_step(step_id, params, on_done)`` with the window's catalogue."""
        self.run_step = run_step
        self.catalog = catalog
        self.refresh_methods(select=getattr(self.spec, "id", None), rediscover=False)

    # ----------------------------------------------------------------- methods
    def refresh_methods(self, select: str | None = None, rediscover: bool = True) -> None:
        """(Re)discover plugins; broken and disabled ones are listed but cannot run."""
        if rediscover or self.catalog is None:
            found = fusion_steps()
            if self.catalog is not None:  # one catalogue: the window's runs see the change
                for k in [k for k, s in self.catalog.items() if s.stage == "fusion"]:
                    del self.catalog[k]
                self.catalog.update(found)
        else:
            found = {k: s for k, s in self.catalog.items() if s.stage == "fusion"}
        self.specs = found
        self.method_list.blockSignals(True)
        self.method_list.clear()
        first_ok = -1
        ids = list(found)
        for i, sid in enumerate(ids):
            spec = found[sid]
            if not spec.available:  # listed and selectable (to read the error or enable it)
                status = "disabled" if spec.unavailable_reason == DISABLED else "broken"
                item = QListWidgetItem(f"{spec.title}  [{status}]")
                item.setForeground(QColor(130, 130, 130) if status == "disabled" else QColor(170, 40, 40))
                item.setToolTip(spec.unavailable_reason)
            else:
                item = QListWidgetItem(spec.title)
                item.setToolTip(f"{spec.id} from {spec.origin}")
                if first_ok < 0:
                    first_ok = i
            item.setData(Qt.ItemDataRole.UserRole, sid)
            self.method_list.addItem(item)
        self.method_list.blockSignals(False)
        pm = [i for i, sid in enumerate(ids) if sid == "parametric-modulation" and found[sid].available]
        row = ids.index(select) if select in ids else (pm[0] if pm else first_ok)
        self.method_list.setCurrentRow(row)
        self._method_changed(row)

    def select_method(self, method_id: str) -> None:
        ids = list(self.specs)
        if method_id not in ids:
            raise KeyError(method_id)
        self.method_list.setCurrentRow(ids.index(method_id))

    @property
    def method(self) -> Any:
        """The selected, runnable method's step (None when broken/disabled/none)."""
        return self.spec if self.spec is not None and self.spec.available else None

    @property
    def current_record(self) -> Any:
        return self.spec

    def _method_changed(self, row: int) -> None:
        ids = list(self.specs)
        spec = self.specs[ids[row]] if 0 <= row < len(ids) else None
        self.spec = spec
        self.toggle_button.setEnabled(spec is not None)
        disabled = spec is not None and spec.unavailable_reason == DISABLED
        self.toggle_button.setText("Enable" if disabled else "Disable")
        self._show_form()
        if spec is None:
            self.explanation.setText("No usable fusion method is installed (see `workbench plugins list`).")
        elif not spec.available:
            why = ("Disabled in the plugin settings." if disabled else
                   f"<span style='color:#a02020'>{html.escape(spec.unavailable_reason)}</span>")
            self.explanation.setText(f"<b>{html.escape(spec.id)}</b> ({html.escape(spec.origin)})<br>{why}")
        else:
            needs = ", ".join(spec.requires) or "nothing"
            self.explanation.setText(
                f"<b>{html.escape(spec.title)}</b><br>{html.escape(spec.teaching)}"
                f"<br><i>Needs: {html.escape(needs)}.</i>"
            )
        self._update_buttons()

    def toggle_enabled(self) -> None:
        """Disable (or re-enable) the selected plugin in the plugin settings."""
        from workbench.plugin_api import set_plugin_enabled

        spec = self.spec
        if spec is None:
            return
        set_plugin_enabled(spec.id, spec.unavailable_reason == DISABLED)
        self.refresh_methods(select=spec.id)

    # ------------------------------------------------------------------ form
    def _values(self) -> dict[str, Any]:
        return step_values(self.session, self.spec, self.spec.id) if self.spec is not None else {}

    def params(self) -> dict[str, Any]:
        """The parameters a run uses (the project's stored values over the declared defaults)."""
        return self._values()

    def _show_form(self) -> None:
        if self.form is not None:
            self.form.setParent(None)
            self.form.deleteLater()
            self.form = None
        if self.method is None:
            return
        self.form = ParamForm(self.spec.params, self._values())
        self.form.value_edited.connect(self.set_param)
        self.form_lay.addWidget(self.form)
        self._show_file_inputs()
        self._refresh_form()

    def _show_file_inputs(self) -> None:
        """Rows for the files the method reads itself (``workbench fuse ID --x X.tsv``)."""
        if self.file_form is not None:
            self.file_form.setParent(None)
            self.file_form.deleteLater()
            self.file_form = None
        declared = method_file_inputs(self.spec.id) if self.spec.file_inputs else []
        if not declared:
            return
        proj = self.session.project
        recorded = proj.method_files() if proj is not None else {}
        values = {f.name: recorded[f.name] for f in declared if f.name in recorded}
        self.file_form = FileInputsForm(declared, values)
        self.file_form.changed.connect(self.set_files)
        self.form_lay.insertWidget(0, self.file_form)  # the files first: a run needs them most

    def set_files(self, name: str, paths: list) -> None:
        """Files chosen for a file input: kept in the project and handed to the next run."""
        proj = self.session.project
        if proj is not None:
            proj.set_method_files(name, paths)
        if paths:
            self.session.study.extra_files[name] = [Path(x) for x in paths]
        else:
            self.session.study.extra_files.pop(name, None)

    def set_param(self, key: str, value: Any) -> None:
        """Change one parameter of the selected method (stored in the project, undoable)."""
        if self.spec is not None:
            set_value(self.session, self.spec, self.spec.id, key, value)
        self._refresh_form()

    def reset_defaults(self) -> None:
        if self.spec is not None:
            reset_values(self.session, self.spec, self.spec.id)
        self._refresh_form()

    def _refresh_form(self) -> None:
        if self.form is not None:
            self.form.set_values(self._values())
            self.form.set_enabled(self.session.project is not None)
        self._update_buttons()

    @property
    def task(self) -> Any:
        """The running method's task (None when idle)."""
        return self.runbar.task

    @property
    def last_error(self) -> str:
        return self.runbar.last_error

    def _update_buttons(self) -> None:
        self.runbar.set_runner(self.run_step)
        self.runbar.update_buttons(self.method is not None and self.session.project is not None)
        self.defaults_button.setEnabled(self.method is not None and self.session.project is not None)

    # --------------------------------------------------------------------- run
    def run(self) -> None:
        """Run the selected method through the runner (progress, Cancel in the task bar)."""
        if self.method is None:
            return
        if self.run_step is None:
            self._set_status("Fusion runs through the main window's runner.", error=True)
            return
        self.runbar.run()

    def _precheck(self) -> str | None:
        """Why the selected method cannot run now (one line), else None; hands over its files."""
        if self.session.project is None:
            return "Open a study first."
        self.runbar.step_id = self.spec.id
        missing = [k for k in self.spec.requires if not self.session.study.has(k)]
        if missing:
            return f"{self.spec.title} needs {', '.join(missing)}, which the study does not have."
        if self.file_form is not None:
            problems = self.file_form.problems()
            if problems and not self.spec.requires and not any(
                    self.session.study.has(k) for k in self.spec.optional):
                return f"{self.spec.title}: {problems[0]}"
            bad = [p for p in problems if "file not found" in p or "takes one file" in p]
            if bad:
                return f"{self.spec.title}: {bad[0]}"
            for name, paths in self.file_form.values().items():
                self.session.study.extra_files[name] = paths
        return None

    def cancel(self) -> None:
        self.runbar.cancel()

    def _on_failed(self, exc: BaseException) -> None:
        """A view-preparing task failed (the run's own failures are the run bar's)."""
        msg = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
        self._set_status(msg.splitlines()[0] if msg else type(exc).__name__, error=True)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.runbar.say(text, error)

    # ----------------------------------------------------------------- results
    def _show_dcm(self, result: Any) -> None:
        """A "Network" page (workbench.gui.dcm) for a DCM result; hidden for other results."""
        from ..dcm import DcmPanel, has_dcm

        panel = getattr(self, "dcm_panel", None)
        if result is None or not has_dcm(result):
            if panel is not None:
                self.views.setTabVisible(self.views.indexOf(panel), False)
            return
        if panel is None:
            panel = self.dcm_panel = DcmPanel()
            self.views.insertTab(0, panel, "Network")
        self.views.setTabVisible(self.views.indexOf(panel), True)
        panel.set_result(result)
        self.views.setCurrentWidget(panel)

    def _is_fusion(self, step_id: str) -> bool:
        spec = self.specs.get(step_id) or (self.catalog or {}).get(step_id)
        return spec is not None and spec.stage == "fusion"

    def _result_changed(self, step_id: str, result: Any) -> None:
        if self._is_fusion(step_id) and "fusion" in result.details:
            self.show_step_result(result)
        elif self.result is not None:
            self._mark_if_stale()  # an earlier step ran again: the result shown may be out of date

    def _study_changed(self) -> None:
        self._refresh_form()
        results = self.session.study.results
        fused = [r for sid, r in results.items() if self._is_fusion(sid) and "fusion" in r.details]
        if self.spec is not None and self.spec.id in results and "fusion" in results[self.spec.id].details:
            latest = results[self.spec.id]
        else:
            latest = fused[-1] if fused else None
        if latest is None:
            from ..source.saved import saved_source_result  # a reopened project: the saved estimate

            try:
                saved = saved_source_result(self.session.study)
            except WorkbenchError as exc:
                saved = None
                self._set_status(f"saved source estimate not shown: {exc}", error=True)
            if saved is not None:
                if saved is not self.result:
                    self.show_result(saved)
                return
            self._show_dcm(None)
            if self.step_result is not None or "saved_from" in getattr(self.result, "live", {}):
                self.clear_results()
            return
        if latest is not self.step_result:
            self.show_step_result(latest)

    def clear_results(self) -> None:
        self.step_result = self.result = None
        self.view_extras = {}
        self.map_view.set_maps({}, None)
        self.matrix_view.set_matrices({})
        self.tc_view.set_timecourses({})
        self.table_view.set_tables({})
        self.qc_view.set_tables({})
        self._show_sources(None)
        self._set_status("")

    def show_step_result(self, step_result: Any) -> None:
        """Show a fusion step's result (views prepared in a worker)."""
        self.step_result = step_result
        result = step_result.details["fusion"]
        self._set_status(f"{result.method}: preparing the views…")
        task = Task("fusion views", prepare_views, result, self.session.bold)
        task.succeeded.connect(lambda extras, sr=step_result: self._views_ready(sr, extras))
        task.failed.connect(self._on_failed)
        task.ended.connect(lambda t=task: self._view_ended(t))
        self._view_task = task
        task.start()

    def _view_ended(self, task: Task) -> None:
        if self._view_task is task:
            self._view_task = None

    def _views_ready(self, step_result: Any, extras: dict[str, Any]) -> None:
        if step_result is not self.step_result:
            return  # a newer result arrived meanwhile
        self.view_extras = extras
        self.show_result(step_result.details["fusion"], step_result)

    def show_result(self, result: Any, step_result: Any = None) -> None:
        """Fill the generic views and push the maps to the session (GUI thread)."""
        self.result = result
        method = getattr(result, "method", None)
        if method in self.specs and getattr(self.spec, "id", None) != method:
            self.select_method(method)  # the list and form show the method of the result shown
        self._show_dcm(result)
        extras = self.view_extras
        self.map_view.set_maps(result.maps, extras.get("background"), result.live.get("voxel_fit"),
                               qc=result.qc)
        self.matrix_view.set_matrices(result.matrices)
        self.tc_view.set_timecourses(result.timecourses)
        self.table_view.set_tables(result.tables)
        qc = dict(result.qc)
        if step_result is not None:
            qc.update({f"truth: {k}": v for k, v in step_result.truth_qc.items()
                       if not isinstance(v, dict | list)})
        self.qc_view.set_tables({"QC": [{"metric": k, "value": v} for k, v in qc.items()]})
        self._show_sources(result)
        fitted = extras.get("fitted")
        for name, img in result.maps.items():
            if name == "mask":
                continue
            entry = {"map": img, "fitted": fitted} if fitted is not None else img
            self.session.set_stat(f"{result.method}: {name}", entry)
        bits = []
        for name in ("modulator", "main"):
            n = result.qc.get(f"n_significant_{name}")
            if n is None:
                continue
            peak = result.qc.get(f"peak_z_{name}")
            peak_txt = f", peak z {peak:.1f}" if isinstance(peak, float) else ""
            bits.append(f"{name}: {n} voxel{'s' if n != 1 else ''} survive FDR{peak_txt}"
                        if n else f"{name}: no voxel survives FDR{peak_txt}")
        text = "done" + (": " + "; ".join(bits) if bits else "")
        if result.messages:
            text += ". " + "; ".join(result.messages)
        self._set_status(text)
        self._mark_if_stale()

    def _mark_if_stale(self) -> None:
        """Say so when the result shown was made from an EEG that a re-run has dropped since."""
        method = getattr(self.result, "method", None)
        project = self.session.project
        if method is None or project is None or not getattr(self, "catalog", None):
            return
        from ..pipeline_bar import step_states

        if step_states(list(self.catalog.values()), project).get(method) == "stale":
            if self.runbar.status.text() != STALE_RESULT_TEXT:
                # also in the log panel: at 1366x768 the tab's status line can be scrolled away
                log.warning("%s: the result shown was made from an EEG that has changed since "
                            "(a correction step ran again); run it again to use the current EEG", method)
            self.runbar.status.setText(STALE_RESULT_TEXT)

    def _show_sources(self, result: Any) -> None:
        """A "Sources" tab (3D + slices over time) for a result carrying a source estimate."""
        from ..source import SourceView, has_source_estimate

        if result is None or not has_source_estimate(result):
            if self.source_view is not None:  # hidden, not removed: the tab owns the 3D view
                self.views.setTabVisible(self.views.indexOf(self.source_view), False)
            return
        if self.source_view is None:
            self.source_view = SourceView()
            self.views.insertTab(0, self.source_view, "Sources")
        self.views.setTabVisible(self.views.indexOf(self.source_view), True)
        self.source_view.set_result(result, self.session.anat)
        self.views.setCurrentWidget(self.source_view)
