"""Gradient tab: a view of the ``gradient`` step (its declared form and its latest result).

The tab never runs an engine algorithm itself. Its forms are generated from the step
declarations (:class:`~workbench.gui.param_form.ParamForm` of the ``gradient`` step, and
of the ``sync`` step whose scanner timeline it needs); their values are the project's
stored parameters (:mod:`workbench.gui.step_params`, shared with the step panel). The
run bar (:class:`~workbench.gui.runbar.StepRunBar`, the same as the Cardiac and ICA tabs')
asks the main window to run the step through the one runner (recorded in the project's
provenance, shown in the task bar with Cancel); its Cancel cancels that task.

What it shows is the study's latest ``gradient`` result, announced by
``session.result_changed`` whoever ran the step (this tab, the step panel, a replay), or
found in ``session.study.results`` when the tab is built or a project is reopened. The
arrays the views draw are prepared by the engine
(:mod:`workbench.engine.gradient.inspect`) in a worker; scrolling the epoch stack asks
for one channel and volume in a small worker, latest request wins.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QScrollBar,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.gradient.inspect import epoch_stack, inspect_result
from workbench.engine.steps import format_value

from ..param_form import ParamForm
from ..runbar import StepRunBar
from ..signals import connect
from ..step_params import set_value, step_values
from ..traces.view import TraceView
from ..workers import Task

STEP = "gradient"
SYNC = "sync"

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
    "the red template closely. The tab shows the latest run of the <i>gradient</i> step, "
    "whether it was started here, from the step panel or by a replay."
)


def _view_job(before: Any, res: Any, progress: Any = None) -> Any:
    """Worker body: the arrays the views draw (engine code only)."""
    return inspect_result(before, res)


def _stack_job(
    raw: Any, res: Any, channel: int, volume: int, progress: Any = None
) -> dict[str, Any]:
    return epoch_stack(raw, res, channel, volume)


def _catalog_specs() -> dict[str, Any]:
    from workbench.engine.steps import builtin_steps

    return builtin_steps()


class GradientTab(QWidget):
    """The gradient step's form, Run/Cancel through the runner, and views of its result."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.specs = _catalog_specs()
        self.step_result: Any = None  # the StepResult shown
        self.result: Any = None  # its GradientResult
        self.before: Any = None  # the EEG it corrected
        self.view_data: Any = None
        self._view_task: Task | None = None
        self._view_pending: Any = None
        self._stack_task: Task | None = None
        self._stack_pending: tuple[int, int] | None = None
        self.forms: dict[str, ParamForm] = {}
        self._build()
        connect(self, session.result_changed, self._result_changed)
        connect(self, session.raw_changed, lambda *_: self._study_changed())
        connect(self, session.project_changed, lambda *_: self._study_changed())
        connect(self, session.undo.changed, lambda *_: self._refresh_forms())
        self._study_changed()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        lay.addWidget(split)
        self.side = QScrollArea()
        self.side.setWidgetResizable(True)
        self.side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side.setWidget(self._build_params())
        self.side.setMinimumWidth(200)
        split.addWidget(self.side)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.runbar = StepRunBar(
            STEP, self.params, "Run",
            "Run the gradient step on the current EEG with these parameters, in the background (the sync "
            "step first when there is no scanner timeline yet); it is recorded in the project's provenance "
            "and shown in the task bar.")
        self.runbar.on_finished = self._update_buttons
        rv.addWidget(self.runbar)
        self.views = QTabWidget()
        self.views.setUsesScrollButtons(True)
        rv.addWidget(self.views, 1)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([300, 1000])
        self.traces = TraceView(window_s=2.0, n_channels=8)
        self.views.addTab(self.traces, "Before / after")
        self.views.addTab(self._build_stack(), "Template && epochs")
        self.views.addTab(self._build_psd(), "Spectrum")
        self.views.addTab(self._build_evolution(), "Artifact over the run")
        self.table = QTableWidget(0, 8)
        self.table.setHorizontalHeaderLabels(
            ["channel", "harmonics\nbefore (µV)", "after\n(µV)", "reduction\n(dB)",
             "1-40 Hz\nkept", "between\nvolume lines", "NRMSE", "r"]
        )
        self.table.setToolTip(
            "Per EEG channel: RMS at the slice-rate harmonics before and after, its reduction, the "
            "fraction of 1-40 Hz power kept (outside the harmonics), and with ground truth the "
            "NRMSE and correlation against the artifact-free recording. 'Between volume lines': "
            "the 1-40 Hz power kept between the lines k/TR, where nothing repeats with the volumes "
            "(near 1: EEG kept; a low '1-40 Hz kept' with this near 1 is artifact removed)."
        )
        self.views.addTab(self.table, "QC table")

    def _build_params(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(4, 4, 4, 4)
        self.grad_box = QGroupBox("Gradient correction")
        self.grad_box.setToolTip("The parameters of the 'gradient' step (shared with the step panel).")
        QVBoxLayout(self.grad_box).setContentsMargins(4, 4, 4, 4)
        v.addWidget(self.grad_box)
        self.sync_box = QGroupBox("Scanner timeline (sync step)")
        self.sync_box.setToolTip(
            "The 'sync' step runs first when the study has no scanner timeline yet: these are "
            "its parameters (trigger names, TR, slices)."
        )
        QVBoxLayout(self.sync_box).setContentsMargins(4, 4, 4, 4)
        v.addWidget(self.sync_box)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setToolTip("What the latest run found and did.")
        self.summary.setMinimumWidth(100)
        v.addWidget(self.summary)
        v.addStretch(1)
        self._make_forms()
        return w

    def _make_forms(self) -> None:
        for step_id, box in ((STEP, self.grad_box), (SYNC, self.sync_box)):
            old = self.forms.pop(step_id, None)
            if old is not None:
                old.setParent(None)
                old.deleteLater()
            spec = self.specs.get(step_id)
            form = ParamForm(spec.params if spec is not None else (), self._values(step_id))
            form.value_edited.connect(lambda k, val, sid=step_id: self.set_param(sid, k, val))
            box.layout().addWidget(form)
            self.forms[step_id] = form

    def set_runner(self, run_step: Any, catalog: dict[str, Any]) -> None:
        """Run through ``run_step(step_id, params, on_done)`` (the main window's runner)."""
        self.runbar.set_runner(run_step)
        if catalog:
            self.specs = dict(catalog)
            self._make_forms()
        self._refresh_forms()

    # ------------------------------------------------------------------ parameters
    def _values(self, step_id: str) -> dict[str, Any]:
        return step_values(self.session, self.specs.get(step_id), step_id)

    def params(self, step_id: str = STEP) -> dict[str, Any]:
        """The parameters a run uses (the project's stored values over the declared defaults)."""
        return self._values(step_id)

    def set_param(self, step_id: str, key: str, value: Any) -> None:
        """Change one parameter (stored in the project, undoable; the step panel shows it too)."""
        set_value(self.session, self.specs.get(step_id), step_id, key, value)
        self._refresh_forms()

    def _refresh_forms(self) -> None:
        has_project = self.session.project is not None
        for step_id, form in self.forms.items():
            form.set_values(self._values(step_id))
            form.set_enabled(has_project)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.runbar.update_buttons(self.session.eeg is not None and self.session.project is not None)

    # ------------------------------------------------------------------ results
    def _study_changed(self) -> None:
        """A new study or project: show its latest gradient result (or nothing)."""
        self._refresh_forms()
        latest = self.session.study.results.get(STEP)
        if latest is not None:
            if latest is not self.step_result:
                self.show_result(latest)
            return
        self.step_result = self.result = self.before = self.view_data = None
        self.traces.set_data(self.session.eeg, None)
        self._clear_views()
        text = self._last_record_text()
        if self.session.eeg is None:
            text = "No EEG loaded." + ("" if text.startswith("Not run") else "<br>" + text)
        self.summary.setText(text)

    def _last_record_text(self) -> str:
        proj = self.session.project
        for rec in reversed(getattr(proj, "steps", []) if proj is not None else []):
            if rec.name == STEP:
                head = (f"Last recorded run: {html.escape(str(rec.status))} · "
                        f"{html.escape(str(rec.finished or rec.started))}")
                qc = self._qc_lines(rec.qc or {})
                return (head + ("<br>" + qc if qc else "")
                        + "<br><i>Run it again to inspect the traces, template and spectrum here.</i>")
        return "Not run yet: set the parameters and press Run."

    def _result_changed(self, step_id: str, result: Any) -> None:
        if step_id == STEP:
            self.show_result(result)

    def show_result(self, result: Any) -> None:
        """Show a gradient :class:`StepResult` (views prepared in a worker)."""
        self.step_result = result
        res = result.details.get("gradient")
        before = result.details.get("before")
        self.summary.setText(self._qc_text(result))
        if res is None or before is None:
            self.result = self.before = self.view_data = None
            self._clear_views()
            return
        self._view_pending = (before, res)
        if self._view_task is None:
            self._start_view_task()

    def _start_view_task(self) -> None:
        before, res = self._view_pending
        self._view_pending = None
        self._view_task = Task("gradient views", _view_job, before, res)
        self._view_task.succeeded.connect(lambda view, b=before, r=res: self._views_ready(b, r, view))
        self._view_task.failed.connect(self._view_failed)
        self._view_task.ended.connect(self._view_ended)
        self._view_task.start()

    def _view_failed(self, exc: BaseException) -> None:
        self.summary.setText(self.summary.text() + "<br><span style='color:#b00020'>the views could not be "
                             f"prepared: {html.escape(str(exc))}</span>")

    def _view_ended(self) -> None:
        self._view_task = None
        if self._view_pending is not None:
            self._start_view_task()

    def _views_ready(self, before: Any, res: Any, view: Any) -> None:
        if self._view_pending is not None or self.step_result is None:
            return  # a newer result is being prepared
        if self.step_result.details.get("gradient") is not res:
            return
        self.result, self.before, self.view_data = res, before, view
        self._show_views()

    def _qc_text(self, result: Any) -> str:
        text = self._qc_lines({**result.qc, **result.truth_qc})
        if result.messages:
            text += "<br><i>" + html.escape("; ".join(result.messages)) + "</i>"
        return text

    def _qc_lines(self, qc: dict[str, Any]) -> str:
        """The main QC values with their labels, units and warn flags (one per line)."""
        spec = self.specs.get(STEP)
        bits = []
        for key in ("n_volumes", "tr_s", "n_slots", "harmonic_rms_before_uv", "harmonic_rms_after_uv",
                    "harmonic_reduction_db", "power_kept_1_40", "power_kept_1_40_off_comb", "nrmse",
                    "correlation"):
            if key not in qc:
                continue
            q = spec.qc_spec(key) if spec is not None else None
            label = q.label if q is not None else key.replace("_", " ")
            text = q.format(qc[key]) if q is not None else format_value(qc[key])
            flag = q.flag(qc[key]) if q is not None else ""
            if flag == "warn":
                text = f"<span style='color:#b26a00'>{text} ⚠</span>"
            bits.append(f"{html.escape(label)}: {text}")
        return "<br>".join(bits)

    def _clear_views(self) -> None:
        self.psd_plot.clear()
        self.stack_note.setText("")
        for plot in (self.evo_size, self.evo_shape, self.evo_reach):
            plot.clear()
        self.evo_note.setText("")
        self.stack_plot.clear()
        self.resid_plot.clear()
        self.table.setRowCount(0)
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        self.channel_combo.blockSignals(False)
        self.volume_label.setText("volume –")

    def _show_views(self) -> None:
        res, view = self.result, self.view_data
        self.traces.set_data(self.before, None)
        self.traces.set_cleaned(res.raw)  # before/after overlay; the view starts inside the scan
        self._draw_psd()
        self._draw_evolution()
        self._fill_table()
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        eeg = [(r["channel"], res.raw.ch_names.index(r["channel"])) for r in view.qc_rows]
        for name, idx in eeg:
            self.channel_combo.addItem(name, idx)
        before = [r["harmonic_before_uv"] for r in view.qc_rows]
        if before and None not in before:
            worst = int(np.argmax(before))
            self.channel_combo.setCurrentIndex(worst)
        self.channel_combo.blockSignals(False)
        self.volume_scroll.blockSignals(True)
        self.volume_scroll.setRange(0, max(res.schedule.n_volumes - 1, 0))
        self.volume_scroll.setValue(res.schedule.n_volumes // 2)
        self.volume_scroll.blockSignals(False)
        self.request_stack()

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
        self.stack_note = QLabel("")
        self.stack_note.setWordWrap(True)
        v.addWidget(self.stack_note)
        self.stack_plot = pg.PlotWidget()
        self.stack_plot.setBackground("w")
        self.stack_plot.setLabel("left", "artifact", units="V")
        self.stack_plot.setLabel("bottom", "time in volume", units="s")
        self.stack_plot.addLegend(offset=(-10, 10))
        self.stack_plot.setToolTip(
            "Grey: the neighbouring volumes' epochs of this channel, shifted onto this volume's "
            "sub-sample phase (with tracking: the volumes chosen as most similar to this one). Red: "
            "their mean (the template). Blue: this volume after correction. Green dotted: slice slot onsets."
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

    def _build_evolution(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        self.evo_size = pg.PlotWidget()
        self.evo_shape = pg.PlotWidget()
        self.evo_reach = pg.PlotWidget()
        for plot, label in ((self.evo_size, "size vs run mean (%)"),
                            (self.evo_shape, "shape change (%)"),
                            (self.evo_reach, "neighbours' distance (volumes)")):
            plot.setBackground("w")
            plot.setLabel("left", label)
            plot.showGrid(y=True, alpha=0.3)
            v.addWidget(plot, 1)
        self.evo_size.addLegend(offset=(-10, 10))
        self.evo_reach.setLabel("bottom", "time", units="s")
        self.evo_shape.setXLink(self.evo_size)
        self.evo_reach.setXLink(self.evo_size)
        self.evo_size.setToolTip(
            "Per volume, median over channels: the artifact's size relative to the run's mean (blue) "
            "and the template amplitude the fit chose (orange). Breathing, gradient heating and "
            "movement make it drift.")
        self.evo_shape.setToolTip(
            "The part of each volume's artifact whose shape differs from the run's mean shape "
            "(100·sqrt(1 - r²)). Steps are head movements; slow changes are heating or drift.")
        self.evo_reach.setToolTip(
            "With tracking on: how far, on average, the neighbours chosen for each volume's template "
            "lie (volumes). Small where the artifact changes quickly.")
        self.evo_note = QLabel("")
        self.evo_note.setWordWrap(True)
        v.addWidget(self.evo_note)
        return w

    def _draw_evolution(self) -> None:
        evo = getattr(self.view_data, "evolution", {}) or {}
        for plot in (self.evo_size, self.evo_shape, self.evo_reach):
            plot.clear()
        t = evo.get("time_s")
        if t is None or not len(t):
            self.evo_note.setText("No per-volume record in this result (run the gradient step again).")
            return
        self.evo_size.plot(t, 100 * (evo["size"] - 1), pen=pg.mkPen("#1f77b4", width=1.5), name="artifact size")
        if "amplitude" in evo:
            self.evo_size.plot(t, 100 * (evo["amplitude"] - 1), pen=pg.mkPen("#ff7f0e", width=1),
                               name="fitted amplitude")
        self.evo_shape.plot(t, evo["shape_change_pct"], pen=pg.mkPen("#d62728", width=1.5))
        if "reach" in evo:
            self.evo_reach.plot(t, evo["reach"], pen=pg.mkPen("#2ca02c", width=1.5))
            note = "Tracking on: each volume's template is built from its most similar neighbours."
        else:
            note = "Tracking off: each volume's template is built from the nearest volumes in time."
        qc = self.result.qc if self.result is not None else {}
        if "artifact_size_range_pct" in qc:
            note += (f" Size range (5-95 %): {qc['artifact_size_range_pct']:.1f} %; shape change "
                     f"(95th percentile): {qc['artifact_shape_change_pct']:.1f} %.")
        self.evo_note.setText(note)

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
        has_truth = any("nrmse" in r for r in rows)
        self.table.setColumnHidden(6, not has_truth)
        self.table.setColumnHidden(7, not has_truth)
        keys = (
            "channel",
            "harmonic_before_uv",
            "harmonic_after_uv",
            "reduction_db",
            "power_kept_1_40",
            "power_kept_1_40_off_comb",
            "nrmse",
            "correlation",
        )
        fmt = ("{}", "{:.2f}", "{:.3f}", "{:.1f}", "{:.3f}", "{:.3f}", "{:.3f}", "{:.3f}")
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
        self._stack_task = Task("artifact epochs", _stack_job, self.before, self.result, *req)
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
        p.plot(t, d["template"], pen=pg.mkPen((210, 30, 30), width=1.6),
               name="template (tracked neighbours)" if d.get("tracked") else "template")
        nb = [int(j) + 1 for j in d.get("neighbours", [])]
        v = int(d.get("volume", self.volume_scroll.value())) + 1
        if d.get("tracked"):
            far = max((abs(j - v) for j in nb), default=0)
            self.stack_note.setText(
                f"Tracking on: the {len(nb)} volumes whose artifact on this channel is most similar to "
                f"volume {v}'s (up to {far} volumes away; used where the artifact is strong, the nearest "
                "volumes elsewhere).")
        else:
            self.stack_note.setText(f"The {len(nb)} nearest volumes ({min(nb, default=0)}-{max(nb, default=0)}, "
                                    f"without {v}).")
        for s in d["slots"]:
            p.addItem(
                pg.InfiniteLine(
                    s, angle=90, pen=pg.mkPen((40, 150, 60, 140), style=Qt.PenStyle.DotLine)
                )
            )
        self.resid_plot.clear()
        self.resid_plot.plot(t, d["corrected"], pen=pg.mkPen((20, 90, 200), width=1))
        self.last_stack = d
