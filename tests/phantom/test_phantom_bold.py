"""BOLD follows the neural input through the haemodynamics, with slice timing.

The BOLD carries realistic noise (thermal, and physiological noise that is smooth in space
and autocorrelated in time, so averaging over a region does not remove it). These checks
need more volumes than the session's 40 s study has, so they use their own 2-minute study
(EEG at 500 Hz: only the BOLD is looked at).
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.phantom import PhantomConfig, load_truth, simulate_study

BOLD_CONFIG = PhantomConfig(duration_s=123.0, sfreq=500.0, n_eeg=32, tr=2.0, slices=20, seed=7)


@pytest.fixture(scope="module")
def bold_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantom_bold") / "study"
    simulate_study(out, BOLD_CONFIG)
    return out


@pytest.fixture(scope="module")
def truth(bold_study):
    return load_truth(bold_study)


@pytest.fixture(scope="module")
def bold(bold_study):
    import nibabel as nib

    img = nib.load(bold_study / "sub-01" / "func" / "sub-01_task-phantom_bold.nii.gz")
    return np.asarray(img.get_fdata(dtype=np.float32))


def test_temporal_snr_is_realistic(truth, bold):
    """tSNR ~100-170 in grey matter (3.5 mm voxels at 3 T), after removing slow trends."""
    gm = (bold.mean(-1) > 900) & (bold.mean(-1) < 1100)
    active = np.zeros(bold.shape[:3], bool)
    for name in truth.meta["masks"]:
        active |= _mask(truth, name)
    y = bold[gm & ~active]
    t = np.arange(y.shape[1])
    X = np.vstack([t**0, t, t**2]).T.astype(float)
    resid = y - (X @ np.linalg.lstsq(X, y.T, rcond=None)[0]).T
    tsnr = np.median(y.mean(1) / resid.std(1))
    assert 90 < tsnr < 170, tsnr


def _regressor(truth, column: str, times: np.ndarray) -> np.ndarray:
    """Neural input convolved with SPM's canonical HRF (an independent peer of the model)."""
    from nilearn.glm.first_level import spm_hrf

    dt = truth.meta["neural_dt"]
    u = np.asarray(truth.load("neural"))[:, truth.meta["neural_columns"].index(column)]
    h = spm_hrf(dt, oversampling=1)  # nilearn: kernel sampled every t_r / oversampling = dt
    x = np.convolve(u, h)[: len(u)]
    return np.interp(times, np.arange(len(u)) * dt, x)


def _detrend(y, t):
    return y - np.polyval(np.polyfit(t, y, 2), t)


def _mask(truth, name):
    return np.asarray(truth.load(f"masks/{name}").dataobj).astype(bool)


@pytest.mark.parametrize(
    "name", ["visual_cortex", "motor_cortex", "lateral_occipital_task_only", "frontal_eeg_invisible"]
)
def test_bold_in_active_mask_follows_neural_input(truth, bold, name):
    cfg = truth.config
    m = _mask(truth, name)
    assert m.sum() > 20
    vol_t = truth.triggers["true_mri"] + cfg.tr / 2
    y = _detrend(bold[m].mean(0), vol_t)
    x = _regressor(truth, name, vol_t)
    r = np.corrcoef(y, x)[0, 1]
    assert r > 0.7, r
    # a few percent signal change at most (BOLD is small)
    psc = (y.max() - y.min()) / bold[m].mean() * 100
    assert 0.2 < psc < 6


def test_no_task_bold_outside_the_masks(truth, bold):
    cfg = truth.config
    active = np.zeros(bold.shape[:3], bool)
    for name in truth.meta["masks"]:
        active |= _mask(truth, name)
    from scipy import ndimage

    far = ~ndimage.binary_dilation(active, iterations=3)
    brain = bold.mean(-1) > 700
    vol_t = truth.triggers["true_mri"] + cfg.tr / 2
    x = _regressor(truth, "visual_cortex", vol_t) + _regressor(truth, "motor_cortex", vol_t)
    y = bold[far & brain]
    y = y - y.mean(1, keepdims=True)
    xc = (x - x.mean()) / x.std()
    r = (y @ xc) / (np.linalg.norm(y, axis=1) * np.sqrt(len(xc)))
    # noise only: correlations scatter around 0 like chance with n volumes
    assert abs(np.mean(r)) < 0.05
    assert np.mean(np.abs(r) > 0.7) < 0.01


def test_fmri_invisible_source_has_no_bold(truth, bold):
    src = {s["name"]: s for s in truth.sources}
    s = src["temporal_fmri_invisible"]
    assert s["bold_coupling"] == 0 and not s["bold_visible"]
    k = truth.meta["neural_columns"].index("temporal_fmri_invisible")
    assert np.all(np.asarray(truth.load("bold_regions"))[:, k] == 0)
    # its region shows nothing although its condition ("visual") drives the EEG
    m = _mask(truth, "temporal_fmri_invisible")
    cfg = truth.config
    vol_t = truth.triggers["true_mri"] + cfg.tr / 2
    y = _detrend(bold[m].mean(0), vol_t)
    x = _regressor(truth, "visual_cortex", vol_t)
    assert abs(np.corrcoef(y, x)[0, 1]) < 0.45
    # noise only: smooth physiological noise survives averaging over the region (~0.2 %)
    assert y.std() / bold[m].mean() < 0.004


def test_slice_timing_is_honoured(truth):
    # the region BOLD sampled at each slice's own acquisition time explains the data
    # better than sampling every slice at the volume onset (noise-free check on truth)
    import nibabel as nib

    study = truth.study_dir
    img = nib.load(study / "sub-01" / "func" / "sub-01_task-phantom_bold.nii.gz")
    data = np.asarray(img.get_fdata(dtype=np.float32))
    name = "frontal_eeg_invisible"
    m = _mask(truth, name)
    k = truth.meta["neural_columns"].index(name)
    br = np.asarray(truth.load("bold_regions"))[:, k]
    tg = np.arange(len(br)) * truth.meta["neural_dt"]
    st = truth.triggers["slice_timing"]
    vols = truth.triggers["true_mri"]
    err_own, err_onset = 0.0, 0.0
    for z in np.unique(np.nonzero(m)[2]):
        mz = m[:, :, z]
        base = data[:, :, z][mz].mean(0) / data[:, :, z][mz].mean()
        own = np.interp(vols + st[z], tg, br)
        onset = np.interp(vols, tg, br)
        t = vols
        e1 = _detrend(base - own, t)
        e2 = _detrend(base - onset, t)
        err_own += (e1 ** 2).sum()
        err_onset += (e2 ** 2).sum()
    assert err_own < err_onset
