"""The R-peak editor: the ECG with its beats (add, remove, move with undo) and the RR series.

The beats shown are the detector's beats of the latest cardiac run with the hand edits
stored in the project (the ``cardiac`` step's ``beat_edits`` parameter) applied. Every
edit is an undoable command on the session's stack that changes that parameter, so the
project saves it, the next run (Apply) uses it and ``workbench run`` replays it.

Mouse and keys on the ECG: click a beat to select it; drag it to move it; double-click
(or press A with the mouse over the trace) to add a beat (snapped to the QRS extreme
within ±30 ms on an ECG); Delete removes the selected beat; Left/Right nudge it by one
sample (with Shift by 10 ms); N / P jump to the next / previous implausible interval.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, Qt, pyqtSignal
from PyQt6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from workbench.engine.cardiac.edits import BeatEdits, apply_edits, diff_beats
from workbench.engine.cardiac.rpeaks import implausible_intervals
from workbench.engine.commands import SetValue

from ..step_params import step_values, store_values

STEP = "cardiac"
KEY = "beat_edits"
#: an added beat snaps to the ECG's extreme within this distance (s)
SNAP_S = 0.03
#: display rate of the trace (Hz); beats keep their sample times
DISPLAY_HZ = 1000.0


class BeatScatter(pg.ScatterPlotItem):
    """The beats: a click selects one, a drag moves it (the move is committed on release)."""

    def __init__(self, editor: RPeakEditor) -> None:
        super().__init__(size=11, pen=pg.mkPen("#7a0000"), brush=pg.mkBrush("#d62728"), symbol="t")
        self.editor = editor
        self._drag: int | None = None

    def _index_at(self, pos: QPointF) -> int | None:
        pts = self.pointsAt(pos)
        if len(pts) == 0:
            return None
        return int(pts[0].index())

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        i = self._index_at(ev.pos())
        if i is None:
            ev.ignore()
            return
        ev.accept()
        self.editor.select(i)

    def mouseDragEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            self._drag = self._index_at(ev.buttonDownPos())
            if self._drag is None:
                ev.ignore()
                return
            self.editor.select(self._drag)
        if self._drag is None:
            ev.ignore()
            return
        ev.accept()
        x = float(ev.pos().x())
        self.editor.preview_move(self._drag, x)
        if ev.isFinish():
            i, self._drag = self._drag, None
            self.editor.move_beat(i, x)


class RPeakEditor(QWidget):
    """ECG (or the EEG channel with the strongest pulse when there is no ECG) with editable
    beats over the RR series (implausible intervals red).

    Parameters
    ----------
    session : Session
        The open study; edits go to its project and its undo stack.
    """

    beats_changed = pyqtSignal()

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.spec: Any = None  # the cardiac StepSpec (for the stored parameters)
        self.detected = np.zeros(0)  # the detector's beats of the result shown (s)
        self.beats = np.zeros(0)  # what is shown: detected + the stored edits
        self.sfreq = 1.0
        self.trace = np.zeros(0)  # the signal the beats sit on (full rate)
        self.trace_name = ""
        self.polarity = 1
        self.snap = True
        self.selected: int | None = None
        self.edits_text: str | None = None
        self.error = ""
        self._mouse_x: float | None = None
        self.on_edit: Callable[[], None] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)
        self.ecg_plot = pg.PlotWidget()
        self.ecg_plot.setMinimumHeight(120)
        self.ecg_plot.setLabel("bottom", "time", "s")
        self.ecg_plot.setMouseEnabled(x=True, y=False)
        self.ecg_plot.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.ecg_plot.setToolTip("Click a beat to select it, drag to move it; double-click or A adds a beat; "
                                 "Delete removes it; Left/Right nudge it (Shift: 10 ms); N/P: next/previous "
                                 "implausible interval. Ctrl+Z undoes.")
        pi = self.ecg_plot.getPlotItem()
        pi.setDownsampling(auto=True, mode="peak")
        pi.setClipToView(True)
        self.curve = self.ecg_plot.plot(pen=pg.mkPen("#555", width=1))
        self.scatter = BeatScatter(self)
        self.ecg_plot.addItem(self.scatter)
        self.marked = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#1f77b4", width=2), brush=None, symbol="o")
        self.ecg_plot.addItem(self.marked)
        self.preview = pg.InfiniteLine(angle=90, pen=pg.mkPen("#1f77b4", style=Qt.PenStyle.DashLine))
        self.preview.hide()
        self.ecg_plot.addItem(self.preview)
        self.ecg_plot.mouseDoubleClickEvent = self._double_click  # type: ignore[method-assign]
        self.ecg_plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.ecg_plot.keyPressEvent = self._key  # type: ignore[method-assign]
        split.addWidget(self.ecg_plot)
        self.rr_plot = pg.PlotWidget()
        self.rr_plot.setMinimumHeight(100)
        self.rr_plot.setLabel("left", "RR", "s")
        self.rr_plot.setLabel("bottom", "time", "s")
        self.rr_plot.setMouseEnabled(x=True, y=False)
        self.rr_curve = self.rr_plot.plot(pen=pg.mkPen("#1f77b4", width=1), symbol="o", symbolSize=4,
                                          symbolBrush="#1f77b4", symbolPen=None)
        self.rr_bad = pg.ScatterPlotItem(size=10, brush=pg.mkBrush("#d62728"), pen=None)
        self.rr_bad.sigClicked.connect(lambda _item, pts, *_: self._goto(float(pts[0].pos().x())))
        self.rr_plot.addItem(self.rr_bad)
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(31, 119, 180, 30))
        self.region.sigRegionChanged.connect(self._region_moved)
        self.rr_plot.addItem(self.region)
        self.ecg_plot.getViewBox().sigXRangeChanged.connect(self._view_moved)
        split.addWidget(self.rr_plot)
        split.setSizes([300, 160])
        self._syncing = False

    # ------------------------------------------------------------------ data
    def set_result(self, card: Any, spec: Any) -> None:
        """Show the beats of a ``CardiacResult`` (the detector's beats + the stored edits)."""
        self.spec = spec
        self.detected = np.asarray(card.detected if card.detected is not None else card.rpeaks.times, float)
        before = card.before
        self.sfreq = float(before.info["sfreq"])
        if card.ecg_channel is not None:
            self.trace_name = card.ecg_channel
            self.trace = before.get_data(picks=[card.ecg_channel])[0]
            self.polarity = int(card.rpeaks.polarity) or 1
            self.snap = card.rpeaks.source == "ecg"
        else:  # beats from the EEG: show the channel with the largest pulse artifact
            art = next(iter(card.compared.values()))["artifact"]
            k = int(np.argmax(np.sqrt((art[:, ::10] ** 2).mean(axis=1))))
            self.trace_name = before.ch_names[int(card.picks[k])]
            self.trace = before.get_data(picks=[int(card.picks[k])])[0]
            self.snap = False
        step = max(1, int(self.sfreq // DISPLAY_HZ))
        t = np.arange(0, len(self.trace), step) / self.sfreq
        self.curve.setData(t, self.trace[::step] * 1e3)
        unit = "mV"
        self.ecg_plot.setLabel("left", self.trace_name, unit)
        self.ecg_plot.setTitle("ECG and R-peaks (editable)" if card.ecg_channel else
                               f"no ECG: beats from the EEG's pulse, shown on {self.trace_name} (editable)")
        self.selected = None
        self.edits_text = None
        self.refresh(force=True)
        self.ecg_plot.setXRange(0, min(10.0, len(self.trace) / self.sfreq), padding=0)
        self.rr_plot.enableAutoRange()

    def stored_edits(self) -> str | None:
        """The ``beat_edits`` text stored in the project (None without edits)."""
        if self.session.project is None:
            return None
        return step_values(self.session, self.spec, STEP).get(KEY)

    def refresh(self, force: bool = False) -> None:
        """Redraw when the stored edits changed (an edit, undo or redo)."""
        text = self.stored_edits()
        if not force and text == self.edits_text:
            return
        self.edits_text = text
        self.error = ""
        try:
            beats = apply_edits(self.detected, BeatEdits.from_text(text), len(self.trace) / self.sfreq)
        except Exception as exc:  # noqa: BLE001 - stored edits that no longer fit: say so, show the detection
            self.error = str(exc)
            beats = self.detected
        sel_t = self.beats[self.selected] if self.selected is not None and self.selected < len(self.beats) else None
        self.beats = beats
        if sel_t is not None and len(beats):
            j = int(np.argmin(np.abs(beats - sel_t)))
            self.selected = j if abs(beats[j] - sel_t) < 0.5 else None
        elif not len(beats):
            self.selected = None
        self._draw()
        self.beats_changed.emit()

    def _y(self, t: np.ndarray) -> np.ndarray:
        if len(self.trace) == 0:
            return np.zeros(len(t))
        k = np.clip(np.round(np.asarray(t) * self.sfreq).astype(int), 0, len(self.trace) - 1)
        return self.trace[k] * 1e3

    def _draw(self) -> None:
        t = self.beats
        y = self._y(t)
        det = {round(float(v), 5) for v in self.detected}
        brushes = [pg.mkBrush("#d62728") if round(float(v), 5) in det else pg.mkBrush("#2ca02c") for v in t]
        self.scatter.setData(t, y, brush=brushes)
        if self.selected is not None:
            self.marked.setData([t[self.selected]], [y[self.selected]])
        else:
            self.marked.setData([], [])
        if len(t) > 1:
            rr = np.diff(t)
            bad = implausible_intervals(t)
            self.rr_curve.setData(t[1:], rr)
            self.rr_bad.setData(t[1:][bad], rr[bad])
            n_bad = int(bad.sum())
        else:
            self.rr_curve.setData([], [])
            self.rr_bad.setData([], [])
            n_bad = 0
        self.rr_plot.setTitle(f"RR intervals: {n_bad} implausible (red; click one to go there)")
        e = BeatEdits.from_text(self.edits_text) if not self.error else BeatEdits()
        msg = (f"{len(t)} beats ({len(self.detected)} detected; {len(e.added)} added by hand in green, "
               f"{len(e.removed)} removed). ")
        if self.error:
            msg = f"<span style='color:#b00020'>The stored edits do not fit these beats: {self.error}</span> "
        self.info.setText(msg + "Click a beat to select, drag to move, double-click or A to add, "
                                "Delete to remove, arrows to nudge, N/P to step through red intervals.")

    # ------------------------------------------------------------------ edits (undoable)
    def _push(self, text: str, new_beats: np.ndarray) -> bool:
        if self.session.project is None or self.spec is None or len(self.trace) == 0:
            return False
        new_text = diff_beats(self.detected, np.sort(new_beats)).to_text()
        old = step_values(self.session, self.spec, STEP)
        if old.get(KEY) == new_text:
            return False
        new = dict(old)
        new[KEY] = new_text
        self.session.undo.push(SetValue(text, lambda v: store_values(self.session, STEP, v), old, new))
        self.refresh()
        if self.on_edit is not None:
            self.on_edit()
        return True

    def _snap(self, t: float) -> float:
        """A sample time; on an ECG, the QRS extreme (by the detector's polarity) within ±30 ms."""
        k = int(round(t * self.sfreq))
        if self.snap and len(self.trace):
            w = int(round(SNAP_S * self.sfreq))
            a, b = max(0, k - w), min(len(self.trace), k + w + 1)
            if b > a:
                k = a + int(np.argmax(self.polarity * self.trace[a:b]))
        return float(np.clip(k, 0, len(self.trace) - 1)) / self.sfreq

    def add_beat(self, t: float, snap: bool = True) -> bool:
        """Add a beat at ``t`` s (snapped unless ``snap`` is False); undoable."""
        t = self._snap(t) if snap else round(t * self.sfreq) / self.sfreq
        if len(self.beats) and np.min(np.abs(self.beats - t)) < 1.5 / self.sfreq:
            return False  # a beat is there already
        ok = self._push(f"add beat at {t:.3f} s", np.append(self.beats, t))
        if ok:
            self.selected = int(np.argmin(np.abs(self.beats - t)))
            self._draw()
        return ok

    def remove_beat(self, i: int) -> bool:
        """Remove beat ``i``; undoable."""
        if not 0 <= i < len(self.beats):
            return False
        t = self.beats[i]
        self.selected = None
        return self._push(f"remove beat at {t:.3f} s", np.delete(self.beats, i))

    def move_beat(self, i: int, t: float, to_sample: bool = True) -> bool:
        """Move beat ``i`` to ``t`` s (to the nearest sample unless ``to_sample`` is False); undoable."""
        self.preview.hide()
        if not 0 <= i < len(self.beats):
            return False
        if to_sample:
            t = round(t * self.sfreq) / self.sfreq
        t = float(np.clip(t, 0.0, (len(self.trace) - 1) / self.sfreq))
        others = np.delete(self.beats, i)
        if len(others) and np.min(np.abs(others - t)) < 1.5 / self.sfreq:
            return False
        old_t = self.beats[i]
        new = others.copy()
        ok = self._push(f"move beat {old_t:.3f} → {t:.3f} s", np.append(new, t))
        if ok:
            self.selected = int(np.argmin(np.abs(self.beats - t)))
            self._draw()
        return ok

    def nudge(self, seconds: float) -> bool:
        """Move the selected beat by ``seconds`` (at least one sample; the beat keeps its sub-sample
        position, as the detector refined it)."""
        if self.selected is None:
            return False
        step = np.sign(seconds) * max(abs(seconds), 1.0 / self.sfreq)
        return self.move_beat(self.selected, self.beats[self.selected] + step, to_sample=False)

    def select(self, i: int | None) -> None:
        self.selected = i if i is not None and 0 <= i < len(self.beats) else None
        self._draw()
        self.ecg_plot.setFocus()

    def preview_move(self, i: int, t: float) -> None:
        self.preview.setPos(t)
        self.preview.show()

    # ------------------------------------------------------------------ navigation
    def implausible_times(self) -> np.ndarray:
        if len(self.beats) < 2:
            return np.zeros(0)
        return self.beats[1:][implausible_intervals(self.beats)]

    def next_implausible(self, direction: int = 1) -> float | None:
        """Centre the ECG on the next (or previous) implausible interval; returns its time."""
        bad = self.implausible_times()
        if not len(bad):
            return None
        lo, hi = self.ecg_plot.getViewBox().viewRange()[0]
        c = 0.5 * (lo + hi)
        cand = bad[bad > c + 1e-3] if direction > 0 else bad[bad < c - 1e-3][::-1]
        t = float(cand[0]) if len(cand) else float(bad[0] if direction > 0 else bad[-1])
        self._goto(t)
        return t

    def _goto(self, t: float) -> None:
        lo, hi = self.ecg_plot.getViewBox().viewRange()[0]
        half = 0.5 * (hi - lo)
        self.ecg_plot.setXRange(t - half, t + half, padding=0)

    def _view_moved(self, *_: Any) -> None:
        if self._syncing:
            return
        self._syncing = True
        self.region.setRegion(self.ecg_plot.getViewBox().viewRange()[0])
        self._syncing = False

    def _region_moved(self, *_: Any) -> None:
        if self._syncing:
            return
        self._syncing = True
        lo, hi = self.region.getRegion()
        self.ecg_plot.setXRange(lo, hi, padding=0)
        self._syncing = False

    # ------------------------------------------------------------------ mouse and keys
    def _double_click(self, ev: Any) -> None:
        """A double-click inside the plot adds a beat there (Qt's event: one per double-click)."""
        vb = self.ecg_plot.getViewBox()
        scene = self.ecg_plot.mapToScene(ev.position().toPoint())
        if ev.button() != Qt.MouseButton.LeftButton or not vb.sceneBoundingRect().contains(scene):
            pg.PlotWidget.mouseDoubleClickEvent(self.ecg_plot, ev)
            return
        ev.accept()
        self.add_beat(float(vb.mapSceneToView(scene).x()))

    def _mouse_moved(self, pos: Any) -> None:
        vb = self.ecg_plot.getViewBox()
        self._mouse_x = float(vb.mapSceneToView(pos).x()) if vb.sceneBoundingRect().contains(pos) else None

    def _key(self, ev: Any) -> None:
        k = ev.key()
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if k in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected is not None:
            self.remove_beat(self.selected)
        elif k in (Qt.Key.Key_Left, Qt.Key.Key_Right) and self.selected is not None:
            self.nudge((0.01 if shift else 1.0 / self.sfreq) * (1 if k == Qt.Key.Key_Right else -1))
        elif k == Qt.Key.Key_A:
            x = self._mouse_x
            if x is None:
                lo, hi = self.ecg_plot.getViewBox().viewRange()[0]
                x = 0.5 * (lo + hi)
            self.add_beat(x)
        elif k in (Qt.Key.Key_N, Qt.Key.Key_P):
            self.next_implausible(1 if k == Qt.Key.Key_N else -1)
        else:
            pg.PlotWidget.keyPressEvent(self.ecg_plot, ev)
            return
        ev.accept()
