"""Trigger-train validation and repair against known edits of a regular grid."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.engine.sync import repair_triggers

TR = 2.0


def grid(n: int = 100, t0: float = 3.0, period: float = TR * (1 + 20e-6)) -> np.ndarray:
    return t0 + period * np.arange(n)


def test_clean_train_is_untouched() -> None:
    t = grid()
    tr = repair_triggers(t)
    assert tr.n_triggers == 100 and tr.n_missing == tr.n_extra == tr.n_duplicates == 0
    np.testing.assert_allclose(tr.onsets, t)
    assert tr.n_runs == 1


def test_missing_extra_duplicates_are_repaired() -> None:
    t = grid()
    edited = np.delete(t, [10, 11, 50, 99])  # 3 inside (filled) + the last one (not knowable)
    edited = np.sort(np.concatenate([edited, [t[30] + 0.37 * TR, t[70], t[70] + 2e-4]]))
    tr = repair_triggers(edited, n_expected=100)
    assert tr.n_missing == 3
    assert tr.n_extra == 1
    assert tr.n_duplicates == 2  # the copy of t[70] and the one 0.2 ms after it
    assert tr.n_triggers == 99
    np.testing.assert_allclose(tr.onsets, t[:99], atol=1e-9)
    assert set(np.flatnonzero(tr.filled)) == {10, 11, 50}
    assert tr.qc()["count_matches"] is False


@pytest.mark.parametrize("where", [2, 40])
def test_a_trigger_that_bounces_or_an_extra_one_near_a_volume_is_dropped(where: int) -> None:
    """A second trigger in a volume's slot: 1.4 ms after the volume's own one (past the
    1 ms duplicate window), and another 0.14 s before a volume (within the grid's 0.1-TR
    tolerance, so it was taken for that volume). Found by
    ``benchmarks/bench_gradient_sweep.py``: the later of each pair, followed by regular
    onsets, was taken for a restart with a new phase. The bounce at volume 2 left a first
    block of 3 and the train was refused; the extra one was kept as a volume and the
    train accepted with one volume too many and the onsets after it a TR off."""
    t = grid(60)
    edited = np.sort(np.concatenate([t, [t[where] + 1.4e-3, t[50] - 0.14]]))
    tr = repair_triggers(edited)
    assert tr.n_extra == 2 and tr.n_runs == 1 and tr.n_missing == 0
    np.testing.assert_allclose(tr.onsets, t, atol=1e-9)


def test_extra_first_trigger_does_not_shift_the_grid() -> None:
    t = grid(50)
    tr = repair_triggers(np.concatenate([[t[0] - 0.6 * TR], t]))
    assert tr.n_extra == 1 and tr.n_triggers == 50
    np.testing.assert_allclose(tr.onsets, t)


def test_pause_starts_a_new_run() -> None:
    a = grid(30, 3.0)
    b = grid(30, a[-1] + 37.3)  # scanner restarted after a pause with a new phase
    tr = repair_triggers(np.concatenate([a, b]))
    assert tr.n_runs == 2 and tr.n_missing == 0 and tr.n_extra == 0
    assert (tr.run == 1).sum() == 30


def test_jitter_is_measured() -> None:
    rng = np.random.default_rng(1)
    t = grid() + rng.normal(0, 100e-6, 100)
    tr = repair_triggers(t)
    assert 60e-6 < tr.jitter_s < 140e-6


@pytest.mark.parametrize(
    "onsets",
    [
        np.cumsum(np.random.default_rng(0).uniform(0.5, 3.0, 60)),  # no period at all
        np.concatenate([grid(20), grid(20)[-1] + 0.5 * TR + TR * np.arange(1, 5), grid(20, 100)]),
    ],
)
def test_irregular_trains_are_refused(onsets: np.ndarray) -> None:
    with pytest.raises(InputError, match="irregular"):
        repair_triggers(onsets, name="R128", source="x.vhdr")


def test_too_few_triggers() -> None:
    with pytest.raises(InputError, match="at least 3"):
        repair_triggers([1.0, 3.0])
