"""The Cardiac tab: the R-peak editor and the beat-by-beat view of the latest ``cardiac`` run.

It shows what the step found whoever ran it (the step panel, the CLI's project, a replay).
"R-peaks": the ECG with its beats, editable with undo (:mod:`.editor`), over the RR series
with implausible intervals in red. "Beats before / after": every beat of one channel
before and after each method the step ran, as an image (rows are beats, colour is µV)
and as overlaid epochs with their mean. "Apply" re-runs the step with the edited beats
through the main window's runner (a worker with progress and Cancel).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from workbench.engine.cardiac.edits import BeatEdits
from workbench.engine.cardiac.figures import beat_stack
from workbench.engine.steps.cardiac import SPEC

from ..runbar import STALE_TEXT, StepRunBar, in_current_eeg
from ..signals import connect
from ..step_params import step_values
from .editor import RPeakEditor

HELP_TEXT = (
    "<b>Cardiac</b>: every heartbeat moves the head in the scanner's field and induces a pulse "
    "artifact (BCG) about 0.2 s after the R wave. The R-peaks come from the ECG (or from the EEG's "
    "pulse); each beat's artifact is estimated from its neighbours (AAS) or with principal "
    "components fitted per beat (OBS) and subtracted. Correct the beats by hand on the ECG (add, "
    "move, remove, with undo; the edits are saved in the project and replayed), then Apply re-runs "
    "the correction. 'Beats before / after' shows every beat of one channel before and after."
)

#: beats overlaid at most (evenly spread) in the epoch overlays
MAX_OVERLAY = 300


class CardiacTab(QWidget):
    """R-peak editor, heart-rate series and beat-locked EEG of the latest cardiac run."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.result: Any = None  # the CardiacResult shown
        self.step_result: Any = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        self.summary = QLabel("Run the Cardiac (BCG) step to see and edit its beats here.")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.runbar = StepRunBar("cardiac", self.params, "Apply",
                                 "Re-run the BCG correction with the beats as edited here (the edits are the "
                                 "step's 'beat_edits' parameter: saved in the project and replayed).")
        self.runbar.on_finished = self._update_pending
        lay.addWidget(self.runbar)
        self.views = QTabWidget()
        self.views.setUsesScrollButtons(True)
        lay.addWidget(self.views, 1)
        self.editor = RPeakEditor(session)
        self.editor.on_edit = self._update_pending
        self.views.addTab(self.editor, "R-peaks")
        self.views.addTab(self._build_beats(), "Beats before / after")
        connect(self, session.result_changed, self._result_changed)
        connect(self, session.undo.changed, lambda *_: self._undo_changed())
        connect(self, session.project_changed, lambda *_: self._study_changed())
        connect(self, session.cleaned_changed, lambda *_: self._update_pending())
        self._study_changed()

    # ------------------------------------------------------------------ layout
    def _build_beats(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("channel"))
        self.channel = QComboBox()
        self.channel.setToolTip("The channel whose beats are shown (the one with the largest pulse artifact "
                                "first).")
        self.channel.currentIndexChanged.connect(lambda *_: self._draw_stacks())
        row.addWidget(self.channel)
        self.stack_note = QLabel("")
        row.addWidget(self.stack_note, 1)
        lay.addLayout(row)
        self.stacks = pg.GraphicsLayoutWidget()
        self.stacks.setMinimumHeight(260)
        lay.addWidget(self.stacks, 1)
        return page

    # ------------------------------------------------------------------ runner
    def set_runner(self, run_step: Any, catalog: dict[str, Any]) -> None:
        """Apply runs through ``run_step(step_id, params, on_done)`` (the main window's runner)."""
        self.runbar.set_runner(run_step)
        self._update_pending()

    def params(self) -> dict[str, Any]:
        """The parameters Apply uses: the project's stored values (with the beat edits)."""
        return step_values(self.session, SPEC, "cardiac")

    # ------------------------------------------------------------------ state
    def _study_changed(self) -> None:
        latest = getattr(self.session.study, "results", {}).get("cardiac")
        if latest is not None and latest is not self.step_result:
            self._result_changed("cardiac", latest)
        elif latest is None:
            self.result = self.step_result = None
        self._update_pending()

    def _undo_changed(self) -> None:
        if self.result is not None:
            self.editor.refresh()
        self._update_pending()

    def pending(self) -> bool:
        """True when the stored beat edits differ from those of the result shown."""
        if self.result is None or self.session.project is None:
            return False
        try:
            stored = BeatEdits.from_text(self.editor.stored_edits())
        except Exception:  # noqa: BLE001 - unparseable stored text: the run will say why
            return True
        used = self.result.edits if self.result.edits is not None else BeatEdits()
        return stored != used

    def _update_pending(self) -> None:
        can = self.session.project is not None and self.session.eeg is not None
        self.runbar.update_buttons(can)
        if self.runbar.task is None and self.result is not None:
            if not in_current_eeg(self.session, "cardiac"):
                self.runbar.status.setText(STALE_TEXT)
            elif self.pending():
                self.runbar.status.setText("<b>Beats edited: Apply to correct the BCG with them.</b>")
            elif self.runbar.status.text() in ("", "done") or "Apply" in self.runbar.status.text():
                self.runbar.status.setText("The correction uses the beats shown.")

    def _result_changed(self, step_id: str, result: Any) -> None:
        if step_id != "cardiac" or result is None:
            return
        card = result.details.get("cardiac")
        if card is None:
            return
        self.step_result = result
        self.result = card
        q = result.qc
        self.summary.setText(
            f"{q.get('n_beats', 0)} beats from the {str(q.get('rpeak_source', '')).upper()}, "
            f"{q.get('hr_bpm', float('nan')):.0f} bpm, {q.get('implausible_pct', 0.0):.2f} % implausible RR, "
            f"{q.get('beats_added_by_hand', 0)} added / {q.get('beats_removed_by_hand', 0)} removed by hand; "
            f"pulse-locked RMS {q.get('pulse_rms_before_uv', float('nan')):.1f} → "
            f"{q.get('pulse_rms_after_uv', float('nan')):.2f} µV ({q.get('method', '').upper()})")
        names = [card.before.ch_names[i] for i in card.picks]
        first = next(iter(card.compared.values()))["artifact"]
        strongest = int(np.argmax(np.sqrt((first[:, ::10] ** 2).mean(axis=1))))
        self.channel.blockSignals(True)
        self.channel.clear()
        self.channel.addItems(names)
        self.channel.setCurrentIndex(strongest)
        self.channel.blockSignals(False)
        self.editor.set_result(card, SPEC)
        self._draw_stacks()
        self._update_pending()

    # ------------------------------------------------------------------ beats before / after
    def _draw_stacks(self) -> None:
        d = self.result
        if d is None or self.channel.currentIndex() < 0:
            return
        i = self.channel.currentIndex()
        sf = float(d.before.info["sfreq"])
        x = d.before.get_data(picks=[int(d.picks[i])])[0]
        panels = [("before", x)] + [(f"after {m.upper()}", x - c["artifact"][i]) for m, c in d.compared.items()]
        self.stacks.clear()
        rp = d.rpeaks.times
        ep0, t = beat_stack(x, sf, rp)
        lim = float(np.percentile(np.abs(ep0), 99)) * 1e6 if len(ep0) else 1.0
        cmap = pg.colormap.get("RdBu_r", source="matplotlib")
        self.stack_note.setText(f"{len(ep0)} beats, -0.2 to 0.8 s around each R-peak; colour ±{lim:.0f} µV; "
                                "below: the beats overlaid (grey/blue) and their mean (thick)")
        first_img = None
        for j, (title, sig) in enumerate(panels):
            ep, t = beat_stack(sig, sf, rp)
            p = self.stacks.addPlot(row=0, col=j, title=title)
            img = pg.ImageItem((ep * 1e6).T)
            img.setColorMap(cmap)
            img.setLevels((-lim, lim))
            img.setRect(float(t[0]), 0.0, float(t[-1] - t[0]), float(max(len(ep), 1)))
            p.addItem(img)
            p.setLabel("left", "beat" if j == 0 else "")
            if first_img is None:
                first_img = img
            o = self.stacks.addPlot(row=1, col=j)
            if len(ep):
                show = ep[np.linspace(0, len(ep) - 1, min(len(ep), MAX_OVERLAY)).astype(int)] * 1e6
                xs = np.tile(np.append(t, np.nan), len(show))
                ys = np.hstack([show, np.full((len(show), 1), np.nan)]).ravel()
                colour = (120, 120, 120, 60) if j == 0 else (31, 119, 180, 60)
                o.plot(xs, ys, pen=pg.mkPen(colour, width=1), connect="finite")
                o.plot(t, ep.mean(axis=0) * 1e6, pen=pg.mkPen("#d62728", width=2.5))
            o.setYRange(-lim, lim)
            o.setLabel("bottom", "time after R", "s")
            o.setLabel("left", "µV" if j == 0 else "")
            o.setXLink(p)
        if first_img is not None:
            bar = pg.ColorBarItem(values=(-lim, lim), colorMap=cmap, interactive=False, label="µV")
            bar.setImageItem(first_img)
            self.stacks.addItem(bar, row=0, col=len(panels))
