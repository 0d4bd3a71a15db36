"""Task bar: the running task's message, a progress bar and a Cancel button."""

from __future__ import annotations

from PyQt6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from .workers import Task, TaskManager


class TaskBar(QWidget):
    """Observes a :class:`TaskManager`; Cancel cancels every running task."""

    def __init__(self, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        self.label = QLabel("Ready")
        self.label.setToolTip("The task running in the background (the window stays usable).")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFixedWidth(220)
        self.bar.setTextVisible(True)
        self.bar.setFormat("%p%")
        self.bar.setToolTip("Progress of the running task.")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop the running task at its next check; nothing half-written is left behind."
        )
        self.cancel_button.clicked.connect(self.tasks.cancel_all)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        tasks.started.connect(self._refresh)
        tasks.progressed.connect(self._progress)
        tasks.ended.connect(self._refresh)
        self._refresh()

    def _progress(self, task: Task, fraction: float, message: str) -> None:
        self.bar.setValue(int(round(fraction * 1000)))
        self.label.setText(f"{task.title}: {message}" if message else task.title)

    def _refresh(self, *_: object) -> None:
        busy = self.tasks.busy
        self.bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            t = self.tasks.tasks[-1]
            self.bar.setValue(int(round(t.fraction * 1000)))
            self.label.setText(f"{t.title}: {t.message}" if t.message else f"{t.title}...")
        else:
            self.bar.setValue(0)
            self.label.setText("Ready")
