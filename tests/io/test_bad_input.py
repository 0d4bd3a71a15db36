"""Bad input for every reader: truncated, corrupt, wrong-type, empty, missing companion,
missing path. Each gives one line naming the file, writes nothing and changes nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import mne
import nibabel as nib
import numpy as np
import pytest

from workbench.cli.main import main
from workbench.engine.errors import InputError
from workbench.engine.io.dig import read_dig, read_surface
from workbench.engine.io.eeg import read_eeg, read_eeg_header
from workbench.engine.io.mri import read_bold, read_image
from workbench.engine.io.open import load_into
from workbench.engine.io.summary import summarise
from workbench.engine.session import Session


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(200)


# ------------------------------------------------------------------ good files to break
def _bv(tmp, data, study):
    d = tmp / "bv"
    shutil.copytree(study / "sub-01" / "eeg", d)
    return d / "sub-01_task-rest_eeg.vhdr"


def _edf(tmp, data, study):
    info = mne.create_info(["Fz", "Cz"], 250.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(0).standard_normal((2, 5000)) * 1e-5, info, verbose=False)
    (tmp / "edf").mkdir()
    mne.export.export_raw(tmp / "edf" / "x.edf", raw, verbose=False)
    return tmp / "edf" / "x.edf"


def _set(tmp, data, study):
    info = mne.create_info(["Fz", "Cz"], 250.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(0).standard_normal((2, 5000)) * 1e-5, info, verbose=False)
    (tmp / "set").mkdir()
    mne.export.export_raw(tmp / "set" / "x.set", raw, verbose=False)
    return tmp / "set" / "x.set"


def _fif(tmp, data, study):
    info = mne.create_info(["Fz", "Cz"], 250.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(0).standard_normal((2, 50000)) * 1e-5, info, verbose=False)
    (tmp / "fif").mkdir()
    raw.save(tmp / "fif" / "x_raw.fif", verbose=False)
    return tmp / "fif" / "x_raw.fif"


def _copy_into(tmp, name, *srcs):
    d = tmp / name
    d.mkdir()
    out = None
    for s in srcs:
        out = d / Path(s).name
        shutil.copy(s, out)
        out.chmod(0o644)
    return out


def _bold(tmp, data, study):
    d = tmp / "func"
    shutil.copytree(study / "sub-01" / "func", d)
    return d / "sub-01_task-rest_bold.nii.gz"


def _nii(tmp, data, study):
    (tmp / "nii").mkdir()
    img = nib.Nifti1Image(np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), np.eye(4))
    nib.save(img, tmp / "nii" / "t1.nii")
    return tmp / "nii" / "t1.nii"


def _mgz(tmp, data, study):
    return _copy_into(tmp, "mgz", data / "coreg/subjects/sample/mri/T1.mgz")


def _bvct(tmp, data, study):
    return _copy_into(tmp, "bvct", data / "coreg/montage/captrak_coords.bvct")


def _hsp(tmp, data, study):
    return _copy_into(tmp, "hsp", data / "coreg/montage/MQKIT_125.hsp")


def _tsv(tmp, data, study):
    d = tmp / "tsv"
    d.mkdir()
    for f in ("sub-01_electrodes.tsv", "sub-01_coordsystem.json"):
        shutil.copy(study / "sub-01" / "eeg" / f, d / f)
    return d / "sub-01_electrodes.tsv"


def _surf(tmp, data, study):
    return _copy_into(tmp, "surf", data / "coreg/subjects/sample/bem/outer_skin.surf")


def _headfif(tmp, data, study):
    return _copy_into(tmp, "headfif", data / "coreg/subjects/sample/bem/sample-head.fif")


def _digfif(tmp, data, study):
    return _copy_into(tmp, "digfif", data / "coreg/MEG/sample/test-ave.fif.gz")


GOOD = {
    "vhdr": (_bv, [read_eeg, read_eeg_header]),
    "edf": (_edf, [read_eeg]),
    "set": (_set, [read_eeg, read_eeg_header]),
    "fif": (_fif, [read_eeg]),
    "bold": (_bold, [read_image, read_bold]),
    "nii": (_nii, [read_image]),
    "mgz": (_mgz, [read_image]),
    "bvct": (_bvct, [read_dig]),
    "hsp": (_hsp, [read_dig]),
    "tsv": (_tsv, [read_dig]),
    "digfif": (_digfif, [read_dig]),
    "surf": (_surf, [read_surface]),
    "headfif": (_headfif, [read_surface]),
}


def _truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * 0.6) + 1])


def _corrupt(p: Path) -> None:
    data = bytearray(p.read_bytes())
    junk = bytes((i * 37 + 11) % 251 for i in range(64))
    at = 128 if p.suffix == ".set" else 0  # a MAT file starts with 116 bytes of free text
    data[at : at + 64] = junk  # the header / magic bytes
    p.write_bytes(bytes(data))


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _png(p: Path) -> None:
    p.write_bytes(PNG)


BREAK = {"truncated": _truncate, "corrupt": _corrupt, "empty": _empty, "wrong-type": _png}


def _check(fn, target: Path, watch: Path, named: str | None = None) -> str:
    before = snapshot(watch)
    with pytest.raises(InputError) as err:
        fn(target)
    msg = str(err.value)
    assert "\n" not in msg and "Traceback" not in msg
    assert msg.startswith(str(watch)), msg  # names the file (or its companion) first
    if named:
        assert named in msg, msg
    assert snapshot(watch) == before  # nothing written, input unchanged
    return msg


CASES = [(kind, how, fn) for kind, (_, fns) in GOOD.items() for how in BREAK for fn in fns]


@pytest.mark.parametrize("kind,how,fn", CASES, ids=[f"{k}-{h}-{f.__name__}" for k, h, f in CASES])
def test_broken_file(tmp_path, test_data, mini_study, kind, how, fn):
    target = GOOD[kind][0](tmp_path, test_data, mini_study)
    BREAK[how](target)
    _check(fn, target, target.parent, target.name)


# ------------------------------------------------------------------ missing companions
def test_missing_eeg_companion(tmp_path, test_data, mini_study):
    vhdr = _bv(tmp_path, test_data, mini_study)
    vhdr.with_suffix(".eeg").unlink()
    msg = _check(read_eeg, vhdr, vhdr.parent, "sub-01_task-rest_eeg.eeg")
    assert "missing" in msg
    # the header and markers are still readable
    h = read_eeg_header(vhdr)
    assert h.data_state == "missing" and len(h.markers) == 11


def test_empty_eeg_companion(tmp_path, test_data, mini_study):
    vhdr = _bv(tmp_path, test_data, mini_study)
    vhdr.with_suffix(".eeg").write_bytes(b"")
    assert "empty" in _check(read_eeg, vhdr, vhdr.parent, ".eeg")


def test_truncated_eeg_companion(tmp_path, test_data, mini_study):
    vhdr = _bv(tmp_path, test_data, mini_study)
    eeg = vhdr.with_suffix(".eeg")
    eeg.write_bytes(eeg.read_bytes()[:-6])  # not a whole number of 4-channel float32 frames
    assert "truncated" in _check(read_eeg, vhdr, vhdr.parent, ".eeg")


def test_missing_vmrk_companion(tmp_path, test_data, mini_study):
    vhdr = _bv(tmp_path, test_data, mini_study)
    vhdr.with_suffix(".vmrk").unlink()
    assert "marker file" in _check(read_eeg, vhdr, vhdr.parent, ".vmrk")


def test_missing_fdt_companion(tmp_path, copy_test_data):
    (s,) = copy_test_data("markers/bcgnet_sub34/sub34_r01_raw.set")
    assert "missing" in _check(read_eeg, s, s.parent, "sub34_r01_raw.fdt")


def test_corrupt_vhdr_fields(tmp_path, test_data, mini_study):
    vhdr = _bv(tmp_path, test_data, mini_study)
    txt = vhdr.read_text(encoding="utf-8").replace("SamplingInterval=2000", "SamplingInterval=abc")
    vhdr.write_text(txt, encoding="utf-8")
    for fn in (read_eeg, read_eeg_header):
        assert "SamplingInterval" in _check(fn, vhdr, vhdr.parent)


def test_opening_the_eeg_instead_of_the_vhdr(tmp_path, test_data, mini_study):
    vhdr = _bv(tmp_path, test_data, mini_study)
    assert ".vhdr" in _check(read_eeg, vhdr.with_suffix(".eeg"), vhdr.parent)


def test_bold_broken_sidecar(tmp_path, test_data, mini_study):
    bold = _bold(tmp_path, test_data, mini_study)
    Path(str(bold).replace(".nii.gz", ".json")).write_text('{"RepetitionTime": 2.0,')
    assert "broken JSON" in _check(read_bold, bold, bold.parent, "_bold.json")


def test_bold_without_tr(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 5), np.float32), np.eye(4)), tmp_path / "bold.nii.gz")
    assert "no repetition time" in _check(read_bold, tmp_path / "bold.nii.gz", tmp_path)


# ------------------------------------------------------------------ paths
@pytest.mark.parametrize("fn", [read_eeg, read_eeg_header, read_image, read_bold, read_dig, read_surface, summarise])
def test_missing_path(tmp_path, fn):
    msg = _check(fn, tmp_path / "nope.vhdr", tmp_path)
    assert "not found" in msg


@pytest.mark.parametrize("fn", [read_eeg, read_image, read_dig, read_surface])
def test_folder_instead_of_file(tmp_path, fn):
    (tmp_path / "d.vhdr").mkdir()
    assert "folder" in _check(fn, tmp_path / "d.vhdr", tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path, test_data, mini_study):
    vhdr = _bv(tmp_path, test_data, mini_study)
    vhdr.chmod(0)
    try:
        assert "permission" in _check(read_eeg, vhdr, vhdr.parent)
    finally:
        vhdr.chmod(0o644)


@pytest.mark.parametrize("name", ["notes.txt", "x.png", "x"])
def test_unknown_type(tmp_path, name):
    (tmp_path / name).write_bytes(PNG)
    for fn in (read_eeg, read_image, read_dig, summarise):
        _check(fn, tmp_path / name, tmp_path)


# ------------------------------------------------------------------ load_into and the CLI
@pytest.mark.parametrize("kind", ["vhdr", "bold", "bvct", "mgz"])
def test_load_into_broken_single_file(tmp_path, test_data, mini_study, kind):
    target = GOOD[kind][0](tmp_path, test_data, mini_study)
    _truncate(target)
    session = Session()
    _check(lambda p: load_into(session, p), target, target.parent, target.name)
    assert session.raw is None and session.bold is None and session.dig is None and session.anat is None


def test_load_into_broken_project(tmp_path):
    (tmp_path / "project.json").write_text('{"schema_version": 2, "inputs": [')
    session = Session()
    msg = _check(lambda p: load_into(session, p), tmp_path, tmp_path, "project.json")
    assert "broken JSON" in msg and session.project is None


@pytest.mark.parametrize("kind,how", [("vhdr", "wrong-type"), ("bold", "truncated"), ("bvct", "corrupt"),
                                      ("edf", "empty"), ("mgz", "truncated")])
def test_info_cli_on_broken_files(tmp_path, test_data, mini_study, capsys, kind, how):
    target = GOOD[kind][0](tmp_path, test_data, mini_study)
    BREAK[how](target)
    before = snapshot(target.parent)
    assert main(["info", str(target)]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"workbench info: error: {target}"), err
    assert out == "" and snapshot(target.parent) == before


def test_info_cli_missing_companion_subprocess(tmp_path, test_data, mini_study):
    """The installed entry point, as a user runs it: exit 1, one line on stderr."""
    import subprocess
    import sys

    vhdr = _bv(tmp_path, test_data, mini_study)
    vhdr.with_suffix(".vmrk").write_bytes(PNG)
    r = subprocess.run([sys.executable, "-m", "workbench", "info", str(vhdr)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "sub-01_task-rest_eeg.vmrk" in lines[0], r.stderr


def test_permission_denied_is_one_line(tmp_path, test_data, mini_study, monkeypatch):
    """The unreadable-file branch (also checked when running as root, where chmod has no effect)."""
    from workbench.engine.io import _util

    vhdr = _bv(tmp_path, test_data, mini_study)
    monkeypatch.setattr(_util.os, "access", lambda p, mode: False)
    for fn in (read_eeg, read_image, read_dig, summarise):
        assert "permission denied" in _check(fn, vhdr, vhdr.parent)
