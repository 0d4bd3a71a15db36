"""Discovery of scanner trigger markers (volume, slice) and R-peak markers.

Simultaneous EEG-fMRI recordings mark the scanner's timeline with markers whose names
depend on the amplifier, the recorder and the software that touched them last:

============================  ==========================================================
``Response/R128``, ``R128``   BrainVision Recorder volume trigger (TTL on bit 7)
``S128``, ``S 128``           the same trigger after an EEGLAB import / on a stimulus port
``Scanner/Scan Start``        BrainVision Analyzer volume marker
``Scanner/s``, ``Scanner,s``  Analyzer slice marker (``"s "`` with a trailing space)
``Slice``, ``TR``, ``V``      generic slice / volume names
``TREV``                      EGI (Net Station) volume trigger
``Sync On``                   BrainAmp SyncBox status: *not* a trigger
``Pulse Artifact/R``,         R-peaks (Analyzer; FMRIB ``fmrib_qrsdetect``)
``qrs``, ``qrs0``, ``R``
============================  ==========================================================

:func:`find_scanner_triggers` ranks the candidate streams by name and checks that their
spacing is regular (scanner triggers are periodic); when no known name is present it
falls back to any regular, periodic stream with a plausible period. The result is a
:class:`TriggerInfo`.

Notes
-----
Written here rather than taken from MNE: MNE reads the markers
(:func:`mne.read_annotations`) but has no notion of which of them are scanner triggers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = [
    "TriggerInfo",
    "find_scanner_triggers",
    "marker_arrays",
    "normalise_name",
    "VOLUME_NAMES",
    "SLICE_NAMES",
    "RPEAK_NAMES",
    "NOT_TRIGGERS",
]

#: Volume-trigger names, best first (compared after :func:`normalise_name`).
VOLUME_NAMES: tuple[str, ...] = (
    "response/r128",
    "r128",
    "scanner/scanstart",
    "scanstart",
    "s128",
    "stimulus/s128",
    "trev",
    "volumestart",
    "volume",
    "tr",
    "v",
)
#: Slice-trigger names, best first.
SLICE_NAMES: tuple[str, ...] = ("scanner/s", "slice", "scanner/slice", "slicestart", "s")
#: R-peak marker names, best first.
RPEAK_NAMES: tuple[str, ...] = (
    "pulseartifact/r",
    "qrs",
    "qrs0",
    "qrs1",
    "rpeak",
    "r-peak",
    "heartbeat",
    "r",
)
#: Names that look periodic but are never scanner triggers.
NOT_TRIGGERS: tuple[str, ...] = (
    "syncstatus/syncon",
    "syncon",
    "syncoff",
    "syncstatus/syncoff",
    "newsegment",
    "newsegment/",
    "boundary",
    "bad_acq_skip",
    "edge",
)

#: A stream is "regular" when this fraction of its intervals is within ``_TOL`` of the median.
_REGULAR_FRACTION = 0.9
_TOL = 0.02
#: A "volume" stream faster than this (s) is taken as slice triggers.
_MIN_TR_S = 0.25
#: Two markers closer than this (in the onset unit, seconds) are duplicates.
_DUP_EPS_S = 1e-3


def normalise_name(name: str) -> str:
    """Canonical form of a marker name for matching.

    Lower case, ``,`` -> ``/`` (Analyzer writes ``Type,Description``, MNE ``Type/Description``),
    all whitespace removed (``"S  8"`` -> ``"s8"``, ``"Scanner/s "`` -> ``"scanner/s"``).
    """
    s = str(name).strip().lower().replace(",", "/")
    return re.sub(r"\s+", "", s).rstrip("/")


def _short(name_norm: str) -> str:
    """The description part of a ``type/description`` name."""
    return name_norm.rsplit("/", 1)[-1] if "/" in name_norm else name_norm


def _name_matches(name_norm: str, wanted_norm: str) -> bool:
    return name_norm == wanted_norm or _short(name_norm) == wanted_norm


def _rank(name: str, table: tuple[str, ...]) -> float | None:
    """Position of ``name`` in a name table (full name first, then its description)."""
    n = normalise_name(name)
    if n in table:
        return float(table.index(n))
    short = _short(n)
    if "/" in n:
        typ = n.rsplit("/", 1)[0]
        # a bare "R"/"s" description only counts under a scanner/pulse type, never under
        # e.g. "Stimulus/s" or "Comment/R"
        if short in ("r", "s", "v") and typ not in ("scanner", "pulseartifact", "response", "volume"):
            return None
    if short in table:
        return table.index(short) + 0.5
    return None


# --------------------------------------------------------------------------- input
def marker_arrays(markers: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(onsets, durations, descriptions) from any supported marker container.

    Accepts an :class:`mne.Annotations`, an ``mne.io.BaseRaw`` (its annotations, with
    onsets made relative to the first sample), an object with a ``markers`` attribute
    (e.g. :class:`~workbench.engine.io.eeg.EEGHeader`), a mapping ``name -> onsets``,
    or an iterable of ``(onset, duration, description)`` tuples.
    """
    if hasattr(markers, "annotations") and hasattr(markers, "first_time"):  # mne Raw
        ann = markers.annotations
        offset = markers.first_time if ann.orig_time is not None else 0.0
        return (
            np.asarray(ann.onset, float) - offset,
            np.asarray(ann.duration, float),
            np.asarray(ann.description, object),
        )
    if hasattr(markers, "markers") and not isinstance(markers, Mapping):
        return marker_arrays(markers.markers)
    if hasattr(markers, "onset") and hasattr(markers, "description"):  # mne.Annotations
        return (
            np.asarray(markers.onset, float),
            np.asarray(markers.duration, float),
            np.asarray(markers.description, object),
        )
    if isinstance(markers, Mapping):
        on, du, de = [], [], []
        for name, onsets in markers.items():
            o = np.atleast_1d(np.asarray(onsets, float))
            on.append(o)
            du.append(np.zeros_like(o))
            de.append(np.full(o.shape, str(name), object))
        if not on:
            return np.zeros(0), np.zeros(0), np.zeros(0, object)
        return np.concatenate(on), np.concatenate(du), np.concatenate(de)
    rows = list(markers) if isinstance(markers, Iterable) else None
    if rows is None:
        raise TypeError(f"cannot read markers from {type(markers).__name__}")
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0, object)
    on = np.array([float(r[0]) for r in rows])
    du = np.array([float(r[1]) for r in rows])
    de = np.array([str(r[2]) for r in rows], object)
    return on, du, de


