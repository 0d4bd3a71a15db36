"""Log panel: Python ``logging`` records shown in a read-only text widget.

The handler may be called from worker threads; it only emits a Qt signal, which Qt
queues to the GUI thread where the text is appended.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QFont, QTextCursor
from PyQt6.QtWidgets import QPlainTextEdit, QWidget

_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"


class _Bridge(QObject):
    record = pyqtSignal(str, int)


class QtLogHandler(logging.Handler):
    """A logging handler that forwards formatted records through a Qt signal."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = _Bridge()
        self.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.record.emit(self.format(record), record.levelno)
        except RuntimeError:  # the widget is gone (application closing)
            pass


class LogPanel(QPlainTextEdit):
    """Shows the ``workbench`` logger (and warnings from the libraries it uses)."""

    MAX_LINES = 5000

    def __init__(self, parent: QWidget | None = None, logger_name: str = "workbench") -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(self.MAX_LINES)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.TypeWriter)
        font.setPointSize(9)
        self.setFont(font)
        self.setToolTip("What the workbench did and any problems it met (newest at the bottom).")
        self.handler = QtLogHandler()
        self.handler.bridge.record.connect(self.append_record)
        self._logger = logging.getLogger(logger_name)
        self._logger.addHandler(self.handler)
        if self._logger.getEffectiveLevel() > logging.INFO:
            self._logger.setLevel(logging.INFO)
        # warnings of the libraries doing the work (MNE) belong here too
        self.lib_handler = QtLogHandler(logging.WARNING)
        self.lib_handler.bridge.record.connect(self.append_record)
        self._lib_logger = logging.getLogger("mne")
        self._lib_logger.addHandler(self.lib_handler)
        # detached by the window when it closes (MainWindow.closeEvent); not from `destroyed`:
        # Python slots on `destroyed` ran inside Qt's destructors and crashed (see signals.py)

    def detach(self) -> None:
        """Stop receiving log records (called when the window closes)."""
        self._logger.removeHandler(self.handler)
        self._lib_logger.removeHandler(self.lib_handler)

    def append_record(self, text: str, level: int) -> None:
        colour = "#b00020" if level >= logging.ERROR else "#a05a00" if level >= logging.WARNING else None
        if colour:
            safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            self.appendHtml(f'<span style="color:{colour}">{safe.replace(chr(10), "<br>")}</span>')
        else:
            self.appendPlainText(text)
        self.moveCursor(QTextCursor.MoveOperation.End)
