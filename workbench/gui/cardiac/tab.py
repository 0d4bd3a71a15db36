"""The Cardiac tab: a view of the latest result of the ``cardiac`` step (read-only).

It shows what the step found whoever ran it (the step panel, the CLI's project, a replay):
the ECG with its R-peaks (inserted beats marked), the heart rate per beat with implausible
intervals in red, and the beat-locked EEG of one channel before and after each method the
step ran (rows are beats, colour is µV). It listens to ``session.result_changed``.
Beat editing (add/move/remove with undo) is not built yet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.engine.cardiac.figures import beat_stack
from workbench.engine.cardiac.rpeaks import implausible_intervals

from ..signals import connect

HELP_TEXT = (
    "<b>Cardiac</b>: every heartbeat moves the head in the scanner's field and induces a pulse "
    "artifact (BCG) about 0.2 s after the R wave. The R-peaks come from the ECG (or from the EEG's "
    "pulse); each beat's artifact is estimated from its neighbours (AAS) or with principal "
    "components fitted per beat (OBS) and subtracted. Top: the ECG with its R-peaks; middle: the "
    "heart rate (implausible intervals red); bottom: every beat of one channel before and after."
)


class CardiacTab(QWidget):
    """R-peaks on the ECG, the heart-rate series and beat-locked stacks of the latest cardiac run."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.result: Any = None  # the CardiacResult shown
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.summary = QLabel("Run the Cardiac (BCG) step to see its beats here.")
        self.channel = QComboBox()
        self.channel.currentIndexChanged.connect(lambda *_: self._draw_stacks())
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("channel"))
        top.addWidget(self.channel)
        lay.addLayout(top)
        self.ecg_plot = pg.PlotWidget(title="ECG and R-peaks")
        self.ecg_plot.setLabel("bottom", "time", "s")
        self.hr_plot = pg.PlotWidget(title="Heart rate")
        self.hr_plot.setLabel("left", "bpm")
        self.hr_plot.setLabel("bottom", "time", "s")
        lay.addWidget(self.ecg_plot, 2)
        lay.addWidget(self.hr_plot, 2)
        self.stacks = pg.GraphicsLayoutWidget()
        lay.addWidget(self.stacks, 4)
        connect(self, session.result_changed, self._result_changed)
        existing = getattr(session.study, "results", {}).get("cardiac") if hasattr(session, "study") else None
        if existing is not None:
            self._result_changed("cardiac", existing)

    def _result_changed(self, step_id: str, result: Any) -> None:
        if step_id != "cardiac" or result is None:
            return
        card = result.details.get("cardiac")
        if card is None:
            return
        self.result = card
        q = result.qc
        self.summary.setText(
            f"{q.get('n_beats', 0)} beats from the {str(q.get('rpeak_source', '')).upper()}, "
            f"{q.get('hr_bpm', float('nan')):.0f} bpm, {q.get('implausible_pct', 0.0):.2f} % implausible RR; "
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
        self._draw_ecg()
        self._draw_hr()
        self._draw_stacks()

    def _draw_ecg(self) -> None:
        d = self.result
        self.ecg_plot.clear()
        rp = d.rpeaks.times
        if d.ecg_channel is None:
            self.ecg_plot.setTitle("no ECG channel: beats from the EEG's pulse artifact")
            return
        sf = float(d.before.info["sfreq"])
        step = max(1, int(sf // 500))
        ecg = d.before.get_data(picks=[d.ecg_channel])[0]
        t = np.arange(len(ecg)) / sf
        self.ecg_plot.plot(t[::step], ecg[::step] * 1e3, pen=pg.mkPen("#555", width=1))
        y = np.interp(rp, t, ecg) * 1e3
        flags = d.rpeaks.flags if d.rpeaks.flags is not None else np.zeros(len(rp), bool)
        self.ecg_plot.plot(rp[~flags], y[~flags], pen=None, symbol="t", symbolBrush="#d62728", symbolSize=9)
        if flags.any():
            self.ecg_plot.plot(rp[flags], y[flags], pen=None, symbol="x", symbolBrush="#ff7f0e", symbolSize=10)
        self.ecg_plot.setLabel("left", d.ecg_channel, "mV")
        self.ecg_plot.setXRange(0, min(10.0, t[-1]))

    def _draw_hr(self) -> None:
        rp = self.result.rpeaks.times
        self.hr_plot.clear()
        if len(rp) < 2:
            return
        hr = 60.0 / np.diff(rp)
        bad = implausible_intervals(rp)
        self.hr_plot.plot(rp[1:], hr, pen=pg.mkPen("#1f77b4", width=1), symbol="o", symbolSize=4,
                          symbolBrush="#1f77b4")
        if bad.any():
            self.hr_plot.plot(rp[1:][bad], hr[bad], pen=None, symbol="o", symbolSize=9, symbolBrush="#d62728")
        self.hr_plot.setTitle(f"Heart rate ({int(bad.sum())} implausible intervals in red)")

    def _draw_stacks(self) -> None:
        d = self.result
        if d is None or self.channel.currentIndex() < 0:
            return
        i = self.channel.currentIndex()
        sf = float(d.before.info["sfreq"])
        x = d.before.get_data(picks=[int(d.picks[i])])[0]
        panels = [("before", x)] + [(m.upper(), x - c["artifact"][i]) for m, c in d.compared.items()]
        self.stacks.clear()
        ep0, t = beat_stack(x, sf, d.rpeaks.times)
        lim = float(np.percentile(np.abs(ep0), 99)) * 1e6 if len(ep0) else 1.0
        cmap = pg.colormap.get("RdBu_r", source="matplotlib")
        for j, (title, sig) in enumerate(panels):
            ep, t = beat_stack(sig, sf, d.rpeaks.times)
            p = self.stacks.addPlot(row=0, col=j, title=f"{title}")
            img = pg.ImageItem((ep * 1e6).T)
            img.setColorMap(cmap)
            img.setLevels((-lim, lim))
            img.setRect(float(t[0]), 0.0, float(t[-1] - t[0]), float(len(ep)))
            p.addItem(img)
            p.setLabel("bottom", "time after R", "s")
            p.setLabel("left", "beat" if j == 0 else "")
            m = self.stacks.addPlot(row=1, col=j)
            m.plot(t, ep.mean(axis=0) * 1e6 if len(ep) else t * 0, pen=pg.mkPen("#f0c040", width=2))
            m.setYRange(-lim, lim)
            m.setLabel("left", "mean", "µV")