# --------------------------------------------------------------------------- result
@dataclass
class TriggerInfo:
    """Scanner triggers and R-peaks found in a marker list.

    All times are in ``unit`` (``"s"`` normally; ``"samples"`` when the sampling rate of
    a lone marker file is unknown), measured like the input's onsets (for a Raw: from
    its first sample, so ``sample = round(onset * sfreq)``).

    Attributes
    ----------
    volume_name, slice_name, rpeak_name : str | None
        The marker names chosen (exactly as they appear in the file).
    volume_onsets, slice_onsets, rpeak_onsets : ndarray
        Sorted onsets of the chosen streams (duplicates kept; see ``duplicates``).
    counts : dict
        Every marker name in the file -> number of occurrences (most common first).
    volume_spacing, slice_spacing : float | None
        Median interval between distinct markers of the stream.
    tr : float | None
        Estimated repetition time (volume spacing; or slice spacing x slices per volume).
    slice_period : float | None
        Estimated interval between slice (or slice-group) triggers.
    slices_per_volume : int | None
        Slice triggers per volume trigger (slice groups when multiband).
    volume_regular, slice_regular : bool
        Whether >= 90 % of the intervals are within 2 % of the median.
    duplicates : dict
        Stream kind (``"volume"``, ``"slice"``, ``"rpeak"``) -> number of markers less than
        1 ms after the previous one of the same name.
    gaps : dict
        Per stream kind: ``{"long": n, "missing_est": m, "short": k}``: intervals longer
        than 1.5x the median (with an estimate of the triggers missing in them) and
        intervals shorter than 0.9x the median (extra or early triggers).
    how : dict
        Kind -> ``"given"``, ``"name"`` (known name) or ``"regularity"`` (periodic stream).
    unit : str
        ``"s"`` or ``"samples"``.
    """

    volume_name: str | None = None
    slice_name: str | None = None
    rpeak_name: str | None = None
    volume_onsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slice_onsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rpeak_onsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    counts: dict[str, int] = field(default_factory=dict)
    volume_spacing: float | None = None
    slice_spacing: float | None = None
    tr: float | None = None
    slice_period: float | None = None
    slices_per_volume: int | None = None
    volume_regular: bool = False
    slice_regular: bool = False
    duplicates: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, dict[str, int]] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    unit: str = "s"

    @property
    def n_volumes(self) -> int:
        """Number of volume triggers."""
        return int(self.volume_onsets.size)

    @property
    def n_slices(self) -> int:
        """Number of slice triggers."""
        return int(self.slice_onsets.size)

    @property
    def n_rpeaks(self) -> int:
        """Number of R-peak markers."""
        return int(self.rpeak_onsets.size)

    @property
    def found(self) -> bool:
        """True when a volume or a slice stream was found."""
        return self.volume_name is not None or self.slice_name is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the onset arrays)."""
        return {
            "unit": self.unit,
            "volume": {
                "name": self.volume_name,
                "count": self.n_volumes,
                "spacing": self.volume_spacing,
                "regular": self.volume_regular,
                "how": self.how.get("volume"),
            },
            "slice": {
                "name": self.slice_name,
                "count": self.n_slices,
                "spacing": self.slice_spacing,
                "regular": self.slice_regular,
                "how": self.how.get("slice"),
            },
            "rpeak": {"name": self.rpeak_name, "count": self.n_rpeaks},
            "tr": self.tr,
            "slice_period": self.slice_period,
            "slices_per_volume": self.slices_per_volume,
            "duplicates": dict(self.duplicates),
            "gaps": {k: dict(v) for k, v in self.gaps.items()},
            "markers": dict(self.counts),
        }

    def to_text(self) -> str:
        """A few human-readable lines."""
        u = "s" if self.unit == "s" else " samples"

        def fmt(x: float | None) -> str:
            if x is None:
                return "?"
            return f"{x:.3f}{u}" if self.unit == "s" else f"{x:g}{u}"

        lines = []
        if self.volume_name is None and self.volume_onsets.size:
            lines.append(
                f"volumes: {self.n_volumes} found from the pauses in the slice triggers, spacing "
                f"{fmt(self.volume_spacing)}"
            )
        elif self.volume_name is not None:
            lines.append(
                f"volume triggers: {self.volume_name!r} x {self.n_volumes}, spacing {fmt(self.volume_spacing)}"
                + ("" if self.volume_regular else " (irregular)")
            )
            g = self.gaps.get("volume", {})
            if g.get("long") or g.get("short"):
                lines.append(
                    f"  {g.get('long', 0)} long interval(s) (~{g.get('missing_est', 0)} missing trigger(s)), "
                    f"{g.get('short', 0)} short interval(s) (extra or early triggers)"
                )
        else:
            lines.append("volume triggers: none found")
        if self.slice_name is not None:
            sp = self.slice_spacing
            ms = f" ({sp * 1000:.1f} ms)" if (sp is not None and self.unit == "s") else ""
            lines.append(
                f"slice triggers: {self.slice_name!r} x {self.n_slices}, spacing {fmt(sp)}{ms}"
                + ("" if self.slice_regular else " (irregular)")
            )
        if self.tr is not None:
            spv = f", {self.slices_per_volume} slice triggers per volume" if self.slices_per_volume else ""
            lines.append(f"TR estimate: {fmt(self.tr)}{spv}")
        if self.rpeak_name is not None:
            dup = self.duplicates.get("rpeak", 0)
            lines.append(
                f"R-peak markers: {self.rpeak_name!r} x {self.n_rpeaks}"
                + (f" ({dup} duplicates < 1 ms apart)" if dup else "")
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- analysis
def _gaps(onsets: np.ndarray, med: float | None, eps: float) -> dict[str, int]:
    """Intervals much longer / shorter than the median of a periodic stream."""
    if med is None:
        return {}
    d = np.diff(np.sort(onsets))
    d = d[d >= eps]
    long = d > 1.5 * med
    return {
        "long": int(long.sum()),
        "missing_est": int(np.sum(np.round(d[long] / med) - 1)),
        "short": int(np.sum(d < 0.9 * med)),
    }


def _spacing(onsets: np.ndarray, eps: float) -> tuple[float | None, bool, int]:
    """Median distinct interval, regularity flag and number of near-duplicates."""
    o = np.sort(onsets)
    d = np.diff(o)
    dup = int(np.sum(d < eps))
    d = d[d >= eps]
    if d.size == 0:
        return None, False, dup
    med = float(np.median(d))
    regular = bool(d.size >= 2 and np.mean(np.abs(d - med) <= _TOL * med) >= _REGULAR_FRACTION)
    return med, regular, dup


def _volumes_from_slice_gaps(info: TriggerInfo, eps: float) -> None:
    """Volume starts from the dead time between volumes in a slice-trigger stream.

    With slice triggers only, each volume ends with a pause longer than the slice period
    (the TR's dead time); the slice after each pause starts a volume. Used only when the
    pauses are themselves regular. A first volume cut short by the recording start is
    dropped.
    """
    s = np.unique(info.slice_onsets)
    med = info.slice_spacing
    if med is None or s.size < 6:
        return
    d = np.diff(s)
    big = np.flatnonzero(d > 1.5 * med)
    if big.size < 2:
        return
    starts = np.concatenate([[s[0]], s[big + 1]])
    per = np.diff(np.searchsorted(s, starts))
    spv = int(np.median(per))
    if per[0] < spv:
        starts = starts[1:]
    tr, regular, _ = _spacing(starts, eps)
    if tr is None or not regular:
        return
    info.volume_onsets = starts
    info.volume_spacing = info.tr = tr
    info.volume_regular = True
    info.slices_per_volume = spv
    info.how["volume"] = "slice gaps"
    info.gaps["volume"] = _gaps(starts, tr, eps)


def _pick_named(
    names: list[str], table: tuple[str, ...], onsets_of: dict[str, np.ndarray], eps: float
) -> str | None:
    """Best-ranked name with >= 2 markers; a regular stream beats a better-ranked irregular one."""
    cands = []
    for n in names:
        r = _rank(n, table)
        if r is None or onsets_of[n].size < 2:
            continue
        _, regular, _ = _spacing(onsets_of[n], eps)
        cands.append((not regular, r, -onsets_of[n].size, n))
    if not cands:
        return None
    return min(cands)[3]


def _resolve_given(wanted: str, names: list[str], counts: Counter, kind: str, source: Any) -> str:
    w = normalise_name(wanted)
    exact = [n for n in names if normalise_name(n) == w]
    short = [n for n in names if _short(normalise_name(n)) == w]
    hits = exact or short
    if not hits:
        found = ", ".join(f"{n!r} ({c})" for n, c in counts.most_common(15)) or "none"
        raise InputError(source, f"{kind} trigger {wanted!r} not found; markers present: {found}")
    return max(hits, key=lambda n: counts[n])


def find_scanner_triggers(
    annotations_or_markers: Any,
    volume: str | None = None,
    slice: str | None = None,  # noqa: A002 - the name the CLI option uses
    *,
    rpeak: str | None = None,
    source: Any = None,
    unit: str = "s",
) -> TriggerInfo:
    """Find the scanner volume/slice triggers (and R-peak markers) in a marker list.

    Parameters
    ----------
    annotations_or_markers : mne.Annotations | mne.io.BaseRaw | EEGHeader | Mapping | iterable
        The markers: MNE annotations, a Raw (its annotations, onsets relative to the first
        sample), an :class:`~workbench.engine.io.eeg.EEGHeader`, ``{name: onsets}`` or
        ``(onset, duration, description)`` rows.
    volume, slice, rpeak : str | None
        Marker names to use; matched case-insensitively, ignoring whitespace, as the full
        ``Type/Description`` or the description alone (``"R128"`` matches
        ``"Response/R128"``; ``"Scanner,s"`` matches ``"Scanner/s "``). ``None``:
        auto-detect.
    source : str | path-like | None
        File the markers came from, named in errors.
    unit : str
        Unit of the onsets (``"s"``, or ``"samples"`` for a lone marker file).

    Returns
    -------
    TriggerInfo
        The chosen streams, their onsets, spacing, TR and slice-period estimates, and
        the count of every marker name present.

    Raises
    ------
    InputError
        When a given name is absent; the message lists the marker names present.

    Notes
    -----
    Auto-detection ranks known names (see :data:`VOLUME_NAMES`, :data:`SLICE_NAMES`),
    preferring regularly spaced streams; without a known name, the most numerous regular
    stream with a period in 0.3-30 s is taken as the volume trigger, and one in
    5-300 ms as the slice trigger. ``Sync On`` and ``New Segment`` are never triggers.
    """
    onsets, _, descs = marker_arrays(annotations_or_markers)
    eps = _DUP_EPS_S if unit == "s" else 0.5
    counts = Counter(str(d) for d in descs)
    names = [n for n, _ in counts.most_common()]
    onsets_of = {n: np.sort(onsets[descs == n]) for n in names}
    info = TriggerInfo(counts=dict(counts.most_common()), unit=unit)
    eligible = [n for n in names if normalise_name(n) not in NOT_TRIGGERS]

    def choose(kind: str, given: str | None, table: tuple[str, ...]) -> str | None:
        if given is not None:
            info.how[kind] = "given"
            return _resolve_given(given, names, counts, kind, source)
        n = _pick_named(eligible, table, onsets_of, eps)
        if n is not None:
            info.how[kind] = "name"
        return n

    vol = choose("volume", volume, VOLUME_NAMES)
    slc = choose("slice", slice, SLICE_NAMES)
    if slc is not None and slc == vol:
        slc = None
    taken = {vol, slc}
    rp = choose("rpeak", rpeak, RPEAK_NAMES)
    if rp in taken and rpeak is None:
        rp = None
    taken.add(rp)

    # a volume-named stream at slice rate (e.g. R128 sent on every slice) is a slice stream
    if vol is not None and volume is None and unit == "s":
        med, _, _ = _spacing(onsets_of[vol], eps)
        if med is not None and med < _MIN_TR_S and slc is None:
            slc, vol = vol, None
            info.how["slice"] = "name (slice rate)"
            info.how.pop("volume", None)

    # regularity fallback for unnamed streams (e.g. a lab's own "T 1" pulse)
    if vol is None or slc is None:
        scale = 1.0 if unit == "s" else None
        stats = []
        for n in eligible:
            if n in taken or onsets_of[n].size < 10:
                continue
            med, regular, _ = _spacing(onsets_of[n], eps)
            if med is None or not regular:
                continue
            stats.append((onsets_of[n].size, n, med))
        stats.sort(reverse=True)
        if scale is not None:
            if vol is None:
                for _, n, med in stats:
                    if 0.3 <= med <= 30.0 and n != slc:
                        vol = n
                        info.how["volume"] = "regularity"
                        break
            if slc is None:
                for _, n, med in stats:
                    if 0.005 <= med < 0.3 and n != vol:
                        slc = n
                        info.how["slice"] = "regularity"
                        break

    if vol is not None:
        info.volume_name = vol
        info.volume_onsets = onsets_of[vol]
        info.volume_spacing, info.volume_regular, info.duplicates["volume"] = _spacing(info.volume_onsets, eps)
        info.gaps["volume"] = _gaps(info.volume_onsets, info.volume_spacing, eps)
    if slc is not None:
        info.slice_name = slc
        info.slice_onsets = onsets_of[slc]
        info.slice_spacing, info.slice_regular, info.duplicates["slice"] = _spacing(info.slice_onsets, eps)
        info.gaps["slice"] = _gaps(info.slice_onsets, info.slice_spacing, eps)
        info.slice_period = info.slice_spacing
    if rp is not None:
        info.rpeak_name = rp
        info.rpeak_onsets = onsets_of[rp]
        _, _, info.duplicates["rpeak"] = _spacing(info.rpeak_onsets, eps)

    info.tr = info.volume_spacing
    if info.volume_name is None and info.slice_name is not None and unit == "s":
        _volumes_from_slice_gaps(info, eps)  # sets slices_per_volume when it succeeds
    if info.slices_per_volume is not None:
        pass
    elif info.slice_onsets.size and info.volume_onsets.size >= 2:
        # slices per volume = median count of slice markers in each complete volume
        v = np.unique(info.volume_onsets)
        s = np.unique(info.slice_onsets)
        per = np.diff(np.searchsorted(s, v - eps / 2))
        if per.size:
            info.slices_per_volume = int(np.median(per)) or None
    elif info.slice_spacing and info.volume_spacing:
        info.slices_per_volume = int(round(info.volume_spacing / info.slice_spacing))
    return info
