"""Project files: provenance, atomic saves, migration and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.engine.errors import ProjectError
from workbench.engine.project import SCHEMA_VERSION, Project, sha256_file


def test_roundtrip_keeps_steps_inputs_and_transforms(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("eeg")
    proj = Project(tmp_path / "proj")
    events = []
    proj.changed.connect(events.append)
    proj.add_input(data, "eeg")
    proj.record_step("gradient", {"window": 30, "arr": np.arange(3)}, inputs=[data],
                     qc={"rms_uv": np.float32(1.5)})
    proj.set_transform("head_mri", tmp_path / "proj" / "derivatives" / "x-trans.fif")
    proj.save()
    again = Project.load(tmp_path / "proj")
    assert again.steps[0].params == {"window": 30, "arr": [0, 1, 2]}
    assert again.steps[0].qc["rms_uv"] == pytest.approx(1.5)
    assert again.inputs[0].sha256 == sha256_file(data)
    assert again.transforms["head_mri"] == "derivatives/x-trans.fif"
    assert "mne" in again.steps[0].versions
    assert len(events) == 3 and not again.dirty


def test_inputs_are_hashed_and_changes_detected(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("a")
    proj = Project(tmp_path)
    proj.add_input(data, "eeg")
    assert proj.verify_inputs() == []
    data.write_text("b")
    assert "changed" in proj.verify_inputs()[0]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "broken JSON"),
        ('{"name": "x"}', "no schema_version"),
        (json.dumps({"schema_version": SCHEMA_VERSION + 1}), "newer workbench"),
        (json.dumps({"schema_version": "two"}), "must be an integer"),
        (json.dumps({"schema_version": SCHEMA_VERSION, "steps": [{"bogus": 1}]}), "broken project structure"),
    ],
)
def test_broken_project_gives_one_line_error_and_changes_nothing(tmp_path, content, fragment):
    f = tmp_path / "project.json"
    f.write_text(content)
    with pytest.raises(ProjectError) as err:
        Project.load(tmp_path)
    msg = str(err.value)
    assert fragment in msg and str(f) in msg and "\n" not in msg
    assert f.read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project.json"]


def test_binary_garbage_is_reported(tmp_path):
    f = tmp_path / "project.json"
    f.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ProjectError, match="not a text file"):
        Project.load(f)


def test_schema1_is_migrated_and_backed_up_on_save(tmp_path):
    old = {"schema_version": 1, "name": "old", "files": {"eeg": ["a.vhdr"]},
           "history": [{"step": "sync", "params": {"tr": 2.0}, "qc": {"drift_ppm": 3}}]}
    (tmp_path / "project.json").write_text(json.dumps(old))
    proj = Project.load(tmp_path)
    assert proj.inputs[0].path == "a.vhdr" and proj.inputs[0].kind == "eeg"
    assert proj.steps[0].name == "sync" and proj.steps[0].qc == {"drift_ppm": 3}
    assert json.loads((tmp_path / "project.json").read_text())["schema_version"] == 1  # untouched
    proj.save()
    assert json.loads((tmp_path / "project.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert json.loads((tmp_path / "project.json.v1.bak").read_text()) == old


def test_failed_save_leaves_previous_file(tmp_path, monkeypatch):
    proj = Project(tmp_path)
    proj.name = "first"
    proj.save()
    before = (tmp_path / "project.json").read_text()
    proj.name = "second"
    proj.results["bad"] = object()  # not serialisable -> the write fails midway
    with pytest.raises(TypeError):
        proj.save()
    assert (tmp_path / "project.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["project.json"]


def test_a_large_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    import hashlib
    import os

    from workbench.engine import project as project_mod

    monkeypatch.setattr(project_mod, "_CACHE_FROM", 1)
    f = tmp_path / "big.bin"
    f.write_bytes(b"a" * 1000)
    first = sha256_file(f)
    reads = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: reads.append(a[0]) or real_open(*a, **k))
    assert sha256_file(f) == first and reads == []  # unchanged: not read again
    f.write_bytes(b"b" * 1000)
    st = os.stat(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert sha256_file(f) == hashlib.sha256(b"b" * 1000).hexdigest() != first
    monkeypatch.setattr(project_mod, "_CACHE_FROM", 64 << 20)
    f.write_bytes(b"c" * 1000)  # small files are always read, whatever the clock says
    assert sha256_file(f) == hashlib.sha256(b"c" * 1000).hexdigest()
