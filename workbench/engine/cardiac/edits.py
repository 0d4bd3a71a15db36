"""Hand edits of the R-peaks: a compact, replayable description of beats added and removed.

The user corrects the detector's beats in the GUI (add, remove, move). What is stored
and recorded in the provenance is the net difference to the detector's beats, as the
``cardiac`` step's ``beat_edits`` parameter, so ``workbench run`` re-detects the same
beats and applies the same edits: the corrected EEG is reproduced. A move is a removal
and an addition. The text form is::

    -12.34560 +12.35220 +40.00000

(``-T`` removes the detected beat nearest ``T`` s, which must lie within
:data:`MATCH_TOL_S`; ``+T`` adds a beat at ``T`` s; times from the first sample).
Written here, not taken from a library: it is the project's own replay format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = ["BeatEdits", "MATCH_TOL_S", "apply_edits", "diff_beats"]

#: a removal refers to the detected beat within this distance (s)
MATCH_TOL_S = 0.002
#: decimals of the stored times (10 µs: finer than any EEG sample)
DECIMALS = 5


@dataclass(frozen=True)
class BeatEdits:
    """Beats removed from and added to the detector's list (times in s from the first sample)."""

    removed: tuple[float, ...] = field(default_factory=tuple)
    added: tuple[float, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.removed or self.added)

    def to_text(self) -> str | None:
        """The parameter's text (``None`` when there is no edit)."""
        if not self:
            return None
        items = [(t, "-") for t in self.removed] + [(t, "+") for t in self.added]
        items.sort()
        return " ".join(f"{s}{t:.{DECIMALS}f}" for t, s in items)

    @classmethod
    def from_text(cls, text: str | None) -> BeatEdits:
        """Parse the parameter's text; a clear one-line error on anything else."""
        if text is None or not str(text).strip():
            return cls()
        removed: list[float] = []
        added: list[float] = []
        for tok in str(text).replace(",", " ").split():
            sign, rest = tok[0], tok[1:]
            try:
                t = float(rest)
            except ValueError:
                t = float("nan")
            if sign not in "+-" or not np.isfinite(t) or t < 0:
                raise InputError(None, f"parameter 'beat_edits': {tok!r} is not '+SECONDS' (add) or "
                                       "'-SECONDS' (remove)")
            (added if sign == "+" else removed).append(round(t, DECIMALS))
        return cls(tuple(sorted(removed)), tuple(sorted(added)))


def apply_edits(detected: np.ndarray, edits: BeatEdits, duration_s: float | None = None) -> np.ndarray:
    """The detector's beats with ``edits`` applied (sorted).

    Raises
    ------
    InputError
        A removal names no detected beat (the detection changed since the edits were
        made), or an added beat lies outside the recording.
    """
    t = np.asarray(detected, float)
    keep = np.ones(len(t), bool)
    for r in edits.removed:
        if len(t) == 0:
            raise InputError(None, f"beat edit -{r:.5f}: there are no detected beats to remove")
        d = np.abs(t - r)
        d[~keep] = np.inf
        i = int(np.argmin(d))
        if d[i] > MATCH_TOL_S:
            raise InputError(None, f"beat edit -{r:.5f}: no detected beat within {MATCH_TOL_S * 1e3:g} ms "
                                   f"(nearest {t[i]:.5f} s): the detection changed since the edits were made")
        keep[i] = False
    added = np.asarray(edits.added, float)
    if duration_s is not None and len(added) and (added.min() < 0 or added.max() > duration_s):
        bad = added[(added < 0) | (added > duration_s)][0]
        raise InputError(None, f"beat edit +{bad:.5f}: outside the recording (0-{duration_s:.3f} s)")
    return np.sort(np.concatenate([t[keep], added]))


def diff_beats(detected: np.ndarray, current: np.ndarray) -> BeatEdits:
    """The edits that turn ``detected`` into ``current`` (beats closer than 10 µs are the same)."""
    a = np.round(np.asarray(detected, float), DECIMALS)
    b = np.round(np.asarray(current, float), DECIMALS)
    ca = {float(v) for v in a}
    cb = {float(v) for v in b}
    return BeatEdits(tuple(sorted(ca - cb)), tuple(sorted(cb - ca)))
