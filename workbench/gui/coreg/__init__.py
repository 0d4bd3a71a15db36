"""The 3D coregistration view (pyvistaqt)."""

from __future__ import annotations

from .tab import CoregTab

__all__ = ["CoregTab"]
