"""Text progress bar for the CLI (renders the engine's progress protocol)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..engine.progress import Progress


class TextProgress:
    """Render ``progress(fraction, message)`` calls as a one-line bar on stderr.

    Only draws on a terminal (or when ``force``); otherwise prints a line per message
    change at most every few seconds, so logs in CI stay readable.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30, force: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = force or self.stream.isatty()
        self._last_msg = None
        self._last_t = 0.0

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if self.tty:
            n = int(round(fraction * self.width))
            bar = "#" * n + "-" * (self.width - n)
            self.stream.write(f"\r[{bar}] {fraction * 100:5.1f}% {message[:60]:<60}")
            if fraction >= 1.0:
                self.stream.write("\n")
            self.stream.flush()
        elif message != self._last_msg and (now - self._last_t > 2.0 or fraction >= 1.0):
            self.stream.write(f"[{fraction * 100:5.1f}%] {message}\n")
            self.stream.flush()
            self._last_msg, self._last_t = message, now

    def progress(self) -> Progress:
        """A :class:`Progress` reporting to this bar."""
        return Progress(self)
