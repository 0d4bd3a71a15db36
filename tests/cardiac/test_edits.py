"""Hand edits of the R-peaks: the text form, applying it, and the cardiac step replaying it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.engine.cardiac.edits import BeatEdits, apply_edits, diff_beats
from workbench.engine.errors import InputError
from workbench.engine.runner import Runner
from workbench.engine.steps import builtin_steps
from workbench.engine.study import Study

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import make_recording  # noqa: E402


def test_edits_text_round_trip_and_diff():
    detected = np.array([1.0, 2.0, 3.0, 4.0])
    current = np.array([1.0, 2.01, 3.0, 4.0, 4.8])  # beat 2 moved by 10 ms, one added at the end
    e = diff_beats(detected, current)
    assert e.removed == (2.0,) and e.added == (2.01, 4.8)
    text = e.to_text()
    assert text == "-2.00000 +2.01000 +4.80000"
    assert BeatEdits.from_text(text) == e
    np.testing.assert_allclose(apply_edits(detected, BeatEdits.from_text(text)), current)
    assert BeatEdits.from_text(None) == BeatEdits() and BeatEdits().to_text() is None
    assert not diff_beats(detected, detected)


@pytest.mark.parametrize("text, match", [("12.3", "not '\\+SECONDS'"), ("-abc", "not"), ("+-1", "not")])
def test_bad_edit_text_is_refused_in_one_line(text, match):
    with pytest.raises(InputError, match=match) as info:
        BeatEdits.from_text(text)
    assert "\n" not in str(info.value)


def test_a_removal_that_names_no_beat_is_refused():
    with pytest.raises(InputError, match="detection changed"):
        apply_edits(np.array([1.0, 2.0]), BeatEdits.from_text("-1.5"))
    with pytest.raises(InputError, match="outside the recording"):
        apply_edits(np.array([1.0, 2.0]), BeatEdits.from_text("+9"), duration_s=3.0)


@pytest.fixture(scope="module")
def synthetic():
    raw, truth = make_recording(duration=40.0, sfreq=500.0, seed=4)
    return raw, truth


def _run(raw, params):
    study = Study()
    study.set_raw(raw.copy())
    res = Runner(study, builtin_steps(), Path("unused"), write_files=False).run_step("cardiac", params)
    return study, res


def test_cardiac_step_applies_the_edits_and_the_recorded_params_reproduce_the_eeg(synthetic):
    raw, truth = synthetic
    base = {"bcg_window": 11, "compare": False}
    _, res0 = _run(raw, base)
    det = res0.details["cardiac"].detected
    assert len(det) == len(truth["rpeaks"]) and np.abs(det - truth["rpeaks"]).max() < 0.004
    # the user removes beat 10, moves beat 20 by 24 ms and adds a spurious beat between 30 and 31
    cur = det.copy()
    cur[20] += 0.024
    cur = np.append(np.delete(cur, 10), 0.5 * (det[30] + det[31]))
    edits = diff_beats(det, np.sort(cur)).to_text()
    study, res = _run(raw, {**base, "beat_edits": edits})
    q = res.qc
    assert q["beats_added_by_hand"] == 2 and q["beats_removed_by_hand"] == 2
    assert q["n_beats"] == len(det)  # -1 removed, +1 added
    np.testing.assert_allclose(study.rpeaks, np.sort(cur), atol=1e-5)  # stored to 10 µs
    ann = study.eeg.annotations
    assert int(np.sum(ann.description == "R-peak")) == len(cur)
    # the implausible intervals the edits made are reported (a missing beat: RR x2; an extra: x0.5)
    assert q["implausible_pct"] > res0.qc["implausible_pct"]
    # the corrected EEG differs from the unedited run, and the recorded parameters reproduce it exactly
    assert not np.array_equal(study.eeg.get_data(), res0.provides["eeg"].get_data())
    study2, res2 = _run(raw, res.params)
    assert res.params["beat_edits"] == edits
    np.testing.assert_array_equal(study2.eeg.get_data(), study.eeg.get_data())


def test_edits_that_no_longer_fit_the_detection_are_refused(synthetic):
    raw, _ = synthetic
    with pytest.raises(InputError, match="detection changed") as info:
        _run(raw, {"bcg_window": 11, "compare": False, "beat_edits": "-0.01234"})
    assert "beat-edits off" in str(info.value) and "\n" not in str(info.value)


def test_apply_again_replaces_the_previous_run_instead_of_stacking_on_it(synthetic, tmp_path):
    """Re-running the step (Apply in the editor) starts from the EEG before its previous run,
    writes over its previous output (not its input) and leaves one cardiac version."""
    raw, _ = synthetic
    base = {"bcg_window": 11, "compare": False}
    study = Study()
    study.set_raw(raw.copy())
    runner = Runner(study, builtin_steps(), tmp_path)
    first = runner.run_step("cardiac", base)
    det = first.details["cardiac"].detected
    edits = diff_beats(det, np.delete(det, 7)).to_text()
    runner.run_step("cardiac", {**base, "beat_edits": edits})
    assert [v.step for v in study.history] == ["cardiac"]
    once, _ = _run(raw, {**base, "beat_edits": edits})
    np.testing.assert_array_equal(study.eeg.get_data(), once.eeg.get_data())
    assert len(study.rpeaks) == len(det) - 1
