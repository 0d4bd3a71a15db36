"""The acquisition timeline of an fMRI run: TR and the onsets of the slice slots.

A *slot* is one slice acquisition period within a volume: a single slice, or with
multiband a group of slices excited together. Slots may be unevenly spaced (dead time,
interleaving with pauses). The timeline comes from, in order of preference: a BIDS BOLD
sidecar (``SliceTiming``, ``MultibandAccelerationFactor``), slice triggers in the
recording, a given slice count (evenly spaced), or the signal itself (the
autocorrelation of the volume-averaged artifact).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError


@dataclass
class Acquisition:
    """Scanner timeline on the scanner clock.

    Attributes
    ----------
    tr : float
        Repetition time (s).
    slot_offsets : ndarray of float
        Onset of each slot relative to the volume start (s), increasing, first 0.
    n_slices : int
        Slices per volume (``n_slots * multiband``).
    multiband : int
        Slices excited together.
    source : str
        Where the slot timing came from (``sidecar``, ``slice-triggers``,
        ``slices-per-volume``, ``signal`` or ``volume``).
    """

    tr: float
    slot_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1))
    n_slices: int = 1
    multiband: int = 1
    source: str = "volume"

    @property
    def n_slots(self) -> int:
        """Number of slice slots per volume."""
        return int(len(self.slot_offsets))

    @property
    def slot_period(self) -> float:
        """Median spacing of slots (s); the TR when there is one slot."""
        if self.n_slots < 2:
            return float(self.tr)
        return float(np.median(np.diff(self.slot_offsets)))

    @property
    def slice_frequency(self) -> float:
        """Slot rate (Hz): the fundamental of the slice artifact."""
        return 1.0 / self.slot_period

    @property
    def dead_time(self) -> float:
        """Time at the end of each volume with no slice acquired (s)."""
        return (
            float(self.tr - self.slot_offsets[-1] - self.slot_period) if self.n_slots > 1 else 0.0
        )

    def qc(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "tr_s": float(self.tr),
            "n_slices": int(self.n_slices),
            "n_slots": self.n_slots,
            "multiband": int(self.multiband),
            "slot_period_s": self.slot_period,
            "dead_time_s": self.dead_time,
            "timing_source": self.source,
        }


def read_bold_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """Read a BIDS BOLD JSON sidecar (clear error when it is not one)."""
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable JSON sidecar ({exc})") from None
    if not isinstance(meta, dict):
        raise InputError(path, "not a JSON object")
    return meta


def from_sidecar(
    meta: dict[str, Any], tr: float | None = None, source: str | None = None
) -> Acquisition:
    """Timeline from a BIDS BOLD sidecar (``RepetitionTime``, ``SliceTiming``, multiband)."""
    tr = float(tr if tr is not None else meta.get("RepetitionTime", 0) or 0)
    if not tr > 0:
        raise InputError(source, "no RepetitionTime in the sidecar and no --tr given")
    st = meta.get("SliceTiming")
    mb = int(meta.get("MultibandAccelerationFactor", 1) or 1)
    if not st:
        return Acquisition(tr=tr, source="volume", multiband=mb)
    st = np.asarray(st, float)
    if np.any(st < 0) or np.any(st >= tr):
        raise InputError(source, f"SliceTiming values must lie in [0, TR={tr}) s")
    # slices excited together share a time (multiband); group to 0.1 ms
    slots = np.unique(np.round(st, 4))
    if mb == 1 and len(slots) < len(st):
        mb = int(round(len(st) / len(slots)))
    return Acquisition(
        tr=tr, slot_offsets=slots - slots[0], n_slices=len(st), multiband=mb, source="sidecar"
    )


def evenly_spaced(tr: float, n_slots: int, multiband: int = 1) -> Acquisition:
    """Timeline with ``n_slots`` evenly spaced slots filling the TR (no dead time)."""
    if n_slots < 1:
        raise InputError(None, f"slices per volume must be >= 1 (got {n_slots})")
    return Acquisition(
        tr=float(tr),
        slot_offsets=np.arange(n_slots) * (tr / n_slots),
        n_slices=n_slots * multiband,
        multiband=multiband,
        source="slices-per-volume",
    )


def from_slice_triggers(
    volume_onsets: np.ndarray | None, slice_onsets: np.ndarray, tr: float | None = None
) -> Acquisition:
    """Timeline from slice triggers (and volume triggers when there are any).

    The slot offsets are the median position of each slice trigger within its volume.
    Without volume triggers, volumes start after the longest gap (dead time) or, with
    evenly spaced slices, at the first slice trigger.
    """
    s = np.sort(np.asarray(slice_onsets, float))
    ds = np.diff(s)
    sp = float(np.median(ds))
    if volume_onsets is None or len(volume_onsets) < 2:
        # a volume boundary is a gap clearly longer than the slice spacing
        big = np.flatnonzero(ds > 1.5 * sp)
        if big.size == 0:
            if tr is None:
                return Acquisition(tr=sp, source="slice-triggers")
            n = int(round(tr / sp))
            return Acquisition(
                tr=float(tr), slot_offsets=np.arange(n) * sp, n_slices=n, source="slice-triggers"
            )
        volume_onsets = np.concatenate([[s[0]], s[big + 1]])
    v = np.sort(np.asarray(volume_onsets, float))
    tr_eeg = float(np.median(np.diff(v)))
    tr = float(tr) if tr is not None else tr_eeg
    # position of each slice trigger in its volume
    which = np.searchsorted(v, s + 1e-6 * sp, side="right") - 1
    ok = (which >= 0) & (which < len(v))
    rel = s[ok] - v[which[ok]]
    ok2 = rel < tr_eeg - 0.5 * sp
    rel, vol = rel[ok2], which[ok][ok2]
    counts = np.bincount(vol)
    n = int(np.median(counts[counts > 0]))
    full = np.flatnonzero(counts == n)
    per_slot = np.array([np.sort(rel[vol == k]) for k in full])
    offsets = np.median(per_slot, axis=0) * (tr / tr_eeg)
    # the offsets are quantised to samples: put them on the slice grid when they fit
    grid = np.round(offsets / sp) * sp * (tr / tr_eeg)
    if np.max(np.abs(grid - offsets)) < 0.25 * sp:
        offsets = grid
    return Acquisition(
        tr=tr, slot_offsets=offsets - offsets[0], n_slices=n, source="slice-triggers"
    )


def detect_slots(
    volume_template: np.ndarray,
    sfreq: float,
    tr: float,
    *,
    min_slots: int = 4,
    max_slots: int = 256,
) -> Acquisition:
    """Detect evenly spaced slots from a volume-averaged artifact (one channel or summed).

    The slot period is the first strong peak of the template's autocorrelation
    (within 90 % of the highest peak, to avoid picking a multiple).
    """
    x = np.asarray(volume_template, float)
    x = x - x.mean()
    n = x.size
    f = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(np.abs(f) ** 2)[:n]
    if ac[0] <= 0:
        return Acquisition(tr=tr, source="volume")
    ac = ac / ac[0]
    lo = max(int(n / max_slots), 2)
    hi = int(n / min_slots) + 1
    seg = ac[lo:hi]
    if seg.size < 3:
        return Acquisition(tr=tr, source="volume")
    peaks = np.flatnonzero((seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])) + 1
    if peaks.size == 0 or seg[peaks].max() < 0.3:
        return Acquisition(tr=tr, source="volume")
    best = seg[peaks].max()
    k = peaks[np.flatnonzero(seg[peaks] >= 0.9 * best)[0]]
    # parabolic refinement of the lag
    y0, y1, y2 = seg[k - 1], seg[k], seg[k + 1]
    den = y0 - 2 * y1 + y2
    lag = lo + k + (0.5 * (y0 - y2) / den if den != 0 else 0.0)
    period = lag / sfreq
    n_slots = int(np.floor(tr / period + 0.05))
    return Acquisition(
        tr=tr, slot_offsets=np.arange(n_slots) * period, n_slices=n_slots, source="signal"
    )
