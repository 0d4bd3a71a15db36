"""The "3D Coregistration" tab: pick fiducials, fit, ICP live, omit/restore, QC, undo.

The tab observes the session (``dig``, ``scalp``, ``anat``, ``trans``, ``truth``) and
forwards every action to the engine's :class:`~workbench.engine.coreg.model.Coreg`.
Each edit is an undoable command on ``session.undo`` holding the model state before and
after. ICP runs on a clone of the model in a superqt generator worker that yields after
every iteration; the main thread only moves actors and, at the end, applies the result
as one undoable edit. Nothing here computes geometry.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from workbench.engine.commands import SetValue
from workbench.engine.coreg.dig import FID_NAMES, dig_from_montage
from workbench.engine.coreg.fiducials import resolve_fiducials
from workbench.engine.coreg.model import DEFAULT_OMIT_MM, Coreg, full_fit
from workbench.engine.coreg.surface import decimate_for_display, scalp_from_t1
from workbench.engine.coreg.workflow import fid_match_for
from workbench.engine.errors import WorkbenchError

from ..signals import connect
from .scene import CoregScene

log = logging.getLogger(__name__)

HELP_TEXT = (
    "<b>3D Coregistration</b> finds where the head (electrodes digitised in the head frame, "
    "defined by nasion and ears) sits in the MRI. 1) Place the MRI fiducials by clicking the "
    "scalp (LPA, nasion, RPA); they are read from the subject's <i>-fiducials.fif</i> when "
    "there is one, else estimated from fsaverage. 2) <i>Fit fiducials</i>: a weighted rigid fit, "
    "nasion weighted most. 3) <i>ICP</i> moves all points onto the scalp, step by step; the "
    "electrodes sit on the cap a few mm above the skin, and that height is fitted too. "
    "4) Omit points farther than the threshold (mis-digitised points) and run ICP again; "
    "<i>Fit all</i> does 2-4 in one go, exactly as the command line. Points are coloured by "
    "their residual: head-shape points by their distance to the skin, electrodes by their "
    "distance from the fitted cap height; a good fit has a mean of 1-3 mm. More points "
    "average out random digitiser noise, but not a systematic bias."
)

QC_ROWS = [
    ("n_points", "points used", "{:.0f}"),
    ("n_omitted", "points omitted", "{:.0f}"),
    ("mean_mm", "mean distance (mm)", "{:.2f}"),
    ("median_mm", "median distance (mm)", "{:.2f}"),
    ("max_mm", "max distance (mm)", "{:.2f}"),
    ("sd_mm", "SD distance (mm)", "{:.2f}"),
    ("pct_beyond_3mm", "beyond 3 mm (%)", "{:.1f}"),
    ("pct_beyond_5mm", "beyond 5 mm (%)", "{:.1f}"),
    ("pct_beyond_10mm", "beyond 10 mm (%)", "{:.1f}"),
    ("pct_inside", "inside the scalp (%)", "{:.1f}"),
    ("fid_lpa_mm", "LPA error (mm)", "{:.1f}"),
    ("fid_nasion_mm", "nasion error (mm)", "{:.1f}"),
    ("fid_rpa_mm", "RPA error (mm)", "{:.1f}"),
    ("rotation_error_deg", "truth: rotation error (°)", "{:.2f}"),
    ("translation_error_mm", "truth: translation error (mm)", "{:.2f}"),
    ("tre_mean_mm", "truth: electrode TRE mean (mm)", "{:.2f}"),
    ("eeg_lift_mm", "electrodes above the skin (mm)", "{:.1f}"),
    ("mean_residual_mm", "mean residual (mm)", "{:.2f}"),
]


class CoregTab(QWidget):
    """The coregistration view (see the module docstring)."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, session: Any, parent: QWidget | None = None, *, auto_fiducials: bool = True) -> None:
        super().__init__(parent)
        self.session = session
        self.auto_fiducials = auto_fiducials
        self.coreg: Coreg | None = None
        self.display_scalp: dict[str, Any] | None = None
        self._display_for: dict[int, dict[str, Any]] = {}
        self._worker: Any = None
        self._applying = False
        self._pick: str | None = None
        self._pending: Any = None
        #: where the MRI fiducials came from ("file ...", "fsaverage estimate", "picked"...)
        self.fid_source = ""
        #: seconds between ICP iterations in the GUI (one iteration takes a few ms; this
        #: lets the eye follow the points moving)
        self.frame_interval = 0.04
        self.last_error = ""
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(30)
        self._render_timer.timeout.connect(self._flush_step)
        self._build()
        connect(self, session.dig_changed, lambda *_: self._rebuild())
        connect(self, session.scalp_changed, lambda *_: self._rebuild())
        connect(self, session.anat_changed, lambda *_: self._update_enabled())
        connect(self, session.trans_changed, lambda *_: self._on_trans())
        connect(self, session.truth_changed, lambda *_: self._refresh())
        connect(self, session.undo.changed, lambda *_: self._update_enabled())
        if hasattr(session, "result_changed"):
            connect(self, session.result_changed, self._on_result)
        #: the window's runner (``MainWindow.run_step``); "Fit all" runs the coreg step through it
        self._run_step: Any = None
        self._rebuild()

    def set_runner(self, run_step: Any, catalog: dict[str, Any]) -> None:
        """Run "Fit all" as the coreg step through the one runner (recorded in the provenance)."""
        self._run_step = run_step if "coreg" in catalog else None

    def _on_result(self, step_id: str, result: Any) -> None:
        """A coreg step ran (from here, the step panel or a replay): show its fit as one edit."""
        if step_id != "coreg" or self.coreg is None:
            return
        fitted = result.details.get("coreg") if result is not None else None
        if fitted is None:
            return
        new = fitted.get_state()
        if len(new["omitted"]) != len(self.coreg.points):
            return  # another digitisation than the one shown
        old = self.coreg.get_state()
        self.session.undo.push(SetValue("coreg step", self._apply_state, old, new))
        q = {**result.qc}
        mean = q.get("mean_residual_mm")
        self.status.setText("coreg step done (recorded in the provenance)"
                            + (f": mean residual {mean:.2f} mm, {q.get('n_omitted', 0)} omitted" if mean else ""))

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.scene = CoregScene(self, self._on_pick)
        side = QWidget(self)
        side.setMaximumWidth(340)
        col = QVBoxLayout(side)
        col.setContentsMargins(4, 4, 4, 4)

        self.status = QLabel("Open a study with digitisation and a scalp (or a T1).", side)
        self.status.setWordWrap(True)
        col.addWidget(self.status)

        gfid = QGroupBox("MRI fiducials", side)
        lf = QGridLayout(gfid)
        self.pick_buttons: dict[str, QPushButton] = {}
        for i, (name, label) in enumerate(zip(FID_NAMES, ("LPA", "Nasion", "RPA"))):
            b = QPushButton(f"Pick {label}", gfid)
            b.setCheckable(True)
            b.setToolTip(f"Then click the {label} on the scalp (snapped to the surface); click again to re-place it.")
            b.toggled.connect(lambda on, n=name: self._set_pick(n if on else None))
            lf.addWidget(b, 0, i)
            self.pick_buttons[name] = b
        self.btn_auto_fid = QPushButton("From file or estimate", gfid)
        self.btn_auto_fid.setToolTip("The subject's bem/*-fiducials.fif when there is one (as the command line's "
                                     "--fiducials auto), else MNI via talairach.xfm, else fsaverage's carried "
                                     "onto this scalp (1-2 cm accuracy; check them).")
        self.btn_auto_fid.clicked.connect(self.estimate_fiducials)
        lf.addWidget(self.btn_auto_fid, 1, 0, 1, 3)
        col.addWidget(gfid)

        gfit = QGroupBox("Fit", side)
        ff = QFormLayout(gfit)
        self.scale_combo = QComboBox(gfit)
        self.scale_combo.addItems(["none", "uniform", "3-axis"])
        self.scale_combo.setToolTip("Scale the MRI head to the digitised one (for a template MRI). Usually none.")
        ff.addRow("MRI scaling", self.scale_combo)
        self.nasion_w = QDoubleSpinBox(gfit)
        self.nasion_w.setRange(0, 100)
        self.nasion_w.setValue(1.0)
        self.nasion_w.setToolTip("Weight of the nasion during ICP (the fiducial fit always uses 10, as MNE).")
        ff.addRow("nasion weight (ICP)", self.nasion_w)
        self.robust = QCheckBox("robust weights (Tukey)", gfit)
        self.robust.setChecked(True)
        self.robust.setToolTip("Down-weight far points smoothly during ICP (typical: on).")
        ff.addRow(self.robust)
        self.inside_pen = QCheckBox("penalise points inside the scalp", gfit)
        self.inside_pen.setToolTip("Weight points under the skin x2 (digitised points cannot be inside; Brainstorm).")
        ff.addRow(self.inside_pen)
        self.labels = QCheckBox("electrode names", gfit)
        self.labels.setChecked(True)
        self.labels.setToolTip("Label the electrodes in the 3D view (labels behind the head are hidden).")
        self.labels.toggled.connect(lambda on: (self.scene.show_labels(on), self.scene.render()))
        ff.addRow(self.labels)
        row = QHBoxLayout()
        self.btn_fit_fid = QPushButton("Fit fiducials", gfit)
        self.btn_fit_fid.clicked.connect(self.fit_fiducials)
        self.btn_icp = QPushButton("Run ICP", gfit)
        self.btn_icp.setToolTip("Iterative closest point on the scalp, animated; stops when a step moves < 0.05 mm and < 0.05° (MNE: 0.2).")
        self.btn_icp.clicked.connect(self.run_icp)
        self.btn_cancel = QPushButton("Cancel", gfit)
        self.btn_cancel.clicked.connect(self.cancel)
        for b in (self.btn_fit_fid, self.btn_icp, self.btn_cancel):
            row.addWidget(b)
        ff.addRow(row)
        self.btn_fit_all = QPushButton("Fit all (as the command line)", gfit)
        self.btn_fit_all.setToolTip("Fiducials -> robust ICP -> omit beyond the outlier threshold -> ICP: the same "
                                    "engine call as `workbench coreg --omit-mm X`.")
        self.btn_fit_all.clicked.connect(self.fit_all)
        ff.addRow(self.btn_fit_all)
        col.addWidget(gfit)

        gom = QGroupBox("Outliers", side)
        lo = QGridLayout(gom)
        self.omit_slider = QSlider(Qt.Orientation.Horizontal, gom)
        self.omit_slider.setRange(1, 20)
        self.omit_slider.setValue(int(round(DEFAULT_OMIT_MM)))
        self.omit_slider.setToolTip("Points whose residual exceeds this are omitted: head-shape points by their "
                                    "distance to the skin, electrodes by their distance from the fitted cap height "
                                    "(the command line's --omit-mm, same default; MNE: 5-10 mm).")
        self.omit_label = QLabel(f"{int(round(DEFAULT_OMIT_MM))} mm", gom)
        self.omit_slider.valueChanged.connect(lambda v: self.omit_label.setText(f"{v} mm"))
        self.btn_omit = QPushButton("Omit", gom)
        self.btn_omit.clicked.connect(self.omit)
        self.btn_restore = QPushButton("Restore all", gom)
        self.btn_restore.clicked.connect(self.restore)
        lo.addWidget(self.omit_slider, 0, 0, 1, 2)
        lo.addWidget(self.omit_label, 0, 2)
        lo.addWidget(self.btn_omit, 1, 0)
        lo.addWidget(self.btn_restore, 1, 1, 1, 2)
        col.addWidget(gom)

        gview = QGroupBox("View", side)
        lv = QGridLayout(gview)
        self.opacity = QSlider(Qt.Orientation.Horizontal, gview)
        self.opacity.setRange(10, 100)
        self.opacity.setValue(85)
        self.opacity.setToolTip("Scalp opacity")
        self.opacity.valueChanged.connect(lambda v: (self.scene.set_opacity(v / 100), self.scene.render()))
        lv.addWidget(QLabel("opacity", gview), 0, 0)
        lv.addWidget(self.opacity, 0, 1, 1, 3)
        self.camera_buttons = {}
        for i, name in enumerate(("front", "left", "right", "top")):
            b = QPushButton(name, gview)
            b.clicked.connect(lambda _=False, n=name: self.set_camera(n))
            lv.addWidget(b, 1, i)
            self.camera_buttons[name] = b
        self.btn_undo = QPushButton("Undo", gview)
        self.btn_undo.clicked.connect(self.session.undo.undo)
        self.btn_redo = QPushButton("Redo", gview)
        self.btn_redo.clicked.connect(self.session.undo.redo)
        self.btn_shot = QPushButton("Screenshot…", gview)
        self.btn_shot.clicked.connect(self._ask_screenshot)
        self.btn_teach = QPushButton("Noise vs bias…", gview)
        self.btn_teach.setToolTip("Show why more points average out noise but not a digitiser bias.")
        self.btn_teach.clicked.connect(self._open_teach)
        lv.addWidget(self.btn_undo, 2, 0)
        lv.addWidget(self.btn_redo, 2, 1)
        lv.addWidget(self.btn_shot, 2, 2, 1, 2)
        lv.addWidget(self.btn_teach, 3, 0, 1, 4)
        self.btn_save_trans = QPushButton("Save -trans.fif…", gview)
        self.btn_save_trans.setToolTip("Write the head -> MRI transform for MNE (forward models, source imaging).")
        self.btn_save_trans.clicked.connect(self._ask_save_trans)
        self.btn_save_el = QPushButton("Save electrodes.tsv…", gview)
        self.btn_save_el.setToolTip("Electrodes in MRI coordinates, projected onto the scalp (BIDS + coordsystem.json).")
        self.btn_save_el.clicked.connect(self._ask_save_electrodes)
        lv.addWidget(self.btn_save_trans, 5, 0, 1, 2)
        lv.addWidget(self.btn_save_el, 5, 2, 1, 2)
        self.btn_extract = QPushButton("Extract scalp from T1", gview)
        self.btn_extract.clicked.connect(self.extract_scalp)
        lv.addWidget(self.btn_extract, 4, 0, 1, 4)
        col.addWidget(gview)

        self.qc_table = QTableWidget(len(QC_ROWS), 2, side)
        self.qc_table.setHorizontalHeaderLabels(["QC", "value"])
        self.qc_table.verticalHeader().setVisible(False)
        self.qc_table.horizontalHeader().setStretchLastSection(True)
        self.qc_table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        for r, (_, label, _) in enumerate(QC_ROWS):
            self.qc_table.setItem(r, 0, QTableWidgetItem(label))
            self.qc_table.setItem(r, 1, QTableWidgetItem("–"))
        self.qc_table.resizeColumnToContents(0)
        col.addWidget(self.qc_table, 1)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.scene.widget, 1)
        lay.addWidget(side)

    # ------------------------------------------------------------------ model from the session
    def _rebuild(self) -> None:
        """(Re)create the engine model when the digitisation or the scalp changes."""
        s = self.session
        self.coreg = None
        self.scene.clear()
        if s.scalp is None:
            self.status.setText("No scalp yet: open a surface, or extract it from the T1." if s.anat is not None
                                else "Open a study with digitisation and a scalp (or a T1).")
            self._update_enabled()
            self.scene.render()
            return
        dense = {"rr": np.asarray(s.scalp["rr"], float), "tris": np.asarray(s.scalp["tris"], np.int64)}
        self.display_scalp = self._display_for.get(id(s.scalp)) or decimate_for_display(dense)
        self.scene.set_scalp(self.display_scalp["rr"], self.display_scalp["tris"])
        if s.dig is None:
            self.status.setText("Scalp shown. Open a digitisation file to coregister.")
            self.scene.camera("front")
            self._update_enabled()
            self.scene.render()
            return
        try:
            dig = dig_from_montage(s.dig, getattr(s.dig, "_wb_source", None)).validate(need_fiducials=False)
        except WorkbenchError as exc:
            self._error(str(exc))
            self._update_enabled()
            self.scene.render()
            return
        head_mri = None
        if s.trans is not None:
            head_mri = np.asarray(s.trans["trans"], float)
        self.coreg = Coreg(dig, dense, None, head_mri=head_mri)
        self.fid_source = ""
        pts, kinds = self.coreg.points, self.coreg.kinds
        self.scene.set_points(pts, kinds, dig.fid if dig.has_fiducials else None)
        self.scene.set_labels(dig.eeg, list(dig.eeg_names))
        n = {k: int(np.sum(kinds == k)) for k in ("eeg", "hsp", "hpi")}
        self.status.setText(f"{n['eeg']} electrodes, {n['hsp']} head-shape points, "
                            f"{'3 fiducials' if dig.has_fiducials else 'no fiducials'}; "
                            f"scalp {len(dense['rr'])} vertices (display {len(self.display_scalp['rr'])}).")
        self.scene.camera("front")
        self._refresh()
        if self.auto_fiducials:
            # deferred: when one file is added to a study the session's file list is updated
            # after the scalp/dig signals, and the fiducials file is looked up next to the scalp
            QTimer.singleShot(0, self.estimate_fiducials)

    def _on_trans(self) -> None:
        if self._applying or self.coreg is None or self.session.trans is None:
            return
        self.coreg.head_mri = np.asarray(self.session.trans["trans"], float)
        self._refresh()

    # ------------------------------------------------------------------ edits (undoable)
    def _edit(self, text: str, fn: Any) -> None:
        """Run ``fn()`` on the model and record it as one undoable command."""
        if self.coreg is None:
            return
        old = self.coreg.get_state()
        try:
            fn()
        except WorkbenchError as exc:
            self.coreg.set_state(old)
            self._error(str(exc))
            return
        new = self.coreg.get_state()
        self.session.undo.push(SetValue(text, self._apply_state, old, new))

    def _apply_state(self, state: dict[str, Any]) -> None:
        if self.coreg is None:
            return
        if len(state["omitted"]) != len(self.coreg.points):  # the inputs changed since
            return
        self.coreg.set_state(state)
        self._applying = True
        try:
            self.session.set_trans(self.coreg.trans)
        finally:
            self._applying = False
        self._refresh()

    def _set_pick(self, name: str | None) -> None:
        self._pick = name
        for n, b in self.pick_buttons.items():
            if n != name and b.isChecked():
                b.blockSignals(True)
                b.setChecked(False)
                b.blockSignals(False)

    def _on_pick(self, point_m: np.ndarray) -> None:
        if self._pick is None or self.coreg is None or self.busy:
            return
        name = self._pick
        self._edit(f"place {name}", lambda: self.coreg.set_fiducial(name, point_m))
        self.fid_source = "picked"
        # advance LPA -> nasion -> RPA -> done
        i = FID_NAMES.index(name)
        if i + 1 < len(FID_NAMES) and (self.coreg.mri_fiducials is None
                                        or not np.all(np.isfinite(self.coreg.mri_fiducials[i + 1]))):
            self.pick_buttons[FID_NAMES[i + 1]].setChecked(True)
        else:
            self.pick_buttons[name].setChecked(False)

    def set_fiducials(self, fid_m: np.ndarray, text: str = "set fiducials", source: str = "given") -> None:
        """Set all three MRI fiducials (snapped) as one edit.

        Parameters
        ----------
        fid_m : ndarray, shape (3, 3)
            LPA, nasion, RPA (MRI frame, m).
        text : str
            The undo text.
        source : str
            Where they came from (as :func:`resolve_fiducials` says); decides whether the
            ICP matches them point to point (placed on this MRI) or only to the skin
            (estimates), as the command line does.
        """
        if self.coreg is None:
            return

        def do() -> None:
            for n, p in zip(FID_NAMES, np.asarray(fid_m, float)):
                self.coreg.set_fiducial(n, p)
        self._edit(text, do)
        self.fid_source = source

    def fit_fiducials(self) -> None:
        self._edit("fit fiducials", lambda: self.coreg.fit_fiducials(scale=self.scale_combo.currentText()))

    def omit(self) -> None:
        self._edit(f"omit > {self.omit_slider.value()} mm", lambda: self.coreg.omit(self.omit_slider.value() * 1e-3))

    def restore(self) -> None:
        self._edit("restore points", lambda: self.coreg.restore())

    def icp_params(self) -> dict[str, Any]:
        """The keyword arguments the ICP button passes to ``Coreg.iter_icp``."""
        return {
            "n_iterations": 50,
            "scale": self.scale_combo.currentText(),
            "robust": "tukey" if self.robust.isChecked() else None,
            "inside_weight": 2.0 if self.inside_pen.isChecked() else 1.0,
            "weights": {"nasion": float(self.nasion_w.value())},
            "fid_match": self.fid_match,
            "eeg_lift": "fit",
        }

    @property
    def fid_match(self) -> str:
        """``"matched"`` for fiducials from a file or picked here, ``"nearest"`` for estimates (as the CLI)."""
        return fid_match_for(self.fid_source or "estimate")

    def fit_all(self) -> None:
        """The command line's flow: the coreg step through the runner when the fiducials come
        from a file or are estimated (recorded in the provenance, replayable); with fiducials
        picked here by hand, ``full_fit`` on a clone in a worker, applied as one edit."""
        if self.coreg is None or self.busy:
            return
        src = self.fid_source or ""
        if self._run_step is not None and src not in ("picked", "given"):
            fid = src[5:].strip() if src.startswith("file ") else "auto"
            params = {"omit_mm": float(self.omit_slider.value()), "scale": self.scale_combo.currentText(),
                      "fiducials": fid, "noise_vs_bias": False}
            self.status.setText("running the coreg step (see the task bar)…")
            self._run_step("coreg", params)
            return
        if self.coreg.mri_fiducials is None or not np.all(np.isfinite(self.coreg.mri_fiducials)):
            self._error("the MRI fiducials are not set: pick them on the scalp or read/estimate them first")
            return
        work = self.coreg.clone()
        old = self.coreg.get_state()
        kw = {"scale": self.scale_combo.currentText(), "omit_mm": float(self.omit_slider.value()),
              "fid_match": self.fid_match}

        def run() -> dict[str, Any]:
            full_fit(work, **kw)
            return work.get_state()

        worker = create_worker(run, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda new: self._fit_all_done(old, new))
        self._start(worker, "fitting: fiducials, ICP, omit, ICP…")

    def _fit_all_done(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if self.coreg is None:
            return
        self.session.undo.push(SetValue("fit all", self._apply_state, old, new))
        q = self.coreg.qc()
        self.status.setText(f"fit done: mean residual {q['mean_residual_mm']:.2f} mm, {q['n_omitted']} omitted, "
                            f"electrodes {q['eeg_lift_mm']:.1f} mm above the skin")

    # ------------------------------------------------------------------ workers
    @property
    def busy(self) -> bool:
        return self._worker is not None

    def _start(self, worker: Any, status: str) -> None:
        self._worker = worker
        self.scene.show_labels(False)  # 2D labels cannot follow the animated pose cheaply; back at the end
        worker.errored.connect(lambda exc: self._error(str(exc) if isinstance(exc, WorkbenchError)
                                                       else f"{type(exc).__name__}: {exc}"))
        worker.finished.connect(self._worker_done)
        self.status.setText(status)
        self._update_enabled()
        worker.start()

    def _worker_done(self) -> None:
        self._worker = None
        self._update_enabled()
        if self.coreg is not None:
            self.scene.show_labels(self.labels.isChecked())
            self.scene.render()

    def run_icp(self) -> None:
        """ICP on a clone in a worker, animating each iteration; applied as one edit."""
        if self.coreg is None or self.busy:
            return
        work = self.coreg.clone()
        old = self.coreg.get_state()
        params = self.icp_params()

        pause = self.frame_interval

        def gen():  # runs in the worker thread: touches only the clone
            for step in work.iter_icp(**params):
                yield step, work.residuals()
                time.sleep(pause)  # pace the animation so every iteration can be seen
            return work.get_state()

        worker = create_worker(gen, _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._on_icp_step)
        worker.returned.connect(lambda new: self._icp_done(old, new))
        self._start(worker, "ICP running…")

    def _on_icp_step(self, item: Any) -> None:
        self._pending = item
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _flush_step(self) -> None:
        if self._pending is None or self.coreg is None:
            return
        step, dist = self._pending
        self._pending = None
        self.scene.update_pose(step.head_mri, step.scale, dist * 1e3, self.coreg.omitted)
        self.status.setText(f"ICP iteration {step.iteration}: mean {step.mean_mm:.2f} mm, "
                            f"moved {step.move_mm:.3f} mm / {step.angle_deg:.3f}°")
        self.scene.render()

    def _icp_done(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._pending = None
        self._render_timer.stop()
        if self.coreg is None:
            return
        self.session.undo.push(SetValue("ICP", self._apply_state, old, new))
        q = self.coreg.qc()
        self.status.setText(f"ICP done: mean residual {q['mean_residual_mm']:.2f} mm, electrodes "
                            f"{q['eeg_lift_mm']:.1f} mm above the skin")

    def cancel(self) -> None:
        """Stop the running worker; the model keeps its state from before."""
        if self._worker is not None:
            self._worker.quit()
            self.status.setText("cancelled")
            QTimer.singleShot(0, self._refresh)

    def estimate_fiducials(self) -> None:
        """MRI fiducials as the command line's ``--fiducials auto`` finds them, in a worker.

        A fiducials file given with the study, else the subject's ``bem/*-fiducials.fif``
        next to the scalp or T1, else MNI fiducials through ``talairach.xfm``, else
        fsaverage's carried onto this scalp (:func:`resolve_fiducials`).
        """
        if self.coreg is None or self.busy:
            return
        files = getattr(getattr(self.session, "study", None), "files", None) or {}
        spec = files.get("fiducials") or "auto"
        near = files.get("scalp") or files.get("anat")
        worker = create_worker(resolve_fiducials, spec, dict(self.coreg.scalp), near,
                               _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda res: self._fiducials_ready(*res))
        self._start(worker, "looking for the MRI fiducials…")

    def _fiducials_ready(self, fid: np.ndarray, how: str) -> None:
        self.set_fiducials(fid, f"fiducials ({how})", source=how)
        self.status.setText(f"MRI fiducials: {how}")

    def extract_scalp(self) -> None:
        if self.session.anat is None or self.busy:
            return
        worker = create_worker(scalp_from_t1, self.session.anat, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(self._scalp_ready)
        self._start(worker, "extracting the scalp from the T1…")

    def _scalp_ready(self, result: tuple[dict[str, Any], dict[str, Any]]) -> None:
        dense, display = result
        self._display_for = {id(dense): display}
        self.session.set_scalp(dense)

    # ------------------------------------------------------------------ display
    def _refresh(self) -> None:
        if self.coreg is None:
            return
        co = self.coreg
        self.scene.update_pose(co.head_mri, co.scale, co.residuals() * 1e3, co.omitted)
        self.scene.show_labels(self.labels.isChecked())  # redrawn at the new pose
        self.scene.set_mri_fiducials(co.mri_fiducials)
        truth = getattr(self.session.truth, "head_mri_t", None)
        qc = co.qc(np.asarray(truth, float) if truth is not None else None)
        self.last_qc = qc
        for r, (key, _, fmt) in enumerate(QC_ROWS):
            v = qc.get(key)
            txt = "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else fmt.format(v)
            self.qc_table.item(r, 1).setText(txt)
        self._update_enabled()
        self.scene.render()

    def _update_enabled(self) -> None:
        has = self.coreg is not None
        idle = not self.busy
        fids = has and self.coreg.mri_fiducials is not None and bool(np.all(np.isfinite(self.coreg.mri_fiducials)))
        for b in self.pick_buttons.values():
            b.setEnabled(has and idle)
        self.btn_auto_fid.setEnabled(has and idle)
        self.btn_fit_fid.setEnabled(has and idle and fids and self.coreg.dig.has_fiducials)
        self.btn_icp.setEnabled(has and idle)
        self.btn_fit_all.setEnabled(has and idle and fids)
        self.btn_omit.setEnabled(has and idle)
        self.btn_restore.setEnabled(has and idle)
        self.btn_cancel.setEnabled(not idle)
        self.btn_teach.setEnabled(has and idle and fids)
        self.btn_extract.setEnabled(idle and self.session.anat is not None)
        self.btn_save_trans.setEnabled(has and idle)
        self.btn_save_el.setEnabled(has and idle and len(self.coreg.dig.eeg) > 0)
        self.btn_undo.setEnabled(idle and self.session.undo.can_undo)
        self.btn_redo.setEnabled(idle and self.session.undo.can_redo)
        self.btn_undo.setToolTip(f"Undo {self.session.undo.undo_text}")
        self.btn_redo.setToolTip(f"Redo {self.session.undo.redo_text}")

    def _error(self, msg: str) -> None:
        self.last_error = msg
        self.status.setText(f"<span style='color:#b00'>{msg}</span>")
        log.error("coregistration: %s", msg)

    def set_camera(self, preset: str) -> None:
        self.scene.camera(preset)
        self.scene.render()

    def save_screenshot(self, path: str) -> None:
        self.scene.screenshot(path)

    def _ask_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "coreg.png", "PNG (*.png)")
        if path:
            self.save_screenshot(path)

    def save_trans(self, path: str) -> None:
        """Write the current transform as an MNE ``-trans.fif``."""
        from workbench.engine.coreg.export import write_trans

        if self.coreg is not None:
            write_trans(path, self.coreg.head_mri)

    def save_electrodes(self, path: str) -> None:
        """Write electrodes in MRI coordinates (BIDS ``_electrodes.tsv`` + ``_coordsystem.json``)."""
        from workbench.engine.coreg.export import write_bids_electrodes

        if self.coreg is not None:
            write_bids_electrodes(path, self.coreg.dig, self.coreg.head_mri, self.coreg.scalp)

    def _ask_save_trans(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save transform", "sub-01-trans.fif", "MNE transform (*-trans.fif)")
        if path:
            try:
                self.save_trans(path)
            except WorkbenchError as exc:
                self._error(str(exc))

    def _ask_save_electrodes(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save electrodes", "sub-01_space-T1w_electrodes.tsv",
                                              "BIDS electrodes (*_electrodes.tsv)")
        if path:
            try:
                self.save_electrodes(path)
            except WorkbenchError as exc:
                self._error(str(exc))

    def _open_teach(self) -> None:
        from .teach import NoiseBiasDialog

        if self.coreg is None or self.coreg.mri_fiducials is None:
            return
        self._teach = NoiseBiasDialog(self.coreg.scalp, self.coreg.mri_fiducials, self)
        self._teach.show()
        self._teach.start()

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        if self._worker is not None:
            self._worker.quit()
        self.scene.close()
        super().closeEvent(event)

    def close(self) -> bool:  # the main window calls close() on its pages
        if self._worker is not None:
            self._worker.quit()
        self.scene.close()
        return super().close()
