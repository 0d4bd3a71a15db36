"""Issue 16 guards: the validation layer, the output-path guard, the atomic multi-file
writer, containment of project paths and of header companions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from workbench.engine.errors import Cancelled, InputError, ProjectError
from workbench.engine.outputs import TEMP_PREFIX, atomic_files, check_outputs, companions
from workbench.engine.project import Project
from workbench.engine.validate import (
    check_affine,
    check_bold_sidecar,
    check_positions,
    check_sfreq,
    check_slice_timing,
    check_tr,
    load_json,
    loads_json,
)


# ------------------------------------------------------------------ validation layer
@pytest.mark.parametrize("text,fragment", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a": ' + "9" * 5001 + "}", "digits"),
    ('{"a": NaN}', "NaN is not valid JSON"),
    ('{"a": Infinity}', "Infinity is not valid JSON"),
    ('{"a": 1e400}', "overflows"),
    ("{oops", "broken JSON at line 1"),
])
def test_guarded_json_turns_every_parser_failure_into_one_line(tmp_path, text, fragment):
    f = tmp_path / "x.json"
    f.write_text(text)
    with pytest.raises(InputError, match=fragment) as err:
        load_json(f, object_required=False)
    assert str(f) in str(err.value) and "\n" not in str(err.value)


def test_guarded_json_depth_limit_without_recursion_error():
    assert loads_json("[" * 64 + "]" * 64) is not None
    with pytest.raises(InputError, match="nested too deeply"):
        loads_json("[" * 65 + "]" * 65)


@pytest.mark.parametrize("value", [0, -2, float("nan"), float("inf"), "two", None, True, 1e9, 0.01])
def test_tr_outside_its_range_names_the_file_and_value(value):
    with pytest.raises(InputError) as err:
        check_tr(value, "bold.json")
    assert str(err.value).startswith("bold.json: ") and "RepetitionTime" in str(err.value)


def test_physical_ranges():
    assert check_sfreq(5000, None) == 5000.0
    for bad in (0.5, 2e6, -1000, float("nan")):
        with pytest.raises(InputError):
            check_sfreq(bad, "x.vhdr")
    assert check_slice_timing([0, 0.5, 1.0], 2.0, "s.json") == [0, 0.5, 1.0]
    for bad in (0.5, [0, float("nan")], [0, 2.0], [-0.1], list(range(2000)), "abc"):
        with pytest.raises(InputError, match="SliceTiming"):
            check_slice_timing(bad, 2.0, "s.json")
    with pytest.raises(InputError, match="1e\\+300"):
        check_positions([[0, 0, 1e300]], "e.tsv")
    for aff in (np.zeros((4, 4)), np.diag([1, 1, np.nan, 1])):
        with pytest.raises(InputError, match="affine"):
            check_affine(aff, "t1.nii")
    with pytest.raises(InputError, match="MultibandAccelerationFactor"):
        check_bold_sidecar({"RepetitionTime": 2, "MultibandAccelerationFactor": 0}, "s.json")


def test_bold_sidecar_error_names_the_sidecar_not_the_image(tmp_path):
    import nibabel as nib

    from workbench.engine.io.mri import read_bold

    img = nib.Nifti1Image(np.ones((4, 4, 3, 5), np.float32), np.eye(4))
    nib.save(img, tmp_path / "sub-01_task-x_bold.nii.gz")
    for tr in ("0", "-2", "NaN"):
        (tmp_path / "sub-01_task-x_bold.json").write_text(f'{{"RepetitionTime": {tr}}}')
        with pytest.raises(InputError) as err:
            read_bold(tmp_path / "sub-01_task-x_bold.nii.gz")
        assert "sub-01_task-x_bold.json" in str(err.value)


# ------------------------------------------------------------------ output guard
def _touch(*paths: Path) -> None:
    for p in paths:
        p.write_text("x")


def test_outputs_never_replace_inputs_or_their_companions(tmp_path):
    vhdr, vmrk, eeg = (tmp_path / f"r.{s}" for s in ("vhdr", "vmrk", "eeg"))
    _touch(vhdr, vmrk, eeg)
    for out in (vhdr, vmrk, eeg, tmp_path / "r.vhdr"):
        with pytest.raises(InputError, match="never overwritten"):
            check_outputs([out], [vhdr])
    with pytest.raises(InputError, match="never overwritten"):
        check_outputs([tmp_path / "sub-01_task-a_bold.json"], [tmp_path / "sub-01_task-a_bold.nii.gz"])
    with pytest.raises(InputError, match="never overwritten"):
        check_outputs([tmp_path / "x.fdt"], [tmp_path / "x.set"])
    with pytest.raises(InputError, match="never overwritten"):  # a BrainVision output writes its .vmrk too
        check_outputs([tmp_path / "r.vhdr"], [vmrk])
    with pytest.raises(InputError, match="written twice"):
        check_outputs([tmp_path / "a.json", tmp_path / "a.json"], [])
    check_outputs([tmp_path / "clean.fif", None], [vhdr, None])  # fine


def test_guard_sees_through_symlinks_and_hard_links(tmp_path):
    src = tmp_path / "rec_raw.fif"
    _touch(src)
    os.symlink(src, tmp_path / "alias.fif")
    os.link(src, tmp_path / "hard.fif")
    for out in (tmp_path / "alias.fif", tmp_path / "hard.fif"):
        with pytest.raises(InputError, match="never overwritten"):
            check_outputs([out], [src])
    loop = tmp_path / "loop.json"
    os.symlink(loop.name, loop)
    check_outputs([tmp_path / "ok.json"], [loop])  # a loop as input does not crash the guard


def test_companions_of_a_bids_recording(tmp_path):
    names = {p.name for p in companions(tmp_path / "sub-01_task-r_eeg.vhdr")}
    assert {"sub-01_task-r_eeg.vmrk", "sub-01_task-r_eeg.eeg", "sub-01_task-r_channels.tsv",
            "sub-01_task-r_events.tsv", "sub-01_task-r_eeg.json"} <= names


# ------------------------------------------------------------------ atomic writer
def test_atomic_set_appears_together_and_cancel_changes_nothing(tmp_path):
    targets = [tmp_path / f"r.{s}" for s in ("vhdr", "vmrk", "eeg")]
    with atomic_files(targets) as tmp:
        for t in tmp:
            t.write_text("new")
        assert not any(p.exists() for p in targets)  # nothing visible before the end
    assert all(p.read_text() == "new" for p in targets)
    with pytest.raises(Cancelled):
        with atomic_files(targets) as tmp:
            tmp[0].write_text("newer")
            raise Cancelled()
    assert all(p.read_text() == "new" for p in targets)
    assert not list(tmp_path.glob(".*")), "no hidden temporary folder left"


def test_atomic_set_incomplete_writes_nothing(tmp_path):
    targets = [tmp_path / "a.txt", tmp_path / "b.txt"]
    with pytest.raises(InputError, match="not written"):
        with atomic_files(targets) as tmp:
            tmp[0].write_text("a")
    assert not any(p.exists() for p in targets) and not list(tmp_path.glob(".*"))


def test_atomic_set_restores_old_files_when_a_move_fails(tmp_path, monkeypatch):
    targets = [tmp_path / "a.txt", tmp_path / "b.txt"]
    _touch(*targets)
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if Path(dst) == targets[1] and Path(src).name == "b.txt" and not calls[:-1].count(dst):
            raise OSError("disk full")  # the new b.txt cannot be moved in (once)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError, match="disk full"):
        with atomic_files(targets) as tmp:
            for t in tmp:
                t.write_text("new")
    monkeypatch.undo()
    assert [p.read_text() for p in targets] == ["x", "x"]
    assert not list(tmp_path.glob(".*"))


def test_stale_temporary_folders_of_dead_processes_are_removed(tmp_path):
    stale = tmp_path / f"{TEMP_PREFIX}4194305-r.vhdr"
    stale.mkdir()
    (stale / "r.eeg").write_text("half")
    with atomic_files([tmp_path / "x.txt"]) as tmp:
        tmp[0].write_text("x")
    assert not stale.exists()


def test_brainvision_export_is_one_atomic_set(tmp_path):
    import mne

    from workbench.engine.gradient.export import write_raw

    raw = mne.io.RawArray(np.ones((2, 100)) * 1e-6, mne.create_info(["a", "b"], 100.0, "eeg"), verbose=False)
    files = write_raw(raw, tmp_path / "o.vhdr")
    assert sorted(p.name for p in files) == ["o.eeg", "o.vhdr", "o.vmrk"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.eeg", "o.vhdr", "o.vmrk"]
    raw._data[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        write_raw(raw, tmp_path / "p.fif")
    assert not (tmp_path / "p.fif").exists()


# ------------------------------------------------------------------ containment
def _project(tmp_path: Path, **changes) -> Path:
    doc = {"schema_version": 2, "name": "p", "subjects": [], "inputs": [], "steps": [], "transforms": {},
           "results": {}, "settings": {}}
    doc.update(changes)
    (tmp_path / "project.json").write_text(json.dumps(doc))
    return tmp_path


@pytest.mark.parametrize("changes,fragment", [
    ({"inputs": [{"path": "../../../../etc/passwd", "kind": "eeg"}]}, "outside the project"),
    ({"settings": {"study_dir": "../../.."}}, "settings.study_dir"),
    ({"transforms": {"head_mri": "../x-trans.fif"}}, "transforms.head_mri"),
    ({"steps": [{"name": "sync", "params": [1, 2]}]}, "params must be an object"),
    ({"steps": {"a": 1}}, "steps must be a JSON array"),
    ({"schema_version": True}, "schema_version"),
])
def test_hostile_project_files_are_refused(tmp_path, changes, fragment):
    _project(tmp_path, **changes)
    with pytest.raises(ProjectError, match=fragment) as err:
        Project.load(tmp_path)
    assert "\n" not in str(err.value) and "root:" not in str(err.value)


def test_project_paths_inside_and_absolute_are_kept(tmp_path):
    _project(tmp_path, inputs=[{"path": "data/x.edf", "kind": "eeg"}, {"path": "/data/y.edf", "kind": "eeg"}],
             settings={"study_dir": "."})
    proj = Project.load(tmp_path)
    assert proj.abspath("data/x.edf") == tmp_path.absolute() / "data" / "x.edf"
    with pytest.raises(ProjectError):
        proj.abspath("../escape.edf")


def test_header_companion_outside_the_folder_is_refused_without_quoting_it(tmp_path):
    from workbench.engine.io.eeg import read_eeg, read_eeg_header

    vhdr = tmp_path / "x.vhdr"
    vhdr.write_text("Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nDataFile=../../../../etc/passwd\n"
                    "MarkerFile=x.vmrk\nDataFormat=BINARY\nDataOrientation=MULTIPLEXED\nNumberOfChannels=1\n"
                    "SamplingInterval=2000\n[Binary Infos]\nBinaryFormat=INT_16\n[Channel Infos]\nCh1=Fz,,0.1,µV\n")
    for fn in (read_eeg, read_eeg_header):
        with pytest.raises(InputError, match="DataFile must name a file next to the header") as err:
            fn(vhdr)
        assert "root:" not in str(err.value)


def test_not_a_brainvision_file_is_not_quoted(tmp_path):
    from workbench.engine.io.eeg import read_eeg_header

    f = tmp_path / "x.vhdr"
    f.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(InputError) as err:
        read_eeg_header(f)
    assert "root:" not in str(err.value).replace(str(tmp_path), "")
