"""Trace browser: :class:`TraceView` (reusable) and :class:`TracesTab` (bound to a Session)."""

from .downsample import peak_downsample
from .tab import TracesTab
from .view import TraceView

__all__ = ["TraceView", "TracesTab", "peak_downsample"]
