"""Gradient tab: parameters, Run/Cancel in a worker, and the inspection views.

The tab observes the :class:`~workbench.engine.session.Session` (``raw_changed``,
``cleaned_changed``). Run starts :func:`run_correction` (engine calls only) in a
worker thread with progress and Cancel; the result comes back on the GUI thread,
where ``session.set_cleaned`` is called. The views draw arrays the engine prepared
(:mod:`workbench.engine.gradient.inspect`); scrolling the epoch stack asks the engine
for one channel and volume in a small worker, latest request wins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollBar,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.gradient import GradientParams, remove_gradient
from workbench.engine.gradient.inspect import epoch_stack, inspect_result

from ..traces.view import TraceView
from ..workers import Task

HELP_TEXT = (
    "<b>Gradient artifact</b>: every slice the scanner acquires switches strong magnetic "
    "gradients that induce millivolt voltages in the EEG leads (Faraday's law), a hundred "
    "times the brain signal, repeating exactly at every volume. The correction finds the "
    "scanner triggers, fits the EEG clock to the scanner's (drift), places every volume at "
    "its exact fractional sample, and averages the <i>same slice slot</i> of neighbouring "
    "volumes, aligned to a fraction of a sample, into a template that is fitted in "
    "amplitude and subtracted. A 70 Hz low-pass removes the remaining high-frequency "
    "residue. Check: the spectrum loses its peaks at the slice-rate harmonics (red lines) "
    "while the 1-40 Hz EEG keeps its power; the grey epochs in the stack should overlap "
    "the red template closely."
)

PARAM_TIPS = {
    "window": "Volumes averaged into each template (same slice slot, nearest volumes; the "
    "volume itself is left out). More averages less EEG into the template (its leak falls "
    "as 1/sqrt(window)) but follows a drifting artifact (breathing, motion) less closely. "
    "Typical 10-30; 20 by default.",
    "window_lf": "Volumes averaged below 40 Hz, where the artifact is weak and the EEG leak "
    "would dominate (0: same as Window). Typical 40-80.",
    "align": "Re-align every volume to its template by sub-sample cross-correlation (on the "
    "channels with most artifact). Needed when the artifact jitters against the trigger; "
    "harmless otherwise.",
    "amplitude_fit": "Scale the template per channel and volume by least squares (tracks slow "
    "amplitude changes, e.g. with head motion).",
    "wiener": "Weight each frequency of the template by how much artifact (vs leaked EEG) it "
    "holds, so EEG-only frequencies between the slice harmonics are left untouched.",
    "alias_orders": "Model the part of the artifact that depends on where each volume falls "
    "between two samples (aliasing when the amplifier's anti-alias filter is weak). 0 turns "
    "it off; 2 by default.",
    "obs": "OBS: remove the main principal components of the residual above 70 Hz across "
    "volumes (EEG channels; rank chosen automatically). Useful when no low-pass is applied; "
    "the EEG below 70 Hz is not touched.",
    "anc": "ANC: adaptive noise cancellation of the residual above 70 Hz from the template "
    "(EEG channels), as block-wise least squares that only keeps a block's fit when it "
    "lowers the residual, so it cannot blow up. Useful without a low-pass.",
    "lowpass": "Low-pass after subtraction, Hz (0: none). 70 Hz keeps the EEG bands and "
    "removes the high-frequency residue; typical 40-100 Hz.",
    "volume": "Volume-trigger marker name (e.g. R128, Scan Start); empty: detected.",
    "slice": "Slice-trigger marker name (e.g. Scanner/s); empty: detected.",
    "slices": "Slices (or multiband slice groups) per volume, evenly spaced; 0: from the BOLD "
    "sidecar's SliceTiming, slice triggers, or detected from the signal.",
    "tr": "Repetition time in seconds; 0: from the BOLD sidecar (or the trigger spacing).",
}


def run_correction(
    raw: Any,
    params: GradientParams,
    options: dict[str, Any],
    sidecar: dict[str, Any] | None,
    truth: Any,
    progress: Any = None,
) -> tuple[Any, Any]:
    """Worker body: the engine correction and the arrays the views draw."""
    from workbench.engine.pipeline.step_gradient import truth_eeg

    res = remove_gradient(
        raw,
        params=params,
        sidecar=sidecar or None,
        truth=truth_eeg(truth, raw),
        progress=progress.sub(0.0, 0.9) if progress is not None else None,
        **options,
    )
    if progress is not None:
        progress(0.92, "preparing the views")
    view = inspect_result(raw, res)
    return res, view


def _stack_job(
    raw: Any, res: Any, channel: int, volume: int, progress: Any = None
) -> dict[str, Any]:
    return epoch_stack(raw, res, channel, volume)


class GradientTab(QWidget):
    """Parameters, Run/Cancel, before/after traces, template stack, PSD and QC table."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.result: Any = None
        self.view_data: Any = None
        self.task: Task | None = None
        self._stack_task: Task | None = None
        self._stack_pending: tuple[int, int] | None = None
        self.last_error = ""
        self._build()
        session.raw_changed.connect(self._on_raw)
        session.cleaned_changed.connect(self._on_cleaned)
        self._on_raw(session.raw)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        lay = QHBoxLayout(self)
        split = QSplitter(Qt.Orientation.Horizontal)
        lay.addWidget(split)
        split.addWidget(self._build_params())
        self.views = QTabWidget()
        split.addWidget(self.views)
        split.setStretchFactor(1, 1)
        split.setSizes([280, 1000])
        self.traces = TraceView(window_s=2.0, n_channels=8)
        self.views.addTab(self.traces, "Before / after")
        self.views.addTab(self._build_stack(), "Template && epochs")
        self.views.addTab(self._build_psd(), "Spectrum")
        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(
            [
                "channel",
                "harmonics before (µV)",
                "after (µV)",
                "reduction (dB)",
                "1-40 Hz kept",
                "NRMSE",
                "r",
            ]
        )
        self.table.setToolTip(
            "Per EEG channel: RMS at the slice-rate harmonics before and after, its reduction, the "
            "fraction of 1-40 Hz power kept (outside the harmonics), and with ground truth the "
            "NRMSE and correlation against the artifact-free recording."
        )
        self.views.addTab(self.table, "QC table")

    def _build_params(self) -> QWidget:
        box = QGroupBox("Gradient correction")
        form = QFormLayout(box)
        d = GradientParams()
        self.window = QSpinBox()
        self.window.setRange(2, 200)
        self.window.setValue(d.window)
        self.window_lf = QSpinBox()
        self.window_lf.setRange(0, 400)
        self.window_lf.setValue(d.window_lf or 0)
        self.align = QCheckBox("sub-sample re-alignment")
        self.align.setChecked(d.align)
        self.amplitude_fit = QCheckBox("amplitude fit")
        self.amplitude_fit.setChecked(d.amplitude_fit)
        self.wiener = QCheckBox("per-frequency weighting")
        self.wiener.setChecked(d.wiener)
        self.alias_orders = QSpinBox()
        self.alias_orders.setRange(0, 4)
        self.alias_orders.setValue(d.alias_orders)
        self.obs = QCheckBox("OBS residual removal")
        self.obs.setChecked(d.obs)
        self.anc = QCheckBox("ANC residual removal")
        self.anc.setChecked(d.anc)
        self.lowpass = QDoubleSpinBox()
        self.lowpass.setRange(0, 1000)
        self.lowpass.setDecimals(1)
        self.lowpass.setSuffix(" Hz")
        self.lowpass.setSpecialValueText("off")
        self.lowpass.setValue(d.lowpass or 0)
        self.volume = QLineEdit()
        self.volume.setPlaceholderText("auto")
        self.slice = QLineEdit()
        self.slice.setPlaceholderText("auto")
        self.slices = QSpinBox()
        self.slices.setRange(0, 512)
        self.slices.setSpecialValueText("auto")  # 0 means: from the sidecar, triggers or signal
        self.tr = QDoubleSpinBox()
        self.tr.setRange(0, 60)
        self.tr.setDecimals(4)
        self.tr.setSuffix(" s")
        self.tr.setSpecialValueText("auto")  # 0 means: estimated from the volume triggers
        for key, label, w in (
            ("window", "Window (volumes)", self.window),
            ("window_lf", "Window < 40 Hz", self.window_lf),
            ("align", "", self.align),
            ("amplitude_fit", "", self.amplitude_fit),
            ("wiener", "", self.wiener),
            ("alias_orders", "Alias model orders", self.alias_orders),
            ("obs", "", self.obs),
            ("anc", "", self.anc),
            ("lowpass", "Low-pass", self.lowpass),
            ("volume", "Volume trigger", self.volume),
            ("slice", "Slice trigger", self.slice),
            ("slices", "Slices per volume", self.slices),
            ("tr", "TR", self.tr),
        ):
            w.setToolTip(PARAM_TIPS[key])
            form.addRow(label, w)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip(
            "Correct the loaded EEG with these parameters (in the background)."
        )
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running correction; nothing is changed.")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        form.addRow(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        form.addRow(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setToolTip("What the last run found and did.")
        form.addRow(self.status)
        return box

    def _build_stack(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        bar = QHBoxLayout()
        self.channel_combo = QComboBox()
        self.channel_combo.setToolTip("Channel whose artifact epochs are shown.")
        self.channel_combo.currentIndexChanged.connect(lambda _i: self.request_stack())
        self.volume_scroll = QScrollBar(Qt.Orientation.Horizontal)
        self.volume_scroll.setToolTip("Scroll through the volumes of the run.")
        self.volume_scroll.valueChanged.connect(lambda _v: self.request_stack())
        self.volume_label = QLabel("volume –")
        bar.addWidget(QLabel("Channel"))
        bar.addWidget(self.channel_combo)
        bar.addWidget(self.volume_label)
        bar.addWidget(self.volume_scroll, 1)
        v.addLayout(bar)
        self.stack_plot = pg.PlotWidget()
        self.stack_plot.setBackground("w")
        self.stack_plot.setLabel("left", "artifact", units="V")
        self.stack_plot.setLabel("bottom", "time in volume", units="s")
        self.stack_plot.addLegend(offset=(-10, 10))
        self.stack_plot.setToolTip(
            "Grey: the neighbouring volumes' epochs of this channel, shifted onto this volume's "
            "sub-sample phase. Red: their mean (the template). Blue: this volume after correction. "
            "Green dotted: slice slot onsets."
        )
        self.resid_plot = pg.PlotWidget()
        self.resid_plot.setBackground("w")
        self.resid_plot.setMaximumHeight(160)
        self.resid_plot.setLabel("left", "after", units="V")
        self.resid_plot.setXLink(self.stack_plot)
        v.addWidget(self.stack_plot, 3)
        v.addWidget(self.resid_plot, 1)
        self._epoch_items: list[Any] = []
        return w

    def _build_psd(self) -> QWidget:
        self.psd_plot = pg.PlotWidget()
        self.psd_plot.setBackground("w")
        self.psd_plot.setLogMode(False, True)
        self.psd_plot.setLabel("bottom", "frequency", units="Hz")
        self.psd_plot.setLabel("left", "amplitude density (µV/√Hz)")
        self.psd_plot.addLegend(offset=(-10, 10))
        self.psd_plot.setToolTip(
            "Mean spectrum of the EEG channels during scanning, before (grey) and after (blue). "
            "Red dashed: slice-rate harmonics; green dotted: volume rate (up to 20 Hz)."
        )
        return self.psd_plot

    # ------------------------------------------------------------------ session
    def _on_raw(self, raw: Any) -> None:
        self.result = None
        self.view_data = None
        self.traces.set_data(raw, None)
        self.run_button.setEnabled(raw is not None and self.task is None)
        self.status.setText("" if raw is not None else "No EEG loaded.")
        self._clear_views()

    def _on_cleaned(self, cleaned: Any) -> None:
        if self.session.raw is not None:
            self.traces.set_cleaned(cleaned)

    def _clear_views(self) -> None:
        self.psd_plot.clear()
        self.stack_plot.clear()
        self.resid_plot.clear()
        self.table.setRowCount(0)
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        self.channel_combo.blockSignals(False)

    # ------------------------------------------------------------------ run
    def params(self) -> tuple[GradientParams, dict[str, Any]]:
        """The parameters and trigger options as set in the panel."""
        p = GradientParams(
            window=self.window.value(),
            window_lf=self.window_lf.value() or None,
            align=self.align.isChecked(),
            amplitude_fit=self.amplitude_fit.isChecked(),
            wiener=self.wiener.isChecked(),
            alias_orders=self.alias_orders.value(),
            obs=self.obs.isChecked(),
            anc=self.anc.isChecked(),
            lowpass=self.lowpass.value() or None,
        )
        opts = {
            "volume": self.volume.text().strip() or None,
            "slice": self.slice.text().strip() or None,
            "slices_per_volume": self.slices.value() or None,
            "tr": self.tr.value() or None,
        }
        return p, opts

    def run(self) -> None:
        raw = self.session.raw
        if raw is None or self.task is not None:
            return
        params, opts = self.params()
        self.task = Task(
            "Gradient correction",
            run_correction,
            raw,
            params,
            opts,
            dict(self.session.bold_meta),
            self.session.truth,
        )
        self.task.progressed.connect(self._progress)
        self.task.succeeded.connect(self._done)
        self.task.failed.connect(self._failed)
        self.task.ended.connect(self._ended)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("running…")
        self.task.start()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _done(self, value: Any) -> None:
        res, view = value
        self.result, self.view_data = res, view
        self.session.set_cleaned(res.raw)  # main thread: the model changes here
        self._show_result()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self.last_error = "cancelled"
            self.status.setText("Cancelled: nothing was changed.")
        elif isinstance(exc, WorkbenchError):
            self.last_error = str(exc)
            self.status.setText(f"<span style='color:#b00020'>{exc}</span>")
        else:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.status.setText(
                f"<span style='color:#b00020'>unexpected error: {self.last_error}</span>"
            )

    def _ended(self) -> None:
        self.task = None
        self.progress.setValue(0)
        self.cancel_button.setEnabled(False)
        self.run_button.setEnabled(self.session.raw is not None)

    # ------------------------------------------------------------------ views
    def _show_result(self) -> None:
        res, view = self.result, self.view_data
        s = view.summary
        sync = res.qc["sync"]
        text = (
            f"{s.get('n_volumes')} volumes · TR {sync['tr_s']:.4g} s · {sync['n_slots']} slot(s) "
            f"({sync['timing_source']}) · drift {sync['drift_ppm']:.1f} ppm<br>"
            f"slice harmonics {s.get('harmonic_rms_before_uv', 0):.1f} → "
            f"{s.get('harmonic_rms_after_uv', 0):.2f} µV ({s.get('harmonic_reduction_db', 0):.1f} dB), "
            f"1-40 Hz kept {s.get('power_kept_1_40', 0):.2f}"
        )
        if "nrmse" in s:
            text += f"<br>vs truth: NRMSE {s['nrmse']:.3f}, r {s['correlation']:.3f}"
        self.status.setText(text)
        self.traces.set_time(max(0.0, res.scan_span[0] / res.raw.info["sfreq"] - 0.2))
        self._draw_psd()
        self._fill_table()
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        eeg = [(r["channel"], res.raw.ch_names.index(r["channel"])) for r in view.qc_rows]
        for name, idx in eeg:
            self.channel_combo.addItem(name, idx)
        if view.qc_rows:
            worst = int(np.argmax([r["harmonic_before_uv"] for r in view.qc_rows]))
            self.channel_combo.setCurrentIndex(worst)
        self.channel_combo.blockSignals(False)
        self.volume_scroll.blockSignals(True)
        self.volume_scroll.setRange(0, max(res.schedule.n_volumes - 1, 0))
        self.volume_scroll.setValue(res.schedule.n_volumes // 2)
        self.volume_scroll.blockSignals(False)
        self.request_stack()

    def _draw_psd(self) -> None:
        v = self.view_data
        p = self.psd_plot
        p.clear()
        f = v.freqs[1:]
        p.plot(
            f,
            np.sqrt(v.psd_before[1:]) * 1e6,
            pen=pg.mkPen((150, 150, 150), width=1),
            name="before",
        )
        p.plot(
            f, np.sqrt(v.psd_after[1:]) * 1e6, pen=pg.mkPen((20, 90, 200), width=1.5), name="after"
        )
        for h in v.slice_harmonics:
            p.addItem(
                pg.InfiniteLine(
                    h, angle=90, pen=pg.mkPen((200, 40, 40), style=Qt.PenStyle.DashLine)
                )
            )
        for c in v.volume_lines:
            p.addItem(
                pg.InfiniteLine(
                    c, angle=90, pen=pg.mkPen((40, 150, 60, 120), style=Qt.PenStyle.DotLine)
                )
            )

    def _fill_table(self) -> None:
        rows = self.view_data.qc_rows
        self.table.setRowCount(len(rows))
        keys = (
            "channel",
            "harmonic_before_uv",
            "harmonic_after_uv",
            "reduction_db",
            "power_kept_1_40",
            "nrmse",
            "correlation",
        )
        fmt = ("{}", "{:.2f}", "{:.3f}", "{:.1f}", "{:.3f}", "{:.3f}", "{:.3f}")
        for i, r in enumerate(rows):
            for j, (k, f) in enumerate(zip(keys, fmt)):
                val = r.get(k)
                item = QTableWidgetItem("–" if val is None else f.format(val))
                if j:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()

    def request_stack(self) -> None:
        """Ask the engine (in a worker) for the epochs of the chosen channel and volume."""
        if self.result is None or self.channel_combo.count() == 0:
            return
        req = (int(self.channel_combo.currentData()), int(self.volume_scroll.value()))
        self.volume_label.setText(f"volume {req[1] + 1}/{self.result.schedule.n_volumes}")
        if self._stack_task is not None:
            self._stack_pending = req  # latest request wins when the running one ends
            return
        self._stack_task = Task("artifact epochs", _stack_job, self.session.raw, self.result, *req)
        self._stack_task.succeeded.connect(self._draw_stack)
        self._stack_task.ended.connect(self._stack_ended)
        self._stack_task.start()

    def _stack_ended(self) -> None:
        self._stack_task = None
        if self._stack_pending is not None:
            self._stack_pending = None
            self.request_stack()

    def _draw_stack(self, d: dict[str, Any]) -> None:
        p = self.stack_plot
        p.clear()
        t = d["t"]
        grey = pg.mkPen((160, 160, 160, 110), width=1)
        for e in d["epochs"]:
            p.plot(t, e, pen=grey)
        p.plot(t, d["template"], pen=pg.mkPen((210, 30, 30), width=1.6), name="template")
        for s in d["slots"]:
            p.addItem(
                pg.InfiniteLine(
                    s, angle=90, pen=pg.mkPen((40, 150, 60, 140), style=Qt.PenStyle.DotLine)
                )
            )
        self.resid_plot.clear()
        self.resid_plot.plot(t, d["corrected"], pen=pg.mkPen((20, 90, 200), width=1))
        self.last_stack = d
