"""Design matrices against SPM's own (spm_dmtx.npz) and nilearn's; modulator properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from workbench_parametric_modulation.design import build_design, cosine_drift

CONDITIONS = ["c0", "c0", "c0", "c1", "c1", "c1", "c2", "c2", "c2"]
ONSETS = [30, 50, 70, 10, 30, 80, 30, 40, 60]


def _rel_sse(ref: np.ndarray, X: np.ndarray) -> float:
    return float(((ref - X) ** 2).sum() / (ref**2).sum())


@pytest.mark.parametrize(("key", "duration"), [("arr_0", 0.0), ("arr_1", 10.0)])
@pytest.mark.filterwarnings("ignore:The following conditions contain events with null duration")
def test_design_matches_spm_by_nilearns_criterion(test_data, key, duration):
    """nilearn's test_spm_1/2 criterion: relative SSE < 0.1 (ours is SPM-exact)."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    ref = np.load(test_data / "reference" / "spm_dmtx.npz")[key]
    events = pd.DataFrame({"trial_type": CONDITIONS, "onset": ONSETS, "duration": duration})
    # SPM samples at microtime bin fMRI_T0 = 1 of 16, i.e. 1/16 TR after the volume start
    ours = build_design(events, 100, 1.0, sample_offset=1 / 16, high_pass=0).to_numpy()
    assert ours.shape == ref.shape
    assert _rel_sse(ref, ours) < 0.1
    assert _rel_sse(ref, ours) < 1e-6  # in fact equal: same HRF, same microtime scheme
    theirs = make_first_level_design_matrix(np.arange(100.0), events, drift_model=None)
    assert _rel_sse(ref, ours) < _rel_sse(ref, theirs.to_numpy())


def test_cosine_drift_equals_spm(test_data):
    ref = np.load(test_data / "reference" / "spm_dmtx.npz")["cosbf_dt_1_nt_20_hcut_0p1"]
    np.testing.assert_allclose(cosine_drift(np.arange(20.0), 0.1), ref[:, 1:], atol=1e-12)


def _events(rng, n=24):
    onsets = np.sort(rng.uniform(5, 280, n))
    return pd.DataFrame({"onset": onsets, "duration": 0.0, "trial_type": "stim"}), rng.normal(
        3, 1, n
    )


def test_modulator_is_centred_and_orthogonalised_by_default():
    rng = np.random.default_rng(0)
    events, values = _events(rng)
    X = build_design(events, 150, 2.0, modulated="stim", modulator=values)
    main, mod = X["stim"].to_numpy(), X["stim_x_mod"].to_numpy()
    assert abs(main @ mod) < 1e-10 * np.linalg.norm(main) * np.linalg.norm(mod)
    # only centred (no orthogonalisation): nearly orthogonal already for sticks
    Xc = build_design(events, 150, 2.0, modulated="stim", modulator=values, orthogonalize=False)
    assert abs(np.corrcoef(Xc["stim"], Xc["stim_x_mod"])[0, 1]) < 0.5
    # neither: the modulated regressor is mostly the main effect again (nilearn's situation)
    Xn = build_design(
        events, 150, 2.0, modulated="stim", modulator=values, center=False, orthogonalize=False
    )
    assert np.corrcoef(Xn["stim"], Xn["stim_x_mod"])[0, 1] > 0.9


@pytest.mark.filterwarnings("ignore:The following conditions contain events with null duration")
def test_uncentred_modulator_is_nilearns_modulation_column():
    """Documents the difference: nilearn's `modulation` scales events, nothing more."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    rng = np.random.default_rng(1)
    events, values = _events(rng)
    ours = build_design(
        events,
        150,
        2.0,
        modulated="stim",
        modulator=values,
        center=False,
        orthogonalize=False,
        high_pass=0,
    )["stim_x_mod"]
    nl = make_first_level_design_matrix(
        np.arange(150) * 2.0, events.assign(modulation=values), hrf_model="spm", drift_model=None
    )["stim"]
    assert np.corrcoef(ours, nl)[0, 1] > 0.99


def test_per_slice_sampling_shifts_the_regressor():
    rng = np.random.default_rng(2)
    events, _ = _events(rng)
    early = build_design(events, 150, 2.0, sample_offset=0.0)["stim"].to_numpy()
    late = build_design(events, 150, 2.0, sample_offset=1.0)["stim"].to_numpy()
    fine = build_design(events, 300, 1.0, sample_offset=0.0)["stim"].to_numpy()  # 1 s grid
    # sampled 1 s into the volume = the odd samples of a 1 s grid (up to microtime rounding)
    assert np.abs(late - fine[1::2]).max() < 0.05 * fine.max()
    assert np.abs(early - fine[1::2]).max() > 4 * np.abs(late - fine[1::2]).max()
