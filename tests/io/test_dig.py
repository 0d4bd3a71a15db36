"""Digitisation and surface readers: exact counts on the real files, metres, head frame,
rigid geometry preserved, unit detection."""

from __future__ import annotations

import json

import defusedxml.ElementTree  # noqa: F401 - MNE's captrak reader needs it imported first
import mne
import numpy as np
import pytest
from mne.io.constants import FIFF

from workbench.engine.errors import InputError
from workbench.engine.io.dig import (
    dig_counts,
    dig_frame,
    read_dig,
    read_dig_with_notes,
    read_surface,
)

C = "coreg"


def _rr(m):
    return np.array([d["r"] for d in m.dig], float)


def _pdist(x):
    return np.linalg.norm(x[:, None] - x[None], axis=-1)


def _check_head_frame(m):
    pos = m.get_positions()
    assert pos["coord_frame"] == "head" and dig_frame(m) == "head"
    nas, lpa, rpa = pos["nasion"], pos["lpa"], pos["rpa"]
    # MNE head frame: x through LPA->RPA, y towards the nasion, origin between the ears
    assert abs(nas[0]) < 1e-6 and abs(nas[2]) < 1e-6 and nas[1] > 0.05  # float32 files
    assert lpa[0] < -0.05 and rpa[0] > 0.05 and abs(lpa[1]) < 1e-6 and abs(rpa[1]) < 1e-6


def test_captrak(test_data):
    m, notes = read_dig_with_notes(test_data / C / "montage/captrak_coords.bvct")
    assert dig_counts(m) == {"fiducials": 3, "hpi": 0, "eeg": 66, "extra": 0}
    _check_head_frame(m)
    ref = mne.channels.read_dig_captrak(test_data / C / "montage/captrak_coords.bvct")
    # a rigid move of MNE's reading: all inter-point distances kept
    np.testing.assert_allclose(_pdist(_rr(m)), _pdist(_rr(ref)), atol=1e-9)
    assert np.abs(_rr(m)).max() < 0.2  # metres
    assert any("head frame" in n for n in notes)


@pytest.mark.parametrize("name", ["MQKIT_125.hsp", "MQKIT_125.elp"])
def test_polhemus_pair(test_data, name):
    m = read_dig(test_data / C / "montage" / name)
    # .elp: 3 fiducials + 5 HPI marker coils; .hsp: 2340 head-shape points (its header says
    # "0 2340"; MNE's isotrak reader counts 2343 with the 3 fiducials repeated in the .hsp)
    assert dig_counts(m) == {"fiducials": 3, "hpi": 5, "eeg": 0, "extra": 2340}
    _check_head_frame(m)
    hsp = mne.channels.read_dig_polhemus_isotrak(test_data / C / "montage/MQKIT_125.hsp")
    shape = np.array([d["r"] for d in hsp.dig if d["kind"] == FIFF.FIFFV_POINT_EXTRA])
    mine = np.array([d["r"] for d in m.dig if d["kind"] == FIFF.FIFFV_POINT_EXTRA])
    np.testing.assert_allclose(_pdist(mine[:300]), _pdist(shape[:300]), atol=1e-9)


def test_fif_measurement_info(test_data):
    m = read_dig(test_data / C / "MEG/sample/test-ave.fif.gz")
    assert dig_counts(m) == {"fiducials": 3, "hpi": 4, "eeg": 61, "extra": 78}
    _check_head_frame(m)
    info = mne.io.read_info(test_data / C / "MEG/sample/test-ave.fif.gz", verbose="error")
    np.testing.assert_allclose(_rr(m), np.array([d["r"] for d in info["dig"]]), atol=1e-7)


def test_mri_fiducials_stay_in_mri_frame(test_data):
    m, notes = read_dig_with_notes(test_data / C / "subjects/sample/bem/sample-fiducials.fif")
    assert dig_counts(m)["fiducials"] == 3 and dig_frame(m) == "mri"
    ref, _ = mne.io.read_fiducials(test_data / C / "subjects/sample/bem/sample-fiducials.fif")
    np.testing.assert_allclose(_rr(m), np.array([d["r"] for d in ref]))


