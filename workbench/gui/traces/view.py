"""A fast multi-channel EEG trace view (pyqtgraph).

Ideas from mne-qt-browser, our own code: only the visible window is read from the
``Raw`` (``raw.get_data(picks, start, stop)``, so ``preload=False`` recordings stay on
disk), each channel is reduced to min/max pairs per screen column
(:func:`~.downsample.peak_downsample`), and channels are stacked with a per-type
scale (SI volts inside, µV/mV on the labels). A second recording (the cleaned EEG)
can be drawn over the first for before/after comparison. Annotations (triggers,
R-peaks, events) are vertical lines, one curve per marker name.

The view knows nothing about the Session; :class:`~.tab.TracesTab` connects it.
Other tabs (e.g. the gradient view) may reuse it with :meth:`TraceView.set_data`.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollBar,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..flow import FlowLayout
from .downsample import peak_downsample
from .items import ChannelAxis, TraceViewBox
from .scaling import display_types, initial_scales, scan_span

log = logging.getLogger(__name__)

#: default amplitude (V) spanned by one channel row, per channel type
DEFAULT_SCALES = {
    "eeg": 100e-6,
    "eog": 300e-6,
    "ecg": 2e-3,
    "emg": 200e-6,
    "misc": 1e-3,
    "bio": 1e-3,
    "stim": 1.0,
    "resp": 1.0,
}
_FALLBACK_SCALE = 1e-3
_CLIP = 0.5  # rows: a trace is clipped to +-half a row, so it never covers its neighbours
_MAX_MARKER_LABELS = 40
_LABEL_LINES = 3  # marker labels that would overlap go one line lower, then are left out
_LABEL_GAP_PX = 4.0
_MARKER_COLOURS = [
    (214, 39, 40),
    (31, 119, 180),
    (44, 160, 44),
    (148, 103, 189),
    (255, 127, 14),
    (140, 86, 75),
    (227, 119, 194),
    (23, 190, 207),
]
RAW_PEN = pg.mkPen((30, 30, 30), width=1)
RAW_UNDER_PEN = pg.mkPen((170, 170, 170), width=1)
CLEAN_PEN = pg.mkPen((20, 90, 200), width=1)
BAD_PEN = pg.mkPen((220, 120, 120), width=1)
BUTTERFLY_PEN = pg.mkPen((30, 30, 30, 110), width=1)

MODES = ("raw", "cleaned", "overlay")
MODE_TITLES = {"raw": "Raw", "cleaned": "Cleaned", "overlay": "Raw + cleaned"}


def format_volts(v: float) -> str:
    """A scale in volts as readable text (µV / mV / V)."""
    av = abs(v)
    if av < 1e-3:
        return f"{v * 1e6:.3g} µV"
    if av < 1:
        return f"{v * 1e3:.3g} mV"
    return f"{v:.3g} V"


def marker_colour(name: str) -> tuple[int, int, int]:
    """A stable colour per marker name."""
    return _MARKER_COLOURS[zlib.crc32(name.encode()) % len(_MARKER_COLOURS)]


class TraceView(QWidget):
    """Stacked EEG traces of one recording, optionally with a cleaned overlay.

    Parameters
    ----------
    parent : QWidget | None
    window_s : float
        Seconds shown at once.
    n_channels : int
        Channels shown at once.
    points_per_pixel : float
        Peak-downsampling density (2 = one min and one max per screen column).

    Signals
    -------
    bad_clicked(str)
        A channel name was clicked (the owner decides what to do, e.g. an undoable edit).
    rendered()
        A frame was drawn (tests and benchmarks wait on it).
    """

    bad_clicked = pyqtSignal(str)
    rendered = pyqtSignal()

    def __init__(
        self,
        parent: QWidget | None = None,
        window_s: float = 10.0,
        n_channels: int = 20,
        points_per_pixel: float = 2.0,
    ) -> None:
        super().__init__(parent)
        self.raw: Any = None
        self.cleaned: Any = None
        self.t0 = 0.0
        self.window_s = float(window_s)
        self.n_visible = int(n_channels)
        self.ch_start = 0
        self.points_per_pixel = float(points_per_pixel)
        self.picks: list[int] = []
        self.scales: dict[str, float] = dict(DEFAULT_SCALES)
        self.mode = "raw"
        self.butterfly = False
        self.scale_type = "all"  # the channel type the +/- buttons change ("all": every type)
        self.show_markers = True
        self.remove_dc = True
        self.n_points_drawn = 0
        self._pending = False
        self._cache: dict[tuple, tuple[int, int, np.ndarray]] = {}
        self._build()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        bar = FlowLayout()  # wraps onto a second row on a narrow screen
        self.window_spin = QDoubleSpinBox()
        self.window_spin.setRange(0.1, 600.0)
        self.window_spin.setDecimals(1)
        self.window_spin.setSuffix(" s")
        self.window_spin.setValue(self.window_s)
        self.window_spin.setToolTip(
            "Seconds of EEG shown at once (typical 5-20 s; 1 s to see single slice artifacts)."
        )
        self.window_spin.valueChanged.connect(self.set_window)
        self.nch_spin = QSpinBox()
        self.nch_spin.setRange(1, 256)
        self.nch_spin.setValue(self.n_visible)
        self.nch_spin.setToolTip("Channels shown at once (typical 20-32); scroll with Up/Down.")
        self.nch_spin.valueChanged.connect(self.set_n_channels)
        self.scale_down = QPushButton("−")
        self.scale_down.setToolTip("Smaller traces (larger µV per row). Key: '-' ")
        self.scale_down.clicked.connect(lambda: self.scale_by(1.5))
        self.scale_down.setFixedWidth(28)
        self.scale_up = QPushButton("+")
        self.scale_up.setToolTip("Larger traces (fewer µV per row). Key: '+'")
        self.scale_up.clicked.connect(lambda: self.scale_by(1 / 1.5))
        self.scale_up.setFixedWidth(28)
        self.auto_button = QPushButton("Auto scale")
        self.auto_button.setToolTip(
            "Fit each channel type's scale to the visible data (robust 1-99% range). Key: A"
        )
        self.auto_button.clicked.connect(self.autoscale)
        self.scale_type_combo = QComboBox()
        self.scale_type_combo.setToolTip(
            "Which channel type the −/+ buttons rescale: each type (EEG, EOG, ECG, other) has "
            "its own amplitude per row."
        )
        self.scale_type_combo.currentIndexChanged.connect(
            lambda i: setattr(self, "scale_type", self.scale_type_combo.itemData(i) or "all")
        )
        self._fill_scale_types()
        self.butterfly_button = QToolButton()
        self.butterfly_button.setText("Butterfly")
        self.butterfly_button.setCheckable(True)
        self.butterfly_button.setToolTip(
            "Butterfly: all selected channels of a type overlaid on one axis (one row per "
            "type), e.g. to see an artifact common to every channel. Key: B"
        )
        self.butterfly_button.toggled.connect(self.set_butterfly)
        self.mode_combo = QComboBox()
        for m in MODES:
            self.mode_combo.addItem(MODE_TITLES[m], m)
        self.mode_combo.setToolTip(
            "Before/after: the raw recording, the cleaned one, or the cleaned (blue) drawn over "
            "the raw (grey). Needs a correction step to have run. Key: C toggles."
        )
        self.mode_combo.currentIndexChanged.connect(
            lambda i: self.set_mode(self.mode_combo.itemData(i))
        )
        self.markers_check = QCheckBox("Markers")
        self.markers_check.setChecked(True)
        self.markers_check.setToolTip("Show annotation markers (scanner triggers, R-peaks, events).")
        self.markers_check.toggled.connect(self.set_show_markers)
        self.marker_menu = QMenu(self)
        self.marker_button = QToolButton()
        self.marker_button.setText("Which ▾")
        self.marker_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.marker_button.setMenu(self.marker_menu)
        self.marker_button.setToolTip(
            "Choose which marker names are drawn (e.g. hide thousands of slice markers)."
        )
        self.hidden_markers: set[str] = set()
        for w in (QLabel("Window"), self.window_spin, QLabel("Channels"), self.nch_spin,
                  QLabel("Size"), self.scale_type_combo, self.scale_down, self.scale_up,
                  self.auto_button, self.butterfly_button, self.mode_combo, self.markers_check, self.marker_button):
            bar.addWidget(w)
        self.extra_bar = bar  # owners may append widgets (e.g. a channel picker)
        bar.addStretch(1)
        lay.addLayout(bar)

        mid = QHBoxLayout()
        self.axis = ChannelAxis()
        self.axis.row_clicked.connect(self._row_clicked)
        self.vb = TraceViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.vb, axisItems={"left": self.axis})
        self.plot.setBackground("w")
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.getAxis("bottom").setPen("k")
        self.plot.getAxis("bottom").setTextPen("k")
        self.axis.setPen("k")
        self.axis.setTextPen("k")
        self.plot.hideButtons()
        self.plot.setToolTip(
            "Wheel: scroll time · Ctrl+wheel: zoom time · Shift+wheel: channels · drag: pan · "
            "click a channel name: mark bad/good · keys: ←/→ (Shift: a page), ↑/↓, PgUp/PgDn, "
            "Home/End, +/−, A"
        )
        mid.addWidget(self.plot, 1)
        self.vscroll = QScrollBar(Qt.Orientation.Vertical)
        self.vscroll.setToolTip("Scroll through channels.")
        self.vscroll.valueChanged.connect(self._on_vscroll)
        mid.addWidget(self.vscroll)
        lay.addLayout(mid, 1)
        bottom = QHBoxLayout()
        self.hscroll = QScrollBar(Qt.Orientation.Horizontal)
        self.hscroll.setToolTip("Scroll through time.")
        self.hscroll.valueChanged.connect(self._on_hscroll)
        bottom.addWidget(self.hscroll, 1)
        self.dc_check = QCheckBox("Remove DC")
        self.dc_check.setChecked(True)
        self.dc_check.setToolTip(
            "Draw each channel around its mean over the visible window (display only; the "
            "data are unchanged). Real amplifiers record large DC offsets."
        )
        self.dc_check.toggled.connect(self.set_remove_dc)
        bottom.addWidget(self.dc_check)
        self.scale_label = QLabel("")
        self.scale_label.setMinimumWidth(120)
        self.scale_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.scale_label.setToolTip("Amplitude spanned by one channel row, per channel type.")
        bottom.addWidget(self.scale_label)
        lay.addLayout(bottom)

        self.empty_text = pg.TextItem("No EEG loaded: open a recording (File ▸ Open) or the demo.",
                                      color=(90, 90, 90), anchor=(0.5, 0.5))
        self.plot.addItem(self.empty_text)
        self._curves: list[pg.PlotCurveItem] = []
        self._under: list[pg.PlotCurveItem] = []
        self._marker_curves: list[pg.PlotCurveItem] = []
        self._marker_labels: list[pg.TextItem] = []
        self._label_size: dict[str, tuple[float, float]] = {}
        self._update_enabled()

    # ------------------------------------------------------------------ data
    def set_data(self, raw: Any, cleaned: Any = None) -> None:
        """Show ``raw`` (an mne Raw, may be ``preload=False``) and optionally ``cleaned``."""
        self.raw = raw
        self.cleaned = cleaned
        self._cache = {}
        self._fill_marker_menu()
        self._fill_scale_types()
        if raw is None:
            self.picks = []
        elif not self.picks or max(self.picks) >= len(raw.ch_names):
            self.picks = list(range(len(raw.ch_names)))
        if cleaned is None and self.mode != "raw":
            self.mode = "raw"
        if raw is not None and self.duration < self.window_s:
            self.window_s = max(0.1, self.duration)  # a short recording fits in one screen
        self.t0 = min(self.t0, max(0.0, self.duration - self.window_s))
        self.ch_start = min(self.ch_start, max(0, len(self.picks) - self.n_visible))
        if cleaned is not None:
            self.go_into_scan()
        self._update_enabled()
        self._sync_scrollbars()
        self.request_render()

    def set_cleaned(self, cleaned: Any) -> None:
        """Attach (or remove) the cleaned recording; switches to the overlay when it appears."""
        had = self.cleaned is not None
        self.cleaned = cleaned
        self._cache = {}
        if cleaned is not None and not had:
            self.mode = "overlay"
            self.go_into_scan()  # before/after is only worth seeing where the scanner ran
        elif cleaned is None:
            self.mode = "raw"
        self._update_enabled()
        self.request_render()

    @property
    def sfreq(self) -> float:
        return float(self.raw.info["sfreq"]) if self.raw is not None else 1.0

    @property
    def duration(self) -> float:
        return float(self.raw.n_times / self.sfreq) if self.raw is not None else 0.0

    @property
    def visible_picks(self) -> list[int]:
        return self.picks[self.ch_start : self.ch_start + self.n_visible]

    @property
    def visible_names(self) -> list[str]:
        if self.raw is None:
            return []
        return [self.raw.ch_names[i] for i in self.visible_picks]

    def channel_type(self, idx: int) -> str:
        """Type used for scaling (an "eeg" channel named ECG/EOG counts as ECG/EOG)."""
        return display_types(self.raw, [idx])[0]

    # ------------------------------------------------------------------ navigation
    def set_time(self, t0: float) -> None:
        """Move the left edge of the window to ``t0`` seconds (clamped)."""
        t0 = float(np.clip(t0, 0.0, max(0.0, self.duration - self.window_s)))
        if t0 != self.t0:
            self.t0 = t0
            self._sync_scrollbars()
            self.request_render()

    def scroll_time(self, pages: float) -> None:
        """Scroll by ``pages`` windows (negative: back)."""
        self.set_time(self.t0 + pages * self.window_s)

    def set_window(self, seconds: float) -> None:
        seconds = float(np.clip(seconds, 0.1, max(0.1, self.duration or 600.0)))
        if seconds != self.window_s:
            self.window_s = seconds
            self.t0 = float(np.clip(self.t0, 0.0, max(0.0, self.duration - seconds)))
            self._sync_widgets()
            self.request_render()

    def zoom_time(self, factor: float) -> None:
        """Multiply the window length by ``factor`` around its centre."""
        centre = self.t0 + self.window_s / 2
        self.set_window(self.window_s * factor)
        self.set_time(centre - self.window_s / 2)

    def set_n_channels(self, n: int) -> None:
        n = int(max(1, n))
        if n != self.n_visible:
            self.n_visible = n
            self.ch_start = min(self.ch_start, max(0, len(self.picks) - n))
            self._sync_widgets()
            self.request_render()

    def scroll_channels(self, rows: int) -> None:
        start = int(np.clip(self.ch_start + rows, 0, max(0, len(self.picks) - self.n_visible)))
        if start != self.ch_start:
            self.ch_start = start
            self._sync_scrollbars()
            self.request_render()

    def set_selection(self, names: list[str]) -> None:
        """Show only these channels (in recording order); an empty list shows all."""
        if self.raw is None:
            return
        wanted = set(names)
        self.picks = [i for i, n in enumerate(self.raw.ch_names) if not wanted or n in wanted]
        self.ch_start = 0
        self._sync_scrollbars()
        self.request_render()

    def set_mode(self, mode: str) -> None:
        """``"raw"``, ``"cleaned"`` or ``"overlay"`` (the last two need cleaned data)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode != "raw" and self.cleaned is None:
            mode = "raw"
        self.mode = mode
        self._sync_widgets()
        self.request_render()

    def marker_names(self) -> dict[str, int]:
        """Marker (annotation) names of the recording and how often each occurs."""
        if self.raw is None:
            return {}
        counts = Counter(str(d) for d in self.raw.annotations.description)
        return dict(sorted(counts.items()))

    def set_marker_visible(self, name: str, on: bool) -> None:
        """Show or hide every marker called ``name``."""
        (self.hidden_markers.discard if on else self.hidden_markers.add)(name)
        for act in self.marker_menu.actions():
            if act.data() == name and act.isChecked() != on:
                act.setChecked(on)
        self.request_render()

    def _fill_marker_menu(self) -> None:
        self.marker_menu.clear()
        names = self.marker_names()
        for name, count in list(names.items())[:60]:
            act = self.marker_menu.addAction(f"{name}  ({count})")
            act.setData(name)
            act.setCheckable(True)
            act.setChecked(name not in self.hidden_markers)
            act.toggled.connect(lambda on, n=name: self.set_marker_visible(n, on))
        self.marker_button.setEnabled(bool(names))

    def set_remove_dc(self, on: bool) -> None:
        """Draw channels around their visible-window mean (display only)."""
        self.remove_dc = bool(on)
        if self.dc_check.isChecked() != self.remove_dc:
            self.dc_check.setChecked(self.remove_dc)
        self.request_render()

    def set_show_markers(self, on: bool) -> None:
        self.show_markers = bool(on)
        self.request_render()

    def scale_by(self, factor: float, typ: str | None = None) -> None:
        """Multiply a channel type's volts-per-row by ``factor``.

        ``typ`` None: the type chosen in the toolbar (``"all"``: every type).
        """
        typ = self.scale_type if typ is None else typ
        if typ == "all":
            self.scales = {k: v * factor for k, v in self.scales.items()}
        else:
            self.scales[typ] = self.scales.get(typ, _FALLBACK_SCALE) * factor
        self.request_render()

    def _fill_scale_types(self) -> None:
        combo = self.scale_type_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("All types", "all")
        types = [] if self.raw is None else list(dict.fromkeys(display_types(self.raw)))
        for t in types:
            combo.addItem(t.upper(), t)
        i = combo.findData(self.scale_type)
        if i < 0:
            self.scale_type, i = "all", 0
        combo.setCurrentIndex(i)
        combo.blockSignals(False)

    def set_butterfly(self, on: bool) -> None:
        """Overlay all selected channels of a type on one axis (one row per type)."""
        self.butterfly = bool(on)
        if self.butterfly_button.isChecked() != self.butterfly:
            self.butterfly_button.blockSignals(True)
            self.butterfly_button.setChecked(self.butterfly)
            self.butterfly_button.blockSignals(False)
        self.vscroll.setEnabled(self.raw is not None and not self.butterfly)
        self.request_render()

    def scan_start(self) -> float | None:
        """Time (s from the first sample) of the first scanner trigger, or None."""
        span = scan_span(self.raw)
        return None if span is None else span[0]

    def go_into_scan(self) -> None:
        """Move the window just inside the scanning period (first trigger + a little).

        Does nothing when there are no scanner triggers or the window is already inside.
        """
        first = self.scan_start()
        if first is None or self.t0 >= first:
            return
        self.t0 = float(np.clip(first + min(1.0, 0.1 * self.window_s), 0.0,
                                max(0.0, self.duration - self.window_s)))
        self._sync_scrollbars()
        self.request_render()

    def initial_scale(self) -> None:
        """Per-type scale that shows the EEG (not the gradient artifact) on opening.

        Fitted on the cleaned EEG when there is one, else on the raw EEG outside the
        scanning period (see :mod:`.scaling`), rounded to 1-2-5 µV/mV per row.
        """
        if self.raw is None:
            return
        try:
            self.scales.update(initial_scales(self.raw, self.cleaned, self.picks,
                                              DEFAULT_SCALES, _FALLBACK_SCALE))
        except Exception as e:  # noqa: BLE001 - keep the defaults rather than fail to open
            log.warning("initial trace scale not fitted: %s", e)
        self.request_render()

    def autoscale(self) -> None:
        """Set each type's scale from the robust range (1-99 %) of its visible channels.

        Uses the cleaned EEG when it is shown (alone or over the raw).
        """
        if self.raw is None:
            return
        picks = self.visible_picks
        # in the overlay the cleaned EEG is what one reads; the raw may clip
        source = self.cleaned if self.mode != "raw" and self.cleaned is not None else self.raw
        data, _ = self._fetch(source, picks)
        types = display_types(self.raw, picks)
        for typ in set(types):
            rows = data[[k for k, t in enumerate(types) if t == typ]]
            lo, hi = np.nanpercentile(rows, [1, 99], axis=1)
            # two robust ranges per row: neighbours touch only at the extremes
            rng = 2.0 * float(np.median(hi - lo))
            if np.isfinite(rng) and rng > 0:
                self.scales[typ] = rng
        self.request_render()

    # ------------------------------------------------------------------ rendering
    def request_render(self) -> None:
        """Draw at the next event-loop turn (several changes give one frame)."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.render)

    def _current_source(self) -> Any:
        return self.cleaned if self.mode == "cleaned" and self.cleaned is not None else self.raw

    def _window_samples(self, source: Any) -> tuple[int, int]:
        start = int(np.clip(round(self.t0 * self.sfreq), 0, max(0, source.n_times - 1)))
        stop = min(source.n_times, start + int(round(self.window_s * self.sfreq)) + 1)
        return start, max(start + 1, stop)

    def _fetch(self, source: Any, picks: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The visible window of ``picks``, read through a small read-ahead cache.

        A miss reads half a window more on each side, so scrolling by less than half a
        window (arrow keys, wheel) is served from memory; the cache holds one block per
        source (at most 2 windows of the visible channels).
        """
        start, stop = self._window_samples(source)
        key = (id(source), tuple(picks))
        hit = self._cache.get(key)
        if hit is None or start < hit[0] or stop > hit[1]:
            margin = int(self.window_s * self.sfreq / 2)
            c0 = max(0, start - margin)
            c1 = min(source.n_times, stop + margin)
            block = source.get_data(picks=picks, start=c0, stop=c1)
            self._cache = {k: v for k, v in self._cache.items() if k[0] != id(source)}
            self._cache[key] = hit = (c0, c1, block)
        data = hit[2][:, start - hit[0] : stop - hit[0]]
        times = np.arange(start, stop) / self.sfreq
        return data, times

    def clear_cache(self) -> None:
        """Forget read-ahead data (call when a recording's data change)."""
        self._cache = {}

    def _n_bins(self) -> int:
        width = max(200, int(self.vb.width()) or 1000)
        return int(max(50, width * self.points_per_pixel / 2))

    def _curve(self, pool: list[pg.PlotCurveItem], i: int, z: float) -> pg.PlotCurveItem:
        while len(pool) <= i:
            c = pg.PlotCurveItem(skipFiniteCheck=True)
            c.setZValue(z)
            self.plot.addItem(c)
            pool.append(c)
        return pool[i]

    def render(self) -> None:
        """Fetch the visible window, downsample and draw it (call directly to force a frame)."""
        self._pending = False
        self.empty_text.setVisible(self.raw is None)
        if self.raw is None:
            for c in self._curves + self._under + self._marker_curves:
                c.setVisible(False)
            for t in self._marker_labels:
                t.setVisible(False)
            self.axis.set_names([])
            self.vb.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            self.empty_text.setPos(0.5, 0.5)
            self.rendered.emit()
            return
        bads = set(self.raw.info["bads"])
        if self.butterfly:
            picks = list(self.picks)
            names = [self.raw.ch_names[i] for i in picks]
            types = display_types(self.raw, picks)
            groups = list(dict.fromkeys(types))
            row_of = np.array([groups.index(t) for t in types], dtype=float)
            counts = Counter(types)
            labels = [f"{t.upper()} ({counts[t]})" for t in groups]
        else:
            picks = self.visible_picks
            names = self.visible_names
            types = display_types(self.raw, picks)
            row_of = np.arange(len(picks), dtype=float)
            labels = [f"✕ {n}" if n in bads else n for n in names]
        n_rows = len(labels)
        n_bins = self._n_bins()
        layers: list[tuple[list[pg.PlotCurveItem], Any, float]] = []
        if self.mode == "raw":
            layers.append((self._curves, self.raw, 2))
        elif self.mode == "cleaned":
            layers.append((self._curves, self.cleaned, 2))
        else:
            layers.append((self._under, self.raw, 1))
            layers.append((self._curves, self.cleaned, 2))
        used = {id(pool): 0 for pool in (self._curves, self._under)}
        self.n_points_drawn = 0
        for pool, source, z in layers:
            data, times = self._fetch(source, picks)
            if self.remove_dc and data.shape[1]:
                data = data - data.mean(axis=1, keepdims=True)
            t_ds, d_ds = peak_downsample(data, times, n_bins)
            scale = np.array([self.scales.get(t, _FALLBACK_SCALE) for t in types])[:, None]
            # every trace (the grey raw under a cleaned overlay too) stays in its own row
            y = np.clip(d_ds / scale, -_CLIP, _CLIP)
            # rows grow downwards (inverted y); positive voltage draws upwards
            y = row_of[:, None] - y
            for row in range(len(picks)):
                c = self._curve(pool, row, z)
                if pool is self._under:
                    pen = RAW_UNDER_PEN
                elif names[row] in bads:
                    pen = BAD_PEN
                elif self.butterfly and self.mode != "overlay":
                    pen = BUTTERFLY_PEN
                elif self.mode == "overlay":
                    pen = CLEAN_PEN
                else:
                    pen = RAW_PEN
                c.setPen(pen)
                c.setData(t_ds, y[row])
                c.setVisible(True)
            used[id(pool)] = len(picks)
            self.n_points_drawn += int(y.size)
        for pool in (self._curves, self._under):
            for c in pool[used[id(pool)] :]:
                c.setVisible(False)
        self.axis.set_names(labels)
        t1 = self.t0 + self.window_s
        self.vb.setRange(xRange=(self.t0, t1), yRange=(-0.7, n_rows - 0.3), padding=0)
        self._draw_markers(n_rows)
        # every type of the selection, not just of the visible page (each has its own scale)
        all_types = display_types(self.raw, self.picks)
        self.scale_label.setText(
            " · ".join(f"{t.upper()} {format_volts(self.scales.get(t, _FALLBACK_SCALE))}/row"
                       for t in dict.fromkeys(all_types))
        )
        self.rendered.emit()

    def visible_annotations(self) -> list[tuple[float, str]]:
        """(time s from the recording start, description) of markers in the window."""
        if self.raw is None or len(self.raw.annotations) == 0:
            return []
        ann = self.raw.annotations
        onset = np.asarray(ann.onset, float)
        if ann.orig_time is not None:
            onset = onset - self.raw.first_time
        t1 = self.t0 + self.window_s
        sel = np.flatnonzero((onset >= self.t0) & (onset <= t1))
        return [(float(onset[i]), str(ann.description[i])) for i in sel
                if str(ann.description[i]) not in self.hidden_markers]

    def _draw_markers(self, n_rows: int) -> None:
        marks = self.visible_annotations() if self.show_markers else []
        by_name: dict[str, list[float]] = {}
        for t, d in marks:
            by_name.setdefault(d, []).append(t)
        top, bottom = -0.7, n_rows - 0.3
        for k, (name, ts) in enumerate(sorted(by_name.items())):
            c = self._curve(self._marker_curves, k, 2.5)
            x = np.repeat(np.asarray(ts), 2)
            yv = np.tile([top, bottom], len(ts))
            c.setData(x, yv, connect="pairs")
            c.setPen(pg.mkPen((*marker_colour(name), 170), width=1))
            c.setVisible(True)
        for c in self._marker_curves[len(by_name) :]:
            c.setVisible(False)
        self._layout_marker_labels(sorted(marks), top, n_rows)

    def _label_extent(self, text: str) -> tuple[float, float]:
        """(width, height) in pixels of a marker label showing ``text``."""
        size = self._label_size.get(text)
        if size is None:
            probe = pg.TextItem(text, anchor=(0, 0))
            br = probe.textItem.boundingRect()
            size = self._label_size[text] = (float(br.width()), float(br.height()))
        return size

    def _layout_marker_labels(self, marks: list[tuple[float, str]], top: float,
                              n_rows: int) -> None:
        """Place marker labels so that none overlaps another at the current zoom.

        Greedy, left to right: a label goes on the first of a few lines where it clears the
        previous label by a few pixels; a label that fits on no line is left out (its
        vertical line stays). Widths are measured in pixels, so zooming in shows more.
        """
        px_per_s = max(1.0, float(self.vb.width())) / max(1e-9, self.window_s)
        px_per_row = max(1.0, float(self.vb.height())) / max(1e-9, n_rows + 0.4)
        right = [-np.inf] * _LABEL_LINES
        placed: list[tuple[float, str, int, float]] = []
        for t, d in marks:
            if len(placed) >= _MAX_MARKER_LABELS:
                break
            w, h = self._label_extent(d)
            x = (t - self.t0) * px_per_s
            line = next((k for k, r in enumerate(right) if x >= r + _LABEL_GAP_PX), None)
            if line is None:
                continue
            right[line] = x + w
            placed.append((t, d, line, h))
        while len(self._marker_labels) < len(placed):
            ti = pg.TextItem("", anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 220))
            ti.setZValue(3)
            self.plot.addItem(ti)
            self._marker_labels.append(ti)
        for ti, (t, d, line, h) in zip(self._marker_labels, placed):
            ti.setText(d)
            ti.setColor(marker_colour(d))
            ti.setPos(t, top + line * (h + 1.0) / px_per_row)
            ti.setVisible(True)
        for ti in self._marker_labels[len(placed) :]:
            ti.setVisible(False)

    # ------------------------------------------------------------------ widgets
    def _update_enabled(self) -> None:
        has = self.raw is not None
        for w in (self.window_spin, self.nch_spin, self.scale_down, self.scale_up,
                  self.auto_button, self.markers_check, self.hscroll, self.vscroll,
                  self.scale_type_combo, self.butterfly_button):
            w.setEnabled(has)
        self.vscroll.setEnabled(has and not self.butterfly)
        self.mode_combo.setEnabled(has and self.cleaned is not None)
        self._sync_widgets()

    def _sync_widgets(self) -> None:
        for w, v in ((self.window_spin, self.window_s), (self.nch_spin, self.n_visible)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(MODES.index(self.mode))
        self.mode_combo.blockSignals(False)
        self._sync_scrollbars()

    def _sync_scrollbars(self) -> None:
        self.hscroll.blockSignals(True)
        ms_max = int(max(0.0, self.duration - self.window_s) * 1000)
        self.hscroll.setRange(0, ms_max)
        self.hscroll.setPageStep(int(self.window_s * 1000))
        self.hscroll.setSingleStep(max(1, int(self.window_s * 250)))
        self.hscroll.setValue(int(self.t0 * 1000))
        self.hscroll.blockSignals(False)
        self.vscroll.blockSignals(True)
        self.vscroll.setRange(0, max(0, len(self.picks) - self.n_visible))
        self.vscroll.setPageStep(self.n_visible)
        self.vscroll.setValue(self.ch_start)
        self.vscroll.blockSignals(False)

    def _on_hscroll(self, value: int) -> None:
        self.set_time(value / 1000.0)

    def _on_vscroll(self, value: int) -> None:
        self.scroll_channels(value - self.ch_start)

    def _row_clicked(self, row: int) -> None:
        if self.butterfly:
            return  # a row is a channel type, not a channel
        names = self.visible_names
        if 0 <= row < len(names):
            self.bad_clicked.emit(names[row])

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802
        k = ev.key()
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        K = Qt.Key
        if k == K.Key_Right:
            self.scroll_time(1.0 if shift else 0.25)
        elif k == K.Key_Left:
            self.scroll_time(-1.0 if shift else -0.25)
        elif k == K.Key_Down:
            self.scroll_channels(self.n_visible if shift else 1)
        elif k == K.Key_Up:
            self.scroll_channels(-self.n_visible if shift else -1)
        elif k == K.Key_PageDown:
            self.scroll_channels(self.n_visible)
        elif k == K.Key_PageUp:
            self.scroll_channels(-self.n_visible)
        elif k == K.Key_Home:
            self.set_time(0.0)
        elif k == K.Key_End:
            self.set_time(self.duration)
        elif k in (K.Key_Plus, K.Key_Equal):
            self.scale_by(1 / 1.5)
        elif k == K.Key_Minus:
            self.scale_by(1.5)
        elif k == K.Key_A:
            self.autoscale()
        elif k == K.Key_B:
            self.set_butterfly(not self.butterfly)
        elif k == K.Key_C and self.cleaned is not None:
            self.set_mode("raw" if self.mode != "raw" else "overlay")
        elif k == K.Key_BracketLeft:
            self.zoom_time(0.5)
        elif k == K.Key_BracketRight:
            self.zoom_time(2.0)
        else:
            super().keyPressEvent(ev)
            return
        ev.accept()
