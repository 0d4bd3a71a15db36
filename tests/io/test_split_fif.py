"""EEG over MNE's 2 GB split size is written as linked parts (x.fif, x-1.fif, ...): they
must arrive together, keep their names, and replace the parts of an earlier version.

The split size is made small here (MNE's ``split_size``) so a few MB show what a
20-minute 64-channel 5 kHz recording in double precision (3 GB) does."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from workbench.engine.gradient.export import write_raw
from workbench.engine.outputs import TEMP_PREFIX, atomic_files, split_parts
from workbench.engine.steps.gradient import write_eeg_derivative


@pytest.fixture
def small_splits(monkeypatch):
    save = mne.io.BaseRaw.save

    def save_small(self, fname, *args, **kwargs):
        kwargs["split_size"] = "5MB"
        return save(self, fname, *args, **kwargs)

    monkeypatch.setattr(mne.io.BaseRaw, "save", save_small)


def _raw(n_times: int, seed: int = 0) -> mne.io.RawArray:
    rng = np.random.default_rng(seed)
    info = mne.create_info(8, 1000.0, "eeg")
    return mne.io.RawArray(rng.normal(0, 1e-5, (8, n_times)), info, verbose="error")


def _no_temp_left(folder) -> None:
    assert not [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_write_raw_moves_every_part_and_they_read_back(tmp_path, small_splits):
    raw = _raw(400_000)
    out = tmp_path / "clean_eeg.fif"
    written = write_raw(raw, out)
    assert len(written) >= 3
    assert [p.name for p in written] == ["clean_eeg.fif"] + [f"clean_eeg-{i}.fif" for i in range(1, len(written))]
    back = mne.io.read_raw_fif(out, verbose="error")  # follows the parts by name
    np.testing.assert_allclose(back.get_data(), raw.get_data(), rtol=1e-6, atol=1e-12)
    _no_temp_left(tmp_path)


def test_a_shorter_version_removes_the_old_parts(tmp_path, small_splits):
    out = tmp_path / "sub-01_desc-gradclean_eeg.fif"
    with atomic_files([out]) as tmp:
        write_eeg_derivative(_raw(400_000), tmp[0])
    assert len(split_parts(out)) >= 3
    short = _raw(20_000, seed=1)
    with atomic_files([out]) as tmp:
        write_eeg_derivative(short, tmp[0])
    assert split_parts(out) == []
    back = mne.io.read_raw_fif(out, verbose="error")
    np.testing.assert_array_equal(back.get_data(), short.get_data())
    _no_temp_left(tmp_path)


def test_a_failed_write_keeps_the_old_parts(tmp_path, small_splits):
    out = tmp_path / "x_eeg.fif"
    raw = _raw(400_000)
    write_raw(raw, out)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(RuntimeError), atomic_files([out]) as tmp:
        write_eeg_derivative(_raw(20_000, seed=1), tmp[0])
        raise RuntimeError("cancelled")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    np.testing.assert_allclose(mne.io.read_raw_fif(out, verbose="error").get_data(), raw.get_data(),
                               rtol=1e-6, atol=1e-12)


def test_the_runner_keeps_a_split_eeg_whole_and_a_reopened_project_reads_it(tmp_path, small_splits):
    from workbench.engine.project import Project
    from workbench.engine.runner import Runner
    from workbench.engine.steps.params import Param
    from workbench.engine.steps.spec import OutputFile, StepResult, StepSpec
    from workbench.engine.study import Study

    def run(study, params, progress):
        out = study.eeg.copy().load_data().crop(0, params["seconds"] - 1e-3)
        return StepResult(provides={"eeg": out},
                          files=[OutputFile("crop", "eeg", ".fif", lambda p: write_eeg_derivative(out, p), role="eeg")])

    spec = StepSpec(id="crop", title="crop", stage="cleanup", teaching="test", requires=("eeg",), provides=("eeg",),
                    params=(Param("seconds", "float", 1.0, "seconds"),), run=run)
    src = tmp_path / "sub-01_eeg.fif"
    write_raw(_raw(200_000), src)
    project = Project(tmp_path)
    project.add_input(src, "eeg")
    project.save()
    study = Study.load(tmp_path / "project.json")
    runner = Runner(study, [spec], tmp_path / "derivatives", project=study.project)
    runner.run_step("crop", {"seconds": 150.0})  # 8 ch x 150 000 x 8 bytes: parts of 5 MB
    made = study.project.steps[-1].outputs
    first = tmp_path / made[0]
    n_parts = len(split_parts(first))
    assert n_parts >= 1
    runner.run_step("crop", {"seconds": 2.0})  # shorter: one file, the old parts go
    assert split_parts(tmp_path / study.project.steps[-1].outputs[0]) == []
    study.project.save()
    again = Study.load(tmp_path / "project.json")
    assert again.eeg.n_times == 2000
