"""Connect a widget to an evented-model (psygnal) signal for the widget's lifetime.

psygnal holds the slot; when Qt deletes the widget the slot would touch a dead C++
object. :func:`connect` disconnects automatically when the widget is destroyed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import QWidget


def connect(widget: QWidget, signal: Any, slot: Callable[..., Any]) -> Callable[[], None]:
    """``signal.connect(slot)`` until ``widget`` is destroyed; returns a disconnect function."""

    def safe(*args: Any) -> None:
        try:
            slot(*args)
        except RuntimeError as exc:  # wrapped C/C++ object has been deleted
            if "deleted" not in str(exc):
                raise
            with contextlib.suppress(Exception):
                signal.disconnect(safe)

    signal.connect(safe, check_nargs=False)

    def _drop(*_: Any) -> None:
        with contextlib.suppress(Exception):
            signal.disconnect(safe)

    widget.destroyed.connect(_drop)
    return _drop
