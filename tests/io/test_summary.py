"""``summarise`` / ``workbench info`` on the real test data files: the exact numbers."""

from __future__ import annotations

import json

import pytest

from workbench.cli.main import main
from workbench.engine.io.summary import summarise

D = "markers/bids_eeg_rest_fmri"


def test_analyzer_derivative(test_data):
    s = summarise(test_data / D / "derivatives/sub-32/eeg/sub-32_task-rest_eeg.vhdr")
    assert s.kind == "eeg" and s.format == "brainvision"
    assert s["n_channels"] == 64 and s["channels_by_type"] == {"eeg": 63, "ecg": 1}
    assert s["sfreq"] == 250.0 and s["n_samples"] == 162023
    assert s["duration_s"] == pytest.approx(648.092)
    t = s["triggers"]
    assert t["volume"]["name"] == "Scanner/Scan Start" and t["volume"]["count"] == 300
    assert t["slice"]["name"] == "Scanner/s " and t["slice"]["count"] == 9000
    assert t["slice"]["spacing"] == pytest.approx(0.072) and t["tr"] == pytest.approx(2.160)
    assert t["slices_per_volume"] == 30
    assert t["rpeak"] == {"name": "Pulse Artifact/R", "count": 745}
    assert s["data_state"] == "missing"
    text = s.to_text()
    assert "TR estimate: 2.160s, 30 slice triggers per volume" in text
    assert "'Scanner/s ' x 9000, spacing 0.072s (72.0 ms)" in text


def test_recorder_header_5khz(test_data):
    s = summarise(test_data / D / "sub-32/eeg/sub-32_task-rest_eeg.vhdr")
    assert s["n_channels"] == 64 and s["sfreq"] == 5000.0 and s["ch_names"][31] == "ECG"
    assert s["markers"] == {"SyncStatus/Sync On": 398} and s["triggers"]["volume"]["name"] is None
    assert s["duration_s"] is None  # the .eeg is absent and the header has no DataPoints


def test_lone_vmrk_with_given_rate(test_data):
    s = summarise(test_data / D / "derivatives/sub-35/eeg/sub-35_task-rest_eeg.vmrk", sfreq=250.0)
    assert s.kind == "markers"
    assert s["triggers"]["tr"] == pytest.approx(2.16) and s["triggers"]["rpeak"]["count"] == 734
    s = summarise(test_data / D / "derivatives/sub-35/eeg/sub-35_task-rest_eeg.vmrk")
    assert s["marker_unit"] == "samples" and s["triggers"]["tr"] == 540


def test_farm(test_data):
    s = summarise(test_data / "markers/farm_emg_fmri/me3mb3_tr1600_sl54.vhdr")
    assert s["n_channels"] == 4 and s["sfreq"] == 5000.0
    assert s["triggers"]["volume"] == {"name": "Response/R128", "count": 487, "spacing": pytest.approx(1.6),
                                       "regular": True, "how": "name"}
    assert s["markers"]["SyncStatus/Sync On"] == 484 and s["markers"]["Stimulus/S  1"] == 25


@pytest.mark.parametrize("run,n_qrs", [("r01", 305), ("r02", 285)])
def test_bcgnet(test_data, run, n_qrs):
    s = summarise(test_data / f"markers/bcgnet_sub34/sub34_{run}_eval.set")
    assert s.format == "eeglab" and s["n_channels"] == 64 and s["sfreq"] == 500.0
    assert s["duration_s"] == pytest.approx(313.3, abs=0.01)
    t = s["triggers"]
    assert t["volume"]["name"] == "S128" and t["volume"]["count"] == 150 and t["tr"] == pytest.approx(2.1)
    assert t["rpeak"] == {"name": "qrs0", "count": n_qrs} and t["duplicates"]["rpeak"] == 1


@pytest.mark.parametrize(
    "rel,counts,frame",
    [
        ("coreg/montage/captrak_coords.bvct", {"fiducials": 3, "hpi": 0, "eeg": 66, "extra": 0}, "head"),
        ("coreg/montage/MQKIT_125.elp", {"fiducials": 3, "hpi": 5, "eeg": 0, "extra": 2340}, "head"),
        ("coreg/MEG/sample/test-ave.fif.gz", {"fiducials": 3, "hpi": 4, "eeg": 61, "extra": 78}, "head"),
        ("coreg/montage/BC-MR-64-X52.bvef", {"fiducials": 0, "hpi": 0, "eeg": 66, "extra": 0}, "unknown"),
    ],
)
def test_dig_files(test_data, rel, counts, frame):
    s = summarise(test_data / rel)
    assert s.kind == "dig" and s["dig_counts"] == counts and s["frame"] == frame
    assert 0.09 < s["max_abs_m"] < 0.2


def test_images_and_surfaces(test_data):
    s = summarise(test_data / "coreg/subjects/sample/mri/T1.mgz")
    assert s.kind == "anat" and s["shape"] == [86, 86, 86] and s["voxel_mm"] == [3.0, 3.0, 3.0]
    s = summarise(test_data / "coreg/subjects/sample/bem/sample-head.fif")
    assert s.kind == "surface" and (s["n_vertices"], s["n_triangles"]) == (2562, 5120)
    s = summarise(test_data / "coreg/subjects/sample/bem/outer_skin.surf")
    assert (s["n_vertices"], s["n_triangles"]) == (2562, 5120) and s["surface"] == "head"


