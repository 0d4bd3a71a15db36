"""Live view of the online (real-time) correction."""

from .window import OnlineWindow

__all__ = ["OnlineWindow"]
