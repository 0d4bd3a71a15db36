"""Progress and cancellation protocol (DESIGN §3.5).

Engine functions that can take more than ~0.2 s accept ``progress=None`` and call it
as ``progress(fraction, message)``; they check for cancellation through
:func:`check_cancelled` (or ``progress.check()``). The protocol knows nothing of Qt:
the CLI renders it as a text bar, the GUI as a progress bar with a Cancel button,
in the way Orange3's concurrent helpers separate a pure compute function from its UI.

Examples
--------
>>> from workbench.engine.progress import Progress
>>> seen = []
>>> p = Progress(lambda f, m: seen.append(round(f, 2)))
>>> sub = p.sub(0.5, 1.0)
>>> sub(0.5, "half of the second half")
>>> seen
[0.75]
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .errors import Cancelled

ProgressCallback = Callable[[float, str], None]


@runtime_checkable
class ProgressLike(Protocol):
    """What engine functions accept as ``progress``."""

    def __call__(self, fraction: float, message: str = "") -> None: ...


class CancelToken:
    """A thread-safe cancel flag shared between a worker and its UI."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()


class Progress:
    """A progress reporter with a cancel flag and nested sub-ranges.

    Parameters
    ----------
    callback : callable | None
        ``callback(fraction, message)`` with ``fraction`` in [0, 1] of the whole task.
    token : CancelToken | None
        Shared cancel flag; a new one is made when not given.
    start, stop : float
        The part of the parent's range this reporter covers (used by :meth:`sub`).
    """

    def __init__(
        self,
        callback: ProgressCallback | None = None,
        token: CancelToken | None = None,
        start: float = 0.0,
        stop: float = 1.0,
    ) -> None:
        self._callback = callback
        self.token = token if token is not None else CancelToken()
        self._start = float(start)
        self._stop = float(stop)

    def __call__(self, fraction: float, message: str = "") -> None:
        """Report ``fraction`` of this range done; raises :class:`Cancelled` if asked."""
        self.check()
        if self._callback is not None:
            f = min(max(float(fraction), 0.0), 1.0)
            self._callback(self._start + f * (self._stop - self._start), message)

    def check(self) -> None:
        """Raise :class:`~workbench.engine.errors.Cancelled` if cancellation was requested."""
        if self.token.cancelled:
            raise Cancelled()

    @property
    def cancelled(self) -> bool:
        """True when the user asked to cancel."""
        return self.token.cancelled

    def sub(self, start: float, stop: float) -> Progress:
        """A reporter for the part ``[start, stop]`` (fractions of this range)."""
        span = self._stop - self._start
        return Progress(
            self._callback,
            self.token,
            self._start + start * span,
            self._start + stop * span,
        )


def as_progress(progress: ProgressLike | Progress | None) -> Progress:
    """Wrap whatever was passed as ``progress`` into a :class:`Progress`.

    ``None`` gives a silent reporter; a :class:`Progress` is returned as is; any other
    callable ``f(fraction, message)`` is wrapped.
    """
    if isinstance(progress, Progress):
        return progress
    if progress is None:
        return Progress(None)
    return Progress(progress)


def check_cancelled(progress: ProgressLike | Progress | None) -> None:
    """Raise :class:`Cancelled` if ``progress`` carries a cancelled token."""
    if isinstance(progress, Progress):
        progress.check()