def test_bold_and_study(mini_study, mini_meta):
    s = summarise(mini_study / "sub-01/func/sub-01_task-rest_bold.nii.gz")
    assert s.kind == "bold" and s["tr"] == mini_meta["tr"] and s["n_volumes"] == mini_meta["n_vol"]
    assert s["n_slices_timed"] == 6 and s["multiband"] == 2  # two slices share each time
    s = summarise(mini_study)
    assert s.kind == "study" and s["subjects"] == ["sub-01"]
    files = s["files"]["sub-01"]
    assert files["eeg"] == "sub-01/eeg/sub-01_task-rest_eeg.vhdr" and files["scalp"] == "sub-01/anat/sub-01_scalp.surf"
    assert files["bold"] == "sub-01/func/sub-01_task-rest_bold.nii.gz" and files["dig"].endswith("_electrodes.tsv")


def test_info_cli_text_and_json(test_data, capsys):
    f = test_data / "markers/farm_emg_fmri/me3mb3_tr1600_sl54.vhdr"
    assert main(["info", str(f)]) == 0
    out = capsys.readouterr().out
    assert "volume triggers: 'Response/R128' x 487, spacing 1.600s" in out
    assert "TR estimate: 1.600s" in out
    assert main(["info", str(f), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["triggers"]["volume"]["count"] == 487 and doc["sfreq"] == 5000.0


def test_info_cli_trigger_name_absent(test_data, capsys):
    f = test_data / "markers/farm_emg_fmri/me3mb3_tr1600_sl54.vhdr"
    assert main(["info", str(f), "--volume-trigger", "TREV"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'TREV' not found" in err and "'Response/R128' (487)" in err


def test_fif_contents_are_told_apart(test_data, tmp_path):
    import mne
    import numpy as np

    info = mne.create_info(["Fz", "ECG"], 500.0, ["eeg", "ecg"])
    raw = mne.io.RawArray(np.zeros((2, 5000)), info, verbose=False)
    raw.set_annotations(mne.Annotations(0.2 + 1.25 * np.arange(8), 0.0, "TREV"))  # EGI volume trigger
    raw.save(tmp_path / "x_raw.fif", verbose=False)
    s = summarise(tmp_path / "x_raw.fif")
    assert s.kind == "eeg" and s["channels_by_type"] == {"eeg": 1, "ecg": 1} and s["duration_s"] == 10.0
    assert s["triggers"]["volume"]["name"] == "TREV" and s["tr"] == pytest.approx(1.25)
    s = summarise(test_data / "coreg/subjects/sample/bem/sample-fiducials.fif")
    assert s.kind == "dig" and s["frame"] == "mri" and s["dig_counts"]["fiducials"] == 3
    s = summarise(test_data / "coreg/subjects/sample/bem/sample-1280-bem.fif")
    assert s.kind == "surface" and s["surface"] == "inner_skull" and s["n_vertices"] == 642


def test_project_folder(mini_study, capsys):
    from workbench.engine.io.open import load_into
    from workbench.engine.session import Session

    load_into(Session(), mini_study).project.save()
    s = summarise(mini_study)
    assert s.kind == "project" and s["subjects"] == ["01"] and s["n_steps"] == 0
    assert s["inputs_by_kind"] == {"eeg": 1, "bold": 1, "sidecar": 1, "anat": 1, "dig": 1, "other": 1, "events": 1}
    assert main(["info", str(mini_study / "project.json")]) == 0
    assert "kind: project (workbench)" in capsys.readouterr().out
    (mini_study / "project.json").write_text('{"schema_version": 99}')
    assert main(["info", str(mini_study)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "newer workbench" in err


def test_info_cli_lone_vmrk_with_sfreq_and_names(test_data, capsys):
    f = test_data / D / "derivatives/sub-36/eeg/sub-36_task-rest_eeg.vmrk"
    assert main(["info", str(f), "--sfreq", "250", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "markers" and doc["triggers"]["tr"] == pytest.approx(2.16)
    assert doc["triggers"]["slices_per_volume"] == 30 and doc["triggers"]["rpeak"]["count"] == 845
    assert main(["info", str(f), "--sfreq", "250", "--volume-trigger", "Scan Start", "--slice-trigger", "Scanner,s"]) == 0
    out = capsys.readouterr().out
    assert "slice triggers: 'Scanner/s ' x 9000, spacing 0.072s (72.0 ms)" in out


def test_trans_file_matches_its_text_version(test_data):
    import numpy as np

    s = summarise(test_data / "coreg/MEG/sample/sample_audvis_trunc-trans.fif")
    txt = np.loadtxt(test_data / "coreg/MEG/sample/sample-audvis-raw-trans.txt")
    assert s.kind == "transform" and (s["from"], s["to"]) == ("head", "mri")
    np.testing.assert_allclose(np.array(s["matrix"]), txt, atol=5e-6)
    np.testing.assert_allclose(s["translation_mm"], txt[:3, 3] * 1000, atol=5e-3)
    assert s["rotation_deg"] == pytest.approx(np.degrees(np.arccos((np.trace(txt[:3, :3]) - 1) / 2)), abs=1e-3)
    assert "head -> mri: rotation 35.74 deg" in s.to_text()
