"""The lesson window: explanation and quiz on the left, the experiment's figures and table on the right.

It is a view of :mod:`workbench.lessons`: the form is generated from the lesson's
:class:`~workbench.engine.steps.Param` declarations (:class:`~workbench.gui.param_form.ParamForm`),
the experiment runs in a worker thread (:class:`~workbench.gui.workers.Task`, with progress
and Cancel), figures are the lesson's own matplotlib drawings and answers are checked by
:func:`workbench.lessons.check_answer` against the run's true answers.

Presentation mode (F5, or the toolbar button) goes full screen and scales every font for a
projector; Ctrl++ / Ctrl+- change the font scale; Esc leaves presentation mode.
"""

from __future__ import annotations

import html
import re
from typing import Any

from matplotlib import rc_context
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.errors import Cancelled
from workbench.gui.param_form import ParamForm
from workbench.gui.workers import Task
from workbench.lessons import Lesson, LessonResult, all_lessons, check_answer, get_lesson

__all__ = ["LessonsWindow", "install_lessons_menu"]

BASE_PT = 11.0  #: normal font size (pt); presentation mode multiplies it
PRESENTATION_SCALE = 1.7


def _inline(text: str) -> str:
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", html.escape(text))


class QuestionRow(QWidget):
    """One quiz question: the answer editor, a Check button and the verdict."""

    def __init__(self, question: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = question
        self.truth: Any = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 4)
        label = QLabel(question.text)
        label.setWordWrap(True)
        lay.addWidget(label)
        row = QHBoxLayout()
        if question.kind == "choice":
            self.editor: QWidget = QComboBox()
            self.editor.addItem("—", None)
            for c in question.choices:
                self.editor.addItem(c, c)
        else:
            self.editor = QLineEdit()
            self.editor.setPlaceholderText(f"a number{' in ' + question.unit if question.unit else ''}")
            self.editor.returnPressed.connect(self.check)
        row.addWidget(self.editor, 1)
        if question.kind != "choice" and question.unit:
            row.addWidget(QLabel(question.unit))
        self.button = QPushButton("Check")
        self.button.clicked.connect(self.check)
        row.addWidget(self.button)
        lay.addLayout(row)
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        lay.addWidget(self.verdict)
        self.set_truth(None)

    def answer(self) -> Any:
        if isinstance(self.editor, QComboBox):
            return self.editor.currentData()
        return self.editor.text().strip()

    def set_answer(self, value: Any) -> None:
        if isinstance(self.editor, QComboBox):
            self.editor.setCurrentIndex(max(self.editor.findData(value), 0))
        else:
            self.editor.setText(str(value))

    def set_truth(self, truth: Any) -> None:
        self.truth = truth
        self.button.setEnabled(truth is not None)
        self.verdict.setText("" if truth is not None else "<i>run the experiment first</i>")

    def check(self) -> bool | None:
        if self.truth is None:
            return None
        given = self.answer()
        if given in (None, ""):
            self.verdict.setText("<i>choose or type an answer</i>")
            return None
        ok, text = check_answer(self.question, self.truth, given)
        colour = "#2e7d32" if ok else "#c62828"
        why = f"<br>{html.escape(self.question.explain)}" if self.question.explain else ""
        self.verdict.setText(f"<span style='color:{colour}'><b>{html.escape(text)}</b></span>{why}")
        return ok


