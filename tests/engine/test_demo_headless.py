"""End to end: the headless demo runs every registered step, and `workbench run` replays it."""

from __future__ import annotations

import json

import pytest

from workbench.cli.main import main
from workbench.engine.project import Project
from workbench.plugin_api import all_steps

SHORT = {"duration_s": 40.0, "sfreq": 5000.0, "n_eeg": 32, "tr": 2.0, "slices": 20,
         "multiband": 1, "drift_ppm": 20.0, "seed": 7}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from workbench.engine.demo import run_demo_headless

    out = tmp_path_factory.mktemp("demo")
    seen = []
    report = run_demo_headless(out, all_steps(), lambda f, m: seen.append(f), config=SHORT)
    return out, report, seen


def test_report_and_project_are_written(demo_run):
    out, report, seen = demo_run
    html = report.read_text(encoding="utf-8")
    assert report == out / "report.html" and "Pipeline summary" in html
    assert seen[-1] == pytest.approx(1.0) and all(b >= a - 1e-9 for a, b in zip(seen, seen[1:]))
    proj = Project.load(out)
    assert proj.steps[0].name == "load" and proj.steps[0].qc["sfreq_hz"] == 5000.0
    assert proj.inputs_of("eeg") and proj.inputs_of("bold")


def test_every_demo_step_ran_and_succeeded(demo_run):
    from workbench.engine.demo import DEMO_PIPELINE

    out, _, _ = demo_run
    doc = json.loads((out / "project.json").read_text())
    ran = {s["name"]: s for s in doc["steps"]}
    wanted = [sid for sid, _ in DEMO_PIPELINE]
    assert {"sync", "gradient", "coreg", "parametric-modulation"} <= set(wanted)
    # every built-in stage marked for the demo is in its pipeline (plugins join it by name)
    catalog = all_steps()
    assert {s.id for s in catalog.values() if s.in_demo and s.origin == "built-in"} <= set(wanted)
    for sid in wanted:
        assert sid in ran, f"demo did not run step {sid}"
        assert ran[sid]["status"] == "done", ran[sid]["message"]
        # the parameters recorded are every declared parameter, with the demo's overrides
        assert set(ran[sid]["params"]) == {p.name for p in catalog[sid].params}


def test_replay_reproduces_every_qc_number(demo_run, tmp_path, capsys):
    out, _, _ = demo_run
    rc = main(["run", str(out), "--out", str(tmp_path / "replay")])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "all recorded QC values and parameters reproduced" in text
    assert (tmp_path / "replay" / "report.html").is_file()


def test_demo_refuses_a_file_as_output(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    rc = main(["demo", "--headless", "--out", str(f)])
    assert rc == 1 and "not a folder" in capsys.readouterr().err
    assert f.read_text() == "x"


def test_demo_never_deletes_a_study_folder_it_did_not_make(tmp_path, capsys):
    mine = tmp_path / "study"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep")
    rc = main(["demo", "--headless", "--out", str(tmp_path)])
    assert rc == 1 and "not made by the demo" in capsys.readouterr().err
    assert (mine / "precious.txt").read_text() == "keep"
