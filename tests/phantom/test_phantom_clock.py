"""Clock drift is recoverable from the volume triggers MNE reads from the file."""

from __future__ import annotations

import numpy as np


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