def test_bvef_template(test_data):
    m, notes = read_dig_with_notes(test_data / C / "montage/BC-MR-64-X52.bvef")
    assert dig_counts(m) == {"fiducials": 0, "hpi": 0, "eeg": 66, "extra": 0}
    assert dig_frame(m) == "unknown" and any("unknown" in n for n in notes)
    ref = mne.channels.read_custom_montage(test_data / C / "montage/BC-MR-64-X52.bvef")
    np.testing.assert_allclose(_rr(m), _rr(ref))
    assert np.median(np.linalg.norm(_rr(m), axis=1)) == pytest.approx(0.095)


def _captrak_head(test_data):
    m = read_dig(test_data / C / "montage/captrak_coords.bvct")
    pos = m.get_positions()
    return pos, m


def test_sfp_in_mm_is_detected(test_data, tmp_path):
    pos, _ = _captrak_head(test_data)
    lines = [f"FidNz {pos['nasion'][0] * 1e3} {pos['nasion'][1] * 1e3} {pos['nasion'][2] * 1e3}",
             f"FidT9 {pos['lpa'][0] * 1e3} {pos['lpa'][1] * 1e3} {pos['lpa'][2] * 1e3}",
             f"FidT10 {pos['rpa'][0] * 1e3} {pos['rpa'][1] * 1e3} {pos['rpa'][2] * 1e3}"]
    lines += [f"{n} {x * 1e3} {y * 1e3} {z * 1e3}" for n, (x, y, z) in pos["ch_pos"].items()]
    f = tmp_path / "cap.sfp"
    f.write_text("\n".join(lines) + "\n")
    m, notes = read_dig_with_notes(f)
    assert any("look like mm" in n for n in notes)
    got = m.get_positions()["ch_pos"]
    for n, xyz in pos["ch_pos"].items():
        np.testing.assert_allclose(got[n], xyz, atol=1e-6)
    _check_head_frame(m)
    # the same file read as metres on request is refused as implausible? no: units forced
    m2 = read_dig(f, units="mm")
    np.testing.assert_allclose(_rr(m2), _rr(m), atol=1e-9)


def test_implausible_size_is_refused(tmp_path):
    f = tmp_path / "km.sfp"
    f.write_text("\n".join(f"E{i} {1e4 * np.cos(i)} {1e4 * np.sin(i)} {1e3 * i}" for i in range(10)) + "\n")
    with pytest.raises(InputError, match="implausible head size"):
        read_dig(f)


def test_elc_real_units(test_data, tmp_path):
    pos, _ = _captrak_head(test_data)
    names = list(pos["ch_pos"])[:10]
    body = ["# ASA electrode file", "ReferenceLabel\tavg", "UnitPosition\tmm", f"NumberPositions=\t{len(names)}",
            "Positions"]
    body += [" ".join(f"{v * 1e3:.4f}" for v in pos["ch_pos"][n]) for n in names]
    body += ["Labels", *names]
    f = tmp_path / "cap.elc"
    f.write_text("\n".join(body) + "\n")
    m = read_dig(f)
    got = m.get_positions()["ch_pos"]
    for n in names:
        np.testing.assert_allclose(got[n], pos["ch_pos"][n], atol=1e-6)  # not rescaled to a sphere


