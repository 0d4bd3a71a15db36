"""Fusion tab (plugins, parameter forms, generic output views) and the hemodynamics teaching view."""

from .hemo_view import HemodynamicsView
from .tab import FusionTab

__all__ = ["FusionTab", "HemodynamicsView"]
