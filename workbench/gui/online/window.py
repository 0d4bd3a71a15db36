"""Live view of the online correction: raw vs cleaned traces, latency, dropped samples.

The engine's LSL path (:mod:`workbench.engine.online.lsl`) runs in a plain Python
thread; its per-chunk callback only appends to a deque. A 10 Hz timer on the GUI thread
drains the deque into two short ring buffers of the shown channel and redraws, so no
widget is ever touched from the worker (STYLE: long work off the GUI thread). Each
chunk carries the engine's QC snapshot (``ChunkResult.live``: volumes, TR, R-peaks,
dropped samples, late markers); the labels show the newest one, so they update while
the run goes on without the view reading the engine's state across threads.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.errors import WorkbenchError
from workbench.engine.online import flags as F

SHOW_S = 5.0  # seconds of trace shown


class OnlineWindow(QWidget):
    """A window that replays a file or cleans a live LSL stream and shows it live."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Online correction (real time)")
        self.resize(1200, 700)
        self._queue: collections.deque = collections.deque()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._run: Any = None
        self._lat: collections.deque = collections.deque(maxlen=2000)
        self._names: list[str] = []
        self._sf = 0.0
        self._raw_buf = np.zeros(0)
        self._clean_buf = np.zeros(0)
        self._flag_buf = np.zeros(0)
        self._n_seen = 0
        self._dropped = 0
        self._live: dict[str, Any] = {}
        self.messages: list[str] = []
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._drain)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        top = QHBoxLayout()
        self.source = QComboBox()
        self.source.addItems(["Replay a recording", "Live LSL stream"])
        self.path = QLineEdit()
        self.path.setPlaceholderText("recording (.vhdr, .edf, .fif) or LSL stream name")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.trigger = QLineEdit()
        self.trigger.setPlaceholderText("volume marker (auto)")
        self.trigger.setMaximumWidth(160)
        self.start_btn = QPushButton("Start")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.stop)
        for w in (self.source, self.path, browse, self.trigger, self.start_btn, self.stop_btn):
            top.addWidget(w)
        top.setStretch(1, 1)

        info = QFormLayout()
        self.state_lbl = QLabel("idle")
        self.lat_lbl = QLabel("–")
        self.drop_lbl = QLabel("–")
        self.vol_lbl = QLabel("–")
        self.flag_lbl = QLabel("–")
        info.addRow("State", self.state_lbl)
        info.addRow("Added latency (median / p95)", self.lat_lbl)
        info.addRow("Dropped samples", self.drop_lbl)
        info.addRow("Volumes / TR / R-peaks", self.vol_lbl)
        info.addRow(f"Corrected, last {SHOW_S:g} s (gradient / all)", self.flag_lbl)
        self.channel = QComboBox()
        self.channel.currentIndexChanged.connect(self._reset_bufs)
        info.addRow("Channel shown", self.channel)
        self.msg_list = QListWidget()
        self.msg_list.setWordWrap(True)
        side = QVBoxLayout()
        side.addLayout(info)
        side.addWidget(QLabel("Messages"))
        side.addWidget(self.msg_list, 1)
        side_w = QWidget()
        side_w.setLayout(side)
        side_w.setFixedWidth(400)  # a state text of another length must not move the traces
        for lbl in (self.state_lbl, self.vol_lbl):
            lbl.setWordWrap(True)

        self.glw = pg.GraphicsLayoutWidget()
        self.p_raw = self.glw.addPlot(row=0, col=0, title="Raw (as received)")
        self.p_clean = self.glw.addPlot(row=1, col=0, title="Cleaned (published)")
        self.p_clean.setXLink(self.p_raw)
        for p in (self.p_raw, self.p_clean):
            p.setLabel("left", "µV")
            p.showGrid(x=True, y=True, alpha=0.2)
        self.p_clean.setLabel("bottom", "time before now", units="s")
        self.c_raw = self.p_raw.plot(pen=pg.mkPen("#888888", width=1))
        self.c_clean = self.p_clean.plot(pen=pg.mkPen("#1f77b4", width=1))
        self.c_flag = self.p_clean.plot(pen=pg.mkPen("#d62728", width=2), connect="finite")

        grid = QGridLayout(self)
        grid.addLayout(top, 0, 0, 1, 2)
        grid.addWidget(self.glw, 1, 0)
        grid.addWidget(side_w, 1, 1)
        grid.setColumnStretch(0, 1)

    def _browse(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "Recording to replay", "", "EEG (*.vhdr *.edf *.bdf *.fif *.set)")
        if f:
            self.source.setCurrentIndex(0)
            self.path.setText(f)

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start the replay or the live cleaning in a worker thread."""
        from workbench.engine.online import OnlineParams

        if self._thread is not None and self._thread.is_alive():
            return
        target = self.path.text().strip()
        if not target:
            self._say("give a recording to replay or the name of an LSL stream")
            return
        params = OnlineParams(volume_marker=self.trigger.text().strip() or None)
        self._stop.clear()
        self._queue.clear()
        self._lat.clear()
        self._names, self._n_seen, self._dropped, self._run = [], 0, 0, None
        self._live = {}
        self.vol_lbl.setText("–")
        replay = self.source.currentIndex() == 0
        self._thread = threading.Thread(target=self._work, args=(replay, target, params), daemon=True,
                                        name="online-view")
        self._thread.start()
        self.start_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)
        self.state_lbl.setText("connecting…")
        self._timer.start()

    def stop(self) -> None:
        """Ask the worker to stop (it finishes its chunk and closes the streams)."""
        self._stop.set()

    def _work(self, replay: bool, target: str, params: Any) -> None:
        from workbench.engine.online.lsl import run_replay, run_stream

        try:
            if replay:
                if not Path(target).exists():
                    raise WorkbenchError(f"{target}: file not found")
                run, _ = run_replay(target, params=params, on_chunk=self._on_chunk, stop=self._stop,
                                    on_start=self._on_start)
            else:
                run = run_stream(target, params=params, on_chunk=self._on_chunk, stop=self._stop,
                                 on_start=self._on_start)
            self._queue.append(("done", run))
        except WorkbenchError as exc:
            self._queue.append(("error", str(exc)))
        except Exception as exc:  # shown, never a crash of the GUI
            self._queue.append(("error", f"{type(exc).__name__}: {exc}"))

    def _on_start(self, names: list[str], sfreq: float) -> None:
        self._queue.append(("start", names, sfreq))

    def _on_chunk(self, res: Any, raw: np.ndarray, lat: float) -> None:
        """Called in the worker thread: hand the data over, nothing else."""
        self._queue.append(("chunk", res, raw, lat))

    # ------------------------------------------------------------------ GUI side
    def _say(self, msg: str) -> None:
        self.messages.append(msg)
        self.msg_list.addItem(msg)
        self.msg_list.scrollToBottom()

    def _reset_bufs(self) -> None:
        n = int(SHOW_S * self._sf) if self._sf else 0
        self._raw_buf = np.full(n, np.nan)
        self._clean_buf = np.full(n, np.nan)
        self._flag_buf = np.full(n, np.nan)

    def _setup_channels(self, names: list[str], sf: float) -> None:
        self._names, self._sf = names, sf
        self.channel.blockSignals(True)
        self.channel.clear()
        self.channel.addItems(names)
        pick = next((i for i, n in enumerate(names) if n.upper() in ("CZ", "PZ", "FZ")), 0)
        self.channel.setCurrentIndex(pick)
        self.channel.blockSignals(False)
        self._reset_bufs()

    def _drain(self) -> None:
        got = False
        while self._queue:
            item = self._queue.popleft()
            kind = item[0]
            if kind == "start":
                self._setup_channels(item[1], item[2])
                self.state_lbl.setText("connected: waiting for data")
            elif kind == "chunk":
                _, res, raw, lat = item
                self._take_chunk(res, raw, lat)
                got = True
            elif kind == "done":
                self._finish(item[1])
            elif kind == "error":
                self._say(item[1])
                self.state_lbl.setText("stopped (error)")
                self._idle()
        if got:
            self._redraw()

    def _take_chunk(self, res: Any, raw: np.ndarray, lat: float) -> None:
        if not self._raw_buf.size:
            return
        for m in res.messages:
            self._say(m)
        self._lat.append(lat)
        if res.live:
            self._live = res.live
        k = self.channel.currentIndex()
        n = res.data.shape[1]
        self._n_seen += n
        for buf, new in ((self._raw_buf, raw[k]), (self._clean_buf, res.data[k]), (self._flag_buf, res.flags)):
            if n >= buf.size:
                buf[:] = new[-buf.size :]
            else:
                buf[:-n] = buf[n:]
                buf[-n:] = new
        f = int(res.flags[-1])
        self.state_lbl.setText("running: " + F.describe(f))

    def _redraw(self) -> None:
        if not self._raw_buf.size:
            return
        t = (np.arange(self._raw_buf.size) - self._raw_buf.size) / self._sf
        step = max(1, self._raw_buf.size // 3000)
        r, c = self._raw_buf[::step] * 1e6, self._clean_buf[::step] * 1e6
        self.c_raw.setData(t[::step], r, connect="finite")
        self.c_clean.setData(t[::step], c, connect="finite")
        # uncorrected samples: a red line along the bottom of the cleaned trace
        fl = self._flag_buf[::step]
        lo = np.nanpercentile(c, 1) if np.isfinite(c).any() else 0.0
        fi = np.nan_to_num(fl, nan=0.0).astype(np.int64)
        bad = np.where(np.isfinite(fl) & ((fi & F.GRADIENT_UNCORRECTED) != 0), lo, np.nan)
        self.c_flag.setData(t[::step], bad)
        lat = np.asarray(self._lat) * 1e3
        self.lat_lbl.setText(f"{np.median(lat):.1f} / {np.percentile(lat, 95):.1f} ms")
        if self._live:
            self._dropped = int(self._live.get("dropped_samples", self._dropped))
            self._show_counts(self._live)
        self.drop_lbl.setText(str(self._dropped))
        f = self._flag_buf[np.isfinite(self._flag_buf)].astype(np.int64)
        if f.size:
            grad = 100.0 * np.mean((f & (F.GRADIENT_UNCORRECTED | F.NO_VOLUME)) == 0)
            full = 100.0 * np.mean((f & ~F.INFORMATIONAL) == 0)
            self.flag_lbl.setText(f"{grad:.0f} % / {full:.0f} %")

    def _finish(self, run: Any) -> None:
        self._drain_tail()  # the last chunks first: the final state then stays shown
        self._live = {}
        self._run = run
        q = run.qc()
        self._dropped = q["dropped_samples"]
        st = q.get("state", {})
        for m in run.messages:
            if m not in self.messages:
                self._say(m)
        self.drop_lbl.setText(str(self._dropped))
        self._show_counts(st)
        if q["latency_ms_median"] is not None:
            self.lat_lbl.setText(f"{q['latency_ms_median']:.1f} / {q['latency_ms_p95']:.1f} ms")
        self.state_lbl.setText(f"finished: {q['samples_received']} samples, {self._dropped} dropped")
        self._idle()

    def _show_counts(self, st: dict[str, Any]) -> None:
        """Volumes / TR / R-peaks from a snapshot (live) or the final state; late
        volume markers, volumes predicted without one and volumes that entered the
        gradient templates without their pulse artifact are added when there were any."""
        tr = st.get("tr_s")
        text = f"{st.get('volume_markers', 0)} / {f'{tr:.3f} s' if tr else '–'} / {st.get('rpeaks', 0)}"
        late = int(st.get("late_markers", 0))
        if late:
            text += f"\n{late} markers late ({int(st.get('late_markers_covered', 0))} started from the TR rhythm)"
        unmarked = int(st.get("volumes_predicted_unmarked", 0))
        if unmarked:
            text += f"\n{unmarked} volumes predicted, never marked"
        pulse = int(st.get("gradient_epochs_pulse_cleaned", 0))
        if pulse:
            text += f"\n{pulse} volumes averaged without their pulse artifact"
        backfit = int(st.get("gradient_epochs_pulse_backfit", 0))
        if backfit:
            text += f" ({backfit} cleaned again by the trailing backfit)"
        self.vol_lbl.setText(text)

    def _idle(self) -> None:
        self._timer.stop()
        self._drain_tail()
        self.start_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)

    def _drain_tail(self) -> None:
        while self._queue and self._queue[0][0] == "chunk":
            _, res, raw, lat = self._queue.popleft()
            self._take_chunk(res, raw, lat)
        if not self._raw_buf.size:
            return
        self._redraw()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._timer.stop()
        super().closeEvent(event)
