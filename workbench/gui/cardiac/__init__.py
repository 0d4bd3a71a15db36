"""The Cardiac tab: R-peaks, heart rate and beat-locked EEG before/after the BCG correction."""

from .tab import CardiacTab

__all__ = ["CardiacTab"]
