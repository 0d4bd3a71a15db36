"""The demo's phantom shows EEG-informed fMRI working: the modulated region survives FDR.

The headless demo runs the parametric-modulation plugin on the visual condition with the
single-trial ERP amplitude as the modulator. These tests build the demo's phantom (its
settings, with the EEG at 500 Hz instead of 5 kHz to be fast: the ERP lives far below
250 Hz) on two seeds, measure the feature on the artifact-free EEG (the cleaning stages
are tested on their own), and check the claim of the demo: the modulator map has voxels
that survive FDR (q 0.05) + cluster extent, its peak is within 15 mm of the truly
modulated source, and the task-only region is in the main effect but not the modulator.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from workbench.engine.demo import DEMO_CONFIG
from workbench.engine.phantom import PhantomConfig, load_truth, simulate_study
from workbench.engine.phantom.score_fusion import score_parametric_modulation
from workbench.plugin_api import inputs_from_path, run_method

#: the demo's fusion step: the visual N1 amplitude through the max-SNR spatio-temporal filter
DEMO_FUSION = {
    "condition": "visual",
    "feature": "erp",
    "tmin": 0.14,
    "tmax": 0.2,
    "spatial_filter": "spatiotemporal",
    "fdr_alpha": 0.05,
    "cluster_size": 5,
}


def _demo_fusion(tmp_path_factory, seed: int) -> dict:
    import mne

    cfg = {**DEMO_CONFIG, "sfreq": 500.0, "seed": seed}
    study = tmp_path_factory.mktemp(f"demo_fusion_{seed}") / "study"
    simulate_study(study, PhantomConfig(**cfg))
    truth = load_truth(study)
    inputs = inputs_from_path(study)
    clean = mne.io.RawArray(np.asarray(truth.clean, float), inputs.eeg.info.copy(), verbose="error")
    clean.set_annotations(inputs.eeg.annotations)
    inputs = copy.copy(inputs)
    inputs.eeg = clean
    res = run_method("parametric-modulation", inputs, dict(DEMO_FUSION))
    return score_parametric_modulation(res, truth, "visual")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_demo_phantom_modulator_survives_fdr_at_the_modulated_source(tmp_path_factory, seed):
    q = _demo_fusion(tmp_path_factory, seed)
    # the EEG measures the trial-by-trial amplitude
    assert q["feature_vs_true_amplitude_r"] > 0.7, q
    # the modulator: FDR + extent survivors, at the truly modulated source
    assert q["peak_significant_modulator"], q
    assert q["peak_distance_modulator_mm"] <= 15.0, q
    assert q["n_significant_modulator_near_target"] >= 5, q
    assert q["n_significant_modulator_near_target"] >= 0.8 * q["n_significant_modulator"], q
    # the region active in every trial by the same amount is not in the modulator...
    assert q["n_significant_modulator_in_lateral_occipital_task_only"] == 0, q
    # ...but the main effect finds both visual regions
    assert q["n_significant_main_in_visual_cortex"] > 0, q
    assert q["n_significant_main_in_lateral_occipital_task_only"] > 0, q
    # and neither map shows the fMRI-invisible source or the other condition's region
    for name in ("temporal_fmri_invisible", "motor_cortex"):
        assert q[f"n_significant_modulator_in_{name}"] == 0, (name, q)
