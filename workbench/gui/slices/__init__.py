"""Orthogonal slice viewer of anatomy, BOLD and statistical maps."""

from .viewer import SlicesTab, SliceView

__all__ = ["SliceView", "SlicesTab"]
