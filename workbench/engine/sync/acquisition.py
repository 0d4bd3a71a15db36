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
    detection : dict
        With ``source == "signal"``: how the slot count was inferred and how clear it
        was (``method``, ``score``, ``runner_up_slots``, ``runner_up_score``,
        ``ambiguous``). Empty otherwise.
    """

    tr: float
    slot_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1))
    n_slices: int = 1
    multiband: int = 1
    source: str = "volume"
    detection: dict[str, Any] = field(default_factory=dict)

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
            **({"slot_detection": dict(self.detection)} if self.detection else {}),
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


_AMBIGUOUS = (
    "slices per volume are ambiguous from the signal alone ({} or {} slots fit about as "
    "well); give the BOLD sidecar with SliceTiming or the number of slices per volume"
)

_ALIASED = (
    "slices per volume from the signal: {n} slots of {ms:.0f} ms; at {sf:g} Hz an aliased artifact "
    "repeats after a whole number of samples that can span several slices (35 slices in 2 s "
    "repeat every 7 at 1 kHz), so the true count may be a multiple of {n}: give the slices per "
    "volume or the BOLD sidecar for the slice-harmonic figures"
)

#: shortest plausible slice slot (s): one EPI excitation and its readout
MIN_SLOT_S = 0.015

#: a slice-harmonic comb explaining this much of the power is taken without looking for
#: dead time (evenly spaced slots score 0.97-1.0)
CLEAR_COMB = 0.8

#: below this rate the slice artifact is aliased (as in the gradient correction's alias model)
_ALIAS_RATE_HZ = 2000.0


def _aliased_divisor(n_samples: int, n_slots: int, sfreq: float, tr: float) -> bool:
    """Whether a slot count found from the spectrum may be a divisor of the true one.

    An acquisition of ``N`` evenly spaced slots, sampled at a rate too low for its artifact
    (below 2 kHz), puts its aliased power on every multiple of ``gcd(N, S)`` bins, ``S``
    the samples per TR: the sampled artifact repeats after a whole number of samples that
    spans several slices (35 slices / 2 s at 1 kHz: 400 samples, 7 slices), and no
    spectral test on one TR can tell ``gcd(N, S)`` slots from ``N``. That is flagged when
    the detected slot is a whole number of samples and longer than the 100 ms an EPI slice
    slot rarely exceeds; a true count is then flagged only for slots that long.
    """
    if sfreq >= _ALIAS_RATE_HZ or n_slots < 1:
        return False
    per = n_samples / n_slots
    return bool(abs(per - round(per)) < 0.01 and tr / n_slots > 0.1)


def detect_slots(
    volume_template: np.ndarray,
    sfreq: float,
    tr: float,
    *,
    min_slots: int = 4,
    max_slots: int = 256,
) -> Acquisition:
    """Detect slots from a volume-averaged artifact (one channel or summed).

    ``volume_template`` covers one TR (its length in samples is the TR on the EEG clock),
    so its spectrum lies on the bins ``k / TR``. Evenly spaced identical slots filling the
    TR put all of it on the bins that are multiples of the slot count ``n`` (the slice
    harmonics); the count is the largest ``n`` whose harmonics hold nearly all the power
    its best divisor holds (a divisor of the true count always scores as high; twice the
    count keeps only the even slice harmonics). This does not depend on the fine
    structure of the artifact: the autocorrelation of an EPI artifact has a comb of
    near-equal peaks one echo spacing apart around the slot lag, and picking one of them
    gave a wrong period (31 slots at 15.9 Hz instead of 30 at 15 Hz at 5 kHz).

    With dead time at the end of the TR the power is not on those bins; the slot period
    is then the lag that best repeats the template over all the slots (refined on a
    fractional-sample grid around the autocorrelation's first strong peak), and the slot
    count is the number of periods holding artifact. The result's ``detection`` says how
    clear the choice was (``score``: fraction of the power explained; ``runner_up``);
    below 2 kHz a count that may be a divisor of the true one because the artifact is
    aliased is flagged (``aliased``, ``ambiguous`` and a ``note``).
    """
    x = np.asarray(volume_template, float)
    x = x - x.mean()
    n = x.size
    if n < 8 or not np.any(x):
        return Acquisition(tr=tr, source="volume")
    pw = np.abs(np.fft.rfft(x)) ** 2
    pw[0] = 0.0
    total = float(pw.sum())
    if total <= 0:
        return Acquisition(tr=tr, source="volume")
    # an EPI slice (one excitation and its readout) takes at least ~15 ms: more slots per TR
    # than that are not slices (the readout's own comb scored as 200 "slots" per 1 s TR)
    max_slots = max(min(max_slots, int(tr / MIN_SLOT_S)), min_slots)
    hi_n = min(max_slots, pw.size - 1)
    cands = np.arange(max(min_slots, 1), hi_n + 1)
    comb: Acquisition | None = None
    if cands.size:
        score = np.array([pw[c::c].sum() / total for c in cands])
        best = float(score.max())
        if best >= 0.5:
            ok = np.flatnonzero(score >= 0.85 * best)
            i = int(ok[-1])
            n_slots = int(cands[i])
            # the next-best count that is not a divisor of the chosen one (ambiguity)
            others = [
                (float(score[j]), int(cands[j]))
                for j in range(cands.size)
                if n_slots % int(cands[j]) and int(cands[j]) != n_slots
            ]
            ru = max(others) if others else (0.0, 0)
            det = {
                "method": "slice-harmonic comb (no dead time)",
                "score": float(score[i]),
                "runner_up_slots": ru[1],
                "runner_up_score": ru[0],
                "ambiguous": bool(ru[0] >= 0.8 * float(score[i])),
            }
            if det["ambiguous"]:
                det["note"] = _AMBIGUOUS.format(n_slots, ru[1])
            elif _aliased_divisor(n, n_slots, sfreq, tr):
                det["ambiguous"] = True
                det["aliased"] = True
                det["note"] = _ALIASED.format(n=n_slots, ms=1000.0 * tr / n_slots, sf=sfreq)
            comb = Acquisition(
                tr=tr,
                slot_offsets=np.arange(n_slots) * (tr / n_slots),
                n_slices=n_slots,
                source="signal",
                detection=det,
            )
            if det["score"] >= CLEAR_COMB:
                return comb
    # with dead time the comb explains only part of the power (multiband 3, 16 slots in
    # 0.88 s of a 1 s TR: 0.51, and 4 or 50 "slots" scored alike); the slot-lag search
    # then finds the slots (16 at 18.18 Hz, score 0.74) and the better explanation is kept
    dead = _detect_slots_dead_time(x, pw, sfreq, tr, min_slots, max_slots)
    if comb is None or (dead.source == "signal" and dead.detection["score"] > comb.detection["score"]):
        return dead
    return comb


def _circular_ac(pw: np.ndarray, n: int, lags: np.ndarray) -> np.ndarray:
    """Normalised circular autocorrelation of a length-``n`` signal with one-sided power
    spectrum ``pw`` (DC removed) at fractional ``lags`` (samples)."""
    k = np.arange(pw.size)
    w = pw.copy()
    if n % 2 == 0 and w.size > 1:
        w[-1] *= 0.5  # the Nyquist bin is counted once
    out = np.cos(2 * np.pi * np.outer(np.asarray(lags, float), k) / n) @ w
    return out / w.sum()


def _detect_slots_dead_time(
    x: np.ndarray, pw: np.ndarray, sfreq: float, tr: float, min_slots: int, max_slots: int
) -> Acquisition:
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
    lag0 = float(lo + peaks[np.flatnonzero(seg[peaks] >= 0.9 * best)[0]])
    # the first strong peak can be one of a comb of fine-structure peaks (EPI echo
    # spacing) around the slot lag: search +-15 % around it for the lag that repeats
    # the template best over every slot (mean circular autocorrelation at its multiples)
    grid = np.arange(0.85 * lag0, 1.15 * lag0, 0.1)
    grid = grid[grid >= 2]
    tot = np.zeros(grid.size)
    for i, g in enumerate(grid):
        # multiples up to half the TR: longer lags wrap the slots onto the dead time and
        # pulled the period off by up to 3 % (16 slots in 0.6 s of a 1 s TR: 25.8 Hz, not 26.7)
        m = np.arange(1, max(int(0.5 * n // g), 2))
        tot[i] = _circular_ac(pw, n, m * g).mean()
    i = int(np.argmax(tot))
    lag = float(grid[i])
    # slots: the periods that hold artifact (the rest of the TR is dead time)
    n_max = max(int(np.floor(n / lag + 0.05)), 1)
    energy = np.array(
        [np.sum(x[int(round(j * lag)) : int(round((j + 1) * lag))] ** 2) for j in range(n_max)]
    )
    n_slots = int(np.sum(energy >= 0.25 * np.median(energy))) if energy.size else 1
    n_slots = max(1, min(n_slots, n_max))
    period = lag / n * tr  # a fraction of the template (one TR) -> scanner seconds
    return Acquisition(
        tr=tr,
        slot_offsets=np.arange(n_slots) * period,
        n_slices=n_slots,
        source="signal",
        detection={
            "method": "slot-lag search (dead time)",
            "score": float(tot[i]),
            "runner_up_slots": 0,
            "runner_up_score": 0.0,
            "ambiguous": bool(tot[i] < 0.6),
            **({"note": _AMBIGUOUS.format(n_slots, "another number of")} if tot[i] < 0.6 else {}),
        },
    )
