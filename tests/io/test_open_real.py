"""Opening what a lab really has (issue 9 item 4, "Real files").

Header-only recordings (the signal file absent), a real BIDS EEG-fMRI folder with several
subjects, and a FreeSurfer subject folder, all through the engine's ``load_into`` on a
:class:`~workbench.engine.study.Study` (the same code the GUI runs).
"""

from __future__ import annotations

import shutil

import pytest

from workbench.engine.io.open import HEADER_ONLY, load_into
from workbench.engine.study import Study

BIDS = "markers/bids_eeg_rest_fmri"


def _eeg_inputs(report, subject=None):
    return report.project.inputs_of("eeg", subject)


# ----------------------------------------------------------------- 1. header-only recordings
def test_brainvision_header_without_eeg_opens_for_inspection(test_data):
    vhdr = test_data / BIDS / "sub-32/eeg/sub-32_task-rest_eeg.vhdr"
    assert not vhdr.with_suffix(".eeg").exists()
    study = Study()
    report = load_into(study, vhdr)
    assert report.problems == []
    assert study.raw is None  # no signal to plot
    hdr = report.headers["eeg"]
    assert hdr.n_channels == 64 and hdr.sfreq == 5000.0
    assert len(hdr.markers) == 398
    assert report.loaded["eeg_header"] == str(vhdr)
    (item,) = _eeg_inputs(report)
    assert item.description.startswith(HEADER_ONLY)
    assert "64 ch" in item.description and "5000 Hz" in item.description and "398 markers" in item.description
    assert item.description.endswith("signal file absent: sub-32_task-rest_eeg.eeg")
    assert any("signal file absent: sub-32_task-rest_eeg.eeg" in n for n in report.notes)


def test_eeglab_set_without_fdt_opens_for_inspection(test_data):
    path = test_data / "markers/bcgnet_sub34/sub34_r01_raw.set"
    study = Study()
    report = load_into(study, path)
    assert study.raw is None and report.problems == []
    hdr = report.headers["eeg"]
    assert (hdr.n_channels, hdr.sfreq, hdr.n_samples) == (64, 500.0, 156652)
    assert len(hdr.markers) == 256
    (item,) = _eeg_inputs(report)
    assert "313.3 s" in item.description and "256 markers" in item.description
    assert item.description.endswith("signal file absent: sub34_r01_raw.fdt")


def test_empty_eeg_file_opens_header_only(test_data, tmp_path):
    src = test_data / BIDS / "sub-32/eeg"
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "sub-32_task-rest_eeg.eeg").write_bytes(b"")
    study = Study()
    report = load_into(study, tmp_path / "sub-32_task-rest_eeg.vhdr")
    assert study.raw is None
    assert report.headers["eeg"].data_state == "empty"
    assert "signal file empty (0 bytes): sub-32_task-rest_eeg.eeg" in _eeg_inputs(report)[0].description


def test_corrupt_header_still_raises(tmp_path):
    bad = tmp_path / "x.vhdr"
    bad.write_text("not a brainvision header\n")
    with pytest.raises(Exception):  # noqa: B017 - InputError; header-only is not a catch-all
        load_into(Study(), bad)


# ----------------------------------------------------------------- 2. a real BIDS EEG-fMRI folder
def test_bids_folder_lists_every_subject_and_loads_the_first(test_data):
    study = Study()
    report = load_into(study, test_data / BIDS)
    assert report.project.subjects == ["32", "35", "36"]
    assert report.problems == []
    assert study.raw is None
    (item,) = _eeg_inputs(report, "32")
    assert item.description.startswith(HEADER_ONLY)
    assert report.headers["eeg"].n_channels == 64


def test_bids_folder_chosen_subject_with_marker_file_only(test_data):
    study = Study()
    report = load_into(study, test_data / BIDS, subject="36")
    assert report.project.subjects == ["32", "35", "36"]
    hdr = report.headers["eeg"]
    assert hdr.sfreq == 5000.0  # from the inherited task-rest_eeg.json
    assert hdr.marker_unit == "s" and len(hdr.markers) > 100
    (item,) = _eeg_inputs(report, "36")
    assert item.subject == "36" and item.description.startswith(HEADER_ONLY)


# ----------------------------------------------------------------- 3. a FreeSurfer subject folder
def test_freesurfer_subject_opens_as_anatomy(test_data):
    subj = test_data / "coreg/subjects/sample"
    study = Study()
    report = load_into(study, subj)
    assert report.problems == []
    assert study.anat is not None and len(study.anat.shape) == 3
    assert study.scalp is not None and len(study.scalp["rr"]) > 1000
    assert study.files["anat"].name == "T1.mgz"
    assert study.files["fiducials"].name == "sample-fiducials.fif"
    assert report.loaded.keys() >= {"anat", "scalp", "fiducials"}
    proj = report.project
    assert proj.subjects == ["sample"]
    assert proj.settings["fs_subject"] == "sample"
    assert [i.description for i in proj.inputs_of("other")] == ["scalp surface", "MRI fiducials (coregistration)"]


def test_freesurfer_subjects_dir_opens_its_subject(test_data):
    study = Study()
    report = load_into(study, test_data / "coreg/subjects")
    assert study.anat is not None and study.scalp is not None
    assert report.project.subjects == ["sample"]
    assert report.project.root == test_data / "coreg/subjects/sample"
    with pytest.raises(Exception, match="FreeSurfer subjects here: sample"):
        load_into(Study(), test_data / "coreg/subjects", subject="nope")


def test_plain_folder_still_refused(tmp_path):
    with pytest.raises(Exception, match="neither a project"):
        load_into(Study(), tmp_path)
