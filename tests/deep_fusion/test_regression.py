"""deep-fusion's regression tasks against the simulated truth: the trial amplitude
(task ``amplitude``, both modalities) and an ROI's BOLD from the EEG alone (``roi-bold``)
are recovered above the mean predictor under leave-subjects-out CV, a shuffled target is
not (R² about 0 or below), and the simulation's ROI BOLD depends on the trial amplitude
as declared (through the HRF, plus overlap and noise)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench_deep_fusion.cv import cross_validate, pearson_r, r2_score, score_models  # noqa: E402
from workbench_deep_fusion.data import check_regression  # noqa: E402
from workbench_deep_fusion.train import TrainConfig  # noqa: E402

CFG = TrainConfig(epochs=20, patience=5, seed=2)


def _run(d, task, y, models):
    data = check_regression(d.eeg, d.fmri, y, d.groups, task)
    res = cross_validate(data, models, {"latent": 8}, CFG, n_folds=0)
    return res, score_models(res, data.y, data.groups, n_boot=300, seed=0)


def test_metrics_are_sklearns_and_scipys():
    from scipy.stats import pearsonr
    from sklearn.metrics import r2_score as sk_r2

    rng = np.random.default_rng(3)
    y = rng.standard_normal(300)
    for p in (y + rng.standard_normal(300), np.full(300, y.mean() + 0.3), -y):
        assert r2_score(y, p) == pytest.approx(sk_r2(y, p), abs=1e-12)
        if np.ptp(p) > 0:
            assert pearson_r(y, p) == pytest.approx(pearsonr(y, p)[0], abs=1e-12)


def test_simulated_roi_bold_follows_the_trial_amplitude(small_cohort):
    d = small_cohort
    own, clean = d.truth["roi_bold_own"], d.truth["roi_bold_clean"]
    vis = d.labels == "visual"  # the target ROI (visual cortex) responds to visual trials only
    assert d.truth["target_roi"] == "visual_cortex"
    assert np.all(own[~vis] == 0) and np.all(own[vis] > 0)
    for s in np.unique(d.groups):  # own response = amplitude x a subject's constant (HRF x voxel weights)
        sel = vis & (d.groups == s)
        ratio = own[sel] / d.amplitudes[sel]
        assert np.ptp(ratio) < 0.1 * ratio.mean(), s
    # the measured target is the clean one plus BOLD noise; the trial's own response explains
    # part of it (the rest: overlap of neighbouring trials in the rapid design)
    assert np.corrcoef(d.roi_bold, clean)[0, 1] > 0.9
    assert 0.2 < d.truth["roi_bold_r2_own"] < 0.8
    # the feature columns of the target ROI average to the target
    assert np.allclose(d.fmri[:, :4].mean(axis=1), d.roi_bold, atol=1e-6)


def test_amplitude_recovered_above_the_mean_predictor(small_cohort):
    d = small_cohort
    res, sc = _run(d, "amplitude", d.amplitudes, ["late", "eeg_only"])
    assert res.models == ["late", "eeg_only", "linear", "mean"]
    mean_r2 = sc["mean"]["both"]["r2"]
    assert -0.05 < mean_r2 <= 0.0  # out of fold, the training mean is slightly worse than the test mean
    for m in ("late", "eeg_only", "linear"):
        s = sc[m]["both"]
        assert s["r2"] > 0.25 and s["r2"] > mean_r2 + 0.25, (m, s)
        assert s["pearson_r"] > 0.5 and s["ci95"][0] > 0, (m, s)
    # predictions are in the target's units (mapped back from the standardised target)
    p = res.proba["eeg_only"]["both"]
    assert abs(p.mean() - d.amplitudes.mean()) < 0.2 and 0.3 < p.std() / d.amplitudes.std() < 1.5
    # late fusion without the fMRI is its EEG branch: still predicts
    assert sc["late"]["without_fmri"]["r2"] > 0.15
    assert "vs_linear" in sc["late"] and "vs_linear" not in sc["mean"]


def test_roi_bold_from_the_eeg_above_the_mean_predictor_and_below_the_truth(small_cohort):
    d = small_cohort
    res, sc = _run(d, "roi-bold", d.roi_bold, ["eeg_only"])
    assert res.models == ["eeg_only", "linear", "mean"]
    ceiling = d.truth["roi_bold_r2_own"]  # what the trial's true amplitude and condition explain
    for m in ("eeg_only", "linear"):
        s = sc[m]["both"]
        assert 0.05 < s["r2"] < ceiling, (m, s["r2"], ceiling)
        assert s["r2"] > sc["mean"]["both"]["r2"] + 0.05
        assert sc[m]["without_fmri"] is None and sc[m]["without_eeg"] is None  # the EEG is the only input


def test_shuffled_target_scores_no_better_than_the_mean(small_cohort):
    d = small_cohort
    y = np.random.default_rng(11).permutation(d.roi_bold)
    _, sc = _run(d, "roi-bold", y, ["eeg_only"])
    for m in ("eeg_only", "linear", "mean"):
        assert sc[m]["both"]["r2"] < 0.03, (m, sc[m]["both"])
        assert sc[m]["both"]["ci95"][0] < 0
