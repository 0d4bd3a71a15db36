"""``workbench coreg`` end to end: outputs, QC JSON, and clear errors that write nothing."""

from __future__ import annotations

import json

import mne
import numpy as np
import pytest

from workbench.cli.main import main
from workbench.engine.coreg.export import read_trans


@pytest.fixture(scope="module")
def paths(test_data):
    c = test_data / "coreg"
    return {
        "info": c / "MEG" / "sample" / "test-ave.fif.gz",
        "surf": c / "subjects" / "sample" / "bem" / "outer_skin.surf",
        "head": c / "subjects" / "sample" / "bem" / "sample-head.fif",
        "bem1": c / "subjects" / "sample" / "bem" / "sample-1280-bem.fif",
        "fid": c / "subjects" / "sample" / "bem" / "sample-fiducials.fif",
        "t1": c / "subjects" / "sample" / "mri" / "T1.mgz",
    }


def test_cli_writes_trans_json_and_bids(paths, tmp_path):
    out = tmp_path / "sample-trans.fif"
    qc = tmp_path / "qc.json"
    el = tmp_path / "sub-01_space-other_electrodes.tsv"
    rc = main(["coreg", "--dig", str(paths["info"]), "--surface", str(paths["surf"]), "--fiducials", str(paths["fid"]),
               "--out", str(out), "--json", str(qc), "--electrodes", str(el)])
    assert rc == 0
    m = read_trans(out)
    t = mne.read_trans(out)
    assert t["from"] == mne.io.constants.FIFF.FIFFV_COORD_HEAD
    doc = json.loads(qc.read_text())
    for k in ("mean_mm", "median_mm", "max_mm", "sd_mm", "pct_beyond_3mm", "pct_beyond_5mm", "pct_beyond_10mm",
              "fid_lpa_mm", "fid_nasion_mm", "fid_rpa_mm", "n_omitted", "n_points"):
        assert k in doc
    # omission at 5 mm judges residuals (electrodes: distance from the fitted cap height)
    assert doc["mean_mm"] < 2.5 and doc["max_residual_mm"] <= 5.0 + 1e-9 and 0.5 < doc["eeg_lift_mm"] < 5
    rows = el.read_text().splitlines()
    assert rows[0].split("\t") == ["name", "x", "y", "z", "type"] and len(rows) == 1 + 61
    cs = json.loads((tmp_path / "sub-01_space-other_coordsystem.json").read_text())
    assert cs["EEGCoordinateUnits"] == "m"
    # electrodes written = dig electrodes through the transform, projected onto the scalp
    info = mne.io.read_info(paths["info"], verbose="error")
    eeg = np.array([d["r"] for d in info["dig"] if d["kind"] == 3])
    xyz = np.array([[float(v) for v in r.split("\t")[1:4]] for r in rows[1:]])
    moved = eeg @ m[:3, :3].T + m[:3, 3]
    d = np.linalg.norm(xyz - moved, axis=1)
    assert np.median(d) < 3e-3


def test_cli_from_t1_and_head_fif_agree(paths, tmp_path):
    a, b = tmp_path / "a-trans.fif", tmp_path / "b-trans.fif"
    assert main(["coreg", "--dig", str(paths["info"]), "--mri", str(paths["t1"]), "--out", str(a)]) == 0
    assert main(["coreg", "--dig", str(paths["info"]), "--surface", str(paths["head"]), "--out", str(b)]) == 0
    ma, mb = read_trans(a), read_trans(b)
    from workbench.engine.coreg.fit import rotation_angle_deg

    assert rotation_angle_deg(ma, mb) < 2.0 and np.linalg.norm(ma[:3, 3] - mb[:3, 3]) < 3e-3


def _write_dig_fif(path, info_path, factor=1.0, frame="head", drop_fids=False):
    info = mne.io.read_info(info_path, verbose="error")
    fids = {}
    kinds = {1: "lpa", 2: "nasion", 3: "rpa"}
    for d in info["dig"]:
        if d["kind"] == 1:
            fids[kinds[d["ident"]]] = d["r"] * factor
    eeg = np.array([d["r"] for d in info["dig"] if d["kind"] == 3]) * factor
    hsp = np.array([d["r"] for d in info["dig"] if d["kind"] == 4]) * factor
    mont = mne.channels.make_dig_montage(
        ch_pos={f"E{i}": p for i, p in enumerate(eeg)}, hsp=hsp, coord_frame=frame,
        **({} if drop_fids else fids))
    mont.save(path, overwrite=True, verbose="error")


@pytest.mark.parametrize(
    "kind, match",
    [
        ("mm", "millimetres passed as metres"),
        ("nofid", "no fiducials"),
        ("mri_frame", "mismatched frames|not in the head frame"),
        ("empty_surface", "surface"),
        ("inner_skull_only", "no head"),
        ("bad_out", "-trans.fif"),
        ("too_few", "at least 3|no fiducials"),
    ],
)
def test_cli_bad_input_one_line_nothing_written(paths, tmp_path, capsys, kind, match):
    dig = str(paths["info"])
    surf = str(paths["surf"])
    out = tmp_path / "x-trans.fif"
    if kind == "mm":
        dig = str(tmp_path / "mm-dig.fif")
        _write_dig_fif(dig, paths["info"], factor=1000.0)
    elif kind == "nofid":
        dig = str(tmp_path / "nofid-dig.fif")
        _write_dig_fif(dig, paths["info"], drop_fids=True)
    elif kind == "mri_frame":
        dig = str(tmp_path / "mri-dig.fif")
        _write_dig_fif(dig, paths["info"], frame="mri")
    elif kind == "empty_surface":
        surf = str(tmp_path / "empty.surf")
        open(surf, "wb").close()
    elif kind == "inner_skull_only":
        surf = str(paths["bem1"])
    elif kind == "bad_out":
        out = tmp_path / "x.fif"
    elif kind == "too_few":
        dig = str(tmp_path / "few-dig.fif")
        mne.channels.make_dig_montage(ch_pos={"a": [0, 0.08, 0], "b": [0.07, 0, 0]}, coord_frame="head").save(
            dig, overwrite=True, verbose="error")
    rc = main(["coreg", "--dig", dig, "--surface", surf, "--out", str(out), "--json", str(tmp_path / "qc.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert len(err) >= 1 and "Traceback" not in "".join(err)
    assert any(__import__("re").search(match, line) for line in err), err
    assert not out.exists() and not (tmp_path / "qc.json").exists()
    assert not list(tmp_path.glob(".*trans*"))  # no temporary leftovers


@pytest.mark.parametrize("kind", ["dig_fif", "captrak", "polhemus"])
def test_cli_accepts_other_digitisation_formats(paths, test_data, tmp_path, kind):
    montage_dir = test_data / "coreg" / "montage"
    if kind == "dig_fif":
        dig = tmp_path / "sample-dig.fif"
        _write_dig_fif(dig, paths["info"])
    elif kind == "captrak":
        dig = montage_dir / "captrak_coords.bvct"
    else:
        dig = montage_dir / "MQKIT_125.hsp"
    out = tmp_path / "x-trans.fif"
    qc = tmp_path / "qc.json"
    rc = main(["coreg", "--dig", str(dig), "--surface", str(paths["head"]), "--out", str(out), "--json", str(qc)])
    assert rc == 0 and out.is_file()
    doc = json.loads(qc.read_text())
    assert doc["n_points"] >= 3
    if kind == "dig_fif":  # same points as the info: same quality as from the info
        assert doc["mean_mm"] < 2.0