class LessonsWindow(QMainWindow):
    """One window for every lesson; :meth:`show_lesson` switches between them."""

    def __init__(self, parent: QWidget | None = None, lesson_id: str = "coreg") -> None:
        super().__init__(parent)
        self.setWindowTitle("Lessons — EEG-fMRI Workbench")
        self.lessons: list[Lesson] = all_lessons()
        self.lesson: Lesson = self.lessons[0]
        self.result: LessonResult | None = None
        self.task: Task | None = None
        self.scale = 1.0
        self.presenting = False
        self.canvases: list[FigureCanvasQTAgg] = []
        self._build()
        self.set_scale(1.0)
        self.show_lesson(lesson_id)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        bar = QToolBar("Lesson")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.chooser = QComboBox()
        for lesson in self.lessons:
            self.chooser.addItem(f"{lesson.chapter}. {lesson.title}", lesson.id)
        self.chooser.currentIndexChanged.connect(lambda _i: self.show_lesson(self.chooser.currentData()))
        bar.addWidget(self.chooser)
        self.run_action = QAction("Run experiment", self)
        self.run_action.setShortcut(QKeySequence("Ctrl+R"))
        self.run_action.triggered.connect(self.run_experiment)
        bar.addAction(self.run_action)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.triggered.connect(self.cancel)
        self.cancel_action.setEnabled(False)
        bar.addAction(self.cancel_action)
        bar.addSeparator()
        self.present_action = QAction("Presentation (F5)", self)
        self.present_action.setShortcut(QKeySequence("F5"))
        self.present_action.setCheckable(True)
        self.present_action.toggled.connect(self.set_presentation)
        bar.addAction(self.present_action)
        smaller = QAction("A−", self)
        smaller.setShortcut(QKeySequence("Ctrl+-"))
        smaller.setToolTip("Smaller fonts (Ctrl+-)")
        smaller.triggered.connect(lambda: self.set_scale(self.scale / 1.15))
        bigger = QAction("A+", self)
        bigger.setShortcuts([QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])
        bigger.setToolTip("Larger fonts (Ctrl++)")
        bigger.triggered.connect(lambda: self.set_scale(self.scale * 1.15))
        bar.addAction(smaller)
        bar.addAction(bigger)
        leave = QAction("Leave presentation", self)
        leave.setShortcut(QKeySequence("Esc"))
        leave.triggered.connect(lambda: self.present_action.setChecked(False))
        self.addAction(leave)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.status = QLabel("")
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.progress)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.setCentralWidget(split)
        left = QWidget()
        llay = QVBoxLayout(left)
        llay.setContentsMargins(6, 6, 6, 6)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.text.setMinimumHeight(300)
        llay.addWidget(self.text, 3)
        self.form_box = QGroupBox("Experiment")
        self.form_lay = QVBoxLayout(self.form_box)
        llay.addWidget(self.form_box)
        self.quiz_box = QGroupBox("Questions")
        self.quiz_lay = QVBoxLayout(self.quiz_box)
        llay.addWidget(self.quiz_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        split.addWidget(scroll)

        self.views = QTabWidget()
        self.table = QTableWidget()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        split.addWidget(self.views)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([520, 780])
        self.form: ParamForm | None = None
        self.questions: list[QuestionRow] = []

    # ------------------------------------------------------------------ lessons
    def show_lesson(self, lesson_id: str) -> None:
        """Switch to lesson ``lesson_id`` (cancels a running experiment)."""
        self.cancel()
        self.lesson = get_lesson(lesson_id)
        idx = self.chooser.findData(lesson_id)
        if idx != self.chooser.currentIndex():
            self.chooser.blockSignals(True)
            self.chooser.setCurrentIndex(idx)
            self.chooser.blockSignals(False)
        self.result = None
        if self.form is not None:
            self.form.setParent(None)
            self.form.deleteLater()
        self.form = ParamForm(self.lesson.params)
        self.form_lay.addWidget(self.form)
        for q in self.questions:
            q.setParent(None)
            q.deleteLater()
        self.questions = [QuestionRow(q) for q in self.lesson.questions]
        for row in self.questions:
            self.quiz_lay.addWidget(row)
        self.run_action.setEnabled(self.lesson.available)
        self.form.set_enabled(self.lesson.available)
        self._clear_views()
        self._render_text()
        if not self.lesson.available:
            self.status.setText(f"not available: {self.lesson.why_unavailable}")
        else:
            self.status.setText("change the settings and press Run experiment (Ctrl+R)")

    def _render_text(self) -> None:
        L = self.lesson
        parts = [f"<h2>Lesson {L.chapter}: {html.escape(L.title)}</h2>"]
        parts += [f"<p>{_inline(p)}</p>" for p in L.text]
        if not L.available:
            parts.append(f"<p style='color:#c62828'><b>This lesson cannot run here:</b> "
                         f"{html.escape(L.why_unavailable)}</p>")
        if self.result is not None:
            parts.append("<h3>What the phantom shows</h3><ul>")
            parts += [f"<li>{_inline(c.text)}</li>" for c in self.result.claims.values()]
            parts.append("</ul>")
            if self.result.notes:
                parts.append("<p style='color:#666'>" + "<br>".join(html.escape(n) for n in self.result.notes) + "</p>")
        self.text.setHtml("\n".join(parts))

    def _clear_views(self) -> None:
        for c in self.canvases:
            c.figure.clear()
        self.canvases = []
        while self.views.count():
            w = self.views.widget(0)
            self.views.removeTab(0)
            if w is not self.table:
                w.deleteLater()
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        hint = QLabel("The experiment's figures appear here after Run experiment."
                      if self.lesson.available else "This lesson cannot run here.")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        self.views.addTab(hint, "Figures")

    # ------------------------------------------------------------------ running
    def run_experiment(self) -> Task | None:
        """Run the lesson's experiment with the form's settings in a worker thread."""
        if not self.lesson.available or self.task is not None or self.form is None:
            return None
        try:
            params = self.lesson.validate(self.form.values())
        except Exception as exc:  # a bad value: said, nothing runs
            self.status.setText(str(exc))
            return None
        self.run_action.setEnabled(False)
        self.cancel_action.setEnabled(True)
        self.form.set_enabled(False)
        self.progress.setValue(0)
        self.status.setText("running…")
        lesson = self.lesson
        task = Task(f"lesson {lesson.id}", lesson.run, params)
        task.progressed.connect(self._progressed)
        task.succeeded.connect(lambda r, lid=lesson.id: self._done(lid, r))
        task.failed.connect(self._failed)
        task.ended.connect(self._ended)
        self.task = task
        task.start()
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _progressed(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _done(self, lesson_id: str, result: LessonResult) -> None:
        if lesson_id != self.lesson.id:
            return
        self.result = result
        self.status.setText("done: read the findings, then try the questions")
        self.progress.setValue(1000)
        self._render_text()
        self._draw()
        for row in self.questions:
            row.set_truth(result.answers.get(row.question.id))

    def _failed(self, exc: BaseException) -> None:
        self.status.setText("cancelled" if isinstance(exc, Cancelled) else f"failed: {exc}")
        self.progress.setValue(0)

    def _ended(self) -> None:
        self.task = None
        self.run_action.setEnabled(self.lesson.available)
        self.cancel_action.setEnabled(False)
        if self.form is not None:
            self.form.set_enabled(self.lesson.available)

    def _draw(self) -> None:
        current = self.views.currentIndex()
        self._clear_views()
        if self.result is None:
            return
        self.views.removeTab(0)
        for f in self.result.figures:
            with rc_context({"font.size": 9.0 * self.scale}):
                fig = Figure(figsize=f.size, layout="constrained")
                f.draw(fig)
            canvas = FigureCanvasQTAgg(fig)
            canvas.setToolTip(f.caption)
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.addWidget(canvas, 1)
            cap = QLabel(f"<b>{html.escape(f.title)}.</b> {html.escape(f.caption)}")
            cap.setWordWrap(True)
            lay.addWidget(cap)
            self.canvases.append(canvas)
            short = f.title.split(":")[0]
            self.views.addTab(box, short if len(short) <= 30 else short[:28] + "…")
            self.views.setTabToolTip(self.views.count() - 1, f.title)
        tab = self.result.table
        if tab.get("rows"):
            self.table.setColumnCount(len(tab["columns"]))
            self.table.setHorizontalHeaderLabels([str(c) for c in tab["columns"]])
            self.table.setRowCount(len(tab["rows"]))
            for i, row in enumerate(tab["rows"]):
                for j, v in enumerate(row):
                    item = QTableWidgetItem(str(v))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(i, j, item)
            self.views.addTab(self.table, "Table")
        self.views.setCurrentIndex(max(0, min(current, self.views.count() - 1)))

    # ------------------------------------------------------------------ presentation
    def set_scale(self, scale: float) -> None:
        """Scale every font of the window (and redraw the figures with it)."""
        self.scale = float(min(max(scale, 0.7), 3.0))
        box = int(round(14 * self.scale))
        self.setStyleSheet(f"QWidget {{ font-size: {BASE_PT * self.scale:.1f}pt; }} "
                           f"QCheckBox::indicator {{ width: {box}px; height: {box}px; }}")
        self.text.document().setDefaultStyleSheet(f"body {{ font-size: {BASE_PT * self.scale:.1f}pt; }}")
        self._render_text() if hasattr(self, "lesson") else None
        if self.result is not None:
            self._draw()

    def set_presentation(self, on: bool) -> None:
        """Full screen with large fonts for a projector (F5), or back to the normal window."""
        if on == self.presenting:
            return
        self.presenting = on
        if on:
            self._normal_scale = self.scale
            self._normal_geometry = self.geometry()
            screen = self.screen()
            if screen is not None:  # cover the screen also without a window manager (a bare X server)
                self.setGeometry(screen.geometry())
            self.showFullScreen()
            self.set_scale(self.scale * PRESENTATION_SCALE)
        else:
            self.showNormal()
            if getattr(self, "_normal_geometry", None) is not None:
                self.setGeometry(self._normal_geometry)
            self.set_scale(getattr(self, "_normal_scale", 1.0))
        if self.present_action.isChecked() != on:
            self.present_action.setChecked(on)

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.cancel()
        super().closeEvent(event)


def install_lessons_menu(window: QMainWindow, menubar: Any) -> QMenu:
    """Add the Lessons menu (one entry per lesson) to ``window``'s menu bar."""
    menu = menubar.addMenu("&Lessons")

    def open_lesson(lesson_id: str) -> LessonsWindow:
        w = getattr(window, "lessons_window", None)
        if w is None:
            w = LessonsWindow(window, lesson_id)
            w.setWindowFlag(Qt.WindowType.Window, True)
            w.resize(min(1300, window.width()), min(760, window.height()))
            window.lessons_window = w  # type: ignore[attr-defined]
        else:
            w.show_lesson(lesson_id)
        w.show()
        w.raise_()
        return w

    window.open_lesson = open_lesson  # type: ignore[attr-defined]
    for lesson in all_lessons():
        act = menu.addAction(f"{lesson.chapter}. {lesson.title}")
        why = lesson.why_unavailable
        act.setToolTip(f"not available: {why}" if why else lesson.summary)
        act.triggered.connect(lambda _c=False, lid=lesson.id: open_lesson(lid))
    menu.setToolTipsVisible(True)
    return menu
