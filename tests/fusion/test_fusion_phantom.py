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
    # the main effect (all conditions): both task regions, motor included. A rapid design
    # (a trial every 2-4 s, no rest) makes the summed task regressor nearly a plateau, so
    # "task vs rest" is estimated less well than each condition or the modulator.
    assert _mean_z(res, "z_main", vis) > 1.5
    assert _mean_z(res, "z_main", mot) > 1.5
    # the fMRI-invisible source has no BOLD in either map
    fi = masks["temporal_fmri_invisible"]
    assert abs(_mean_z(res, "z_main", fi)) < 1.0 and abs(_mean_z(res, "z_modulator", fi)) < 1.0
    # the task-only region responds to every visual trial alike: main effect, no modulation
    lo = masks["lateral_occipital_task_only"]
    assert _mean_z(res, "z_main", lo) > 1.5 and abs(_mean_z(res, "z_modulator", lo)) < 1.0


def test_eeg_feature_from_the_clean_eeg_modulates_visual_cortex(phantom):
    """The single-trial EEG feature (max-SNR filters) on the true clean EEG."""
    import copy

    import mne

    from workbench.engine.phantom.score_fusion import score_parametric_modulation

    inputs, truth, masks = phantom
    raw = inputs.eeg
    clean = mne.io.RawArray(np.asarray(truth.clean, float), raw.info.copy(), verbose="error")
    clean.set_annotations(raw.annotations)
    inp = copy.copy(inputs)
    inp.eeg = clean
    qcs = {}
    for sf in ("topography", "whitened", "spatiotemporal"):
        res = run_method(
            "parametric-modulation",
            inp,
            {"condition": "visual", "tmin": 0.14, "tmax": 0.2, "spatial_filter": sf},
        )
        assert "drift" in res.messages[0]  # events matched to the EEG's stimulus markers
        qcs[sf] = score_parametric_modulation(res, truth, "visual")
    r = {sf: q["feature_vs_true_amplitude_r"] for sf, q in qcs.items()}
    # the alpha rhythm and 1/f background bury single-trial ERPs; whitening the spatial
    # filter by the background covariance recovers much of the trial-by-trial amplitude,
    # and whitening in space and time a little more
    assert r["whitened"] > 0.6 and r["whitened"] > r["topography"] + 0.1
    assert r["spatiotemporal"] > r["whitened"] - 0.02
    q = qcs["spatiotemporal"]
    assert q["peak_distance_main_mm"] < 5.0
    # 10 minutes of scanning: the modulator survives FDR at the modulated source only
    assert q["peak_significant_modulator"] and q["peak_distance_modulator_mm"] < 5.0
    assert q["n_significant_modulator_near_target"] >= 0.9 * q["n_significant_modulator"] > 0
    assert q["z_modulator_mean_in_visual_cortex"] > 3.0
    for other in ("motor_cortex", "lateral_occipital_task_only", "temporal_fmri_invisible",
                  "frontal_eeg_invisible"):
        assert q[f"z_modulator_mean_in_{other}"] < q["z_modulator_mean_in_visual_cortex"] - 2.0
        assert q[f"n_significant_modulator_in_{other}"] == 0
