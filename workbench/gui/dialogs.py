"""Preferences, About and teaching dialogs."""

from __future__ import annotations

import platform
from dataclasses import replace
from importlib import metadata

from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .settings import Preferences

_VERSIONED = ("mne", "numpy", "scipy", "nibabel", "nilearn", "pyqtgraph", "pyvista", "vtk",
              "superqt", "psygnal")


def versions() -> dict[str, str]:
    """Versions shown in About (and useful in bug reports)."""
    from workbench import __version__

    out = {"EEG-fMRI Workbench": __version__, "Python": platform.python_version(),
           "Qt": QT_VERSION_STR, "PyQt6": PYQT_VERSION_STR}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def about_html() -> str:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
    return (
        "<h3>EEG-fMRI Workbench</h3>"
        "<p>Open analysis of simultaneous EEG-fMRI: scanner-trigger sync, gradient and pulse "
        "artifact correction, EEG↔MRI coregistration and EEG-fMRI fusion, with a "
        "physics-grounded phantom whose ground truth scores every step.</p>"
        f"<table>{rows}</table><p>BSD-3-Clause licence.</p>"
    )


class PreferencesDialog(QDialog):
    """Edits :class:`~.settings.Preferences`; :meth:`value` returns the edited copy."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.window = QDoubleSpinBox()
        self.window.setRange(0.1, 600)
        self.window.setSuffix(" s")
        self.window.setValue(prefs.trace_window_s)
        self.window.setToolTip("Seconds of EEG shown when a recording opens (typical 10 s).")
        self.nch = QSpinBox()
        self.nch.setRange(1, 256)
        self.nch.setValue(prefs.trace_n_channels)
        self.nch.setToolTip("Channels shown at once in the trace view (typical 20-32).")
        self.ppp = QDoubleSpinBox()
        self.ppp.setRange(1.0, 10.0)
        self.ppp.setSingleStep(0.5)
        self.ppp.setValue(prefs.trace_points_per_pixel)
        self.ppp.setToolTip(
            "Peak-downsampling density: points drawn per screen pixel (2 = min and max of each "
            "column; more is slower and looks the same)."
        )
        self.autoscale = QCheckBox()
        self.autoscale.setChecked(prefs.trace_autoscale)
        self.autoscale.setToolTip("Fit trace scales to the data when a recording opens.")
        self.markers = QCheckBox()
        self.markers.setChecked(prefs.trace_markers)
        self.markers.setToolTip("Draw annotation markers (triggers, R-peaks, events) by default.")
        self.theme = QComboBox()
        self.theme.addItems(["light", "dark"])
        self.theme.setCurrentText(prefs.theme)
        self.theme.setToolTip("Colour theme of the window (plots keep white backgrounds).")
        form.addRow("Trace window", self.window)
        form.addRow("Channels shown", self.nch)
        form.addRow("Points per pixel", self.ppp)
        form.addRow("Auto-scale on open", self.autoscale)
        form.addRow("Show markers", self.markers)
        form.addRow("Theme", self.theme)
        lay.addLayout(form)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        lay.addWidget(box)
        self._prefs = prefs

    def value(self) -> Preferences:
        return replace(
            self._prefs,
            trace_window_s=float(self.window.value()),
            trace_n_channels=int(self.nch.value()),
            trace_points_per_pixel=float(self.ppp.value()),
            trace_autoscale=self.autoscale.isChecked(),
            trace_markers=self.markers.isChecked(),
            theme=self.theme.currentText(),
        )