def test_pos_in_cm(test_data, tmp_path):
    pos, _ = _captrak_head(test_data)
    lines = [str(3 + 5 + 4)]
    for i, (lab, key) in enumerate([("nasion", "nasion"), ("left", "lpa"), ("right", "rpa")], 1):
        lines.append(f"{i} {lab} " + " ".join(f"{v * 100:.5f}" for v in pos[key]))
    for i, (n, xyz) in enumerate(list(pos["ch_pos"].items())[:5], 4):
        lines.append(f"{i} {n} " + " ".join(f"{v * 100:.5f}" for v in xyz))
    rng = np.random.default_rng(0)
    for i in range(4):
        xyz = rng.normal(size=3)
        xyz = 0.09 * xyz / np.linalg.norm(xyz)
        lines.append(f"{20 + i} " + " ".join(f"{v * 100:.5f}" for v in xyz))
    f = tmp_path / "points.pos"
    f.write_text("\n".join(lines) + "\n")
    m, notes = read_dig_with_notes(f)
    assert dig_counts(m) == {"fiducials": 3, "hpi": 0, "eeg": 5, "extra": 4}
    assert any("look like cm" in n for n in notes)
    _check_head_frame(m)
    n0 = list(pos["ch_pos"])[0]
    np.testing.assert_allclose(m.get_positions()["ch_pos"][n0], pos["ch_pos"][n0], atol=1e-7)


def test_bids_electrodes_tsv(mini_study):
    m, notes = read_dig_with_notes(mini_study / "sub-01/eeg/sub-01_electrodes.tsv")
    assert dig_counts(m) == {"fiducials": 3, "hpi": 0, "eeg": 3, "extra": 0}
    _check_head_frame(m)
    p = m.get_positions()
    np.testing.assert_allclose(p["nasion"], [0, 0.095, 0], atol=1e-12)
    np.testing.assert_allclose(p["ch_pos"]["Cz"], [0, 0, 0.095], atol=1e-12)
    assert any("mm" in n for n in notes)


def test_bids_electrodes_tsv_in_m_without_landmarks(tmp_path):
    (tmp_path / "sub-02_electrodes.tsv").write_text("name\tx\ty\tz\nCz\t0\t0\t0.09\nFz\t0\t0.07\t0.06\nPz\tn/a\tn/a\tn/a\nOz\t0\t-0.09\t0.01\n")
    (tmp_path / "sub-02_coordsystem.json").write_text(json.dumps({"EEGCoordinateSystem": "CapTrak", "EEGCoordinateUnits": "m"}))
    m = read_dig(tmp_path / "sub-02_electrodes.tsv")
    assert m.ch_names == ["Cz", "Fz", "Oz"] and dig_frame(m) == "head"


def test_vhdr_coordinates_like_mne(test_data, tmp_path):
    import shutil

    for ext in (".vhdr", ".vmrk", ".eeg"):
        shutil.copy(test_data / C / f"montage/bv_dig_test{ext}", tmp_path / f"bv{ext}")
    txt = (tmp_path / "bv.vhdr").read_text(encoding="utf-8").replace("bv_dig_test.", "bv.")
    coords = [f"Ch{i}=1,{-90 + 2.5 * i},{(37 * i) % 360 - 180}" for i in range(1, 65)]
    coords += ["Ch5=92.5,45,90"] + [f"Ch{i}=0,0,0" for i in (65, 66, 67)]  # ECG/EOG: no position
    coords = [c for c in coords if not c.startswith("Ch5=1,")]
    txt = txt.replace("[Comment]", "[Coordinates]\n" + "\n".join(coords) + "\n\n[Comment]")
    (tmp_path / "bv.vhdr").write_text(txt, encoding="utf-8")
    ref = mne.io.read_raw_brainvision(tmp_path / "bv.vhdr", verbose="error").get_montage().get_positions()["ch_pos"]
    (tmp_path / "bv.eeg").unlink()  # positions are read from the header alone
    got = read_dig(tmp_path / "bv.vhdr").get_positions()["ch_pos"]
    assert len(ref) >= 64 and set(ref) <= set(got)
    for n in ref:
        np.testing.assert_allclose(got[n], ref[n], atol=1e-12)


def test_vhdr_without_positions(test_data):
    with pytest.raises(InputError, match=r"no electrode positions.*\[Coordinates\]"):
        read_dig(test_data / C / "montage/bv_dig_test.vhdr")


