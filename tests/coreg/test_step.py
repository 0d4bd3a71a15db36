"""The "coreg" step on a phantom study, through the runner: truth errors, outputs, report section."""

from __future__ import annotations

import json

import mne
import numpy as np
import pytest

from workbench.engine.runner import Runner
from workbench.engine.steps import builtin_steps
from workbench.engine.study import Study


@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory):
    from workbench.engine.phantom import PhantomConfig, simulate_study

    study = tmp_path_factory.mktemp("coreg_phantom") / "study"
    simulate_study(study, PhantomConfig(duration_s=12.0, sfreq=500.0, n_eeg=32, seed=7))
    return study


def test_coreg_step_recovers_phantom_transform(phantom_dir, tmp_path, artifacts_dir):
    study = Study.load(phantom_dir)
    assert study.truth is not None and study.trans is None
    report = mne.Report(title="coreg test", verbose="error")
    runner = Runner(study, builtin_steps(), tmp_path, report=report)
    res = runner.run_step("coreg")
    qc = {**res.qc, **res.truth_qc}
    # the scalp extracted from the T1 lies on the phantom's scalp surface file (2 mm voxels)
    assert abs(qc["scalp_vs_surface_file_median_mm"]) < 1.0 and qc["scalp_closed"]
    # truth errors (fiducials estimated from fsaverage, not given), scored after the step
    assert set(res.truth_qc) >= {"rotation_error_deg", "translation_error_mm", "tre_mean_mm"}
    assert "rotation_error_deg" not in res.qc  # the step itself never sees the truth
    # realistic digitisation (cap lift 3-5 mm, upper head only, 15 mm outliers) and fiducials
    # estimated from fsaverage: bench_coreg gives 0.8 deg median, 1.4 deg 90th percentile over
    # 20 heads; this one head (fsaverage-estimated fiducials) is allowed up to 2 deg
    assert qc["rotation_error_deg"] < 2.0
    assert qc["tre_mean_mm"] < 3.5  # electrodes lifted 3-5 mm on the cap; 90th percentile in bench_coreg ~2 mm
    assert qc["mean_mm"] < 2.0
    # noise averages out, bias does not
    assert qc["noise_tre_256_mm"] < qc["noise_tre_8_mm"]
    assert qc["bias_tre_256_mm"] > qc["noise_tre_256_mm"] + 1.0
    # BIDS-derivative names keep the EEG file's entities
    assert res.written["trans"] == tmp_path / "sub-01_task-phantom_desc-coreg_trans.fif"
    trans = mne.read_trans(res.written["trans"])
    # the runner applied what the step provides: the study's transform is the written one
    np.testing.assert_allclose(trans["trans"], study.trans["trans"])
    truth = np.asarray(study.truth.head_mri_t)
    assert np.linalg.norm(trans["trans"][:3, 3] - truth[:3, 3]) * 1e3 == pytest.approx(qc["translation_error_mm"])
    saved = json.loads((res.written["qc"]).read_text())
    assert saved["mean_mm"] == pytest.approx(qc["mean_mm"])
    assert res.written["electrodes"] == tmp_path / "sub-01_task-phantom_desc-coreg_electrodes.tsv"
    assert res.written["electrodes"].is_file()
    ours = [c for c in report._content if getattr(c, "section", None) == "Coregistration"]
    assert len(ours) >= 4  # explanation, QC table, points figure, noise-vs-bias figure
    report.save(artifacts_dir / "coreg_report.html", overwrite=True, open_browser=False, verbose="error")
