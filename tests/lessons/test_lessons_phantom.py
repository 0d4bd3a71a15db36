"""The lessons that run on a simulated phantom study (slow: the studies are simulated once per session).

Each test runs a lesson with its defaults and checks what it states against the phantom's
truth or against the lesson's own table, and that its answers follow from its numbers.
Set ``WORKBENCH_LESSON_CACHE`` to reuse simulated studies between runs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from workbench.lessons import get_lesson

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def lesson_cache(tmp_path_factory):
    old = os.environ.get("WORKBENCH_LESSON_CACHE")
    if not old:
        os.environ["WORKBENCH_LESSON_CACHE"] = str(tmp_path_factory.mktemp("lesson-phantoms"))
    yield
    if not old:
        os.environ.pop("WORKBENCH_LESSON_CACHE", None)


def test_cached_phantom_is_reused_and_written_whole(tmp_path, monkeypatch):
    from workbench.lessons.phantom import cache_dir, lesson_study

    a = lesson_study()
    assert (a / "ground_truth" / "index.json").is_file()
    assert lesson_study() == a  # second call: the cached study
    assert not [p for p in cache_dir().iterdir() if p.name.startswith(".tmp-")]


def test_gradient_lesson_faraday_and_window_against_truth():
    r = get_lesson("gradient").run()
    c = {k: v.value for k, v in r.claims.items()}
    assert c["faraday_r"] > 0.95  # artifact size per channel = |dG/dt . M| (Faraday)
    assert c["artifact_peak_mv"] > 1.0
    grid = {(int(row[0]), row[1]): float(row[2]) for row in r.table["rows"]}
    assert c["nrmse"] == pytest.approx(grid[(20, "on")], abs=6e-4)
    assert c["nrmse_w20_noalign"] == pytest.approx(grid[(20, "off")], abs=6e-4)
    assert r.answers["window_more"] == ("lower" if grid[(20, "on")] < grid[(2, "on")] else "higher")
    assert r.answers["align"] == ("yes" if grid[(20, "on")] < grid[(20, "off")] else "no")
    assert c["nrmse"] < 0.2  # the correction works on the phantom


def test_bcg_lesson_rpeak_errors_leave_more_artifact():
    r = get_lesson("bcg").run()
    c = {k: v.value for k, v in r.claims.items()}
    assert c["rpeak_f1"] > 0.95
    rows = {float(row[0]): (float(row[1]), float(row[2])) for row in r.table["rows"]}
    assert rows[0.0][0] == pytest.approx(c["left_main"], abs=0.06)
    assert rows[40.0][0] > rows[0.0][0] + 10  # AAS with 40 ms errors leaves much more
    assert r.answers["jitter"] == "more"
    assert 0 < c["left_main"] < 60


def test_cleanup_lesson_overcleaning_costs_brain_signal():
    r = get_lesson("cleanup").run()
    c = {k: v.value for k, v in r.claims.items()}
    assert c["line_db"] > 10
    assert c["n_flagged"] >= 1 and c["blink_left"] < 20
    assert c["erp_over"] < 95  # removing components beyond the artifacts shrinks the true ERP
    assert r.answers["over"] == "lower" and r.answers["blink"] == "yes"


def test_eeg_informed_fmri_modulator_separates_the_coupled_region():
    r = get_lesson("eeg-informed-fmri").run({"feature": "true-amplitude"})
    c = {k: v.value for k, v in r.claims.items()}
    rows = {row[0]: (float(row[2]), float(row[3])) for row in r.table["rows"]}
    assert rows["lateral_occipital_task_only"][0] > 2.0  # plain GLM sees the task-only region
    assert rows["visual_cortex"][1] > rows["lateral_occipital_task_only"][1] + 2.0  # only the modulator separates
    assert c["peak_mod_mm"] < 15
    assert c["voxels_modulator"] > 0
    assert r.answers == {"where": "the coupled visual source", "main_task_only": "yes",
                         "n_mod": c["voxels_modulator"]}


def test_fmri_informed_eeg_hard_mask_helps_the_visible_and_fails_the_invisible_source():
    r = get_lesson("fmri-informed-eeg").run()
    rows = {row[0]: (float(row[1]), float(row[2])) for row in r.table["rows"]}
    assert rows["hard"][0] < rows["none"][0]  # where fMRI and EEG agree the mask sharpens
    assert rows["hard"][1] > rows["hard"][0] + 20  # the fMRI-invisible source is lost by the mask
    assert r.answers["visible"] == "yes"
    assert r.claims["vis_none"].value == rows["none"][0] or abs(r.claims["vis_none"].value - rows["none"][0]) < 0.5


def test_symmetric_lesson_scores_against_true_amplitudes():
    r = get_lesson("symmetric").run({"n_permutations": 50})
    c = {k: v.value for k, v in r.claims.items()}
    assert 0 < c["cca_r1"] <= 1 and 0 <= c["cca_truth"] <= 1
    assert c["jica_truth"] > 0.3  # one joint component follows the true trial amplitudes
    assert r.answers["r1"] == c["cca_r1"]
    assert np.isfinite(c["cca_visual"])


def test_dcm_lesson_swapped_inputs_lose_by_free_energy():
    r = get_lesson("dcm").run({"connected": False})
    c = {k: v.value for k, v in r.claims.items()}
    assert c["swapped"] > 3  # strong evidence against the swapped model
    assert r.answers["best"] == "right inputs"


def test_deep_fusion_lesson_states_the_plugins_scores():
    r = get_lesson("deep-fusion").run({"mismatch_ms": 200.0, "epochs": 8})
    rows = {row[0]: (float(row[1]), float(row[2])) for row in r.table["rows"]}
    assert set(rows) == {"early", "late", "eeg_only", "fmri_only", "linear"}
    assert all(0.0 <= a <= 1.0 and 0.0 <= b <= 1.0 for a, b in rows.values())
    assert r.claims["early_aligned"].value == pytest.approx(rows["early"][0], abs=0.006)
    assert r.claims["early_mismatch"].value == pytest.approx(rows["early"][1], abs=0.006)
    drop_e, drop_l = rows["early"][0] - rows["early"][1], rows["late"][0] - rows["late"][1]
    if abs(drop_l - drop_e) > 0.011:  # the table is rounded to 0.01
        assert r.answers["robust"] == ("late" if drop_l < drop_e else "early")
    assert r.claims["drop"].value == pytest.approx(drop_e, abs=0.011)
    assert rows["fmri_only"][0] == pytest.approx(rows["fmri_only"][1], abs=0.011)  # the fMRI was not shifted
