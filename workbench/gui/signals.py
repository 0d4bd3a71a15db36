"""Connect a widget to an evented-model (psygnal) signal for the widget's lifetime.

psygnal holds the slot; when Qt deletes the widget the slot would touch a dead C++
object. :func:`connect` stops calling the slot once the widget is destroyed.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import Any

from PyQt6 import sip
from PyQt6.QtWidgets import QWidget


def connect(widget: QWidget, signal: Any, slot: Callable[..., Any]) -> Callable[[], None]:
    """``signal.connect(slot)`` until ``widget`` is destroyed; returns a disconnect function.

    The widget is watched through a weak reference and ``sip.isdeleted``, checked when the
    signal fires; the slot is then disconnected, outside Qt's destructors. Connecting
    ``widget.destroyed`` to a Python callable instead crashed the interpreter (a segfault in
    CI, when a previous test's window was torn down during the next test).
    """
    ref = weakref.ref(widget)
    state = {"dead": False}

    def gone() -> bool:
        w = ref()
        return state["dead"] or w is None or sip.isdeleted(w)

    def safe(*args: Any) -> None:
        if gone():
            state["dead"] = True
            with contextlib.suppress(Exception):
                signal.disconnect(safe)
            return
        try:
            slot(*args)
        except RuntimeError as exc:  # wrapped C/C++ object has been deleted
            if "deleted" not in str(exc):
                raise
            state["dead"] = True
            with contextlib.suppress(Exception):
                signal.disconnect(safe)

    signal.connect(safe, check_nargs=False)

    def _drop(*_: Any) -> None:
        state["dead"] = True
        with contextlib.suppress(Exception):
            signal.disconnect(safe)

    return _drop
