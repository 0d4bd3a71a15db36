"""A batch subject's folder is a complete project: it records the subject's input files.

Regression: ``workbench fuse cca --project OUT/sub-01`` used to find the cleaned EEG (from
the provenance) but no BOLD, because the batch made the subject's project afresh and
recorded only the study folder, not the files ``Study.load`` had read.
"""

from __future__ import annotations

import json

import pytest

from workbench.cli.main import main


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from workbench.engine.phantom import PhantomConfig, simulate_study

    root = tmp_path_factory.mktemp("subproj")
    study = root / "study"
    simulate_study(study, PhantomConfig(duration_s=40, sfreq=500, n_eeg=32, tr=2.0, slices=10,
                                        n_subjects=2, seed=4))
    pipe = root / "pipeline.json"
    pipe.write_text(json.dumps({"study": str(study), "steps": [{"id": "sync", "params": {}},
                                                                {"id": "gradient", "params": {"window": 8}}]}))
    out = root / "cohort"
    assert main(["batch", str(study), "--pipeline", str(pipe), "--out", str(out), "--workers", "0"]) == 0
    return study, out


def test_subject_project_records_its_inputs_and_truth(batch):
    from workbench.engine.project import Project

    study, out = batch
    proj = Project.load(out / "sub-02")
    kinds = {i.kind: proj.abspath(i.path) for i in proj.inputs}
    assert {"eeg", "bold", "anat"} <= set(kinds)
    assert kinds["bold"] == (study / "sub-02" / "func" / "sub-02_task-phantom_bold.nii.gz").resolve()
    assert "sub-02" in str(kinds["eeg"])  # this subject's files, not the study's first subject's
    assert all(len(i.sha256) == 64 for i in proj.inputs)
    assert proj.settings["truth_dir"].endswith("ground_truth")


def test_fuse_cca_on_a_batch_subject_folder_uses_its_bold_and_cleaned_eeg(batch, capsys):
    import nibabel as nib

    study, out = batch
    sub = out / "sub-01"
    rc = main(["fuse", "cca", "--project", str(sub), "--param", "reg_y=0.9", "--param", "reg_x=0.1",
               "--param", "n_permutations=20", "--param", "band_low=2", "--param", "band_high=15"])
    assert rc == 0, capsys.readouterr().err
    res = json.loads((sub / "derivatives" / "fusion" / "cca" / "result.json").read_text())
    n_vols = nib.load(study / "sub-01" / "func" / "sub-01_task-phantom_bold.nii.gz").shape[3]
    assert res["qc"]["n_observations"] == n_vols
    assert res["qc"]["mode"] == "study"
    # the EEG it used is the batch's cleaned EEG (recorded as the step's input), not the raw recording
    proj = json.loads((sub / "project.json").read_text())
    cca = [s for s in proj["steps"] if s["name"] == "cca"][-1]
    assert any("gradclean_eeg.fif" in k for k in cca["inputs"])
    assert any(k.endswith("_bold.nii.gz") for k in cca["inputs"])
