"""The source view: an EEG source estimate in 3D and on T1 slices, over time, per variant.

Opens for a fusion result whose ``live`` carries ``source_estimate`` (fmri-source):
``amplitudes`` (variant -> (n_sources, n_times)), ``times`` (s), ``pos_mri`` (m, MNE's
``mri`` frame), ``fmri_mask``/``fmri_values`` (the thresholded/sampled fMRI map at each
source), ``grid_shape``/``grid_to_mri`` (the volume grid of the sources) and
``mri_to_world_mm`` (``mri`` -> the T1's scanner RAS, mm).

* a variant selector and two more to compare with (default soft, hard and the fixed
  weighting, drawn side by side in rows of slices; the third can be hidden), a time
  slider, a display threshold (share of the variant's maximum);
* 3D (:class:`~.scene.SourceScene`): the source space, the sources above the
  threshold coloured by amplitude, the fMRI map as translucent cubes, every variant's
  peak at the current time as a labelled sphere;
* slices: the estimate resampled from the source grid to the T1 plane (linear), over the
  T1, with the fMRI map's outline in cyan, for each variant shown;
* the time course at the clicked source (click a slice), every variant shown, with the
  current time as a line that can be dragged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..flow import FlowLayout
from ..slices.viewer import SliceView

__all__ = ["SourceView", "has_source_estimate"]

HELP_TEXT = (
    "<b>Sources</b>: where the EEG response comes from, estimated with and without the fMRI "
    "map. Pick a variant and one to compare with (e.g. <i>soft</i> vs <i>hard</i>); move the "
    "time slider. 3D: sources above the threshold coloured by amplitude, the fMRI map as cyan "
    "cubes, each variant's peak as a labelled sphere. Slices: the estimate over the T1 with the "
    "fMRI map's outline (cyan). Click a slice for that source's time course."
)

_VIEWS = (("sagittal", 0), ("coronal", 1), ("axial", 2))
#: the third row's choice that hides it
NO_THIRD = "(none)"
_COLORS = ((255, 140, 0), (60, 120, 255), (0, 150, 90))


def has_source_estimate(result: Any) -> bool:
    """Whether a fusion result carries what this view shows."""
    live = getattr(result, "live", None) or {}
    need = ("amplitudes", "times", "pos_mri", "fmri_mask", "grid_shape", "grid_to_mri")
    return bool(live.get("source_estimate")) and all(k in live for k in need)


def _hot(values: np.ndarray) -> np.ndarray:
    """RGBA (0-255) of values in [0, 1] on a black-red-yellow-white scale."""
    v = np.clip(values, 0.0, 1.0)
    r = np.clip(3 * v, 0, 1)
    g = np.clip(3 * v - 1, 0, 1)
    b = np.clip(3 * v - 2, 0, 1)
    return (np.stack([r, g, b, np.ones_like(v)], axis=-1) * 255).astype(np.ubyte)


class SourceView(QWidget):
    """Variant + compare selectors, time slider, 3D scene, slices and a time course."""

    HELP_TEXT = HELP_TEXT

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live: dict[str, Any] = {}
        self.variants: list[str] = []
        self.anat: np.ndarray | None = None
        self.anat_affine = np.eye(4)
        self.cursor = np.zeros(3, int)  # voxel of the RAS T1 grid
        self.source_index = 0
        self._plane_cache: dict[tuple[int, int], np.ndarray] = {}
        self._fmri_grid: np.ndarray | None = None
        self._src_ijk: np.ndarray | None = None
        self._build()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.variant_box = QComboBox()
        self.variant_box.setToolTip("The variant drawn in 3D and in the upper row of slices.")
        self.compare_box = QComboBox()
        self.compare_box.setToolTip("A second variant drawn in the second row of slices (side by side).")
        self.third_box = QComboBox()
        self.third_box.setToolTip("A third variant drawn in the third row of slices (e.g. soft, hard and "
                                  "the fixed weighting side by side); 'none' for two rows.")
        self.time_slider = QSlider(Qt.Orientation.Horizontal)
        self.time_slider.setMinimumWidth(160)
        self.time_slider.setToolTip("Time after the stimulus.")
        self.time_label = QLabel("")
        self.time_label.setMinimumWidth(60)
        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.0, 0.95)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setValue(0.3)
        self.threshold_box.setToolTip("Sources below this share of the variant's maximum at this time are not "
                                      "coloured.")
        self.peak_button = QPushButton("Go to peak")
        self.peak_button.setToolTip("Move the cursor to the variant's peak at this time.")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        tools = FlowLayout()
        for w in (QLabel("Variant"), self.variant_box, QLabel("compare with"), self.compare_box,
                  QLabel("and"), self.third_box,
                  QLabel("Time"), self.time_slider, self.time_label, QLabel("threshold"),
                  self.threshold_box, self.peak_button):
            tools.addWidget(w)
        self.scene_host = QWidget()
        self.scene_host.setMinimumSize(200, 180)
        host_lay = QVBoxLayout(self.scene_host)
        host_lay.setContentsMargins(0, 0, 0, 0)
        from .scene import SourceScene

        self.scene = SourceScene(self.scene_host)
        host_lay.addWidget(self.scene.plotter)
        self.slice_host = QWidget()
        grid = QGridLayout(self.slice_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        self.rows: list[dict[str, SliceView]] = []
        self.row_labels: list[QLabel] = []
        for r in range(3):
            lab = QLabel("")
            lab.setStyleSheet(f"color: rgb{_COLORS[r]}; font-weight: bold")
            grid.addWidget(lab, 2 * r, 0, 1, 3)
            self.row_labels.append(lab)
            views = {}
            for c, (name, _axis) in enumerate(_VIEWS):
                v = SliceView(name)
                v.setMinimumSize(90, 90)
                v.clicked.connect(lambda x, y, n=name: self._clicked(n, x, y))
                grid.addWidget(v, 2 * r + 1, c)
                views[name] = v
            self.rows.append(views)
        self.tc_plot = pg.PlotWidget()
        self.tc_plot.setBackground("w")
        self.tc_plot.setMinimumHeight(90)
        self.tc_plot.setLabel("bottom", "time", units="s")
        self.tc_plot.setLabel("left", "amplitude / max")
        self.tc_plot.getAxis("left").enableAutoSIPrefix(False)
        self.tc_plot.addLegend(offset=(5, 5))
        self.time_line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen((0, 160, 0), width=2))
        self.tc_plot.addItem(self.time_line)
        self.time_line.sigPositionChanged.connect(self._time_line_moved)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.setChildrenCollapsible(False)
        top.addWidget(self.scene_host)
        top.addWidget(self.slice_host)
        top.setSizes([500, 500])
        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.setChildrenCollapsible(False)
        vsplit.addWidget(top)
        vsplit.addWidget(self.tc_plot)
        vsplit.setStretchFactor(0, 4)
        vsplit.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(tools)
        lay.addWidget(vsplit, 1)
        lay.addWidget(self.info)
        self.variant_box.currentTextChanged.connect(lambda _t: self.redraw(full=True))
        self.compare_box.currentTextChanged.connect(lambda _t: self.redraw(full=False))
        self.third_box.currentTextChanged.connect(lambda _t: self._third_changed())
        self.time_slider.valueChanged.connect(lambda _i: self.redraw(full=True))
        self.threshold_box.valueChanged.connect(lambda _v: self.redraw(full=True))
        self.peak_button.clicked.connect(self.go_to_peak)

    # ------------------------------------------------------------------ data
    def set_result(self, result: Any, anat: Any) -> None:
        """Show a result (``has_source_estimate``) over the T1 ``anat`` (nibabel, or None)."""
        import nibabel as nib

        live = result.live
        self.live = live
        self.variants = [v for v in live["amplitudes"]]
        self._plane_cache.clear()
        pos = np.asarray(live["pos_mri"], float)
        g2m = np.asarray(live["grid_to_mri"], float)
        self._src_ijk = np.round(np.linalg.solve(g2m, np.c_[pos, np.ones(len(pos))].T)[:3].T).astype(int)
        shape = tuple(int(x) for x in live["grid_shape"])
        self._grid_shape = shape
        fm = np.zeros(shape, np.float32)
        fm[tuple(self._src_ijk.T)] = np.asarray(live["fmri_mask"], np.float32)
        self._fmri_grid = fm
        if anat is not None:
            img = nib.as_closest_canonical(nib.Nifti1Image(np.asarray(anat.dataobj, np.float32), anat.affine))
            data = np.asarray(img.dataobj, np.float32)
            self.anat = data[..., 0] if data.ndim > 3 else data
            self.anat_affine = np.asarray(img.affine, float)
        else:  # no T1: a blank grid around the sources (1 mm)
            lo = pos.min(0) * 1e3 - 20
            hi = pos.max(0) * 1e3 + 20
            mri_to_world = np.asarray(live.get("mri_to_world_mm", np.eye(4)), float)
            aff = np.eye(4)
            aff[:3, 3] = mri_to_world[:3, :3] @ lo + mri_to_world[:3, 3]
            self.anat = np.zeros(tuple(np.ceil(hi - lo).astype(int)), np.float32)
            self.anat_affine = aff
        pos_t1 = self.anat.ravel()
        nz = pos_t1[pos_t1 > 0]
        self._levels = (0.0, float(np.percentile(nz, 99)) if nz.size else 1.0)
        zooms = np.abs(np.diag(self.anat_affine)[:3])
        self._zooms = zooms
        for row in self.rows:
            for name, axis in _VIEWS:
                rest = [d for d in range(3) if d != axis]
                row[name].set_extent(self.anat.shape[rest[0]] * zooms[rest[0]], self.anat.shape[rest[1]] * zooms[rest[1]])
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
        self._show_third_row()
        t = np.asarray(live["times"], float)
        self.time_slider.blockSignals(True)
        self.time_slider.setRange(0, len(t) - 1)
        first = (live.get("report_times") or [t[int(np.argmax(t >= 0))]])[0]
        self.time_slider.setValue(int(np.argmin(np.abs(t - first))))
        self.time_slider.blockSignals(False)
        self.scene.set_space(pos, np.asarray(live["fmri_mask"], bool), float(live.get("spacing_mm", 7.0)))
        self.go_to_peak()

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
        return tuple(v for v in (self.variant, self.compare, self.third) if v is not None)

    def _show_third_row(self) -> None:
        on = self.third is not None
        self.row_labels[2].setVisible(on)
        for v in self.rows[2].values():
            v.setVisible(on)

    def _third_changed(self) -> None:
        self._show_third_row()
        self.redraw(full=False)

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
        k = int(np.argmax(self.values(self.variant)))
        self.source_index = k
        self.cursor = self._mri_to_vox(np.asarray(self.live["pos_mri"])[k])
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
        self.cursor = np.asarray(ijk, int)
        world = self.anat_affine[:3, :3] @ self.cursor + self.anat_affine[:3, 3]
        m2w = np.asarray(self.live.get("mri_to_world_mm", np.eye(4)), float)
        mri_m = np.linalg.solve(m2w, np.r_[world, 1.0])[:3] * 1e-3
        self.source_index = int(np.argmin(np.linalg.norm(np.asarray(self.live["pos_mri"]) - mri_m, axis=1)))
        self.redraw(full=False)

    # ------------------------------------------------------------------ drawing
    def _plane_grid_coords(self, axis: int, index: int) -> np.ndarray:
        """Source-grid coordinates of every T1 voxel of one plane (cached)."""
        key = (axis, index)
        got = self._plane_cache.get(key)
        if got is not None:
            return got
        rest = [d for d in range(3) if d != axis]
        n0, n1 = self.anat.shape[rest[0]], self.anat.shape[rest[1]]
        ijk = np.zeros((n0 * n1, 3))
        ii, jj = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
        ijk[:, rest[0]], ijk[:, rest[1]], ijk[:, axis] = ii.ravel(), jj.ravel(), index
        world = ijk @ self.anat_affine[:3, :3].T + self.anat_affine[:3, 3]
        m2w = np.asarray(self.live.get("mri_to_world_mm", np.eye(4)), float)
        w2m = np.linalg.inv(m2w)
        mri_m = (world @ w2m[:3, :3].T + w2m[:3, 3]) * 1e-3
        g = np.linalg.solve(np.asarray(self.live["grid_to_mri"], float), np.c_[mri_m, np.ones(len(mri_m))].T)[:3]
        if len(self._plane_cache) > 24:
            self._plane_cache.clear()
        self._plane_cache[key] = g
        return g

    def _grid_volume(self, values: np.ndarray) -> np.ndarray:
        vol = np.zeros(self._grid_shape, np.float32)
        vol[tuple(self._src_ijk.T)] = values
        return vol

    def plane(self, variant: str, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(T1 plane, estimate plane 0..1, fMRI mask plane) through the cursor."""
        from scipy import ndimage

        index = int(self.cursor[axis])
        rest = [d for d in range(3) if d != axis]
        shape = (self.anat.shape[rest[0]], self.anat.shape[rest[1]])
        g = self._plane_grid_coords(axis, index)
        est = ndimage.map_coordinates(self._grid_volume(self.values(variant)), g, order=1, cval=0.0).reshape(shape)
        fm = ndimage.map_coordinates(self._fmri_grid, g, order=1, cval=0.0).reshape(shape)
        return np.take(self.anat, index, axis=axis), est, fm

    def _overlay(self, est: np.ndarray, fm: np.ndarray) -> np.ndarray:
        from scipy import ndimage

        thr = float(self.threshold_box.value())
        rgba = _hot((est - thr) / max(1.0 - thr, 1e-6) * 0.8 + 0.2)
        rgba[..., 3] = np.where(est >= thr, 210, 0)
        inside = fm >= 0.5
        edge = inside & ~ndimage.binary_erosion(inside)
        rgba[edge] = (0, 255, 255, 255)
        return rgba

    def redraw(self, full: bool = True) -> None:
        """Slices, time course and (``full``) the 3D scene for the current state."""
        if not self.live or self.anat is None:
            return
        t = np.asarray(self.live["times"], float)
        i = self.time_index
        self.time_label.setText(f"{t[i] * 1e3:.0f} ms")
        for r, var in enumerate(self.shown()):
            self.row_labels[r].setText(f"{var} at {t[i] * 1e3:.0f} ms")
            for name, axis in _VIEWS:
                base, est, fm = self.plane(var, axis)
                view = self.rows[r][name]
                view.show_base(base, self._levels)
                view.show_overlay(self._overlay(est, fm))
                rest = [d for d in range(3) if d != axis]
                view.vline.setPos(self.cursor[rest[0]] * self._zooms[rest[0]])
                view.hline.setPos(self.cursor[rest[1]] * self._zooms[rest[1]])
        self._draw_timecourse()
        if full:
            thr = float(self.threshold_box.value())
            unit = (self.live.get("units") or {}).get(self.variant, "")
            self.scene.set_values(self.values(self.variant), thr, f"{self.variant}\n/ max")
            pos = np.asarray(self.live["pos_mri"])
            peaks = {v: pos[int(np.argmax(np.asarray(self.live["amplitudes"][v])[:, i]))]
                     for v in dict.fromkeys((*self.shown(), "none", "weighted", "soft", "hard"))
                     if v in self.live["amplitudes"]}
            self.scene.set_peaks(peaks)
            self.scene.render()
            mask = np.asarray(self.live["fmri_mask"], bool)
            k = int(np.argmax(self.values(self.variant)))
            d = float(np.min(np.linalg.norm(pos[mask] - pos[k], axis=1))) * 1e3 if mask.any() else float("nan")
            a = float(np.asarray(self.live["amplitudes"][self.variant])[k, i])
            self.info.setText(
                f"{self.variant} at {t[i] * 1e3:.0f} ms: peak at ({', '.join(f'{x * 1e3:.0f}' for x in pos[k])}) mm "
                f"(MRI surface RAS), amplitude {a:.3g} {unit}, {d:.0f} mm from the fMRI map; "
                f"{self.scene.n_active} sources above {thr:.0%} of the maximum.")

    def _draw_timecourse(self) -> None:
        t = np.asarray(self.live["times"], float)
        self.tc_plot.clear()
        self.tc_plot.addItem(self.time_line)
        for r, var in enumerate(dict.fromkeys(self.shown())):
            a = np.asarray(self.live["amplitudes"][var])
            series = a[self.source_index] / max(float(a.max()), 1e-300)
            self.tc_plot.plot(t, series, pen=pg.mkPen(_COLORS[r], width=2), name=var)
        p = np.asarray(self.live["pos_mri"])[self.source_index] * 1e3
        self.tc_plot.setTitle(f"source at ({p[0]:.0f}, {p[1]:.0f}, {p[2]:.0f}) mm", size="9pt")
        self.time_line.blockSignals(True)
        self.time_line.setPos(float(t[self.time_index]))
        self.time_line.blockSignals(False)

    def _time_line_moved(self) -> None:
        if self.live:
            self.set_time(float(self.time_line.value()))

    def close_scene(self) -> None:
        self.scene.close()
