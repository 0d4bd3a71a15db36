"""Views of EEG source estimates (3D and slices; fmri-source)."""

from .view import SourceView, has_source_estimate

__all__ = ["SourceView", "has_source_estimate"]
