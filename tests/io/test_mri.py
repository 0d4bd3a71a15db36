"""MRI readers: the real T1.mgz, BOLD timing from sidecars (BIDS inheritance) and header."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.engine.io.mri import find_sidecar, image_info, read_bold, read_image


def test_real_t1_mgz(test_data):
    img = read_image(test_data / "coreg/subjects/sample/mri/T1.mgz")
    ref = nib.load(test_data / "coreg/subjects/sample/mri/T1.mgz")
    info = image_info(img)
    assert info["shape"] == [86, 86, 86] and info["voxel_mm"] == [3.0, 3.0, 3.0]
    assert info["orientation"] == "LIA"  # FreeSurfer conformed
    np.testing.assert_array_equal(np.asarray(img.dataobj), np.asarray(ref.dataobj))
    np.testing.assert_allclose(img.affine, ref.affine)


def test_bold_sidecar(mini_study, mini_meta):
    img, meta = read_bold(mini_study / "sub-01/func/sub-01_task-rest_bold.nii.gz")
    assert img.shape == (8, 8, 6, mini_meta["n_vol"])
    assert meta["RepetitionTime"] == mini_meta["tr"] and meta["_tr_source"] == "sidecar"
    assert len(meta["SliceTiming"]) == 6 and meta["TaskName"] == "rest"


def test_bold_inherited_sidecar_like_the_real_dataset(test_data, tmp_path):
    """task-rest_bold.json at the dataset root applies to sub-*/func/*_task-rest_bold.nii.gz."""
    (tmp_path / "dataset_description.json").write_text("{}")
    (tmp_path / "task-rest_bold.json").write_bytes((test_data / "markers/bids_eeg_rest_fmri/task-rest_bold.json").read_bytes())
    func = tmp_path / "sub-32" / "func"
    func.mkdir(parents=True)
    img = nib.Nifti1Image(np.zeros((4, 4, 30, 3), np.float32), np.eye(4))  # header TR 0: sidecar only
    nib.save(img, func / "sub-32_task-rest_bold.nii.gz")
    assert find_sidecar(func / "sub-32_task-rest_bold.nii.gz") == [tmp_path / "task-rest_bold.json"]
    _, meta = read_bold(func / "sub-32_task-rest_bold.nii.gz")
    assert meta["RepetitionTime"] == 2.160 and len(meta["SliceTiming"]) == 30
    assert meta["SliceTiming"][1] == pytest.approx(0.0725)
    assert "MultibandAccelerationFactor" not in meta  # 30 distinct slice times: single band


def test_subject_sidecar_overrides_root(tmp_path):
    (tmp_path / "dataset_description.json").write_text("{}")
    (tmp_path / "task-a_bold.json").write_text(json.dumps({"RepetitionTime": 3.0, "EchoTime": 0.03}))
    func = tmp_path / "sub-01" / "func"
    func.mkdir(parents=True)
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.float32), np.eye(4)), func / "sub-01_task-a_bold.nii")
    (func / "sub-01_task-a_bold.json").write_text(json.dumps({"RepetitionTime": 1.5}))
    _, meta = read_bold(func / "sub-01_task-a_bold.nii")
    assert meta["RepetitionTime"] == 1.5 and meta["EchoTime"] == 0.03


@pytest.mark.parametrize("units,value,tr", [("sec", 2.5, 2.5), ("msec", 800.0, 0.8), ("usec", 1.2e6, 1.2)])
def test_tr_from_header(tmp_path, units, value, tr):
    img = nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.float32), np.eye(4))
    img.header.set_xyzt_units("mm", units)
    img.header["pixdim"][4] = value
    nib.save(img, tmp_path / "bold.nii.gz")
    _, meta = read_bold(tmp_path / "bold.nii.gz")
    assert meta["RepetitionTime"] == pytest.approx(tr) and meta["_tr_source"] == "header"


def test_multiband_inferred(tmp_path):
    img = nib.Nifti1Image(np.zeros((4, 4, 6, 3), np.float32), np.eye(4))
    nib.save(img, tmp_path / "bold.nii.gz")
    (tmp_path / "bold.json").write_text(json.dumps({"RepetitionTime": 1.0, "SliceTiming": [0, 0.5, 0, 0.5, 0, 0.5]}))
    _, meta = read_bold(tmp_path / "bold.nii.gz")
    assert meta["MultibandAccelerationFactor"] == 3


def test_no_tr_anywhere(tmp_path):
    img = nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.float32), np.eye(4))
    nib.save(img, tmp_path / "bold.nii.gz")
    with pytest.raises(InputError) as err:
        read_bold(tmp_path / "bold.nii.gz")
    msg = str(err.value)
    assert msg.startswith(str(tmp_path / "bold.nii.gz")) and "no repetition time" in msg and "\n" not in msg


def test_3d_is_not_bold(test_data):
    with pytest.raises(InputError, match="must be 4D"):
        read_bold(test_data / "coreg/subjects/sample/mri/T1.mgz")
