"""The central tabs, imported lazily: ``(title, "module:ClassName")``.

Each class is constructed as ``Class(session, parent)``. A tab whose module cannot be
imported (or whose constructor fails) is replaced by a one-line label saying why, so a
broken view never stops the application.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QWidget

log = logging.getLogger(__name__)

TABS: list[tuple[str, str]] = [
    ("Traces", "workbench.gui.traces:TracesTab"),
    ("3D Coregistration", "workbench.gui.coreg:CoregTab"),
    ("Slices & Maps", "workbench.gui.slices:SlicesTab"),
    ("Gradient", "workbench.gui.gradient:GradientTab"),
    ("Cardiac", "workbench.gui.cardiac:CardiacTab"),
    ("ICA", "workbench.gui.ica:ICATab"),
    ("Fusion", "workbench.gui.fusion:FusionTab"),
    ("Cohort", "workbench.gui.cohort:CohortTab"),
]

#: teaching text for tabs whose class does not provide ``HELP_TEXT``
FALLBACK_HELP = {
    "3D Coregistration": (
        "<b>3D Coregistration</b> aligns the EEG electrode positions (digitised in the head "
        "frame, defined by nasion and ears) with the MRI. The scalp is extracted from the "
        "T1; the fiducials give a first fit, then ICP moves the head-shape points onto the "
        "scalp. Distances of the points to the scalp are the QC (a few mm is good)."
    ),
    "Gradient": (
        "<b>Gradient</b>: the scanner's switching gradients induce millivolt artifacts in "
        "the EEG leads (Faraday's law), repeating at every slice. Averaging the artifact over "
        "many slices gives a template that is subtracted; residues are removed by PCA (OBS) "
        "and a low-pass filter."
    ),
    "Fusion": (
        "<b>Fusion</b> combines EEG and fMRI: e.g. single-trial EEG amplitudes as a "
        "parametric modulator of the fMRI model, or fMRI maps as priors for EEG sources."
    ),
}


class UnavailableTab(QLabel):
    """Stands in for a tab that could not be created (says why, in one line)."""

    def __init__(self, title: str, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(f"The {title} view is not available: {reason}", parent)
        self.reason = reason
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet("color:#666; font-size:11pt; padding:24px")


def make_tab(title: str, target: str, session: Any, parent: QWidget | None = None,
             prefs: Any = None) -> QWidget:
    """Import ``target`` ("module:Class") and construct it, or an :class:`UnavailableTab`."""
    module_name, _, cls_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except Exception as exc:  # noqa: BLE001 - a missing/broken view must not stop the app
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log.warning("tab %s: %s", title, reason)
        return UnavailableTab(title, reason, parent)
    try:
        kwargs = {}
        if prefs is not None and "prefs" in inspect.signature(cls).parameters:
            kwargs["prefs"] = prefs
        return cls(session, parent, **kwargs)
    except Exception as exc:  # noqa: BLE001
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log.exception("tab %s could not be created", title)
        return UnavailableTab(title, reason, parent)


def help_text(title: str, widget: QWidget | None) -> str:
    """The "what is happening here" text of a tab."""
    text = getattr(widget, "HELP_TEXT", None)
    return text or FALLBACK_HELP.get(title, f"<b>{title}</b>")
