"""Cohort view: ``DIR/cohort.json`` as a subjects x steps table, live progress, start/cancel.

A batch runs as its own process (``python -m workbench batch ...``), exactly the command
line a user would type, so a GUI-started cohort and a CLI-started one are the same run;
the view reads the per-subject progress files the workers write and the cohort summary
when the batch ends. Cancel stops the batch process (subjects already finished keep
their results; a re-run skips them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QProcess, QTimer, QUrl
from PyQt6.QtGui import QColor, QDesktopServices
from PyQt6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: where "This project" writes the open project's pipeline (inside the project folder)
PIPELINE_FILE = "pipeline.json"

_COLOURS = {"done": "#d7f0d7", "skipped": "#e4ecf7", "failed": "#f7d4d4", "running": "#fff4c2",
            "cancelled": "#f3e3c0"}


class CohortTab(QWidget):
    """Subjects x steps of a cohort folder, with Start / Cancel of ``workbench batch``."""

    HELP_TEXT = (
        "<b>Cohort</b> runs one recorded pipeline on every subject of a BIDS study "
        "(<code>workbench batch</code>, one Dask task per subject). Each row is a subject, each "
        "column a step: its state and key QC. Double-click a row to open that subject's report; "
        "the group methods (joint ICA, CCA) then take the subjects' features."
    )

    def __init__(self, session: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.process: QProcess | None = None
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.study_edit = QLineEdit(placeholderText="BIDS study folder (sub-*)")
        self.pipeline_edit = QLineEdit(placeholderText="pipeline JSON")
        self.out_edit = QLineEdit(placeholderText="cohort output folder")
        for edit, label, folder in ((self.study_edit, "Study…", True), (self.pipeline_edit, "Pipeline…", False),
                                    (self.out_edit, "Output…", True)):
            row.addWidget(edit)
            b = QPushButton(label)
            b.clicked.connect(lambda _=False, e=edit, f=folder: self._browse(e, f))
            row.addWidget(b)
            if edit is self.pipeline_edit:
                self.project_btn = QPushButton("This project")
                self.project_btn.setToolTip("the open project's steps and parameters (its project.json)")
                self.project_btn.clicked.connect(self.use_open_project)
                row.addWidget(self.project_btn)
        lay.addLayout(row)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Workers"))
        self.workers = QSpinBox(minimum=0, maximum=512, value=2)
        self.workers.setToolTip("local Dask worker processes; 0 runs the subjects one after the other")
        row2.addWidget(self.workers)
        self.start_btn = QPushButton("Start batch")
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.reload_btn = QPushButton("Reload")
        self.reload_btn.clicked.connect(self.reload)
        self.group_chk = QCheckBox("then group fusion")
        self.group_chk.setToolTip("after the subjects: each subject's ERP and parametric-modulation map -> "
                                  "joint ICA and CCA across subjects (DIR/group/group.html); finished "
                                  "subjects are skipped, so this can follow a finished batch")
        self.group_btn = QPushButton("Open group results")
        self.group_btn.clicked.connect(self.open_group)
        for w in (self.group_chk, self.start_btn, self.cancel_btn, self.reload_btn, self.group_btn):
            row2.addWidget(w)
        row2.addStretch(1)
        self.status = QLabel("")
        row2.addWidget(self.status)
        lay.addLayout(row2)
        # what to do, where the table will be (an empty white table said nothing)
        self.intro = QLabel(
            "<b>Run one pipeline on every subject.</b> Choose a BIDS study folder (with "
            "<code>sub-*</code> folders), a pipeline and an output folder, then <b>Start batch</b>. "
            "The pipeline is the steps and parameters you ran on one subject, as they stand in the "
            "open project (<b>This project</b> writes them to its <code>pipeline.json</code>), or "
            "any JSON <code>{\"steps\": [...]}</code>. Each subject becomes a row here and a complete project "
            "in the output folder; <b>Reload</b> shows a batch run before (its "
            "<code>cohort.json</code>).")
        self.intro.setWordWrap(True)
        self.intro.setStyleSheet("color:#444; padding:8px")
        lay.addWidget(self.intro)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.cellDoubleClicked.connect(self._open_report)
        lay.addWidget(self.table, 1)
        self.timer = QTimer(self, interval=700)
        self.timer.timeout.connect(self._poll)
        self._labels: list[str] = []

    # ------------------------------------------------------------------ actions
    def _browse(self, edit: QLineEdit, folder: bool) -> None:
        path = (QFileDialog.getExistingDirectory(self, "Choose a folder") if folder
                else QFileDialog.getOpenFileName(self, "Pipeline JSON", "", "JSON (*.json)")[0])
        if path:
            edit.setText(path)
            if edit is self.out_edit:
                self.reload()

    def use_open_project(self) -> None:
        """Write the open project's pipeline (its steps as they stand, see
        :func:`~workbench.engine.runner.pipeline_from_records`) to ``PROJECT/pipeline.json``
        and take it as the batch's pipeline."""
        from workbench.engine.atomic import atomic_write_json
        from workbench.engine.runner import pipeline_from_records
        from workbench.plugin_api.steps import all_steps

        project = getattr(self.session, "project", None)
        if project is None:
            self.status.setText("no project is open: open or create one and run its steps first")
            return
        steps = pipeline_from_records(project.steps, all_steps())
        if not steps:
            self.status.setText("the open project has no step run yet: run the steps on one subject first")
            return
        path = Path(project.root) / PIPELINE_FILE
        try:
            atomic_write_json(path, {"steps": steps, "from_project": str(project.root)})
        except OSError as exc:
            self.status.setText(f"{path}: could not be written ({exc.strerror or exc})")
            return
        self.pipeline_edit.setText(str(path))
        self.status.setText(f"pipeline of {len(steps)} steps from the open project: {', '.join(s['id'] for s in steps)}")

    def command(self) -> list[str]:
        """The ``workbench batch`` command line this view runs."""
        cmd = ["-m", "workbench", "batch", self.study_edit.text(), "--pipeline", self.pipeline_edit.text(),
               "--out", self.out_edit.text(), "--workers", str(self.workers.value())]
        return cmd + ["--group"] if self.group_chk.isChecked() else cmd

    def group_page(self) -> Path:
        return Path(self.out_edit.text()) / "group" / "group.html"

    def open_group(self) -> None:
        """Open ``DIR/group/group.html`` (the group fusion's page) in the browser."""
        page = self.group_page()
        if not self.out_edit.text().strip() or not page.is_file():
            self.status.setText("no group results in this folder yet: tick 'then group fusion' and start "
                                "the batch (finished subjects are skipped)")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(page)))

    def start(self) -> None:
        if self.process is not None:
            return
        missing = [n for n, e in (("study", self.study_edit), ("pipeline", self.pipeline_edit),
                                  ("output folder", self.out_edit)) if not e.text().strip()]
        if missing:
            self.status.setText(f"choose the {', '.join(missing)} first")
            return
        from workbench.engine.cohort import study_subjects
        from workbench.engine.errors import WorkbenchError

        try:
            self._labels = study_subjects(self.study_edit.text())
        except WorkbenchError as exc:
            self.status.setText(str(exc))
            return
        self._show_running()
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.finished.connect(self._finished)
        self.process.start(sys.executable, self.command())
        self.start_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.status.setText("running…")
        self.timer.start()

    def cancel(self) -> None:
        if self.process is None:
            return
        self.status.setText("cancelling…")
        self.process.terminate()
        if not self.process.waitForFinished(5000):
            self.process.kill()
            self.process.waitForFinished(2000)

    def _finished(self, code: int, _status: Any = None) -> None:
        self.timer.stop()
        cancelled = self.status.text().startswith("cancel")
        self.process = None
        self.start_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        self.reload()
        if cancelled:
            self.status.setText(self.status.text() + " - cancelled; run again to finish (done subjects are kept)")
        elif code != 0:
            self.status.setText(self.status.text() + " - finished with errors (see the failed cells)")
        elif self.group_chk.isChecked() and self.group_page().is_file():
            self.status.setText(self.status.text() + " - group results ready")

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        self.cancel()
        super().closeEvent(event)

    # ------------------------------------------------------------------ table
    def reload(self) -> None:
        """Show ``OUT/cohort.json`` (subjects x steps: state and key QC)."""
        path = Path(self.out_edit.text()) / "cohort.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self.show_summary(doc)

    def show_summary(self, doc: dict[str, Any]) -> None:
        recs = doc.get("subjects", [])
        steps: list[str] = list(doc.get("steps", []))
        for r in recs:
            for s in r.get("steps", []):
                if s["id"] not in steps:
                    steps.append(s["id"])
        self.table.clear()
        self.table.setRowCount(len(recs))
        self.table.setColumnCount(2 + len(steps))
        self.table.setHorizontalHeaderLabels(["subject", "state", *steps])
        self._labels = [r["subject"] for r in recs]
        for i, r in enumerate(recs):
            self._set(i, 0, f"sub-{r['subject']}", None)
            self._set(i, 1, f"{r['status']} ({r.get('seconds', 0):.1f} s)", r["status"], r.get("message", ""))
            by_id = {s["id"]: s for s in r.get("steps", [])}
            for j, sid in enumerate(steps):
                s = by_id.get(sid)
                if s is None:
                    self._set(i, 2 + j, "-", None)
                    continue
                qc = [(k, v) for k, v in s.get("qc", {}).items()
                      if isinstance(v, int | float) and not isinstance(v, bool) and "second" not in k][:2]
                text = s["status"] + "".join(f"\n{k}: {v:.4g}" for k, v in qc)
                self._set(i, 2 + j, text, s["status"], s.get("message", ""))
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        self._show_intro()
        c = doc.get("counts", {})
        text = (f"{len(recs)} subjects: {c.get('done', 0)} done, {c.get('skipped', 0)} skipped, "
                f"{c.get('failed', 0)} failed")
        if c.get("cancelled"):
            text += f", {c['cancelled']} cancelled"
        self.status.setText(text)

    def _show_intro(self) -> None:
        self.intro.setVisible(self.table.rowCount() == 0)

    def _set(self, row: int, col: int, text: str, state: str | None, tip: str = "") -> None:
        item = QTableWidgetItem(text)
        if state in _COLOURS:
            item.setBackground(QColor(_COLOURS[state]))
        if tip:
            item.setToolTip(tip)
        self.table.setItem(row, col, item)

    def _show_running(self) -> None:
        self.table.clear()
        self.table.setRowCount(len(self._labels))
        self.table.setColumnCount(2)
        self.table.setHorizontalHeaderLabels(["subject", "progress"])
        for i, label in enumerate(self._labels):
            self._set(i, 0, f"sub-{label}", None)
            self._set(i, 1, "waiting", None)
        self._show_intro()

    def _poll(self) -> None:
        from workbench.engine.cohort import read_progress

        out = self.out_edit.text()
        for i, label in enumerate(self._labels):
            prog = read_progress(out, label)
            if prog:
                state = "running" if prog["fraction"] < 1 else prog["message"]
                self._set(i, 1, f"{100 * prog['fraction']:.0f}% {prog['message']}", state)

    def _open_report(self, row: int, _col: int) -> None:
        if 0 <= row < len(self._labels):
            report = Path(self.out_edit.text()) / f"sub-{self._labels[row]}" / "report.html"
            if report.is_file():
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(report)))
