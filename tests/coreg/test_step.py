"""The "coreg" pipeline step on a phantom study: truth errors, outputs, report section."""

from __future__ import annotations

import json

import mne
import numpy as np
import pytest

from workbench.engine.pipeline.registry import StepContext, get_step


@pytest.fixture(scope="module")
def phantom_state(tmp_path_factory):
    from workbench.engine.phantom import PhantomConfig, simulate_study
    from workbench.engine.runner import load_state

    study = tmp_path_factory.mktemp("coreg_phantom") / "study"
    simulate_study(study, PhantomConfig(duration_s=12.0, sfreq=500.0, n_eeg=32, seed=7))
    return load_state(study)


def test_coreg_step_recovers_phantom_transform(phantom_state, tmp_path, artifacts_dir):
    state = dict(phantom_state)
    state["report"] = mne.Report(title="coreg test", verbose="error")
    ctx = StepContext(project=None, out_dir=tmp_path, state=state)
    qc = get_step("coreg").run(ctx)
    # the scalp extracted from the T1 lies on the true one (2 mm voxels)
    assert abs(qc["scalp_vs_true_median_mm"]) < 1.0 and qc["scalp_closed"]
    # truth errors (fiducials estimated from fsaverage, not given)
    assert qc["rotation_error_deg"] < 1.5
    assert qc["tre_mean_mm"] < 3.0
    assert qc["mean_mm"] < 2.0
    # noise averages out, bias does not
    assert qc["noise_tre_256_mm"] < qc["noise_tre_8_mm"]
    assert qc["bias_tre_256_mm"] > qc["noise_tre_256_mm"] + 1.0
    trans = mne.read_trans(tmp_path / "sub-01_desc-coreg_trans.fif")
    np.testing.assert_allclose(trans["trans"], state["trans"]["trans"])
    truth = np.asarray(state["truth"].head_mri_t)
    assert np.linalg.norm(trans["trans"][:3, 3] - truth[:3, 3]) * 1e3 == pytest.approx(qc["translation_error_mm"])
    saved = json.loads((tmp_path / "sub-01_desc-coreg_qc.json").read_text())
    assert saved["mean_mm"] == pytest.approx(qc["mean_mm"])
    assert (tmp_path / "sub-01_desc-coreg_electrodes.tsv").is_file()
    ours = [c for c in state["report"]._content if getattr(c, "section", None) == "Coregistration"]
    assert len(ours) >= 4  # explanation, QC table, points figure, noise-vs-bias figure
    state["report"].save(artifacts_dir / "coreg_report.html", overwrite=True, open_browser=False, verbose="error")