def test_surfaces(test_data):
    head = read_surface(test_data / C / "subjects/sample/bem/sample-head.fif")
    ref = mne.read_bem_surfaces(test_data / C / "subjects/sample/bem/sample-head.fif", verbose="error")[0]
    assert head["rr"].shape == (2562, 3) and head["tris"].shape == (5120, 3)
    assert head["frame"] == "mri" and head["surface"] == "head"
    np.testing.assert_allclose(head["rr"], ref["rr"])
    skin = read_surface(test_data / C / "subjects/sample/bem/outer_skin.surf")
    rr, tris = mne.read_surface(test_data / C / "subjects/sample/bem/outer_skin.surf")
    np.testing.assert_allclose(skin["rr"], rr / 1000.0)
    np.testing.assert_array_equal(skin["tris"], tris)
    # the two scalp files describe the same head to within a few mm
    assert np.abs(skin["rr"].mean(0) - head["rr"].mean(0)).max() < 0.003
    bem = read_surface(test_data / C / "subjects/sample/bem/sample-1280-bem.fif")
    assert bem["rr"].shape == (642, 3) and bem["surface"] == "inner_skull"


def test_ctf_style_pos(test_data, tmp_path):
    """CTF digitiser .pos: count line, 'nasion'/'left'/'right' (nasion digitised twice),
    numbered head-shape points, cm, in the CTF frame (x to the nasion, y to the left)."""
    pos, m_ref = _captrak_head(test_data)
    to_ctf = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]], float)  # head (RAS) -> CTF (ALS)

    def cm(xyz):
        return " ".join(f"{v * 100:.6f}" for v in to_ctf @ np.asarray(xyz))

    shape = [d["r"] for d in m_ref.dig if d["kind"] == FIFF.FIFFV_POINT_EEG][:20]
    lines = ["26", f"nasion {cm(pos['nasion'] + [0.001, 0, 0])}", f"nasion {cm(pos['nasion'] - [0.001, 0, 0])}",
             f"left {cm(pos['lpa'])}", f"right {cm(pos['rpa'])}"]
    lines += [f"{i + 1} {cm(x)}" for i, x in enumerate(shape)]
    f = tmp_path / "subject.pos"
    f.write_text("\n".join(lines) + "\n")
    m = read_dig(f)
    assert dig_counts(m) == {"fiducials": 3, "hpi": 0, "eeg": 0, "extra": 20}
    _check_head_frame(m)
    got = np.array([d["r"] for d in m.dig if d["kind"] == FIFF.FIFFV_POINT_EXTRA])
    np.testing.assert_allclose(got, np.array(shape), atol=1e-6)  # back in the original head frame


def test_spherical_templates_scaled_like_mne(tmp_path):
    """EEGLAB .loc and BESA .elp hold angles on a unit sphere: scaled to MNE's 95 mm head."""
    (tmp_path / "cap.loc").write_text("1\t-18\t0.511\tFp1\n2\t18\t0.511\tFp2\n3\t0\t0\tCz\n4\t90\t0.25\tC4\n")
    m = read_dig(tmp_path / "cap.loc")
    ref = mne.channels.read_custom_montage(tmp_path / "cap.loc")
    np.testing.assert_allclose(_rr(m), _rr(ref))
    assert np.linalg.norm(_rr(m), axis=1) == pytest.approx(0.095)
    (tmp_path / "cap.elp").write_text("EEG\tFp1\t-92\t-72\t100\nEEG\tFp2\t92\t72\t100\nEEG\tCz\t0\t0\t100\n")
    m = read_dig(tmp_path / "cap.elp")
    ref = mne.channels.read_custom_montage(tmp_path / "cap.elp")
    np.testing.assert_allclose(_rr(m), _rr(ref))
    assert m.ch_names == ["Fp1", "Fp2", "Cz"]


def test_dig_fif_round_trip(test_data, tmp_path):
    m = read_dig(test_data / C / "montage/captrak_coords.bvct")
    m.save(tmp_path / "cap-dig.fif", overwrite=True)
    back = read_dig(tmp_path / "cap-dig.fif")
    assert dig_counts(back) == dig_counts(m) and dig_frame(back) == "head"
    np.testing.assert_allclose(_rr(back), _rr(m), atol=1e-7)  # FIF stores float32
