"""On the phantom: the amplitude-modulated region by the modulator, the other task region not."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.plugin_api import inputs_from_path, run_method


@pytest.fixture(scope="module")
def phantom(phantom_study):
    from workbench.engine.phantom import load_truth

    truth = load_truth(phantom_study)
    masks = {
        s["name"]: np.asarray(truth.load(f"masks/{s['name']}").dataobj) > 0
        for s in truth.sources
        if s.get("mask")
    }
    return inputs_from_path(phantom_study), truth, masks


def _mean_z(res, key, mask):
    return float(np.asarray(res.maps[key].dataobj)[mask].mean())


def test_modulator_finds_the_amplitude_modulated_region(phantom):
    """Trial amplitudes (events column) modulate visual cortex BOLD; motor cortex follows its own task."""
    inputs, truth, masks = phantom
    res = run_method(
        "parametric-modulation",
        inputs,
        {
            "condition": "visual",
            "feature": "events-column",
            "events_column": "amplitude",
            "main_effect": "all-conditions",
        },
    )
    vis, mot = masks["visual_cortex"], masks["motor_cortex"]
    # the modulator: in visual cortex, not in motor cortex; its peak inside visual cortex
    assert _mean_z(res, "z_modulator", vis) > 2.5
    assert abs(_mean_z(res, "z_modulator", mot)) < 1.0
    z_mod = np.asarray(res.maps["z_modulator"].dataobj)
    assert vis[np.unravel_index(int(np.argmax(z_mod)), z_mod.shape)]
    # the main effect (all conditions): both task regions, motor included
    assert _mean_z(res, "z_main", vis) > 2.0
    assert _mean_z(res, "z_main", mot) > 2.0
    # the fMRI-invisible source has no BOLD in either map
    fi = masks["temporal_fmri_invisible"]
    assert abs(_mean_z(res, "z_main", fi)) < 1.0 and abs(_mean_z(res, "z_modulator", fi)) < 1.0


def test_eeg_feature_from_the_clean_eeg_modulates_visual_cortex(phantom):
    """The single-trial EEG feature (max-SNR spatial filter) on the true clean EEG."""
    import copy

    import mne

    from workbench.engine.phantom.score_fusion import score_parametric_modulation as truth_qc

    inputs, truth, masks = phantom
    raw = inputs.eeg
    clean = mne.io.RawArray(np.asarray(truth.clean, float), raw.info.copy(), verbose="error")
    clean.set_annotations(raw.annotations)
    inp = copy.copy(inputs)
    inp.eeg = clean
    qcs = {}
    for sf in ("topography", "whitened"):
        res = run_method(
            "parametric-modulation",
            inp,
            {"condition": "visual", "tmin": 0.14, "tmax": 0.2, "spatial_filter": sf},
        )
        assert "drift" in res.messages[0]  # events matched to the EEG's stimulus markers
        qcs[sf] = truth_qc(res, truth, "visual")
    q = qcs["whitened"]
    # the alpha rhythm and 1/f background bury single-trial ERPs; whitening the spatial
    # filter by the background covariance recovers much of the trial-by-trial amplitude
    assert q["feature_vs_true_amplitude_r"] > 0.4
    assert q["feature_vs_true_amplitude_r"] > qcs["topography"]["feature_vs_true_amplitude_r"] + 0.1
    assert q["peak_distance_main_mm"] < 5.0
    assert q["z_modulator_mean_in_visual_cortex"] > 1.2
    for other in ("motor_cortex", "temporal_fmri_invisible", "frontal_eeg_invisible"):
        assert q[f"z_modulator_mean_in_{other}"] < q["z_modulator_mean_in_visual_cortex"] - 1.0
