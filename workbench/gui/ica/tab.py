"""The ICA tab: every component of the latest ``ica`` run with its map, time course, spectrum,
explained variance and the automatic EOG / cardiac label with its score; accept or reject
each (undoable), then Apply.

The choice is the ``ica`` step's ``exclude`` parameter, stored in the project: Apply runs
the step again through the main window's runner (a worker with progress and Cancel; the
same seed gives the same components) and ``workbench run`` replays it. "Use detection"
returns to the automatic choice (``exclude`` = auto).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.commands import SetValue
from workbench.engine.errors import InputError
from workbench.engine.steps.ica import SPEC, parse_exclude

from ..runbar import STALE_TEXT, StepRunBar, in_current_eeg
from ..signals import connect
from ..step_params import step_values, store_values

STEP = "ica"

HELP_TEXT = (
    "<b>ICA</b> splits the EEG into independent components. Blinks, eye movements, the heartbeat "
    "and what is left of the pulse artifact each land in a few components with a typical map, "
    "time course and spectrum. The automatic labels (EOG: correlation with the EOG channel; "
    "cardiac: locked to the R-peaks) are suggestions: tick the components to remove, then Apply. "
    "The choice is saved in the project and replayed."
)

COLUMNS = ["#", "remove", "variance", "label", "score"]
#: column of the remove box
BOX = 1


class ICATab(QWidget):
    """Review of the ICA components: table with labels and a remove box; map, time course, spectrum."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.step_result: Any = None
        self.details: dict[str, Any] | None = None
        self.current: int | None = None
        self._filling = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        self.summary = QLabel("Run ICA (here or from the step panel) to review its components.")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        row = QHBoxLayout()
        self.runbar = StepRunBar(STEP, self.params, "Run ICA / Apply",
                                 "Fit the ICA (Picard by default) and remove the components ticked here; the "
                                 "choice is the step's 'exclude' parameter, saved and replayed.")
        self.runbar.on_finished = self._update_pending
        row.addWidget(self.runbar, 1)
        self.auto_button = QPushButton("Use detection")
        self.auto_button.setToolTip("Forget the hand-made choice: remove the components the detection flags "
                                    "(undoable).")
        self.auto_button.clicked.connect(lambda: self.set_choice(None, "use the detected ICA components"))
        row.addWidget(self.auto_button)
        lay.addLayout(row)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        hh = self.table.horizontalHeader()
        for c in range(len(COLUMNS)):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("One row per component: the share of the EEG variance it explains, the automatic "
                              "label with its score (EOG r: |correlation| with the EOG channel; beat: the share of "
                              "its variance locked to the R-peaks, and its robust z over components). Tick 'remove' to take it out (Ctrl+Z undoes).")
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.itemChanged.connect(self._item_changed)
        self.table.setMinimumWidth(250)
        split.addWidget(self.table)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.fig = Figure(figsize=(2.4, 2.4), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.fig)
        self.canvas.setMinimumSize(170, 170)
        top.addWidget(self.canvas, 1)
        self.spectrum = pg.PlotWidget(title="spectrum")
        self.spectrum.setLabel("bottom", "frequency", "Hz")
        self.spectrum.setLabel("left", "power", "dB")
        self.spectrum.setMinimumHeight(150)
        top.addWidget(self.spectrum, 2)
        rl.addLayout(top, 1)
        self.course = pg.PlotWidget(title="time course")
        self.course.setLabel("bottom", "time", "s")
        self.course.setMouseEnabled(x=True, y=False)
        self.course.getPlotItem().setClipToView(True)
        self.course.getPlotItem().setDownsampling(auto=True, mode="peak")
        self.course.setMinimumHeight(120)
        rl.addWidget(self.course, 1)
        split.addWidget(right)
        split.setSizes([430, 750])
        connect(self, session.result_changed, self._result_changed)
        connect(self, session.undo.changed, lambda *_: self._choice_changed())
        connect(self, session.project_changed, lambda *_: self._study_changed())
        connect(self, session.cleaned_changed, lambda *_: self._update_pending())
        self._study_changed()

    # ------------------------------------------------------------------ runner and choice
    def set_runner(self, run_step: Any, catalog: dict[str, Any]) -> None:
        self.runbar.set_runner(run_step)
        self._update_pending()

    def params(self) -> dict[str, Any]:
        """The parameters Apply uses (the project's stored values, with the choice)."""
        return step_values(self.session, SPEC, STEP)

    def stored_choice(self) -> list[int] | None:
        """The components chosen by hand (None: the detection decides)."""
        if self.session.project is None or self.details is None:
            return None
        try:
            return parse_exclude(self.params().get("exclude"), self.n_components)
        except InputError:
            return None

    @property
    def n_components(self) -> int:
        return int(self.details["ica"].n_components_) if self.details is not None else 0

    def excluded(self) -> list[int]:
        """What Apply removes: the stored choice, else the detected components."""
        choice = self.stored_choice()
        return sorted(self.details["auto"]) if choice is None and self.details is not None else (choice or [])

    def set_choice(self, comps: list[int] | None, text: str) -> bool:
        """Store a new choice (``None`` = the detection) as an undoable command."""
        if self.session.project is None:
            return False
        old = self.params()
        value = None if comps is None else (",".join(str(i) for i in sorted(set(comps))) or "[]")
        if old.get("exclude") == value:
            return False
        new = dict(old)
        new["exclude"] = value
        self.session.undo.push(SetValue(text, lambda v: store_values(self.session, STEP, v), old, new))
        return True

    def set_removed(self, comp: int, remove: bool) -> bool:
        """Remove (or keep) one component; undoable."""
        cur = set(self.excluded())
        new = cur | {comp} if remove else cur - {comp}
        if new == cur:
            return False
        return self.set_choice(sorted(new), f"{'remove' if remove else 'keep'} ICA component {comp}")

    def pending(self) -> bool:
        """True when the choice differs from what the latest run removed."""
        return self.details is not None and self.excluded() != sorted(self.details["excluded"])

    def _update_pending(self) -> None:
        can = self.session.project is not None and self.session.eeg is not None
        self.runbar.update_buttons(can)
        self.auto_button.setEnabled(self.details is not None and self.session.project is not None)
        if self.runbar.task is None and self.details is not None:
            if not in_current_eeg(self.session, STEP):
                self.runbar.status.setText(STALE_TEXT)
            elif self.pending():
                self.runbar.status.setText("<b>Choice changed: Apply to remove these components.</b>")
            elif self.runbar.status.text() in ("", "done") or "Apply" in self.runbar.status.text():
                self.runbar.status.setText("The cleaned EEG has the components ticked removed.")

    def _choice_changed(self) -> None:
        if self.details is not None:
            self._fill_checks()
        self._update_pending()

    # ------------------------------------------------------------------ results
    def _study_changed(self) -> None:
        latest = getattr(self.session.study, "results", {}).get(STEP)
        if latest is not None and latest is not self.step_result:
            self._result_changed(STEP, latest)
        elif latest is None:
            self.step_result = self.details = None
            self.table.setRowCount(0)
        self._update_pending()

    def _result_changed(self, step_id: str, result: Any) -> None:
        if step_id != STEP or result is None or "sources" not in result.details:
            return
        self.step_result = result
        self.details = result.details
        q = result.qc
        self.summary.setText(
            f"{q.get('n_components')} components ({q.get('ica_method', '')}, fitted in "
            f"{q.get('seconds_fit', float('nan')):.1f} s) explain {100 * q.get('explained_var', 0):.1f} % of the "
            f"variance; removed {q.get('excluded')} ({q.get('variance_removed', 0) * 100:.1f} % of the EEG "
            f"variance). Detection suggests {sorted(self.details['auto'])}.")
        self._fill_table()
        keep = self.current if self.current is not None and self.current < self.n_components else 0
        self.table.selectRow(keep)
        self._show(keep)
        self._update_pending()

    def _label(self, i: int) -> tuple[str, str]:
        d = self.details
        why = d["why"].get(i, "")
        if why:
            return why.split(" (")[0], why.split(" (", 1)[1].rstrip(")") if " (" in why else ""
        parts = []
        if np.isfinite(d["eog_r"][i]):
            parts.append(f"EOG r {d['eog_r'][i]:.2f}")
        if d["cardiac_scores"][i] > 0:
            parts.append(f"beat {100 * d['cardiac_scores'][i]:.0f} % (z {d['cardiac_z'][i]:.1f})")
        return "", " · ".join(parts)

    def _fill_table(self) -> None:
        d = self.details
        self._filling = True
        n = self.n_components
        self.table.setRowCount(n)
        var = d["component_variance"]
        for i in range(n):
            label, score = self._label(i)
            cells = {0: str(i), 2: f"{100 * var[i]:.1f} %", 3: label, 4: score}
            for c, text in cells.items():
                item = QTableWidgetItem(text)
                if c == 4:
                    item.setToolTip(text)  # clipped on small screens
                if c == 3 and label:
                    item.setForeground(pg.mkColor("#b00020"))
                self.table.setItem(i, c, item)
            box = QTableWidgetItem("")
            box.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self.table.setItem(i, BOX, box)
        self._filling = False
        self._fill_checks()

    def _fill_checks(self) -> None:
        ex = set(self.excluded())
        self._filling = True
        for i in range(self.table.rowCount()):
            item = self.table.item(i, BOX)
            if item is not None:
                item.setCheckState(Qt.CheckState.Checked if i in ex else Qt.CheckState.Unchecked)
        self._filling = False

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != BOX:
            return
        self.set_removed(item.row(), item.checkState() == Qt.CheckState.Checked)

    def _selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self._show(rows[0].row())

    # ------------------------------------------------------------------ one component
    def _show(self, i: int) -> None:
        d = self.details
        if d is None or not 0 <= i < self.n_components:
            return
        self.current = i
        src = d["sources"][i]
        sf = d["sources_sfreq"]
        t = np.arange(len(src)) / sf
        self.course.clear()
        self.course.plot(t, src, pen=pg.mkPen("#1f77b4", width=1))
        self.course.setTitle(f"component {i}: time course")
        self.course.setXRange(0, min(20.0, t[-1]), padding=0)
        from scipy import signal

        f, p = signal.welch(src, sf, nperseg=int(min(len(src), 4 * sf)))
        sel = f > 0
        self.spectrum.clear()
        self.spectrum.plot(f[sel], 10 * np.log10(np.maximum(p[sel], 1e-30)), pen=pg.mkPen("#1f77b4", width=1.5))
        self.spectrum.setTitle(f"component {i}: spectrum")
        self._topomap(i)

    def _topomap(self, i: int) -> None:
        import mne

        d = self.details
        self.fig.clear()
        ax = self.fig.add_subplot(111)
        info = d["fit_info"]
        label, _ = self._label(i)
        title = f"IC {i}" + (f" ({label})" if label else "")
        if info.get_montage() is None:
            ax.axis("off")
            ax.text(0.5, 0.5, "no electrode\npositions:\nno map", ha="center", va="center", fontsize=9)
        else:
            comp = d["ica"].get_components()[:, i]
            mne.viz.plot_topomap(comp, info, axes=ax, show=False, contours=4, sensors=True)
            ax.set_title(title, fontsize=9)
            where = d.get("positions", "")
            if where and "template" in where:
                ax.text(0.5, -0.02, "positions: 10-05 template", transform=ax.transAxes, ha="center",
                        va="top", fontsize=7, color="0.4")
        self.canvas.draw_idle()
