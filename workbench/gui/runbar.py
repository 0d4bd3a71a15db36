"""A row with Apply / Cancel, a progress bar and a status line that runs one step through the
main window's runner (``MainWindow.run_step``), shared by the step views (Cardiac, ICA, Gradient, Fusion)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.errors import Cancelled, WorkbenchError


def _html(text: str) -> str:
    """Plain text for the rich-text status line: escaped, line breaks kept."""
    return html.escape(text).replace("\n", "<br>")


class StepRunBar(QWidget):
    """Apply runs ``step_id`` with the parameters ``params()`` gives; Cancel cancels that task.

    Parameters
    ----------
    step_id : str
        The step run.
    params : callable
        Returns the parameters of a run (the project's stored values).
    apply_text, apply_tip : str
        The Apply button's text and tooltip.
    """

    def __init__(self, step_id: str, params: Callable[[], dict[str, Any]], apply_text: str, apply_tip: str,
                 parent: QWidget | None = None, status_below: bool = False) -> None:
        super().__init__(parent)
        self.step_id = step_id
        self.params = params
        self.run_step: Any = None
        self.task: Any = None
        self.last_error = ""
        self.on_finished: Callable[[], None] | None = None
        #: called before a run: a one-line reason not to run (shown as an error), or None
        self.precheck: Callable[[], str | None] | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        lay = QHBoxLayout()
        outer.addLayout(lay)
        self.apply_button = QPushButton(apply_text)
        self.apply_button.setToolTip(apply_tip)
        self.apply_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run: nothing is changed or written (the cancelled run is "
                                      "recorded in the provenance).")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()  # shown while a run works
        self.status = QLabel("")
        # always rich text: the messages are escaped, and a plain-looking one (no tag) was shown
        # with its entities as typed ("&#x27;stim&#x27;")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for w in (self.apply_button, self.cancel_button, self.progress):
            lay.addWidget(w)
        if status_below:  # a narrow side panel: the status gets the whole width below
            lay.addStretch(1)
            outer.addWidget(self.status)
        else:
            lay.addWidget(self.status, 1)
        self.update_buttons()

    def set_runner(self, run_step: Any) -> None:
        self.run_step = run_step
        self.update_buttons()

    def update_buttons(self, can_run: bool = True) -> None:
        self.apply_button.setEnabled(self.run_step is not None and self.task is None and can_run)
        self.cancel_button.setEnabled(self.task is not None)

    def run(self) -> Any:
        """Start the step in a worker (the task bar shows it too); returns the task or None."""
        if self.run_step is None or self.task is not None:
            return None
        self.last_error = ""
        problem = self.precheck() if self.precheck is not None else None
        if problem:
            self.say(problem, error=True)
            return None
        task = self.run_step(self.step_id, self.params(), on_done=self._outcomes)
        if task is None:
            return None
        self.task = task
        task.progressed.connect(self._progress)
        task.failed.connect(self._failed)
        task.ended.connect(self._ended)
        self.status.setText("running…")
        self.progress.show()
        self.update_buttons()
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("cancelling…")

    def say(self, text: str, error: bool = False) -> None:
        """Show ``text`` in the status line (red, and kept as :attr:`last_error`, for an error)."""
        if error:
            self.last_error = text
            self.status.setText(f"<span style='color:#b00020'>{_html(text)}</span>")
        else:
            self.status.setText(_html(text))

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.status.setText(_html(message))

    def _outcomes(self, outcomes: list[Any]) -> None:
        failed = [o for o in outcomes if o.status != "done"]
        if failed:
            self.last_error = "; ".join(f"{o.name}: {o.message}" for o in failed)
            self.status.setText(f"<span style='color:#b00020'>{html.escape(self.last_error)}</span>")
        else:
            self.status.setText("done")

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self.last_error = "cancelled"
            self.status.setText("Cancelled: nothing was changed (the cancelled run is in the provenance).")
        elif isinstance(exc, WorkbenchError):
            self.last_error = str(exc)
            self.status.setText(f"<span style='color:#b00020'>{html.escape(str(exc))}</span>")
        else:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.status.setText(f"<span style='color:#b00020'>unexpected error: {html.escape(self.last_error)}</span>")

    def _ended(self) -> None:
        self.task = None
        self.progress.setValue(0)
        self.progress.hide()
        self.update_buttons()
        if self.on_finished is not None:
            self.on_finished()


#: what a step view says when its result is no longer part of the current EEG
STALE_TEXT = ("<b>Not in the current EEG: a step before it ran again and dropped this correction. "
              "Apply to run it again.</b>")


def in_current_eeg(session: Any, step_id: str) -> bool:
    """Whether the current EEG's history holds a version made by ``step_id``."""
    return any(v.step == step_id for v in getattr(session.study, "history", []))

