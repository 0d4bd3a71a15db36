"""Phantom test fixtures: one small study per session, read-only for the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.phantom import PhantomConfig, load_truth, simulate_study

#: small but complete: 32 ch at 5 kHz, 40 s, 37 volumes of 21 slices (47.6 ms = 238.1
#: samples per slice), 40 ppm drift, two dropped and one spurious volume trigger
STUDY_CONFIG = PhantomConfig(
    duration_s=40.0, sfreq=5000.0, n_eeg=32, tr=1.0, slices=21, drift_ppm=40.0,
    missing_triggers=2, extra_triggers=1, dig_noise_mm=1.0, n_head_points=120,
    isi_s=(2.5, 4.0), seed=7, slice_markers=True,
)


@pytest.fixture(scope="session")
def study_config() -> PhantomConfig:
    """The settings of :func:`phantom_study`."""
    return STUDY_CONFIG


@pytest.fixture(scope="session")
def phantom_study(tmp_path_factory) -> Path:
    """Path of the session's phantom study (do not modify it)."""
    out = tmp_path_factory.mktemp("phantom") / "study"
    simulate_study(out, STUDY_CONFIG)
    return out


@pytest.fixture(scope="session")
def truth(phantom_study):
    """Its ground truth."""
    return load_truth(phantom_study)


@pytest.fixture(scope="session")
def raw(phantom_study):
    """The study's EEG as MNE reads it."""
    import mne

    vhdr = phantom_study / "sub-01" / "eeg" / "sub-01_task-phantom_eeg.vhdr"
    return mne.io.read_raw_brainvision(vhdr, preload=True, verbose="error")
