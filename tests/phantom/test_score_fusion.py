"""Truth QC of a parametric-modulation result: the surviving cluster's peak, not the noise maximum."""

from __future__ import annotations

from types import SimpleNamespace

import nibabel as nib
import numpy as np

from workbench.engine.phantom.score_fusion import score_parametric_modulation

AFFINE = np.diag([3.0, 3.0, 4.0, 1.0])


def _case():
    shape = (20, 20, 10)
    target = np.zeros(shape, bool)
    target[3:6, 3:6, 3:6] = True
    other = np.zeros(shape, bool)
    other[14:17, 14:17, 3:6] = True
    z_main = np.zeros(shape, np.float32)
    z_main[target] = 5.0
    z_main[other] = 6.0
    z_mod = np.zeros(shape, np.float32)
    z_mod[target] = 4.5
    z_mod[18, 1, 8] = 5.5  # a lone noise voxel, higher than the real effect, removed by extent
    thr_mod = np.where(target, z_mod, 0).astype(np.float32)
    thr_main = np.where(target | other, z_main, 0).astype(np.float32)
    img = lambda a: nib.Nifti1Image(a, AFFINE)  # noqa: E731
    result = SimpleNamespace(
        maps={"z_main": img(z_main), "z_modulator": img(z_mod),
              "zthr_main": img(thr_main), "zthr_modulator": img(thr_mod)},
        tables={"trials": [{"feature": f} for f in (1.0, 2.0, 3.0, 4.0)]},
    )
    invisible = np.zeros(shape, bool)
    invisible[14:17, 3:6, 3:6] = True
    z_main[invisible] = 0.0
    masks = {"vis": target, "lo": other, "fi": invisible}
    centre = AFFINE[:3, :3] @ np.array([4.0, 4.0, 4.0]) + AFFINE[:3, 3]
    truth = SimpleNamespace(
        sources=[
            {"name": "vis", "role": "task", "condition": "visual", "mask": "m1", "pos_mri_m": centre / 1e3},
            {"name": "lo", "role": "task_unmodulated", "condition": "visual", "mask": "m2"},
            {"name": "fi", "role": "fmri_invisible", "condition": "visual", "mask": "m3",
             "bold_visible": False},
            {"name": "alpha", "role": "alpha", "condition": None, "mask": None},
        ],
        events={"condition": np.array(["visual", "motor"] * 4),
                "amplitude": np.array([1.0, 9.0, 2.0, 9.0, 3.0, 9.0, 4.5, 9.0])},
        load=lambda key: img(masks[key.split("/")[1]].astype(np.uint8)),
    )
    return result, truth


def test_peak_of_the_surviving_cluster_and_counts_per_region():
    result, truth = _case()
    q = score_parametric_modulation(result, truth, "visual")
    # the raw maximum of the modulator map is a noise voxel far away; the surviving peak is on target
    assert q["peak_significant_modulator"] and q["peak_distance_modulator_mm"] == 0.0
    assert q["peak_to_source_modulator_mm"] < 6.0
    assert q["n_significant_modulator"] == 27 == q["n_significant_modulator_near_target"]
    assert q["n_significant_modulator_in_vis"] == 27 and q["n_significant_modulator_in_lo"] == 0
    # the main effect's highest surviving voxel is in the task-only region: a true main effect
    assert q["peak_significant_main"] and q["peak_distance_main_mm"] == 0.0
    assert q["peak_to_source_main_mm"] > 30  # (far from the modulated source)
    assert q["n_significant_main_in_lo"] == 27 and q["n_significant_main_near_target"] == 54
    assert q["z_modulator_mean_in_vis"] == 4.5
    assert 0.99 < q["feature_vs_true_amplitude_r"] <= 1.0


def test_without_survivors_the_raw_maximum_is_used_and_flagged():
    result, truth = _case()
    result.maps["zthr_modulator"] = nib.Nifti1Image(np.zeros((20, 20, 10), np.float32), AFFINE)
    q = score_parametric_modulation(result, truth, "visual")
    assert not q["peak_significant_modulator"]
    assert q["peak_distance_modulator_mm"] > 30  # the lone noise voxel
    assert q["n_significant_modulator"] == 0 == q["n_significant_modulator_near_target"]


def test_an_unknown_condition_gives_no_target_rows():
    result, truth = _case()
    q = score_parametric_modulation(result, truth, "auditory")
    assert "peak_distance_modulator_mm" not in q and "feature_vs_true_amplitude_r" not in q
    assert "z_main_mean_in_vis" in q
