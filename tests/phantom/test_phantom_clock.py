"""Clock drift is recoverable from the volume triggers MNE reads from the file."""

from __future__ import annotations

import numpy as np
import pytest


def test_drift_recovered_from_trigger_times(raw, truth, study_config):
    cfg = study_config
    ann = raw.annotations[np.array(raw.annotations.description) == "Response/R128"]
    t = np.asarray(ann.onset)
    # match triggers to volumes on the nominal TR grid; reject off-grid (spurious) ones
    k = np.round((t - t[0]) / cfg.tr)
    resid = (t - t[0]) - k * cfg.tr
    good = np.abs(resid - np.median(resid)) < 0.01
    assert (~good).sum() == cfg.extra_triggers
    slope, icpt = np.polyfit(k[good] * cfg.tr, t[good], 1)
    ppm = (slope - 1.0) * 1e6
    assert abs(ppm - cfg.drift_ppm) < 3.0
    assert abs(truth.drift_ppm - cfg.drift_ppm) < 1e-9
    # the missing volumes are the gaps in k
    missing = sorted(set(range(int(k[good].max()) + 1)) - set(k[good].astype(int)))
    assert missing == sorted(truth.triggers["missing_volumes"].tolist())
    # intercept: scanning started at beta (within the one-sample marker quantisation)
    assert -1e-9 <= icpt - truth.beta < 2.0 / cfg.sfreq


def test_accumulated_mismatch_matches_the_ppm(truth, study_config):
    cfg = study_config
    span = truth.triggers["true_mri"][-1]
    mismatch = truth.triggers["true_eeg"][-1] - truth.beta - span
    np.testing.assert_allclose(mismatch, span * cfg.drift_ppm * 1e-6, rtol=1e-9)


def test_trigger_jitter_missing_and_extra_follow_the_config():
    from workbench.engine.phantom import PhantomConfig
    from workbench.engine.phantom.clock import make_timeline, make_triggers

    cfg = PhantomConfig(duration_s=400.0, tr=2.0, drift_ppm=-30.0, trigger_jitter_s=2e-4,
                        missing_triggers=5, extra_triggers=3, sfreq=5000.0)
    rng = np.random.default_rng(0)
    tl = make_timeline(cfg, rng)
    trig = make_triggers(cfg, tl, rng)
    real = trig.recorded_volume >= 0
    assert real.sum() == cfg.n_volumes - 5 and (~real).sum() == 3
    assert 0 not in trig.missing_volumes
    err = trig.recorded_eeg[real] - trig.true_eeg[trig.recorded_volume[real]]
    # jitter SD plus the (uniform, one-sample) marker quantisation
    expected = np.sqrt(cfg.trigger_jitter_s ** 2 + (1 / cfg.sfreq) ** 2 / 12)
    assert abs(err.std() - expected) < 0.25 * expected
    # true times on the two clocks obey t_EEG = alpha t_MRI + beta with alpha < 1 here
    np.testing.assert_allclose(trig.true_eeg, tl.alpha * trig.true_mri + tl.beta)
    assert tl.alpha == pytest.approx(1 - 30e-6)
    # beta has a random sub-sample part: scanning does not start on a sample
    assert 0.01 < (tl.beta * cfg.sfreq) % 1 < 0.99
