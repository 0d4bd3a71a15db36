"""Cardiac (BCG) stage: MR-robust R-peaks (ECG, or the EEG's pulse as a fallback) and BCG removal.

Typical use::

    from workbench.engine.cardiac import detect_rpeaks, remove_bcg
    beats = detect_rpeaks(ecg, sfreq)
    res = remove_bcg(data, sfreq, beats.times, method="obs")
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DetectorParams", "RPeaks", "detect_rpeaks", "correct_beats", "rr_report", "implausible_intervals",
    "ecg_problem", "beats_from_eeg", "BCGParams", "BCGResult", "remove_bcg", "match_beats",
]

_LAZY = {
    "DetectorParams": "rpeaks", "RPeaks": "rpeaks", "detect_rpeaks": "rpeaks", "correct_beats": "rpeaks",
    "rr_report": "rpeaks", "implausible_intervals": "rpeaks", "ecg_problem": "rpeaks",
    "beats_from_eeg": "eegbeats", "BCGParams": "bcg", "BCGResult": "bcg", "remove_bcg": "bcg",
    "match_beats": "qc",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
