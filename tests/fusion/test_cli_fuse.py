"""`workbench fuse` and the "fusion" pipeline step on the phantom study."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
    assert again.last_step("fusion").params["method"] == "parametric-modulation"
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
    from workbench.engine.pipeline import StepContext, get_step
    from workbench.engine.project import Project
    from workbench.engine.report import new_report
    from workbench.engine.runner import load_state

    state = load_state(phantom_study)
    state["report"] = new_report("test")
    ctx = StepContext(
        project=Project(tmp_path / "p"), out_dir=tmp_path / "p" / "derivatives", state=state
    )
    qc = get_step("fusion").run(ctx, cluster_size=3)
    assert qc["condition"] == "visual"
    assert qc["peak_distance_main_mm"] < 5.0  # main effect peak in the visual source's mask
    assert "z_modulator_mean_in_visual_cortex" in qc and "feature_vs_true_amplitude_r" in qc
    html = state["report"]._content if hasattr(state["report"], "_content") else None
    titles = [c.name for c in html] if html else []
    assert not titles or "Design matrix" in titles
    assert (
        tmp_path / "p" / "derivatives" / "fusion" / "parametric-modulation" / "z_main.nii.gz"
    ).is_file()
    assert ctx.project.last_step("fusion").qc["peak_z_main"] > 5
    assert Path(ctx.project.results["fusion/parametric-modulation"]["folder"]).is_dir()
