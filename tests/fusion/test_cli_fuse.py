"""`workbench fuse` and the parametric-modulation step (through the runner) on the phantom study."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np

from workbench.cli.main import main


def test_fuse_writes_result_maps_and_tables(phantom_study, tmp_path, capsys):
    out = tmp_path / "fused"
    rc = main(
        [
            "fuse",
            "parametric-modulation",
            "--project",
            str(phantom_study),
            "--param",
            "condition=visual",
            "--param",
            "noise_model=ols",
            "--out",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((out / "result.json").read_text())
    assert doc["method"] == "parametric-modulation"
    assert doc["params"]["condition"] == "visual" and doc["params"]["noise_model"] == "ols"
    assert doc["qc"]["n_trials"] > 30
    assert doc["outputs"]["z_modulator"] == {"kind": "map", "file": "z_modulator.nii.gz"}
    assert doc["outputs"]["trials"]["file"] == "trials.tsv"
    assert doc["inputs"]["bold"].endswith("_bold.nii.gz")
    z = nib.load(out / "z_main.nii.gz")
    assert z.shape == nib.load(doc["inputs"]["bold"]).shape[:3]
    assert np.isfinite(np.asarray(z.dataobj)).all()
    head = (out / "trials.tsv").read_text().splitlines()
    assert (
        head[0] == "onset\teeg_time\tfeature\tmodulator" and len(head) == doc["qc"]["n_trials"] + 1
    )
    assert "wrote" in capsys.readouterr().out


def test_fuse_records_the_step_in_a_project(phantom_study, tmp_path):
    from workbench.engine.project import Project

    proj = Project(tmp_path / "proj")
    func = phantom_study / "sub-01" / "func"
    proj.add_input(next((phantom_study / "sub-01" / "eeg").glob("*_eeg.vhdr")), "eeg")
    proj.add_input(next(func.glob("*_bold.nii.gz")), "bold")
    proj.add_input(next(func.glob("*_events.tsv")), "events")
    proj.save()
    assert (
        main(
            [
                "fuse",
                "parametric-modulation",
                "--project",
                str(proj.root),
                "--param",
                "condition=visual",
                "--param",
                "noise_model=ols",
            ]
        )
        == 0
    )
    again = Project.load(proj.root)
    rec = again.last_step("parametric-modulation")
    assert rec.status == "done"
    assert rec.params["condition"] == "visual" and rec.params["noise_model"] == "ols"
    # every declared parameter is recorded with the value used, defaults included
    assert set(rec.params) >= {"tmin", "tmax", "cluster_size", "fdr_alpha"}
    assert any(o.endswith("derivatives/fusion/parametric-modulation") for o in rec.outputs), rec.outputs
    assert (
        again.results["fusion/parametric-modulation"]["folder"]
        == "derivatives/fusion/parametric-modulation"
    )
    assert (
        proj.root / "derivatives" / "fusion" / "parametric-modulation" / "result.json"
    ).is_file()


def test_fuse_bad_input_one_line_and_nothing_written(phantom_study, tmp_path, capsys):
    bad = tmp_path / "study"
    shutil.copytree(phantom_study / "sub-01", bad / "sub-01")
    events = next((bad / "sub-01" / "func").glob("*_events.tsv"))
    lines = events.read_text().splitlines()
    lines.append("9999.0\t1.0\tvisual\t1.0")
    events.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    rc = main(["fuse", "parametric-modulation", "--project", str(bad), "--out", str(out)])
    errors = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert rc == 1 and len(errors) == 1
    assert errors[0].startswith(f"workbench fuse: error: {events}: 1 event(s) outside the run")
    assert not out.exists()
    rc = main(
        [
            "fuse",
            "parametric-modulation",
            "--project",
            str(bad),
            "--param",
            "fdr_alpha=2",
            "--out",
            str(out),
        ]
    )
    assert rc == 1 and "above its maximum" in capsys.readouterr().err
    rc = main(["fuse", "no-such-method", "--project", str(bad)])
    assert rc == 1 and "unknown fusion method" in capsys.readouterr().err
    assert not out.exists()


def test_pipeline_step_adds_report_section_and_truth_qc(phantom_study, tmp_path):
    from workbench.engine.project import Project
    from workbench.engine.report import new_report
    from workbench.engine.runner import Runner
    from workbench.engine.study import Study
    from workbench.plugin_api import all_steps

    study = Study.load(phantom_study)
    report = new_report("test")
    project = Project(tmp_path / "p")
    runner = Runner(study, all_steps(), tmp_path / "p" / "derivatives", project=project, report=report)
    res = runner.run_step("parametric-modulation", {"condition": "visual", "cluster_size": 3})
    qc = {**res.qc, **res.truth_qc}
    assert qc["condition"] == "visual"
    assert qc["peak_distance_main_mm"] < 5.0  # main effect peak in the visual source's mask
    assert "z_modulator_mean_in_visual_cortex" in qc and "feature_vs_true_amplitude_r" in qc
    # truth QC is scored after the step, never by the method itself
    assert "feature_vs_true_amplitude_r" not in res.qc
    titles = [getattr(c, "name", getattr(c, "title", "")) for c in report._content]
    assert any("Design matrix" in t or "design" in t.lower() for t in titles), titles
    folder = tmp_path / "p" / "derivatives" / "fusion" / "parametric-modulation"
    assert (folder / "z_main.nii.gz").is_file()
    rec = project.last_step("parametric-modulation")
    assert rec.qc["peak_z_main"] > 5
    assert rec.qc["peak_distance_main_mm"] == qc["peak_distance_main_mm"]
    assert any(project.abspath(o) == folder for o in rec.outputs), rec.outputs
