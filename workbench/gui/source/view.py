"""The source view: an EEG source estimate in 3D and on T1 slices, over time, per variant.

Opens for a fusion result whose ``live`` carries ``source_estimate`` (fmri-source):
``amplitudes`` (variant -> (n_sources, n_times)), ``times`` (s), ``pos_mri`` (m, MNE's
``mri`` frame), ``fmri_mask`` (the thresholded fMRI map at each source),
``mri_to_world_mm`` (``mri`` -> the T1's scanner RAS, mm), and for a volume grid
``grid_shape``/``grid_to_mri``; a surface source space may give ``triangles`` (source
indices) and ``kind: "surface"``.

* a variant selector and two more to compare with (default soft, hard and the fixed
  weighting, side by side in the slices and in the time course; the third can be
  hidden), a time slider, a display threshold (share of the variant's maximum);
* 3D (:class:`~.scene.SourceScene`): the head from the T1, the source space, the sources
  above the threshold coloured by amplitude, the fMRI map, every variant's peak at the
  current time as a sphere, with the list of peaks under the 3D view (not written into
  it, where labels were clipped at the edge); a click on a source selects it; "3D: each
  variant" draws every shown variant in its own 3D view side by side (one camera, one
  colour bar, each view its variant's peak);
* slices: the estimate over the T1 with the fMRI map's outline in cyan, one row per
  variant (all three planes) or one plane with the variants side by side;
* the time course at the selected source (:class:`~.timecourse.TimeCoursePlot`), every
  variant shown, relative to each variant's maximum or in its units, the current time
  marked (a draggable line with its value, a dot on each curve).

Layout: when the view is wide enough (:data:`WIDE_PX`) the 3D view and the slices sit side
by side in a splitter; narrower (a 1366×768 screen with the docks open leaves ~530 px), a
"3D | Slices" switch shows one of them at a useful size. The slices show the three planes
per variant only when the view is also tall enough (:data:`TALL_PX`), else one plane with
the variants side by side (until the user picks a layout). The time course is below, in a
vertical splitter, never shorter than 150 px.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from ..flow import FlowLayout
from ..slices.viewer import SliceView
from .sampling import PlaneSampler
from .scene import head_surface, peak_groups, variant_color
from .timecourse import SCALES, TimeCoursePlot, format_amplitude

__all__ = ["SourceView", "has_source_estimate", "why_not_drawable", "NO_THIRD", "WIDE_PX", "PLANES", "SCENES"]

HELP_TEXT = (
    "<b>Sources</b>: where the EEG response comes from, estimated with and without the fMRI "
    "map. Pick a variant and two to compare with (e.g. <i>soft</i>, <i>hard</i> and the fixed "
    "<i>weighted</i>); move the time slider. 3D: the head, sources above the threshold coloured "
    "by amplitude, the fMRI map in cyan, each variant's peak as a sphere in its colour (listed "
    "under the 3D view). Slices: the estimate over the T1 with the fMRI map's outline (cyan). "
    "Click a slice or a source in 3D for that source's time course, in each variant's units "
    "or relative to its maximum."
)

_VIEWS = (("sagittal", 0), ("coronal", 1), ("axial", 2))
#: the third row's choice that hides it
NO_THIRD = "(none)"
#: the view's width from which the 3D view and the slices are side by side
WIDE_PX = 900
#: the view's height from which the slices show all three planes for each variant (rows)
TALL_PX = 700
#: slice layouts: all three planes per variant (rows), or one plane with the variants side by side
PLANES = ("3 planes", "sagittal", "coronal", "axial")
#: what the 3D view draws: the first variant (with every variant's peak), or each shown
#: variant in its own 3D view side by side (one camera)
SCENES = ("3D: first variant", "3D: each variant")


def has_source_estimate(result: Any) -> bool:
    """Whether a fusion result carries a source estimate (drawable or not: the view says which)."""
    live = getattr(result, "live", None) or {}
    return bool(live.get("source_estimate")) and "amplitudes" in live


def why_not_drawable(live: dict[str, Any]) -> str | None:
    """None when the view can draw ``live``; else a plain sentence saying why not."""
    amps = live.get("amplitudes") or {}
    if not amps:
        return "The result holds no source estimate over time (no variants)."
    if "pos_mri" not in live or "times" not in live:
        return "The saved estimate has no source positions or no times: it cannot be drawn."
    pos = np.asarray(live["pos_mri"], float)
    t = np.asarray(live["times"], float)
    if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) == 0:
        return "The source positions are not a list of 3D points: the estimate cannot be drawn."
    kind = str(live.get("kind", "volume"))
    if kind not in ("volume", "surface", "discrete"):
        return f"This view cannot draw a source estimate of kind '{kind}' (it draws volume grids and surfaces)."
    for v, a in amps.items():
        a = np.asarray(a)
        if a.shape != (len(pos), len(t)):
            return (f"Variant '{v}' has {a.shape} values for {len(pos)} sources × {len(t)} times: "
                    "the estimate cannot be drawn.")
        if not np.isfinite(a).all():
            return f"Variant '{v}' has NaN or infinite values: the estimate cannot be drawn."
    return None


def _row(*widgets: QWidget) -> QWidget:
    """Widgets side by side in one widget (kept together when the tool row wraps)."""
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    for w in widgets:
        lay.addWidget(w)
    return box


class _ScenePanel(QWidget):
    """The 3D view with the list of peaks beside it when the pane is wider than high (a
    1366×768 screen), under it otherwise (a tall pane in the wide layout)."""

    legend: QLabel | None = None
    beside = True
    _title = ""
    _entries: list[tuple[str, str, str]] = []

    def set_peaks(self, title: str, entries: list[tuple[str, str, str]]) -> None:
        """The legend's ``title`` and its entries (colour, variant names, position text)."""
        self._title, self._entries = title, entries
        self._render()

    def _render(self) -> None:
        if self.legend is None:
            return
        sep = "<br>&nbsp;&nbsp;&nbsp;&nbsp;" if self.beside else " "
        self.legend.setText(f"<b>{self._title}</b><br>" + "<br>".join(
            f"<span style='color:{c}; font-size:13pt'>&#9679;</span> {names}{sep}{where}"
            for c, names, where in self._entries))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        lay = self.layout()
        size = event.size()
        beside = size.width() > 1.3 * size.height()
        if self.legend is None or not isinstance(lay, QBoxLayout) or beside == self.beside:
            return
        self.beside = beside
        lay.setDirection(QBoxLayout.Direction.LeftToRight if beside else QBoxLayout.Direction.TopToBottom)
        if beside:
            self.legend.setFixedWidth(150)
        else:
            self.legend.setMinimumWidth(0)
            self.legend.setMaximumWidth(16777215)
        self._render()


