"""Test helpers for plugin authors (Qt-free): the fusion contract suite."""

from .fusion import CheckReport, check_fusion_method

__all__ = ["CheckReport", "check_fusion_method"]
