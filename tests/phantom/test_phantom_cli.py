"""``workbench simulate`` on the command line."""

from __future__ import annotations

import json

from workbench.cli.main import main


def test_simulate_writes_a_study(tmp_path, capsys):
    out = tmp_path / "s"
    rc = main(["simulate", str(out), "--duration", "8", "--tr", "1", "--slices", "12", "--n-eeg", "64",
               "--multiband", "2", "--drift-ppm", "-15", "--missing-triggers", "1", "--dig-noise-mm", "0.5",
               "--dig-bias-mm", "2", "--subjects", "2", "--seed", "5", "--slice-markers"])
    assert rc == 0
    assert "ground truth" in capsys.readouterr().out
    idx = json.loads((out / "ground_truth" / "index.json").read_text())
    assert sorted(idx["subjects"]) == ["01", "02"]
    cfg = idx["config"]
    assert (cfg["n_eeg"], cfg["multiband"], cfg["drift_ppm"], cfg["missing_triggers"], cfg["seed"]) == (64, 2, -15.0, 1, 5)
    sub = idx["subjects"]["02"]
    assert len(sub["ch_names"]) == 66
    side = json.loads((out / "sub-02" / "func" / "sub-02_task-phantom_bold.json").read_text())
    assert side["MultibandAccelerationFactor"] == 2
    # multiband: pairs of slices share an acquisition time
    st = side["SliceTiming"]
    assert len(set(st)) == 6 and len(st) == 12


def test_simulate_refuses_a_non_empty_folder(tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    (out / "x").write_text("x")
    rc = main(["simulate", str(out), "--duration", "8"])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1 and "not empty" in err and str(out) in err


def test_simulate_bad_option_is_one_line(tmp_path, capsys):
    rc = main(["simulate", str(tmp_path / "s"), "--slices", "30", "--multiband", "4"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "multiband" in err
    assert not (tmp_path / "s").exists()


def test_simulate_into_an_unwritable_place_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a parent folder should be
    rc = main(["simulate", str(blocker / "s"), "--duration", "8"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "is a file, not a folder" in err
