"""Parametric modulation on the synthetic study: the right regions, features, EEG clock.

The synthetic study's regions are two voxels wide, so these voxel-level checks run without
spatial smoothing (``NOSMOOTH``).
"""

from __future__ import annotations

import numpy as np

from workbench.plugin_api import run_method

NOSMOOTH = {"smoothing_fwhm": 0.0}


def test_modulated_region_found_by_modulator_task_region_only_by_main_effect(synthetic):
    inputs, truth = synthetic
    res = run_method("parametric-modulation", inputs, dict(NOSMOOTH))
    z_main = np.asarray(res.maps["z_main"].dataobj)
    z_mod = np.asarray(res.maps["z_modulator"].dataobj)
    thr_mod = np.asarray(res.maps["zthr_modulator"].dataobj)
    thr_main = np.asarray(res.maps["zthr_main"].dataobj)
    mod, task = truth["masks"]["modulated"], truth["masks"]["task"]
    rest = ~(mod | task)
    assert z_mod[mod].mean() > 4 and abs(z_mod[task].mean()) < 1.5
    assert z_main[task].mean() > 4 and z_main[mod].mean() > 4
    # FDR + cluster maps: the modulator only in the modulated region, no false positives
    assert np.count_nonzero(thr_mod[mod]) > 0.8 * mod.sum()
    assert np.count_nonzero(thr_mod[task]) == 0
    assert np.count_nonzero(thr_main[task]) > 0.8 * task.sum()
    assert np.count_nonzero(thr_main[rest]) + np.count_nonzero(thr_mod[rest]) <= 2
    # the EEG feature follows the true trial amplitudes; events found via the EEG markers
    feat = np.array([r["feature"] for r in res.tables["trials"]])
    assert np.corrcoef(feat, truth["amplitudes"])[0, 1] > 0.9
    assert (
        res.qc["eeg_offset_s"] == np.float64(truth["eeg_offset"])
        or abs(res.qc["eeg_offset_s"] - truth["eeg_offset"]) < 2 / inputs.eeg.info["sfreq"]
    )
    assert "markers 'Stimulus/S  1'" in res.messages[0]
    assert res.tables["clusters_modulator"] and res.tables["clusters_modulator"][0]["peak_stat"] > 4


def test_without_markers_the_first_volume_trigger_sets_the_offset(synthetic):
    inputs, truth = synthetic
    import copy

    eeg = inputs.eeg.copy()
    keep = [i for i, d in enumerate(eeg.annotations.description) if "R128" in d]
    ann = eeg.annotations[keep]
    eeg.set_annotations(ann)
    inp = copy.copy(inputs)
    inp.eeg = eeg
    res = run_method("parametric-modulation", inp, {"noise_model": "ols", **NOSMOOTH})
    assert "volume trigger" in res.messages[0]
    assert abs(res.qc["eeg_offset_s"] - truth["eeg_offset"]) < 0.01
    feat = np.array([r["feature"] for r in res.tables["trials"]])
    assert np.corrcoef(feat, truth["amplitudes"])[0, 1] > 0.9


def test_spatial_filters_and_fixed_channel(synthetic):
    inputs, truth = synthetic
    expected = {
        "spatiotemporal": ("max-SNR spatio-temporal filter", "a.u."),
        "whitened": ("max-SNR (noise-whitened) spatial filter", "a.u."),
        "topography": ("topography", "a.u."),
        "channel": ("channel Pz (largest average ERP)", "V"),
    }
    for sf, (where, unit) in expected.items():
        res = run_method(
            "parametric-modulation", inputs, {"spatial_filter": sf, "noise_model": "ols", **NOSMOOTH}
        )
        feat = np.array([r["feature"] for r in res.tables["trials"]])
        assert np.corrcoef(feat, truth["amplitudes"])[0, 1] > 0.85, sf
        assert where in res.messages[1] and res.timecourses["eeg_feature"]["unit"] == unit
        if unit == "a.u.":
            assert abs(feat.mean() - 1.0) < 1e-9  # relative to the average ERP
    # a named channel overrides the spatial filter
    res = run_method("parametric-modulation", inputs, {"channel": "Cz", "noise_model": "ols", **NOSMOOTH})
    feat = np.array([r["feature"] for r in res.tables["trials"]])
    assert "channel Cz" in res.messages[1] and 1e-6 < feat.mean() < 1e-5  # volts
    assert np.corrcoef(feat, truth["amplitudes"])[0, 1] > 0.85


def test_band_power_feature_tracks_burst_amplitude():
    import mne
    from workbench_parametric_modulation.features import bandpower_feature

    rng = np.random.default_rng(3)
    sf = 250.0
    n_trials = 20
    times = 2.0 + np.arange(n_trials) * 3.0
    amps = rng.uniform(1, 4, n_trials)
    data = 1e-6 * rng.standard_normal((3, int(65 * sf)))
    t = np.arange(int(0.5 * sf)) / sf
    for t0, a in zip(times, amps):
        i0 = int((t0 + 0.1) * sf)
        data[:, i0 : i0 + len(t)] += a * 5e-6 * np.sin(2 * np.pi * 10 * t)
    raw = mne.io.RawArray(data, mne.create_info(["C3", "Cz", "C4"], sf, "eeg"), verbose="error")
    feat, where = bandpower_feature(raw, times, 0.1, 0.6, 8.0, 12.0)
    assert np.corrcoef(feat, np.log10(amps**2))[0, 1] > 0.98
    assert where == "mean of all EEG channels"
