"""Running an EEG-changing step again replaces its previous run (the runner's rule).

A step run a second time (Apply in a view with other parameters, twice in a plan, the replay
of a project where it was re-run) starts from the EEG before its previous version; that
version and every version made from it leave the history once the new run succeeded, and
stay when it fails. A reopened project rebuilds the same history from its provenance.
"""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.engine.gradient.export import write_raw
from workbench.engine.project import Project
from workbench.engine.runner import Runner
from workbench.engine.steps.params import Param
from workbench.engine.steps.spec import OutputFile, StepResult, StepSpec
from workbench.engine.study import Study


def _raw() -> mne.io.BaseRaw:
    rng = np.random.default_rng(0)
    info = mne.create_info(["C3", "C4", "Pz"], 500.0, "eeg")
    return mne.io.RawArray(rng.normal(0, 1e-5, (3, 1000)), info, verbose=False)


def _changer(step_id: str, op) -> StepSpec:
    """A step that changes the EEG by ``op(data, value)`` and writes it as a derivative."""

    def run(study, params, progress):
        if params["value"] < 0:
            raise InputError(None, "negative value")
        out = study.eeg.copy().load_data()
        out._data[:] = op(out.get_data(), params["value"])
        return StepResult(qc={"value": params["value"]}, provides={"eeg": out},
                          files=[OutputFile(step_id, "eeg", ".fif", lambda path: write_raw(out, path), role="eeg")])

    return StepSpec(id=step_id, title=step_id, stage="cleanup", teaching="test step",
                    params=(Param("value", "float", 1.0, "value"),), requires=("eeg",), provides=("eeg",),
                    run=run)


ADD = _changer("add", lambda d, v: d + v * 1e-6)
MUL = _changer("mul", lambda d, v: d * v)


def _study(raw) -> Study:
    study = Study()
    study.set_raw(raw)
    return study


def test_second_run_starts_before_the_first_and_drops_what_was_made_from_it(tmp_path: Path) -> None:
    raw = _raw()
    study = _study(raw.copy())
    runner = Runner(study, [ADD, MUL], tmp_path, write_files=False)
    runner.run([("add", {"value": 1.0}), ("mul", {"value": 2.0})])
    assert [v.step for v in study.history] == ["add", "mul"]
    result = runner.run_step("add", {"value": 5.0})
    # from the recording, not from add(1) or mul(add(1)); mul's version was dropped and said so
    assert [v.step for v in study.history] == ["add"]
    np.testing.assert_allclose(study.eeg.get_data(), raw.get_data() + 5e-6, rtol=0, atol=1e-18)
    assert any("replaces the previous add run" in m and "mul" in m and "run again" in m
               for m in result.messages)
    # the same step twice in one plan gives the second run alone
    study2 = _study(raw.copy())
    Runner(study2, [ADD, MUL], tmp_path, write_files=False).run([("add", {"value": 3.0}), ("add", {"value": 4.0})])
    assert [v.step for v in study2.history] == ["add"]
    np.testing.assert_allclose(study2.eeg.get_data(), raw.get_data() + 4e-6, rtol=0, atol=1e-18)


def test_a_failed_rerun_leaves_the_history_as_it_was(tmp_path: Path) -> None:
    study = _study(_raw())
    runner = Runner(study, [ADD, MUL], tmp_path, write_files=False)
    runner.run([("add", {"value": 1.0}), ("mul", {"value": 2.0})])
    before = [v.raw for v in study.history]
    with pytest.raises(InputError):
        runner.run_step("add", {"value": -1.0})
    assert [v.raw for v in study.history] == before


def test_reopened_project_rerun_starts_from_the_same_eeg(tmp_path: Path) -> None:
    """After add, mul, a reload holds both versions: running mul again starts from add's EEG
    (before, the reloaded history held mul's version only and a re-run started from the
    recording, silently losing add's correction)."""
    raw = _raw()
    src = tmp_path / "sub-01_eeg.fif"
    write_raw(raw, src)
    project = Project(tmp_path)
    project.add_input(src, "eeg")
    project.save()
    study = Study.load(tmp_path / "project.json")
    runner = Runner(study, [ADD, MUL], tmp_path / "derivatives", project=study.project)
    runner.run([("add", {"value": 1.0}), ("mul", {"value": 2.0}), ("mul", {"value": 3.0})])
    study.project.save()
    expected = study.eeg.get_data()

    again = Study.load(tmp_path / "project.json")
    assert [v.step for v in again.history] == ["add", "mul"]
    np.testing.assert_allclose(again.eeg.get_data(), expected, rtol=0, atol=1e-11)  # stored as float32
    Runner(again, [ADD, MUL], tmp_path / "derivatives", project=again.project).run_step("mul", {"value": 3.0})
    np.testing.assert_allclose(again.eeg.get_data(), (raw.get_data() + 1e-6) * 3.0, rtol=0, atol=1e-11)
