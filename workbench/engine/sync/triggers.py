"""Validation and repair of scanner trigger trains (volume or slice triggers).

A trigger train from an MR scanner is a regular grid: one onset every period ``P``
(TR for volume triggers), possibly split into several runs with pauses (no scanning)
between them. Real recordings have duplicated markers (0 ms apart), extra markers off
the grid, missing markers and jitter. :func:`repair_triggers` puts every onset on an
integer grid index per run, drops duplicates and extras, fills missing onsets where
the gap is a whole number of periods, and refuses (``InputError``) when the train is
not a regular grid at all.

MNE has no equivalent (``realign_raw`` needs matched events; the gradient remover
raises on irregular spacing), so this is written here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError


@dataclass
class TriggerTrain:
    """A validated (and possibly repaired) trigger train.

    Attributes
    ----------
    onsets : ndarray of float, shape (n,)
        Onsets in seconds on the EEG clock, one per grid index; repaired (filled)
        onsets are placed by the per-run straight-line fit.
    index : ndarray of int, shape (n,)
        Grid index of each onset within its run (0, 1, 2, ...).
    run : ndarray of int, shape (n,)
        Run number of each onset (a new run starts after a pause without scanning).
    filled : ndarray of bool, shape (n,)
        True where the onset was missing and has been filled in.
    period : float
        Median period on the EEG clock (s).
    """

    onsets: np.ndarray
    index: np.ndarray
    run: np.ndarray
    filled: np.ndarray
    period: float
    n_input: int = 0
    n_duplicates: int = 0
    n_extra: int = 0
    n_missing: int = 0
    n_expected: int | None = None
    jitter_s: float = 0.0
    max_deviation_s: float = 0.0
    dropped: list[float] = field(default_factory=list)

    @property
    def n_runs(self) -> int:
        """Number of runs (scanning blocks separated by pauses)."""
        return int(self.run.max()) + 1 if self.run.size else 0

    @property
    def n_triggers(self) -> int:
        """Number of onsets after repair."""
        return int(self.onsets.size)

    def qc(self) -> dict[str, Any]:
        """The QC fields of DESIGN §6 (JSON-ready)."""
        d = asdict(self)
        for key in ("onsets", "index", "run", "filled", "dropped"):
            d.pop(key)
        d.update(
            n_triggers=self.n_triggers,
            n_runs=self.n_runs,
            n_repaired=int(self.n_duplicates + self.n_extra + self.n_missing),
            jitter_us=self.jitter_s * 1e6,
            count_matches=None if self.n_expected is None else self.n_triggers == self.n_expected,
        )
        return d


def repair_triggers(
    onsets: np.ndarray,
    period: float | None = None,
    *,
    tol: float = 0.1,
    max_missing: int = 5,
    n_expected: int | None = None,
    duplicate_s: float = 1e-3,
    min_run: int = 5,
    name: str = "triggers",
    source: str | None = None,
) -> TriggerTrain:
    """Validate a trigger train and repair what is unambiguous.

    Parameters
    ----------
    onsets : array of float
        Trigger onsets in seconds (any order).
    period : float | None
        Expected period on the EEG clock (s); the median spacing when None.
    tol : float
        Largest deviation from the grid, as a fraction of the period, for an onset
        to count as on the grid (default 0.1). Onsets further off are "extra".
    max_missing : int
        A gap of up to this many missing periods is filled; a longer gap starts a
        new run (a pause in scanning).
    n_expected : int | None
        The number of volumes the scanner acquired (e.g. from the BOLD file), for QC.
    duplicate_s : float
        Onsets closer than this to the previous one are duplicates.
    min_run : int
        A block of fewer regular triggers on its own grid (between pauses or phase
        jumps) is not believable as a scanner run: the train is refused.
    name, source : str
        Used in error messages (the trigger name and the file).

    Returns
    -------
    TriggerTrain

    Raises
    ------
    InputError
        When there are fewer than 3 triggers, or the onsets are not a regular grid
        (more than a fifth of them off the grid, or a gap that is not a whole number
        of periods).
    """
    t = np.sort(np.asarray(onsets, dtype=float).ravel())
    n_in = t.size
    if n_in < 3:
        raise InputError(source, f"only {n_in} {name!r} trigger(s) found; need at least 3")
    if not np.all(np.isfinite(t)):
        raise InputError(source, f"{name!r} trigger onsets contain NaN or infinite values")
    # 1. duplicates: markers (almost) on top of each other
    keep = np.ones(n_in, bool)
    keep[1:] = np.diff(t) > duplicate_s
    n_dup = int(n_in - keep.sum())
    t = t[keep]
    d = np.diff(t)
    if period is None:
        period = float(np.median(d))
    period = float(period)
    if not period > 0:
        raise InputError(source, f"{name!r} triggers have no positive spacing")
    # 2. walk the train, giving each onset a grid index relative to the last good one;
    # start from the first onset followed by one regular spacing (an extra trigger at
    # the very start must not shift the whole grid)
    run = np.zeros(t.size, int)
    idx = np.zeros(t.size, int)
    good = np.ones(t.size, bool)
    regular = np.flatnonzero(np.abs(d / period - 1.0) <= tol)
    if regular.size == 0:
        raise InputError(
            source,
            f"{name!r} triggers are irregular: no two consecutive onsets are {period:.4f} s "
            "apart; give the right trigger name or TR",
        )
    anchor = int(regular[0])
    for j in range(anchor - 1, -1, -1):  # onsets before the anchor, walking backwards
        m = (t[anchor] - t[j]) / period
        k = int(round(m))
        good[j] = k >= 1 and abs(m - k) <= tol and k - 1 <= max_missing
        idx[j] = -k
    last = anchor
    for i in range(anchor + 1, t.size):
        m = (t[i] - t[last]) / period
        k = int(round(m))
        if k >= 1 and abs(m - k) <= tol * max(1.0, k**0.5):
            if k - 1 > max_missing:  # a pause: new run
                run[i], idx[i] = run[last] + 1, 0
            else:
                run[i], idx[i] = run[last], idx[last] + k
            last = i
        elif k == 0 and abs(m) <= tol:
            # a second onset in the last one's slot (a trigger that bounced, or an extra
            # one near a volume): the one nearer the grid the run's onsets before predict
            # is kept. Without this the later one, followed by regular onsets, was taken
            # for a restart with a new phase: a first block shorter than ``min_run`` made
            # the whole train refused (a 1.4 ms double trigger at the third volume), and an
            # extra marker 0.07 s before a volume, taken for it, gave a run with one volume
            # too many and the onsets after it a TR off
            ref = np.flatnonzero(good[:last] & (run[:last] == run[last]))
            if ref.size:
                p = int(ref[-1])
                pred = t[p] + period * (idx[last] - idx[p])
            elif i + 1 < t.size and abs((t[i + 1] - t[i]) / period - 1.0) <= tol:
                pred = t[i + 1] - period
            else:
                pred = t[last]
            if abs(t[i] - pred) < abs(t[last] - pred):
                good[last] = False
                run[i], idx[i] = run[last], idx[last]
                last = i
            else:
                good[i] = False
        elif k > max_missing + 1 or _starts_regular(t, i, period, tol):
            # a pause, or a restart with a new phase (off the old grid, but the onsets
            # that follow are regular): a new run
            run[i], idx[i] = run[last] + 1, 0
            last = i
        else:
            good[i] = False
    first_run = (run == 0) & good
    idx[run == 0] -= idx[first_run].min()
    n_extra = int((~good).sum())
    if n_extra > max(2, 0.2 * t.size):
        spacing = np.unique(np.round(d, 4))[:8]
        raise InputError(
            source,
            f"{name!r} triggers are irregular and cannot be repaired unambiguously: "
            f"{n_extra} of {t.size} are off a {period:.4f} s grid (spacings seen: "
            f"{', '.join(f'{s:g}' for s in spacing)} s); give the right trigger name or TR",
        )
    dropped = t[~good].tolist()
    t, idx, run = t[good], idx[good], run[good]
    sizes = np.bincount(run)
    if sizes.size > 1 and sizes.min() < min_run:
        r = int(np.argmin(sizes))
        raise InputError(
            source,
            f"{name!r} triggers are irregular and cannot be repaired unambiguously: a block of only "
            f"{sizes[r]} trigger(s) off the {period:.4f} s grid of the others (at {t[run == r][0]:.3f} s); "
            "give the right trigger name or TR",
        )
    # 3. per run: straight line through (index, onset); fill the missing indices
    out_t, out_i, out_r, out_f = [], [], [], []
    resid = []
    n_missing = 0
    for r in np.unique(run):
        sel = run == r
        ti, ii = t[sel], idx[sel]
        if ti.size >= 2:
            slope, icpt = np.polyfit(ii, ti, 1)
        else:
            slope, icpt = period, ti[0] - period * ii[0]
        full = np.arange(ii.max() + 1)
        have = np.zeros(full.size, bool)
        have[ii] = True
        tt = slope * full + icpt
        tt[ii] = ti
        n_missing += int((~have).sum())
        resid.append(ti - (slope * ii + icpt))
        out_t.append(tt)
        out_i.append(full)
        out_r.append(np.full(full.size, r))
        out_f.append(~have)
    res = np.concatenate(resid) if resid else np.zeros(0)
    return TriggerTrain(
        onsets=np.concatenate(out_t),
        index=np.concatenate(out_i),
        run=np.concatenate(out_r),
        filled=np.concatenate(out_f),
        period=period,
        n_input=n_in,
        n_duplicates=n_dup,
        n_extra=n_extra,
        n_missing=n_missing,
        n_expected=n_expected,
        jitter_s=float(np.std(res)) if res.size > 2 else 0.0,
        max_deviation_s=float(np.max(np.abs(res))) if res.size else 0.0,
        dropped=dropped,
    )


def _starts_regular(t: np.ndarray, i: int, period: float, tol: float, n: int = 3) -> bool:
    """True when ``t[i]`` is followed by ``n`` onsets exactly one period apart."""
    if i + n >= t.size:
        return False
    d = np.diff(t[i : i + n + 1]) / period
    return bool(np.all(np.abs(d - 1.0) <= tol))
