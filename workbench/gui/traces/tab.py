"""The Traces tab: the session's EEG in a :class:`~.view.TraceView`.

Observes ``session.raw_changed``, ``cleaned_changed`` and ``bads_changed``. Clicking a
channel name pushes an undoable command on ``session.undo`` (the Session changes, the
view redraws from its signal).
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.commands import SetValue

from ..loading import set_bads
from ..signals import connect
from .view import TraceView

HELP_TEXT = (
    "<b>Traces</b> shows the EEG as recorded inside the scanner. Each row is one channel, "
    "stacked with a per-type scale (the label at the bottom right says how many µV one row "
    "spans; choose a type next to −/+ to rescale only it) and clipped to its row. The "
    "initial scale is fitted on EEG free of the gradient artifact (before the first scanner "
    "trigger, or the cleaned EEG). <i>Butterfly</i> overlays all channels of a type on one "
    "axis. Only the visible seconds are read from disk and each screen column keeps the "
    "minimum and maximum of its samples, so spikes and artifacts are never hidden by the "
    "zoom level. Vertical lines are markers: scanner volume/slice triggers (e.g. R128), "
    "R-peaks and task events. In simultaneous EEG-fMRI the raw traces are dominated by the "
    "gradient artifact (millivolts, repeating at every slice) and the pulse artifact (BCG, "
    "~0.2 s after each heartbeat); after a correction step the cleaned EEG (blue) can be "
    "drawn over the raw one (grey). Click a channel name to mark it bad (Ctrl+Z undoes)."
)


class ChannelPicker(QDialog):
    """Tick the channels to show."""

    def __init__(self, names: list[str], shown: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Channels to show")
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setToolTip("Ticked channels are shown in the trace view, in recording order.")
        shown_set = set(shown)
        for n in names:
            it = QListWidgetItem(n)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked if n in shown_set else Qt.CheckState.Unchecked)
            self.list.addItem(it)
        lay.addWidget(self.list)
        box = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        lay.addWidget(box)

    def selected(self) -> list[str]:
        return [
            self.list.item(i).text()
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]


class TracesTab(QWidget):
    """Trace browser bound to a Session."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None, prefs: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        kw = {}
        if prefs is not None:
            kw = dict(window_s=prefs.trace_window_s, n_channels=prefs.trace_n_channels,
                      points_per_pixel=prefs.trace_points_per_pixel)
        self.autoscale_on_open = True if prefs is None else bool(prefs.trace_autoscale)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.view = TraceView(self, **kw)
        if prefs is not None:
            self.view.markers_check.setChecked(bool(prefs.trace_markers))
        self.pick_button = QPushButton("Channels…")
        self.pick_button.setToolTip("Choose which channels are shown.")
        self.pick_button.clicked.connect(self.pick_channels)
        self.view.extra_bar.addWidget(self.pick_button)
        lay.addWidget(self.view)
        self.view.bad_clicked.connect(self.toggle_bad)
        connect(self, session.raw_changed, self._on_raw)
        connect(self, session.cleaned_changed, self._on_cleaned)
        connect(self, session.bads_changed, self._on_bads)
        if session.raw is not None:
            self._on_raw(session.raw)

    def _on_raw(self, raw: Any) -> None:
        self.view.picks = []
        self.view.t0 = 0.0
        self.view.set_data(raw, self.session.cleaned)
        if raw is not None and self.autoscale_on_open:
            # fitted on EEG without the gradient artifact (cleaned, or before/after the scan)
            self.view.initial_scale()

    def _on_cleaned(self, cleaned: Any) -> None:
        self.view.set_cleaned(cleaned)

    def _on_bads(self, _bads: Any) -> None:
        self.view.request_render()

    def toggle_bad(self, name: str) -> None:
        """Mark ``name`` bad (or good again) as an undoable edit."""
        raw = self.session.raw
        if raw is None or name not in raw.ch_names:
            return
        old = list(raw.info["bads"])
        if name in old:
            new = [b for b in old if b != name]
            text = f"mark {name} good"
        else:
            new = old + [name]
            text = f"mark {name} bad"
        self.session.undo.push(SetValue(text, lambda v: set_bads(self.session, v), old, new))

    def pick_channels(self) -> None:
        raw = self.session.raw
        if raw is None:
            return
        shown = [raw.ch_names[i] for i in self.view.picks]
        dlg = ChannelPicker(list(raw.ch_names), shown, self)
        if dlg.exec():
            self.view.set_selection(dlg.selected())
