"""The main window: project tree, central tabs, step/QC panel, pipeline bar, log, task bar.

Every menu action is a method taking plain arguments (``open_path``, ``open_demo``,
``save_project``, ``save_project_as``, ``export_view``, ``undo``...), wrapped by a thin
handler that asks for a file name; tests call the methods to replay what a user does.
Loading runs in workers (:mod:`.workers`); the Session changes on the GUI thread only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QThreadPool, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QToolBar,
    QWidget,
)

from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.session import Session

from . import loading
from .dialogs import PreferencesDialog, about_html
from .export import export_widget
from .log_panel import LogPanel
from .pipeline_bar import PipelineBar
from .project_tree import ProjectTree
from .settings import Settings
from .signals import connect
from .step_panel import StepDock, StepPanel
from .tabs import TABS, help_text, make_tab
from .task_bar import TaskBar
from .workers import Task, TaskManager

log = logging.getLogger("workbench.gui")

APP_TITLE = "EEG-fMRI Workbench"
RESOURCES = Path(__file__).resolve().parents[2] / "resources"
EEG_FILTER = (
    "Data files (*.vhdr *.edf *.bdf *.set *.fif *.fif.gz *.nii *.nii.gz *.mgz *.elc *.sfp "
    "*.bvct *.elp *.hsp *.pos *.tsv *.json);;All files (*)"
)


def app_icon() -> QIcon:
    """The application icon from ``resources/`` (empty icon if missing)."""
    for name in ("workbench.svg", "workbench.png"):
        p = RESOURCES / name
        if p.is_file():
            return QIcon(str(p))
    return QIcon()


class MainWindow(QMainWindow):
    """The workbench window.

    Parameters
    ----------
    session : Session | None
        The model shown (a new one if None).
    settings : Settings | None
        Preferences and recent projects (the user's file if None; tests pass a temp one).
    """

    def __init__(self, session: Session | None = None, settings: Settings | None = None) -> None:
        super().__init__()
        self.session = session if session is not None else Session()
        self.settings = settings if settings is not None else Settings()
        self.tasks = TaskManager(self)
        self.catalog = load_catalog()
        self.errors: list[str] = []  # one-line messages shown to the user (for tests)
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(*initial_size())

        # central tabs (lazily imported; a broken view becomes a one-line label)
        self.tab_widget = QTabWidget()
        self.tab_widget.setDocumentMode(True)
        self.tab_widget.setUsesScrollButtons(True)
        self.pages: dict[str, QWidget] = {}
        self._page_hosts: dict[str, QWidget] = {}
        for title, target in TABS:
            page = make_tab(title, target, self.session, self.tab_widget, prefs=self.settings.prefs)
            self.pages[title] = page
            host = PageScroll(page)  # a page larger than a small screen scrolls, never clips
            self._page_hosts[title] = host
            self.tab_widget.addTab(host, title.replace("&", "&&"))
            self.tab_widget.setTabToolTip(self.tab_widget.count() - 1, help_text(title, page)
                                          .replace("<b>", "").replace("</b>", ""))
        self.setCentralWidget(self.tab_widget)

        # pipeline bar (scrolls sideways when the window is narrower than the pipeline)
        self.pipeline = PipelineBar(self.session, self.catalog)
        bar = QToolBar("Pipeline")
        bar.setObjectName("pipeline_toolbar")
        bar.setMovable(False)
        bar.addWidget(PipelineScroll(self.pipeline))
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

        # docks
        self.tree = ProjectTree(self.session)
        self.tree.show_tab.connect(self.show_tab)
        self.tree.open_subject.connect(self.open_subject)
        self.tree_dock = self._dock("Project", self.tree, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.step_panel = StepPanel(self.session, self.pipeline.steps, run_step=self.run_step)
        self.pipeline.step_selected.connect(self.step_panel.show_step)
        self.step_dock = self._dock("Step / QC", StepDock(self.step_panel),
                                    Qt.DockWidgetArea.RightDockWidgetArea)
        self.log_panel = LogPanel()
        self.log_dock = self._dock("Log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._docks_sized = False

        # task bar
        self.task_bar = TaskBar(self.tasks)
        self.statusBar().addPermanentWidget(self.task_bar, 1)
        self.tasks.user_error.connect(lambda _t, msg: self.show_error(msg))
        self.tasks.crashed.connect(lambda _t, short, _tb: self.show_crash(short))

        self.tab_widget.currentChanged.connect(lambda _i: self._tab_changed())
        fusion = self.pages.get("Fusion")
        if hasattr(fusion, "method_list"):  # another method chosen on the Fusion tab: its step
            fusion.method_list.currentRowChanged.connect(lambda _r: self._tab_changed())
        self._build_menus()
        connect(self, self.session.undo.changed, self._update_undo_actions)
        self._drop_project: Any = None
        connect(self, self.session.project_changed, self._project_changed)
        connect(self, self.session.message, lambda m: self.statusBar().showMessage(m, 5000))
        self._update_undo_actions()
        self._update_title()
        for page in self.pages.values():  # tabs run their step through the one runner
            if hasattr(page, "set_runner"):
                page.set_runner(self.run_step, self.catalog)
        if self.pipeline.steps:
            self.pipeline.select(self.pipeline.steps[0].id)
        log.info("ready: open a file, a study folder or a project (File menu or drop it here)")

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._docks_sized:  # dock sizes only stick once the window has its size
            self._docks_sized = True
            small = self.width() < 1500
            sides = [220, 250] if small else [360, 280]
            log_h = 90 if self.height() < 850 else 120
            QTimer.singleShot(0, lambda: (
                self.resizeDocks([self.tree_dock, self.step_dock], sides, Qt.Orientation.Horizontal),
                self.resizeDocks([self.log_dock], [log_h], Qt.Orientation.Vertical)))

    # ------------------------------------------------------------------ layout helpers
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu: Any, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        SK = QKeySequence.StandardKey
        self.act_open_file = self._action(f, "Open file…", self._ask_open_file, SK.Open,
                                          "Open an EEG, NIfTI or digitisation file")
        self.act_open_project = self._action(f, "Open project or study folder…", self._ask_open_folder,
                                             "Ctrl+Shift+O", "Open a project folder or a BIDS study folder")
        self.act_demo = self._action(f, "Open demo", self.open_demo, None,
                                     "Build the simulated EEG-fMRI study (phantom) and open it")
        self.recent_menu = f.addMenu("Recent projects")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        f.addSeparator()
        self.act_save = self._action(f, "Save project", self.save_project, SK.Save,
                                     "Save project.json (atomic write)")
        self.act_save_as = self._action(f, "Save project as…", self._ask_save_as, SK.SaveAs,
                                        "Save the project into another folder")
        self.act_export = self._action(f, "Export view as PNG/SVG…", self._ask_export, "Ctrl+E",
                                       "Save the current view as an image")
        f.addSeparator()
        self._action(f, "Quit", self.close, SK.Quit)

        e = mb.addMenu("&Edit")
        self.act_undo = self._action(e, "Undo", self.undo, SK.Undo)
        self.act_redo = self._action(e, "Redo", self.redo, SK.Redo)
        e.addSeparator()
        self._action(e, "Preferences…", self._ask_preferences, None, "Trace display defaults, theme")

        v = mb.addMenu("&View")
        for dock in (self.tree_dock, self.step_dock, self.log_dock):
            v.addAction(dock.toggleViewAction())
        v.addSeparator()
        for i, (title, _target) in enumerate(TABS):
            self._action(v, title, lambda t=title: self.show_tab(t), f"Ctrl+{i + 1}")

        from workbench.gui.lessons import install_lessons_menu

        self.lessons_menu = install_lessons_menu(self, mb)

        t = mb.addMenu("&Tools")
        self._action(t, "Online correction (real time)…", self.show_online, None,
                     "Clean a live LSL stream (or replay a recording) for neurofeedback")

        h = mb.addMenu("&Help")
        self._action(h, "What is happening here?", self.show_teaching, "F1",
                     "A short explanation of the current view")
        self._action(h, "About", self.show_about)

    def show_online(self) -> None:
        """Open the live view of the online (real-time) correction."""
        from workbench.gui.online import OnlineWindow

        if getattr(self, "online_window", None) is None:
            self.online_window = OnlineWindow()
        self.online_window.show()
        self.online_window.raise_()

    # ------------------------------------------------------------------ messages
    def show_error(self, message: str) -> None:
        """A one-line message box for a user error (bad file, nothing to save...)."""
        line = " ".join(str(message).split())
        self.errors.append(line)
        QMessageBox.warning(self, APP_TITLE, line)

    def show_crash(self, short: str) -> None:
        """An unexpected error: short message; the traceback is in the log panel."""
        self.errors.append(short)
        QMessageBox.critical(self, APP_TITLE,
                             f"Something went wrong: {short}\nThe details are in the log panel.")

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_TITLE}", about_html())

    def show_teaching(self) -> None:
        title = self.current_tab_title()
        QMessageBox.information(self, f"What is happening here: {title}",
                                help_text(title, self.pages.get(title)))

    # ------------------------------------------------------------------ tabs
    def current_tab_title(self) -> str:
        host = self.tab_widget.currentWidget()
        return next((t for t, h in self._page_hosts.items() if h is host), "")

    def current_page(self) -> QWidget | None:
        """The page of the current tab (inside its scroll host)."""
        return self.pages.get(self.current_tab_title())

    def _tab_changed(self) -> None:
        """A step's tab shown: the pipeline bar and the Step / QC panel follow it (the panel
        kept showing the last step clicked, e.g. Scanner sync beside the Gradient tab)."""
        title = self.current_tab_title()
        step = TAB_STEPS.get(title)
        if step is None and title == "Fusion":
            step = getattr(getattr(self.pages.get(title), "spec", None), "id", None)
        if step is not None and step in self.pipeline.buttons and not self.pipeline.buttons[step].isChecked():
            self.pipeline.select(step)

    def show_tab(self, title: str) -> None:
        if title in self.pages:
            page = self.pages[title]
            self.tab_widget.setCurrentWidget(self._page_hosts[title])
            view = getattr(page, "view", None)  # keyboard goes to the traces at once
            if view is not None:
                view.setFocus()

    # ------------------------------------------------------------------ open / save
    def open_path(self, path: str | Path, subject: str | None = None) -> Task:
        """Open a project folder, BIDS study folder or data file in a worker.

        ``subject`` chooses the subject of a study (default: the first).
        """
        path = Path(path)
        name = path.name or str(path)
        if subject:
            name += f" (sub-{subject})"
        return self.tasks.run(f"Opening {name}", loading.load_staged, path,
                              project=self.session.project, subject=subject,
                              on_result=lambda staged, p=path: self._loaded(staged, p))

    def open_subject(self, subject: str) -> Task | None:
        """Reopen the open study with another of its subjects."""
        proj = self.session.project
        if proj is None:
            return None
        return self.open_path(proj.root, subject=subject)

    def open_demo(self, out_dir: str | Path | None = None) -> Task:
        """Build (or reuse) the demo phantom study in a worker, then open it."""
        return self.tasks.run("Building the demo study", loading.build_and_load_demo, out_dir,
                              on_result=lambda staged: self._loaded(staged, None))

    def _loaded(self, staged: Session, path: Path | None) -> None:
        loading.apply_staged(self.session, staged)
        proj = self.session.project
        where = path if path is not None else (proj.root if proj is not None else None)
        if where is not None:
            self.settings.add_recent(where)
        report = getattr(staged, "report", None)
        loaded = ", ".join(sorted(report.loaded)) if report is not None else ""
        log.info("opened %s%s", where if where is not None else "the demo study",
                 f" ({loaded})" if loaded else "")
        for problem in getattr(report, "problems", []) or []:
            log.warning("not loaded: %s", problem)
        for note in getattr(report, "notes", []) or []:
            log.warning("opened for inspection only: %s (signal not plotted)", note)
        if report is not None and report.problems:
            self.statusBar().showMessage(
                f"{len(report.problems)} input(s) could not be loaded; see the log", 10000)
        elif getattr(report, "notes", None):
            self.statusBar().showMessage(f"Header only, signal not plotted: {report.notes[0]}", 15000)
        if self.session.raw is not None:
            self.show_tab("Traces")

    def save_project(self) -> Path | None:
        """Write ``project.json`` of the open project (atomic)."""
        proj = self.session.project
        if proj is None:
            self.show_error("Nothing to save: open a study, a data file or a project first.")
            return None
        try:
            out = proj.save()
        except (OSError, WorkbenchError) as exc:
            self.show_error(f"{proj.file}: could not save ({exc})")
            return None
        self.settings.add_recent(proj.root)
        log.info("saved %s", out)
        self._update_title()
        return out

    def save_project_as(self, folder: str | Path) -> Path | None:
        """Save the open project into ``folder`` and continue working there."""
        proj = self.session.project
        if proj is None:
            self.show_error("Nothing to save: open a study, a data file or a project first.")
            return None
        try:
            new = loading.relocate_project(proj, folder)
            out = new.save()
        except (OSError, WorkbenchError) as exc:
            self.show_error(str(exc))
            return None
        # keep the undo history: the document is the same, only its folder moved
        self.session.project = new
        self.session.project_changed.emit(new)
        self.settings.add_recent(new.root)
        log.info("saved as %s", out)
        return out

    def export_view(self, path: str | Path) -> Path | None:
        """Save the current tab as PNG or SVG."""
        page = self.current_page()
        try:
            out = export_widget(page, path)
        except (OSError, WorkbenchError) as exc:
            self.show_error(str(exc))
            return None
        log.info("exported %s to %s", self.current_tab_title(), out)
        return out

    def run_step(self, name: str, params: dict[str, Any] | None = None,
                 on_done: Any = None) -> Task | None:
        """Run step ``name`` on what is open, through the runner, in a worker.

        The parameters default to the step panel's (the project's stored values over the
        step's declared defaults). A step that needs the scanner timeline runs the sync
        step first when there is none yet. The run is recorded in the project's provenance
        and shown in the task bar with Cancel; views see its result through
        ``session.result_changed``.
        """
        proj = self.session.project
        spec = self.catalog.get(name)
        if spec is None:
            self.show_error(f"There is no step '{name}'.")
            return None
        if proj is None or self.session.eeg is None and "eeg" in spec.requires:
            self.show_error(f"Open a study first: the step '{spec.title}' needs data to run on.")
            return None
        if params is None:
            params = self.step_panel.params(name)
        plan = [(name, dict(params))]
        if "sync" in spec.requires and self.session.study.sync is None and "sync" in self.catalog:
            plan.insert(0, ("sync", self.step_panel.params("sync")))

        def applied(result: Any) -> None:
            fork, project, outcomes = result
            if self.session.project is not proj:  # another study was opened meanwhile
                log.warning("%s finished after the study changed; its result was not applied", spec.title)
                if on_done is not None:
                    on_done([])
                return
            merge_provenance(proj, project)  # edits made during the run are kept
            done = [o.name for o in outcomes if o.status == "done"]
            keep_current(fork, self.session.study, {k for n in done for k in self.catalog[n].provides})
            changed = self.session.adopt(fork, None, done)
            for o in outcomes:
                if o.status != "done":
                    self.show_error(f"Step {self.catalog[o.name].title} failed: {o.message}")
                else:
                    log.info("step %s done", o.name)
            if changed:
                log.info("updated: %s", ", ".join(changed))
            if on_done is not None:
                on_done(outcomes)

        task = self.tasks.run(f"Running {spec.title}", loading.run_steps_staged, self.catalog, plan, proj,
                              self.session.study, on_result=applied)
        task.failed.connect(lambda exc, p=proj: self._step_failed(exc, p))
        return task

    def _step_failed(self, exc: BaseException, proj: Any) -> None:
        """A cancelled run: keep its provenance record (nothing else of the run is adopted)."""
        work = getattr(exc, "project", None)
        if isinstance(exc, Cancelled) and work is not None and self.session.project is proj:
            merge_provenance(proj, work)
            log.info("cancelled: recorded in the project's provenance; nothing else changed")

    # ------------------------------------------------------------------ undo
    def undo(self) -> None:
        cmd = self.session.undo.undo()
        if cmd is not None:
            log.info("undo: %s", cmd.text)

    def redo(self) -> None:
        cmd = self.session.undo.redo()
        if cmd is not None:
            log.info("redo: %s", cmd.text)

    def _update_undo_actions(self) -> None:
        u = self.session.undo
        self.act_undo.setEnabled(u.can_undo)
        self.act_redo.setEnabled(u.can_redo)
        self.act_undo.setText(f"Undo {u.undo_text}" if u.can_undo else "Undo")
        self.act_redo.setText(f"Redo {u.redo_text}" if u.can_redo else "Redo")

    def _project_changed(self, project: Any) -> None:
        if self._drop_project is not None:
            for drop in self._drop_project:
                drop()
            self._drop_project = None
        if project is not None:
            self._drop_project = [connect(self, project.changed, lambda *_: self._update_title()),
                                  connect(self, project.saved, lambda *_: self._update_title())]
        self._update_title()

    def _update_title(self) -> None:
        proj = self.session.project
        if proj is None:
            self.setWindowTitle(APP_TITLE)
            return
        mark = " •" if proj.dirty else ""  # unsaved changes
        self.setWindowTitle(f"{proj.name}{mark} — {APP_TITLE}")

    # ------------------------------------------------------------------ preferences
    def apply_preferences(self, prefs: Any) -> None:
        """Store new preferences and apply what can change live."""
        self.settings.prefs = prefs
        self.settings.save()
        traces = self.pages.get("Traces")
        view = getattr(traces, "view", None)
        if view is not None:
            view.points_per_pixel = prefs.trace_points_per_pixel
            view.set_window(prefs.trace_window_s)
            view.set_n_channels(prefs.trace_n_channels)
            view.markers_check.setChecked(prefs.trace_markers)
        if hasattr(traces, "autoscale_on_open"):
            traces.autoscale_on_open = prefs.trace_autoscale
        apply_theme(prefs.theme)

    # ------------------------------------------------------------------ dialogs (thin)
    def _ask_open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a data file", "", EEG_FILTER)
        if path:
            self.open_path(path)

    def _ask_open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a project or BIDS study folder")
        if path:
            self.open_path(path)

    def _ask_save_as(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Save the project into folder")
        if path:
            self.save_project_as(path)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export view", "view.png",
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            self.export_view(path)

    def _ask_preferences(self) -> None:
        dlg = PreferencesDialog(self.settings.prefs, self)
        if dlg.exec():
            self.apply_preferences(dlg.value())

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _c=False, path=p: self.open_path(path))
        if not self.settings.recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list").triggered.connect(self.settings.clear_recent)

    # ------------------------------------------------------------------ drag and drop
    @staticmethod
    def _dropped_paths(event: Any) -> list[Path]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = self._dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if len(paths) > 1:
            log.warning("%d items dropped; opening the first (%s)", len(paths), paths[0].name)
        self.open_path(paths[0])

    # ------------------------------------------------------------------ closing
    #: ask to save unsaved changes on close (tests switch it off: a modal dialog would block)
    ask_save_on_close = True

    def _confirm_close(self) -> bool:
        """Ask to save unsaved changes (Save / Discard / Cancel); False keeps the window open."""
        proj = self.session.project
        if not self.ask_save_on_close or proj is None or not proj.dirty:
            return True
        B = QMessageBox.StandardButton
        running = " Running work will be cancelled." if self.tasks.busy else ""
        answer = QMessageBox.question(
            self, APP_TITLE, f"The project '{proj.name}' has unsaved changes. Save them before "
            f"closing?{running}", B.Save | B.Discard | B.Cancel, B.Save)
        if answer == B.Save:
            return self.save_project() is not None  # a failed save keeps the window open
        return answer == B.Discard

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._confirm_close():
            event.ignore()
            return
        self.tasks.cancel_all()
        QThreadPool.globalInstance().waitForDone(5000)
        for page in self.pages.values():
            page.close()  # 3D views close their plotters here
        self.log_panel.detach()
        super().closeEvent(event)


def merge_provenance(project: Any, work: Any) -> None:
    """Add what a run recorded in its project copy to the open project (GUI thread).

    Only the run's new provenance records and the transforms it set are taken, so
    parameters, bad channels and other edits made while the run worked are kept.
    """
    start = getattr(work, "run_from", len(project.steps))
    new = work.steps[start:]
    for step in new:
        project.steps.append(step)
        project.step_added.emit(step)
    moved = {k: v for k, v in work.transforms.items() if project.transforms.get(k) != v}
    project.transforms.update(moved)
    if new or moved:
        project.dirty = True
        project.changed.emit(f"{len(new)} step(s) recorded")


def keep_current(fork: Any, study: Any, provided: set[str]) -> None:
    """Make a run's fork carry the open study's current value of every key the run did
    not provide, so adopting it never reverts what changed meanwhile (a coregistration
    edited while the gradient step ran)."""
    for key in ("sync", "rpeaks", "mask", "forward", "trans"):
        if key not in provided:
            setattr(fork, key, getattr(study, key))
    if "eeg" not in provided:
        fork.history = list(study.history)


#: the step each step tab shows (the Fusion tab: its selected method)
TAB_STEPS = {"Gradient": "gradient", "Cardiac": "cardiac", "ICA": "ica", "3D Coregistration": "coreg"}


class PageScroll(QScrollArea):
    """Holds a tab page: it fills the tab, and scrolls only when the tab is smaller than
    the page's minimum size (a small screen), instead of forcing a larger window."""

    def __init__(self, page: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page = page
        self.setWidget(page)
        # sized by hand: a resizable scroll area would size a page whose layout wraps
        # (height for width) to its *preferred* height and scroll when it need not
        self.setWidgetResizable(False)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setMinimumSize(200, 150)

    def viewportEvent(self, event: Any) -> bool:  # noqa: N802
        from PyQt6.QtCore import QEvent

        if event.type() == QEvent.Type.Resize:
            self._fit()
        return super().viewportEvent(event)

    def _fit(self) -> None:
        vp = self.viewport().size()
        need = self.page.minimumSizeHint().expandedTo(self.page.minimumSize())
        self.page.resize(max(vp.width(), need.width()), max(vp.height(), need.height()))


class PipelineScroll(QScrollArea):
    """The pipeline bar, scrolling sideways when the window is narrower than the pipeline."""

    def __init__(self, bar: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(bar)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        extent = self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
        self.setFixedHeight(bar.sizeHint().height() + extent + 2)
        self.setMinimumWidth(200)

    def sizeHint(self) -> Any:  # noqa: N802
        hint = super().sizeHint()
        hint.setWidth(self.widget().sizeHint().width() + 4)
        return hint

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        bar = self.widget()
        if hasattr(bar, "fit_width"):
            bar.fit_width(event.size().width() - 4)
        super().resizeEvent(event)


def initial_size() -> tuple[int, int]:
    """The first window size: 1500×950, or the available screen when it is smaller."""
    screen = QApplication.primaryScreen()
    if screen is None:
        return 1500, 950
    avail = screen.availableGeometry()
    return min(1500, avail.width()), min(950, avail.height())


def load_catalog() -> dict[str, Any]:
    """Every step (built-in and plugins); a broken plugin discovery leaves the built-in ones."""
    try:
        from workbench.plugin_api import all_steps

        return all_steps()
    except Exception as exc:  # noqa: BLE001 - discovery must never stop the GUI
        log.error("plugins could not be listed: %s", exc)
        from workbench.engine.steps import builtin_steps

        return builtin_steps()


def apply_theme(theme: str) -> None:
    """Light (platform default) or dark (Fusion with a dark palette)."""
    from PyQt6.QtGui import QColor, QPalette

    app = QApplication.instance()
    if app is None:
        return
    if theme == "dark":
        app.setStyle("Fusion")
        pal = QPalette()
        R = QPalette.ColorRole
        for role, col in ((R.Window, "#2b2b2b"), (R.WindowText, "#e0e0e0"), (R.Base, "#1e1e1e"),
                          (R.AlternateBase, "#2b2b2b"), (R.Text, "#e0e0e0"), (R.Button, "#3a3a3a"),
                          (R.ButtonText, "#e0e0e0"), (R.Highlight, "#1565c0"),
                          (R.HighlightedText, "#ffffff"), (R.ToolTipBase, "#ffffe0"),
                          (R.ToolTipText, "#000000")):
            pal.setColor(role, QColor(col))
        app.setPalette(pal)
    else:
        app.setPalette(app.style().standardPalette())


def schedule(ms: int, fn: Any) -> None:
    """Run ``fn`` on the GUI thread after ``ms`` milliseconds."""
    QTimer.singleShot(ms, fn)
