"""The teaching claims of fmri-source, measured on a short phantom through the runner (the
same path as the demo and `workbench fuse`), scored against the truth by the phantom's
scorer (the method never sees the truth).

Claims (issue 11): a prior sharpens the source the fMRI saw; the soft prior does no harm
where the fMRI is blind (the ``fmri_invisible`` source: no worse than plain minimum norm,
within one grid step); no variant puts the EEG source at the ``eeg_invisible`` region.
"""

from __future__ import annotations

import pytest

pytest.importorskip("workbench_fmri_source")

SPACING = 12.0
GRID_TOL_MM = SPACING  # one grid step


@pytest.fixture(scope="module")
def phantom_runs(tmp_path_factory):
    from workbench.engine.phantom import PhantomConfig, load_truth, simulate_study
    from workbench.engine.runner import Runner
    from workbench.engine.study import Study
    from workbench.plugin_api import all_steps

    root = tmp_path_factory.mktemp("fmri_source_phantom")
    simulate_study(root / "study", PhantomConfig(duration_s=240.0, sfreq=500.0, n_eeg=32, tr=2.0, slices=20,
                                                 seed=1))
    study = Study.load(root / "study")
    study.set_truth(load_truth(root / "study"))
    runner = Runner(study, all_steps(), root / "out")
    runner.run([("sync", {}), ("gradient", {}), ("coreg", {})], stop_on_error=True)
    out = {}
    for key, cond, times, thr in (("visual", "visual", "0.17,0.25", 3.1), ("motor", "motor", "0.08,0.2", 3.1),
                                  ("visual_clean_map", "visual", "0.17,0.25", 4.5)):
        res = runner.run_step("fmri-source", {"condition": cond, "times": times, "spacing": SPACING,
                                              "threshold": thr})
        out[key] = res.truth_qc
    return out


@pytest.mark.slow
def test_prior_sharpens_the_source_the_fmri_saw(phantom_runs):
    """Better than plain minimum norm by at least one grid step, and a more compact map."""
    s = phantom_runs["visual"]
    none = s["loc_error_mm_visual_cortex_none"]
    for v in ("soft", "soft_dspm", "weighted"):
        assert s[f"loc_error_mm_visual_cortex_{v}"] <= none - GRID_TOL_MM, (v, s)
    assert s["dispersion_mm_visual_cortex_soft"] < 0.5 * s["dispersion_mm_visual_cortex_none"], s


@pytest.mark.slow
def test_soft_does_no_harm_where_the_fmri_is_blind(phantom_runs):
    """With a clean map (threshold 4.5: no false-positive source near the fMRI-invisible one)
    the hard mask must fail visibly and the soft prior's (noise-normalised) peak must stay
    where plain minimum norm puts it. At threshold 3.1 a false-positive GLM source 29 mm from
    the invisible one captures it for every prior (MEASUREMENTS.md), so that run is not used
    here."""
    s = phantom_runs["visual_clean_map"]
    key = "loc_error_mm_temporal_fmri_invisible_{}"
    none = s[key.format("none")]
    assert s[key.format("soft_dspm")] <= none + GRID_TOL_MM, s
    assert s[key.format("hard")] > none + GRID_TOL_MM, s


@pytest.mark.slow
def test_eeg_invisible_region(phantom_runs):
    """The motor response's peak must not sit at the EEG-silent (closed-field) frontal source
    for the variants without a fixed prior and for the soft prior. The fixed weighting and
    the hard mask are not asserted: on this phantom they put it there (4 mm away at 10 mm
    spacing; MEASUREMENTS.md), which is the lesson, not a property to keep."""
    s = phantom_runs["motor"]
    from workbench_fmri_source.method import VARIANTS

    prefix = "peak_distance_mm_frontal_eeg_invisible_"
    dists = {k[len(prefix):]: v for k, v in s.items() if k.startswith(prefix)}
    assert set(dists) == set(VARIANTS), s
    for v in ("none", "dspm", "sloreta", "soft"):
        assert dists[v] > 2 * SPACING, dists
