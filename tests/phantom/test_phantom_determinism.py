"""Same seed, same bytes; a different seed, different data; cancel leaves nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from workbench.engine.errors import Cancelled, InputError
from workbench.engine.phantom import PhantomConfig, load_truth, simulate_study
from workbench.engine.progress import CancelToken, Progress

SMALL = dict(duration_s=8.0, tr=1.0, slices=12, n_head_points=30, chunk_s=3.0, t1_voxel_mm=4.0)


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("determinism")
    a = simulate_study(base / "a", PhantomConfig(seed=11, **SMALL))
    b = simulate_study(base / "b", PhantomConfig(seed=11, **SMALL))
    c = simulate_study(base / "c", PhantomConfig(seed=12, **SMALL))
    return a, b, c


def test_same_seed_gives_identical_files(pair):
    a, b, _ = pair
    ha, hb = _hashes(a), _hashes(b)
    assert set(ha) == set(hb) and len(ha) > 25
    assert ha == hb


def test_different_seed_gives_different_data(pair):
    a, _, c = pair
    ta, tc = load_truth(a), load_truth(c)
    for name in ("clean", "bcg", "gradient"):
        assert not np.array_equal(np.asarray(ta.arrays[name]), np.asarray(tc.arrays[name])), name
    assert not np.array_equal(ta.rpeaks[:5], tc.rpeaks[:5])
    assert not np.allclose(ta.head_mri_t, tc.head_mri_t)


def test_chunk_size_does_not_change_deterministic_parts(tmp_path):
    # filters carry state across chunks: the gradient artifact is continuous at the seams
    t = load_truth(simulate_study(tmp_path / "s", PhantomConfig(seed=11, **SMALL)))
    g = np.asarray(t.arrays["gradient"][3], dtype=float)
    seam = int(SMALL["chunk_s"] * t.sfreq)
    jump = abs(g[seam] - g[seam - 1])
    typical = np.percentile(np.abs(np.diff(g)), 99.9)
    assert jump <= typical


def test_cancel_leaves_nothing(tmp_path):
    token = CancelToken()
    calls = []

    def cb(fraction, message):
        calls.append(fraction)
        if fraction > 0.5:
            token.cancel()

    out = tmp_path / "study"
    with pytest.raises(Cancelled):
        simulate_study(out, PhantomConfig(seed=1, **SMALL), progress=Progress(cb, token))
    assert calls and max(calls) < 1.0
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no hidden partial folder either


def test_existing_folder_is_refused_then_overwritten(tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        simulate_study(out, PhantomConfig(seed=1, **SMALL))
    assert (out / "keep.txt").is_file()
    simulate_study(out, PhantomConfig(seed=1, **SMALL), overwrite=True)
    assert not (out / "keep.txt").exists()
    assert (out / "ground_truth" / "index.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["study"]


@pytest.mark.parametrize("kwargs, word", [
    ({"n_eeg": 16}, "n_eeg"), ({"slices": 30, "multiband": 4}, "divisible"),
    ({"tr": -1.0}, "tr"), ({"duration_s": 2.0}, "duration_s"), ({"drift_ppm": 5000.0}, "drift_ppm"),
    ({"missing_triggers": 100, "duration_s": 10.0}, "missing_triggers"),
])
def test_bad_settings_are_one_line_input_errors(kwargs, word):
    with pytest.raises(InputError) as err:
        PhantomConfig(**kwargs)
    assert word in str(err.value) and "\n" not in str(err.value)
