"""The multi-subject phantom's shared component: loadings in the truth and in the data."""

from __future__ import annotations

import json

import numpy as np

from workbench.engine.phantom import PhantomConfig
from workbench.engine.phantom.cohort import SHARED_CONDITION, apply_shared_loading, subject_loadings
from workbench.engine.phantom.sources import make_events


def test_loadings_seeded_varied_and_single_subject_unchanged():
    cfg = PhantomConfig(n_subjects=8, seed=4)
    a, b = subject_loadings(cfg), subject_loadings(PhantomConfig(n_subjects=8, seed=4))
    assert np.array_equal(a, b) and a.std() > 0.15 and np.all(a > 0)
    assert not np.array_equal(a, subject_loadings(PhantomConfig(n_subjects=8, seed=5)))
    one = PhantomConfig(n_subjects=1, seed=4)
    ev = make_events(one, np.random.default_rng(0))
    assert apply_shared_loading(one, ev, 0) is ev


def test_events_scaled_only_in_the_shared_condition():
    cfg = PhantomConfig(n_subjects=3, seed=1, duration_s=120)
    ev = make_events(cfg, np.random.default_rng(2))
    load = subject_loadings(cfg)
    for i in range(3):
        out = apply_shared_loading(cfg, ev, i)
        sel = ev.condition == SHARED_CONDITION
        assert np.allclose(out.amplitude[sel], ev.amplitude[sel] * load[i])
        assert np.array_equal(out.amplitude[~sel], ev.amplitude[~sel])


def test_written_study_has_cohort_truth_and_scaled_events(tmp_path):
    from workbench.engine.phantom import simulate_study

    cfg = PhantomConfig(duration_s=40, sfreq=500, n_eeg=32, tr=2.0, slices=10, n_subjects=2, seed=6)
    simulate_study(tmp_path / "s", cfg)
    idx = json.loads((tmp_path / "s" / "ground_truth" / "index.json").read_text())
    coh = idx["cohort"]
    assert coh["condition"] == "visual" and "visual_cortex" in coh["bold_sources"]
    load = subject_loadings(cfg)
    assert np.allclose([coh["loadings"]["01"], coh["loadings"]["02"]], load)
    # events.tsv amplitudes = the subject's own trial draws x its loading (visual trials only)
    import pandas as pd

    for i, sub in enumerate(("01", "02")):
        ev = pd.read_csv(next((tmp_path / "s" / f"sub-{sub}" / "func").glob("*_events.tsv")), sep="\t")
        own = make_events(cfg, np.random.default_rng([cfg.seed, i, 6]))
        expect = np.where(own.condition == "visual", own.amplitude * load[i], own.amplitude)
        assert np.allclose(ev.amplitude.to_numpy(), expect, atol=1e-4)
    # the group truth on a common grid: an ERP with the visual peaks, the visual-cortex map, the loadings
    import nibabel as nib

    from workbench.engine.phantom.cohort import group_truth

    bold = nib.load(next((tmp_path / "s" / "sub-01" / "func").glob("*_bold.nii.gz")))
    mask = np.ones(bold.shape[:3], bool)
    times = np.linspace(-0.1, 0.5, 151)
    t = group_truth(tmp_path / "s", ["01", "02"], "Oz", times, mask, bold.affine)
    assert np.allclose(t["loadings"], load)
    assert t["erp"].shape == times.shape and np.abs(t["erp"]).max() > 1e-7  # volts, microvolt scale
    assert abs(times[np.argmax(np.abs(t["erp"]))] - 0.17) < 0.05  # the visual N1-like peak
    assert 10 < (t["map"] > 0).sum() < 0.05 * mask.sum()
