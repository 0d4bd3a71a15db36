"""Fixtures for the IO tests: a tiny BIDS study written with real writers, and helpers
to snapshot a folder (names + sha256) so tests can prove nothing was written or changed."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

SFREQ = 500.0
N_TIMES = 10_000  # 20 s
TR = 2.0
N_VOL = 10
CH_NAMES = ["Fp1", "Cz", "O1", "ECG"]


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[p.relative_to(folder).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _write_study(root: Path, test_data: Path) -> dict:
    import nibabel as nib
    import pybv

    rng = np.random.default_rng(7)
    (root / "sub-01" / "eeg").mkdir(parents=True)
    (root / "sub-01" / "func").mkdir()
    (root / "sub-01" / "anat").mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "mini", "BIDSVersion": "1.8.0"}))
    data = (rng.standard_normal((len(CH_NAMES), N_TIMES)) * 20e-6).astype(np.float64)
    events = [{"onset": int(round(0.5 * SFREQ + i * TR * SFREQ)), "description": 128, "type": "Response"}
              for i in range(N_VOL)]
    events += [{"onset": 100, "description": 5, "type": "Stimulus"}]
    pybv.write_brainvision(
        data=data, sfreq=SFREQ, ch_names=CH_NAMES, fname_base="sub-01_task-rest_eeg",
        folder_out=root / "sub-01" / "eeg", events=events, resolution=0.01, unit="µV",
        fmt="binary_float32",
    )
    (root / "sub-01" / "eeg" / "sub-01_task-rest_channels.tsv").write_text(
        "name\ttype\tunits\tstatus\n"
        "Fp1\tEEG\tuV\tgood\nCz\tEEG\tuV\tgood\nO1\tEEG\tuV\tbad\nECG\tECG\tuV\tgood\n"
    )
    # electrodes in mm, CapTrak, with fiducials as landmarks in the coordsystem
    el = {"Fp1": (-30.0, 85.0, 20.0), "Cz": (0.0, 0.0, 95.0), "O1": (-30.0, -85.0, 20.0)}
    lines = ["name\tx\ty\tz\ttype"] + [f"{n}\t{x}\t{y}\t{z}\tcup" for n, (x, y, z) in el.items()]
    (root / "sub-01" / "eeg" / "sub-01_electrodes.tsv").write_text("\n".join(lines) + "\n")
    (root / "sub-01" / "eeg" / "sub-01_coordsystem.json").write_text(json.dumps({
        "EEGCoordinateSystem": "CapTrak", "EEGCoordinateUnits": "mm",
        "AnatomicalLandmarkCoordinates": {"NAS": [0, 95, 0], "LPA": [-75, 0, 0], "RPA": [75, 0, 0]},
        "AnatomicalLandmarkCoordinateUnits": "mm",
    }))
    bold = nib.Nifti1Image(rng.standard_normal((8, 8, 6, N_VOL)).astype(np.float32), np.diag([3, 3, 4, 1.0]))
    bold.header.set_xyzt_units("mm", "sec")
    bold.header["pixdim"][4] = TR
    nib.save(bold, root / "sub-01" / "func" / "sub-01_task-rest_bold.nii.gz")
    (root / "sub-01" / "func" / "sub-01_task-rest_bold.json").write_text(json.dumps({
        "RepetitionTime": TR, "SliceTiming": [0, 0.667, 1.333, 0, 0.667, 1.333], "TaskName": "rest"}))
    (root / "sub-01" / "func" / "sub-01_task-rest_events.tsv").write_text("onset\tduration\ttrial_type\n4\t2\ttask\n")
    t1 = nib.Nifti1Image((rng.random((16, 16, 16)) * 100).astype(np.int16), np.diag([2, 2, 2, 1.0]))
    nib.save(t1, root / "sub-01" / "anat" / "sub-01_T1w.nii.gz")
    shutil.copy(test_data / "coreg/subjects/sample/bem/outer_skin.surf", root / "sub-01" / "anat" / "sub-01_scalp.surf")
    return {"data": data}


@pytest.fixture(scope="session")
def _mini_study_template(tmp_path_factory, test_data) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("template") / "study"
    root.mkdir()
    extra = _write_study(root, test_data)
    return root, extra


@pytest.fixture
def mini_study(_mini_study_template, tmp_path) -> Path:
    """A private copy of a tiny BIDS EEG-fMRI study (BrainVision, BOLD+JSON, T1, electrodes, scalp)."""
    src, _ = _mini_study_template
    dst = tmp_path / "study"
    shutil.copytree(src, dst)
    return dst


@pytest.fixture
def mini_data(_mini_study_template) -> np.ndarray:
    """The EEG array (V) written into the mini study's BrainVision file."""
    return _mini_study_template[1]["data"]


@pytest.fixture
def copy_test_data(test_data, tmp_path):
    """Copy files from the test data (read-only) into tmp_path: copy_test_data('a/b.vhdr', 'a/b.vmrk')."""

    def _copy(*rels: str) -> list[Path]:
        out = []
        for rel in rels:
            dst = tmp_path / "copy" / Path(rel).name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(test_data / rel, dst)
            dst.chmod(0o644)
            out.append(dst)
        return out

    return _copy


@pytest.fixture
def mini_meta() -> dict:
    """What the mini study holds (sampling rate, samples, TR, volumes, channel names)."""
    return {"sfreq": SFREQ, "n_times": N_TIMES, "tr": TR, "n_vol": N_VOL, "ch_names": list(CH_NAMES)}
