"""Shared small cohort for the deep-fusion tests (simulated once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_cohort():
    """4 subjects x 48 trials, one head model, half the default EEG noise: a separable cohort."""
    pytest.importorskip("torch")
    from workbench_deep_fusion.simulate import simulate

    return simulate(n_subjects=4, n_trials=48, n_heads=1, seed=0, sfreq=50.0, eeg_noise=0.5, fmri_noise=0.7)


@pytest.fixture(scope="session")
def small_data(small_cohort):
    from workbench_deep_fusion.data import check_trials

    d = small_cohort
    return check_trials(d.eeg, d.fmri, d.labels, d.groups)
