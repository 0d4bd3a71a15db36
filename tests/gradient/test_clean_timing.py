"""`workbench clean` takes the slice timing from the BOLD sidecar by itself, and says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from workbench.cli.main import main
from workbench.engine.gradient.timing import find_bold_sidecar


def _eeg(study: Path) -> Path:
    return next(study.glob("sub-01/eeg/*_eeg.vhdr"))


def test_clean_uses_the_bids_bold_sidecar_without_being_told(
    phantom_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    vhdr = _eeg(phantom_study)
    side = next(phantom_study.glob("sub-01/func/*_bold.json"))
    out, qc = tmp_path / "clean_eeg.fif", tmp_path / "qc.json"
    assert main(["clean", str(vhdr), str(out), "--steps", "gradient", "--json", str(qc)]) == 0
    said = capsys.readouterr().out
    assert f"slice timing: {side}" in said and "recorded with the EEG" in said
    doc = json.loads(qc.read_text())
    assert doc["slice_timing_from"] == str(side)
    # the phantom's 20 interleaved slices come from the sidecar, not from detection
    assert doc["gradient"]["sync"]["timing_source"] == "sidecar"
    assert doc["gradient"]["sync"]["n_slots"] == 20
    assert "slot_detection" not in doc["gradient"]["sync"]


def test_clean_outside_bids_says_the_slots_are_detected(
    phantom_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    vhdr = _eeg(phantom_study)
    for f in vhdr.parent.glob(vhdr.name.replace(".vhdr", ".*")):
        shutil.copy(f, tmp_path / f.name)
    out, qc = tmp_path / "out" / "clean_eeg.fif", tmp_path / "qc.json"
    assert main(["clean", str(tmp_path / vhdr.name), str(out), "--steps", "sync", "--json", str(qc)]) == 0
    said = capsys.readouterr().out
    assert "no BOLD sidecar with SliceTiming found" in said and "--slice-timing" in said
    doc = json.loads(qc.read_text())
    assert doc["slice_timing_from"] is None
    assert doc["sync"]["timing_source"] == "volume"
    # a sidecar given on the command line is used and named
    side = next(phantom_study.glob("sub-01/func/*_bold.json"))
    out.unlink()
    assert main(["clean", str(tmp_path / vhdr.name), str(out), "--steps", "sync", "--slice-timing", str(side),
                 "--json", str(qc)]) == 0
    assert f"slice timing: {side} (--slice-timing; its SliceTiming)" in capsys.readouterr().out
    assert json.loads(qc.read_text())["sync"]["timing_source"] == "sidecar"


def test_find_bold_sidecar_matches_task_and_run(tmp_path: Path) -> None:
    sub = tmp_path / "ds" / "sub-02"
    (sub / "eeg").mkdir(parents=True)
    (sub / "func").mkdir()
    eeg = sub / "eeg" / "sub-02_task-rest_run-2_eeg.vhdr"
    eeg.touch()
    for name in ("sub-02_task-rest_run-1_bold.json", "sub-02_task-rest_run-2_bold.json",
                 "sub-02_task-motor_run-2_bold.json"):
        (sub / "func" / name).write_text("{}")
    assert find_bold_sidecar(eeg) == sub / "func" / "sub-02_task-rest_run-2_bold.json"
    # only another run or task: none of them; the dataset-level task sidecar (BIDS inheritance)
    (sub / "func" / "sub-02_task-rest_run-2_bold.json").unlink()
    assert find_bold_sidecar(eeg) is None
    (tmp_path / "ds" / "task-rest_bold.json").write_text("{}")
    assert find_bold_sidecar(eeg) == tmp_path / "ds" / "task-rest_bold.json"
    # sessions: sub-X/ses-Y/eeg next to sub-X/ses-Y/func
    ses = tmp_path / "ds" / "sub-03" / "ses-a"
    (ses / "eeg").mkdir(parents=True)
    (ses / "func").mkdir()
    e2 = ses / "eeg" / "sub-03_ses-a_task-rest_eeg.vhdr"
    (ses / "func" / "sub-03_ses-a_task-rest_bold.json").write_text("{}")
    assert find_bold_sidecar(e2) == ses / "func" / "sub-03_ses-a_task-rest_bold.json"
    assert find_bold_sidecar(tmp_path / "loose_eeg.vhdr") is None