class SourceView(QWidget):
    """Variant + compare selectors, time slider, 3D scene, slices and a time course."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live: dict[str, Any] = {}
        self.variants: list[str] = []
        self.anat: np.ndarray | None = None
        self.anat_affine = np.eye(4)
        self.has_t1 = False
        self.cursor = np.zeros(3, int)  # voxel of the RAS T1 grid
        self.source_index = 0
        self.sampler: PlaneSampler | None = None
        self._tc_key: tuple[Any, ...] | None = None
        self._planes: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._wide: bool | None = None
        self._planes_chosen = False  # the user picked a slice layout: width changes keep it
        self._head_box: list[tuple[float, float]] | None = None  # the head's extent (mm) per T1 axis
        self._scene_dirty = False
        self._build()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.variant_box = QComboBox()
        self.variant_box.setToolTip("The variant drawn in 3D and in the first row of slices.")
        self.compare_box = QComboBox()
        self.compare_box.setToolTip("A second variant drawn beside the first (slices and time course).")
        self.third_box = QComboBox()
        self.third_box.setToolTip("A third variant (e.g. soft, hard and the fixed weighting side by side); "
                                  "'(none)' for two.")
        self.time_slider = QSlider(Qt.Orientation.Horizontal)
        self.time_slider.setMinimumWidth(140)
        self.time_slider.setToolTip("Time after the stimulus.")
        self.time_label = QLabel("")
        self.time_label.setMinimumWidth(52)
        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.0, 0.95)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setValue(0.3)
        self.threshold_box.setToolTip("Sources below this share of the variant's maximum at this time are not "
                                      "coloured.")
        self.peak_button = QPushButton("Go to peak")
        self.peak_button.setToolTip("Select the variant's peak source at this time.")
        self.planes_box = QComboBox()
        self.planes_box.addItems(PLANES)
        self.planes_box.setToolTip("Slices: the three planes for each variant (one row each), or one plane "
                                   "with the variants side by side (larger).")
        self.scale_box = QComboBox()
        self.scale_box.addItems(["relative to max", "units"])
        self.scale_box.setToolTip("Time course: each variant relative to its own maximum (shapes), or in its "
                                  "units (A·m with a prefix; dSPM/sLORETA are unitless, on a right axis).")
        self.scenes_box = QComboBox()
        self.scenes_box.addItems(SCENES)
        self.scenes_box.setToolTip("3D: the first variant coloured with every variant's peak, or each variant "
                                   "shown (up to three) in its own 3D view side by side, turned together.")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        for box in (self.variant_box, self.compare_box, self.third_box, self.planes_box, self.scale_box,
                    self.scenes_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        tools = FlowLayout()
        for group in ((QLabel("Variants"), self.variant_box, self.compare_box, self.third_box),
                      (QLabel("Time"), self.time_slider, self.time_label),
                      (QLabel("threshold"), self.threshold_box, self.peak_button)):
            tools.addWidget(_row(*group))  # a group wraps as one: "Time" stays with its slider
        # "3D | Slices" switch, shown when the view is too narrow for both side by side
        self.mode_bar = QTabBar()
        self.mode_bar.addTab("3D")
        self.mode_bar.addTab("Slices")
        self.mode_bar.setExpanding(False)
        self.mode_bar.setToolTip("The view is narrow: one of the 3D view and the slices at a time "
                                 "(widen the window or close a dock to see both).")
        self.mode_bar.currentChanged.connect(lambda _i: self._apply_mode())
        view_row = QHBoxLayout()
        view_row.setContentsMargins(0, 0, 0, 0)
        view_row.addWidget(self.mode_bar)
        view_row.addStretch(1)
        for w in (self.scenes_box, QLabel("slices"), self.planes_box, QLabel("curves"), self.scale_box):
            view_row.addWidget(w)
        # 3D and the list of peaks beside it (the 3D pane is wider than high at 1366×768)
        self.scene_panel = _ScenePanel()
        panel_lay = QHBoxLayout(self.scene_panel)
        panel_lay.setContentsMargins(0, 0, 0, 0)
        panel_lay.setSpacing(1)
        self.scene_host = QWidget()
        self.scene_host.setMinimumSize(200, 180)
        self.scene_lay = QHBoxLayout(self.scene_host)
        self.scene_lay.setContentsMargins(0, 0, 0, 0)
        self.scene_lay.setSpacing(2)
        from .scene import SourceScene

        self.scene = SourceScene(self.scene_host)
        self.scene.on_pick = self.select_source
        self.scene_lay.addWidget(self.scene.plotter)
        #: the 3D views of the second and third variant ("3D: each variant"), made when first asked
        self.extra_scenes: list[SourceScene] = []
        self._space_args: tuple[Any, ...] | None = None
        self.peak_legend = QLabel("")
        self.peak_legend.setWordWrap(True)
        self.peak_legend.setTextFormat(Qt.TextFormat.RichText)
        self.peak_legend.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.peak_legend.setFixedWidth(150)
        self.scene_panel.legend = self.peak_legend
        self.peak_legend.setToolTip("Each variant's peak source at this time (the spheres in 3D, MRI surface "
                                    "RAS in mm); variants sharing a source share a line.")
        panel_lay.addWidget(self.scene_host, 1)
        panel_lay.addWidget(self.peak_legend)
        # slices
        self.slice_panel = QWidget()
        sp_lay = QVBoxLayout(self.slice_panel)
        sp_lay.setContentsMargins(0, 0, 0, 0)
        sp_lay.setSpacing(1)
        self.slice_note = QLabel("")
        self.slice_note.setWordWrap(True)
        self.slice_note.setVisible(False)
        self.slice_host = QWidget()
        self.grid = QGridLayout(self.slice_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        sp_lay.addWidget(self.slice_note)
        sp_lay.addWidget(self.slice_host, 1)
        self.rows: list[dict[str, SliceView]] = []
        self.row_labels: list[QLabel] = []
        for _r in range(3):
            lab = QLabel("")
            lab.setFixedHeight(lab.fontMetrics().height() + 2)
            self.row_labels.append(lab)
            views = {}
            for name, _axis in _VIEWS:
                v = SliceView(name)
                v.setMinimumSize(60, 60)
                v.clicked.connect(lambda x, y, n=name: self._clicked(n, x, y))
                views[name] = v
            self.rows.append(views)
        self._layout_slices()
        self.tc_plot = TimeCoursePlot()
        self.time_line = self.tc_plot.time_line
        self.tc_plot.time_moved.connect(self._time_line_moved)
        self.top = QSplitter(Qt.Orientation.Horizontal)
        self.top.setChildrenCollapsible(False)
        self.top.addWidget(self.scene_panel)
        self.top.addWidget(self.slice_panel)
        self.top.setStretchFactor(0, 1)
        self.top.setStretchFactor(1, 1)
        self.vsplit = QSplitter(Qt.Orientation.Vertical)
        self.vsplit.setChildrenCollapsible(False)
        self.vsplit.addWidget(self.top)
        self.vsplit.addWidget(self.tc_plot)
        self.vsplit.setStretchFactor(0, 3)
        self.vsplit.setStretchFactor(1, 1)
        self.vsplit.setSizes([400, 170])
        main = QWidget()
        main_lay = QVBoxLayout(main)
        main_lay.setContentsMargins(0, 0, 0, 0)
        main_lay.setSpacing(2)
        main_lay.addLayout(view_row)
        main_lay.addWidget(self.vsplit, 1)
        main_lay.addWidget(self.info)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet("font-size: 11pt; color: #444; padding: 20px")
        self.stack = QStackedWidget()
        self.stack.addWidget(main)
        self.stack.addWidget(self.message)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(tools)
        lay.addWidget(self.stack, 1)
        self.variant_box.currentTextChanged.connect(lambda _t: self.redraw(full=True))
        self.compare_box.currentTextChanged.connect(lambda _t: self.redraw(full=True))
        self.third_box.currentTextChanged.connect(lambda _t: self._third_changed())
        self.time_slider.valueChanged.connect(lambda _i: self.redraw(full=True))
        self.threshold_box.valueChanged.connect(lambda _v: self.redraw(full=True))
        self.peak_button.clicked.connect(self.go_to_peak)
        self.planes_box.currentTextChanged.connect(lambda _t: self._planes_changed())
        self.planes_box.activated.connect(lambda _i: setattr(self, "_planes_chosen", True))
        self.scale_box.currentIndexChanged.connect(lambda i: self._scale_changed(i))
        self.scenes_box.currentIndexChanged.connect(lambda _i: self._scenes_changed())
        self._apply_size(self.width(), self.height())

    # ------------------------------------------------------------------ responsive layout
    @property
    def wide(self) -> bool:
        """Whether the 3D view and the slices are side by side (else the "3D | Slices" switch)."""
        return bool(self._wide)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._apply_size(event.size().width(), event.size().height())

    def _apply_size(self, width: int, height: int) -> None:
        wide, tall = width >= WIDE_PX, height >= TALL_PX
        if not self._planes_chosen:  # three rows of three planes only where they get ~120 px each
            self.planes_box.setCurrentText(PLANES[0] if wide and tall else "axial")
        if wide == self._wide:
            return
        self._wide = wide
        self.mode_bar.setVisible(not wide)
        self._apply_mode()
        if wide:  # half each: three columns of slices beside the 3D view
            self.top.setSizes([width // 2, width // 2])

    def _apply_mode(self) -> None:
        show_3d = self.wide or self.mode_bar.currentIndex() == 0
        show_slices = self.wide or self.mode_bar.currentIndex() == 1
        self.scene_panel.setVisible(show_3d)
        self.slice_panel.setVisible(show_slices)
        if show_3d and self._scene_dirty:
            for _var, sc in self.scenes_shown():
                sc.render()
            self._scene_dirty = False

    def show_panel(self, which: str) -> None:
        """In the narrow layout, show ``"3D"`` or ``"Slices"`` (no effect when wide)."""
        self.mode_bar.setCurrentIndex(0 if which == "3D" else 1)

    @property
    def planes(self) -> str:
        return self.planes_box.currentText()

    def _layout_slices(self) -> None:
        """Rows of three planes per variant, or one plane with the variants in columns."""
        for r in range(3):
            self.grid.removeWidget(self.row_labels[r])
            for v in self.rows[r].values():
                self.grid.removeWidget(v)
        n = len(self.shown()) if self.live else 3
        one = None if self.planes_box.currentText() == PLANES[0] else self.planes_box.currentText()
        for r in range(3):
            on = r < n
            lab = self.row_labels[r]
            if one is None:
                self.grid.addWidget(lab, 2 * r, 0, 1, 3)
            else:
                self.grid.addWidget(lab, 0, r)
            lab.setVisible(on)
            for c, (name, _axis) in enumerate(_VIEWS):
                v = self.rows[r][name]
                if one is None:
                    self.grid.addWidget(v, 2 * r + 1, c)
                    v.setVisible(on)
                elif name == one:
                    self.grid.addWidget(v, 1, r)
                    v.setVisible(on)
                else:
                    v.setVisible(False)
        for i in range(6):
            self.grid.setRowStretch(i, int(i % 2 == 1 and (one is None or i == 1)))
            self.grid.setColumnStretch(i, 1 if i < 3 else 0)

    def _planes_changed(self) -> None:
        self._layout_slices()
        self.redraw(full=False)

    def _scale_changed(self, i: int) -> None:
        self.tc_plot.scale = SCALES[i]
        if self.live:
            self._draw_timecourse()

    # ------------------------------------------------------------------ data
    def set_result(self, result: Any, anat: Any) -> None:
        """Show a result (``has_source_estimate``) over the T1 ``anat`` (nibabel, or None)."""
        import nibabel as nib

        live = result.live
        reason = why_not_drawable(live)
        if reason is not None:
            self.live = {}
            self.message.setText(reason)
            self.stack.setCurrentIndex(1)
            return
        self.stack.setCurrentIndex(0)
        self.live = live
        self.variants = [v for v in live["amplitudes"]]
        pos = np.asarray(live["pos_mri"], float)
        m2w = np.asarray(live.get("mri_to_world_mm", np.eye(4)), float)
        self.has_t1 = anat is not None
        if anat is not None:
            img = nib.as_closest_canonical(nib.Nifti1Image(np.asarray(anat.dataobj, np.float32), anat.affine))
            data = np.asarray(img.dataobj, np.float32)
            self.anat = data[..., 0] if data.ndim > 3 else data
            self.anat_affine = np.asarray(img.affine, float)
        else:  # no T1: a blank grid around the sources (1 mm)
            lo = pos.min(0) * 1e3 - 20
            hi = pos.max(0) * 1e3 + 20
            aff = np.eye(4)
            aff[:3, 3] = m2w[:3, :3] @ lo + m2w[:3, 3]
            self.anat = np.zeros(tuple(np.ceil(hi - lo).astype(int)), np.float32)
            self.anat_affine = aff
        self.slice_note.setText("No T1 loaded: the slices show the estimate on an empty background "
                                "(open the study's anatomy to see it over the T1).")
        self.slice_note.setVisible(not self.has_t1)
        nz = self.anat[self.anat > 0]
        self._levels = (0.0, float(np.percentile(nz, 99)) if nz.size else 1.0)
        self._zooms = np.abs(np.diag(self.anat_affine)[:3])
        self._head_box = self._find_head_box() if self.has_t1 else None
        spacing = float(live.get("spacing_mm", 7.0))
        self._planes.clear()
        self._tc_key = None
        self.sampler = PlaneSampler(pos, self.anat.shape, self.anat_affine, m2w, live.get("grid_shape"),
                                    live.get("grid_to_mri"), radius_mm=max(spacing, 3.0))
        mask = live.get("fmri_mask")
        self._mask = np.zeros(len(pos), bool) if mask is None else np.asarray(mask, bool)
        for row in self.rows:
            for name, axis in _VIEWS:
                rest = [d for d in range(3) if d != axis]
                row[name].set_extent(self.anat.shape[rest[0]] * self._zooms[rest[0]],
                                     self.anat.shape[rest[1]] * self._zooms[rest[1]])
                if self._head_box is not None:  # the head fills the slice, not the T1's field of view
                    (x0, x1), (y0, y1) = self._head_box[rest[0]], self._head_box[rest[1]]
                    row[name].getViewBox().setRange(QRectF(x0, y0, x1 - x0, y1 - y0), padding=0.02)
        for box, default in ((self.variant_box, "soft"), (self.compare_box, "hard"),
                             (self.third_box, "weighted")):
            box.blockSignals(True)
            box.clear()
            if box is self.third_box:
                box.addItem(NO_THIRD)
            box.addItems(self.variants)
            fallback = NO_THIRD if box is self.third_box else self.variants[0]
            box.setCurrentText(default if default in self.variants else fallback)
            box.blockSignals(False)
        self._layout_slices()
        t = np.asarray(live["times"], float)
        self.time_slider.blockSignals(True)
        self.time_slider.setRange(0, len(t) - 1)
        first = (live.get("report_times") or [t[int(np.argmax(t >= 0))]])[0]
        self.time_slider.setValue(int(np.argmin(np.abs(t - first))))
        self.time_slider.blockSignals(False)
        head = head_surface(self.anat, self.anat_affine, m2w) if self.has_t1 else None
        first_peak = pos[int(np.argmax(self.values(self.variant)))]
        self._space_args = (pos, self._mask, spacing, live.get("triangles", live.get("tris")), head, first_peak)
        self.scene.set_space(*self._space_args[:5], focus_m=first_peak)
        for extra in self.extra_scenes:  # drawn again when next shown
            extra.space_drawn = False
        self.go_to_peak()

    def _find_head_box(self) -> list[tuple[float, float]] | None:
        """The extent (mm from the T1 grid's corner) along each axis of the voxels above a
        fifth of the T1's 99th percentile, with a 5 mm margin; None when nothing is."""
        on = self.anat > 0.2 * self._levels[1]
        if not on.any():
            return None
        box = []
        for axis in range(3):
            hit = np.flatnonzero(on.any(axis=tuple(d for d in range(3) if d != axis)))
            z = self._zooms[axis]
            box.append((max(0.0, hit[0] * z - 5.0), min(self.anat.shape[axis] * z, (hit[-1] + 1) * z + 5.0)))
        return box

    @property
    def variant(self) -> str:
        return self.variant_box.currentText()

    @property
    def compare(self) -> str:
        return self.compare_box.currentText()

    @property
    def third(self) -> str | None:
        """The third variant drawn, or None (two rows)."""
        text = self.third_box.currentText()
        return None if text in ("", NO_THIRD) else text

    def shown(self) -> tuple[str, ...]:
        """The variants drawn in the rows of slices, top first."""
        return tuple(v for v in (self.variant, self.compare, self.third) if v)

    def _third_changed(self) -> None:
        self._layout_slices()
        self.redraw(full=True)

    @property
    def time_index(self) -> int:
        return int(self.time_slider.value())

    def set_variant(self, variant: str, compare: str | None = None, third: str | None = None) -> None:
        """Choose the variants shown (``third=NO_THIRD`` for two rows)."""
        self.variant_box.setCurrentText(variant)
        if compare is not None:
            self.compare_box.setCurrentText(compare)
        if third is not None:
            self.third_box.setCurrentText(third)

    def set_time(self, seconds: float) -> None:
        t = np.asarray(self.live["times"], float)
        self.time_slider.setValue(int(np.argmin(np.abs(t - seconds))))

    def values(self, variant: str, index: int | None = None) -> np.ndarray:
        """Amplitudes of ``variant`` at a time index, scaled to their maximum there (0..1)."""
        a = np.asarray(self.live["amplitudes"][variant])[:, self.time_index if index is None else index]
        top = float(a.max())
        return a / top if top > 0 else np.zeros_like(a)

    # ------------------------------------------------------------------ cursor
    def _world_to_vox(self, world_mm: np.ndarray) -> np.ndarray:
        ijk = np.linalg.solve(self.anat_affine, np.r_[world_mm, 1.0])[:3]
        return np.clip(np.round(ijk).astype(int), 0, np.array(self.anat.shape[:3]) - 1)

    def _mri_to_vox(self, pos_m: np.ndarray) -> np.ndarray:
        m2w = np.asarray(self.live.get("mri_to_world_mm", np.eye(4)), float)
        return self._world_to_vox(m2w[:3, :3] @ (np.asarray(pos_m) * 1e3) + m2w[:3, 3])

    def go_to_peak(self) -> None:
        if not self.live:
            return
        self.select_source(int(np.argmax(self.values(self.variant))))

    def select_source(self, k: int) -> None:
        """Select source ``k``: the cursor moves there and its time course is drawn."""
        if not self.live:
            return
        self.source_index = int(k)
        self.cursor = self._mri_to_vox(np.asarray(self.live["pos_mri"])[self.source_index])
        self.redraw(full=True)

    def _clicked(self, view: str, x_mm: float, y_mm: float) -> None:
        axis = dict(_VIEWS)[view]
        rest = [d for d in range(3) if d != axis]
        ijk = self.cursor.copy()
        ijk[rest[0]] = int(np.clip(x_mm / self._zooms[rest[0]], 0, self.anat.shape[rest[0]] - 1))
        ijk[rest[1]] = int(np.clip(y_mm / self._zooms[rest[1]], 0, self.anat.shape[rest[1]] - 1))
        self.select_voxel(ijk)

    def select_voxel(self, ijk: Any) -> None:
        """Move the cursor to a T1 voxel (RAS grid) and show the nearest source's time course."""
        if not self.live:
            return
        self.cursor = np.asarray(ijk, int)
        world = self.anat_affine[:3, :3] @ self.cursor + self.anat_affine[:3, 3]
        m2w = np.asarray(self.live.get("mri_to_world_mm", np.eye(4)), float)
        mri_m = np.linalg.solve(m2w, np.r_[world, 1.0])[:3] * 1e-3
        self.source_index = int(np.argmin(np.linalg.norm(np.asarray(self.live["pos_mri"]) - mri_m, axis=1)))
        self.redraw(full=False)

    # ------------------------------------------------------------------ drawing
    def _static_plane(self, axis: int, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(T1 plane, fMRI mask plane, the mask's outline) at a plane: they do not change with
        time or variant, so they are kept for the planes last shown."""
        from scipy import ndimage

        key = (axis, index)
        got = self._planes.get(key)
        if got is None:
            fm = self.sampler.plane(self._mask.astype(np.float32), axis, index)
            inside = fm >= 0.5
            got = (np.ascontiguousarray(np.take(self.anat, index, axis=axis)), fm,
                   inside & ~ndimage.binary_erosion(inside))
            if len(self._planes) > 12:
                self._planes.clear()
            self._planes[key] = got
        return got

    def plane(self, variant: str, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(T1 plane, estimate plane 0..1, fMRI mask plane) through the cursor."""
        index = int(self.cursor[axis])
        base, fm, _edge = self._static_plane(axis, index)
        return base, self.sampler.plane(self.values(variant), axis, index), fm

    def _overlay(self, est: np.ndarray, edge: np.ndarray) -> np.ndarray:
        thr = float(self.threshold_box.value())
        v = np.clip((est - thr) / max(1.0 - thr, 1e-6) * 0.8 + 0.2, 0.0, 1.0)
        rgba = (np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1),
                          np.ones_like(v)], axis=-1) * 255).astype(np.ubyte)  # black-red-yellow-white
        rgba[..., 3] = np.where(est >= thr, 210, 0)
        rgba[edge] = (0, 255, 255, 255)
        return rgba

    def redraw(self, full: bool = True) -> None:
        """Slices, time course and (``full``) the 3D scene for the current state."""
        if not self.live or self.anat is None:
            return
        t = np.asarray(self.live["times"], float)
        i = self.time_index
        self.time_label.setText(f"{t[i] * 1e3:.0f} ms")
        one = None if self.planes == PLANES[0] else self.planes
        for r, var in enumerate(self.shown()):
            self.row_labels[r].setText(f"{var} at {t[i] * 1e3:.0f} ms")
            self.row_labels[r].setStyleSheet(f"color: {variant_color(var)}; font-weight: bold")
            for name, axis in _VIEWS:
                if one is not None and name != one:
                    continue
                base, est, _fm = self.plane(var, axis)
                view = self.rows[r][name]
                view.show_base(base, self._levels)
                view.show_overlay(self._overlay(est, self._static_plane(axis, int(self.cursor[axis]))[2]))
                rest = [d for d in range(3) if d != axis]
                view.vline.setPos(self.cursor[rest[0]] * self._zooms[rest[0]])
                view.hline.setPos(self.cursor[rest[1]] * self._zooms[rest[1]])
        self._draw_timecourse()
        if full:
            self._draw_scene(t, i)

    @property
    def each_variant(self) -> bool:
        """Whether every shown variant has its own 3D view."""
        return self.scenes_box.currentIndex() == 1

    def _scenes_changed(self) -> None:
        if self.each_variant:
            self._ensure_extra_scenes()
        if self.wide:  # three 3D views need two thirds of the width; one view half
            width = sum(self.top.sizes())
            self.top.setSizes([2 * width // 3, width // 3] if self.each_variant else [width // 2, width // 2])
        self.redraw(full=True)

    def _ensure_extra_scenes(self) -> None:
        from .scene import SourceScene

        if self.extra_scenes:
            return
        for _ in range(2):
            extra = SourceScene(self.scene_host)
            extra.on_pick = self.select_source
            self.scene_lay.addWidget(extra.plotter)
            self.extra_scenes.append(extra)
        # one camera for all: a turn or zoom in any view is copied to the others
        for sc in (self.scene, *self.extra_scenes):
            sc.plotter.iren.add_observer("EndInteractionEvent", lambda *_a, sc=sc: self._sync_cameras(sc))

    def _sync_cameras(self, source: Any) -> None:
        if not self.each_variant:
            return
        for sc in (self.scene, *self.extra_scenes):
            if sc is not source and sc.plotter.isVisible():
                sc.plotter.camera_position = source.plotter.camera_position
                sc.plotter.camera.view_angle = source.plotter.camera.view_angle
                sc.render()

    def scenes_shown(self) -> list[tuple[str, Any]]:
        """(variant, 3D scene) of every 3D view shown, left to right."""
        if not self.each_variant:
            return [(self.variant, self.scene)]
        return list(zip(self.shown(), (self.scene, *self.extra_scenes), strict=False))

    def _draw_extra_scenes(self, i: int, thr: float, pos: np.ndarray) -> None:
        shown = self.scenes_shown()
        for j, extra in enumerate(self.extra_scenes):
            on = self.each_variant and j + 1 < len(shown)
            extra.plotter.setVisible(on)
            if not on:
                continue
            var = shown[j + 1][0]
            if not extra.space_drawn and self._space_args is not None:
                extra.set_space(*self._space_args[:5], focus_m=self._space_args[5])
            extra.set_values(self.values(var), thr, "/ max", bar=j + 2 == len(shown))
            extra.set_peaks({var: pos[int(np.argmax(np.asarray(self.live["amplitudes"][var])[:, i]))]})
            extra.set_title(var, variant_color(var))
        if self.each_variant:
            self.scene.set_title(self.variant, variant_color(self.variant))
            self._sync_cameras(self.scene)
        else:
            self.scene.set_title("", "black")

    def _draw_scene(self, t: np.ndarray, i: int) -> None:
        thr = float(self.threshold_box.value())
        unit = (self.live.get("units") or {}).get(self.variant, "")
        many = self.each_variant and len(self.shown()) > 1
        self.scene.set_values(self.values(self.variant), thr, f"{self.variant}\n/ max", bar=not many)
        pos = np.asarray(self.live["pos_mri"])
        peaks = {v: pos[int(np.argmax(np.asarray(self.live["amplitudes"][v])[:, i]))]
                 for v in dict.fromkeys((*self.shown(), "none", "weighted", "soft", "hard"))
                 if v in self.live["amplitudes"]}
        if self.each_variant:  # each view its own variant's peak; the list still names them all
            self.scene.set_peaks({self.variant: peaks[self.variant]})
            groups = peak_groups(peaks)
        else:
            groups = self.scene.set_peaks(peaks)
        self._draw_extra_scenes(i, thr, pos)
        self.scene_panel.set_peaks(f"Peaks at {t[i] * 1e3:.0f} ms (mm)", [
            (variant_color(names[0]), ", ".join(names), f"({', '.join(str(round(x)) for x in p)})")
            for names, p in groups])
        if self.scene_panel.isVisible():
            for _var, sc in self.scenes_shown():
                sc.render()
        else:
            self._scene_dirty = True
        k = int(np.argmax(self.values(self.variant)))
        mask = self._mask
        d = float(np.min(np.linalg.norm(pos[mask] - pos[k], axis=1))) * 1e3 if mask.any() else None
        a = float(np.asarray(self.live["amplitudes"][self.variant])[k, i])
        where = f"{d:.0f} mm from the fMRI map" if d is not None else "no fMRI map in this result"
        self.info.setText(
            f"{self.variant} at {t[i] * 1e3:.0f} ms: peak at ({', '.join(str(round(x * 1e3) + 0) for x in pos[k])}) mm "
            f"(MRI surface RAS), amplitude {format_amplitude(a, unit)}, {where}; "
            f"{self.scene.n_active} sources above {thr:.0%} of the maximum.")

    def _draw_timecourse(self) -> None:
        key = (id(self.live), self.source_index, self.shown(), self.tc_plot.scale)
        if key == self._tc_key:  # the same curves: only the time moved
            self.tc_plot.move_to(self.time_index)
            return
        self._tc_key = key
        t = np.asarray(self.live["times"], float)
        units = self.live.get("units") or {}
        series = []
        for var in dict.fromkeys(self.shown()):
            a = np.asarray(self.live["amplitudes"][var])
            series.append({"name": var, "values": a[self.source_index], "unit": units.get(var, ""),
                           "vmax": float(a.max()), "color": variant_color(var)})
        p = np.asarray(self.live["pos_mri"])[self.source_index] * 1e3
        inside = " (in the fMRI map)" if self._mask[self.source_index] else ""
        self.tc_plot.show_series(t, series, self.time_index,
                                 f"source at ({', '.join(str(round(x) + 0) for x in p)}) mm{inside}")

    def _time_line_moved(self, seconds: float) -> None:
        if self.live:
            self.set_time(seconds)

    def close_scene(self) -> None:
        for sc in (self.scene, *self.extra_scenes):
            sc.close()
