"""The ica step with Picard (the default): planted components recovered, choices replayed, Cancel."""

from __future__ import annotations

import sys
from pathlib import Path

import mne
import numpy as np
import pytest

from workbench.engine.errors import Cancelled
from workbench.engine.progress import Progress
from workbench.engine.runner import Runner
from workbench.engine.steps import builtin_steps
from workbench.engine.study import Study

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import make_recording  # noqa: E402

SF = 250.0


@pytest.fixture(scope="module")
def recording():
    # at 250 Hz the step fits the recording as it is (no resampling): truth and sources align
    return make_recording(duration=60.0, sfreq=SF, seed=2)


def _run(raw, params, rpeaks=None, progress=None):
    study = Study()
    study.set_raw(raw.copy())
    if rpeaks is not None:
        study.provide("rpeaks", np.asarray(rpeaks), "test")
    res = Runner(study, builtin_steps(), Path("unused"), write_files=False).run_step("ica", params, progress)
    return study, res


def _hp(x):
    return mne.filter.filter_data(np.atleast_2d(x).astype(float), SF, 1.0, None, verbose="error")


@pytest.fixture(scope="module")
def picard_run(recording):
    raw, truth = recording
    return _run(raw, {}, rpeaks=truth["rpeaks"])


def test_picard_recovers_the_planted_components(recording, picard_run):
    raw, truth = recording
    _, res = picard_run
    assert res.qc["ica_method"] == "picard"
    n = res.qc["n_components"]
    assert 10 <= n <= 19  # PCA to 99.9 % of the variance: the 10 planted sources, not the noise floor
    src = res.details["sources"]
    planted = np.vstack([truth["blink"], truth["bcg"], truth["sources"]])
    r = np.abs(np.corrcoef(_hp(planted), src)[: len(planted), len(planted):])
    best = r.max(axis=1)
    assert best.min() > 0.9, np.round(best, 3)
    # each planted source in its own component
    assert len(set(r.argmax(axis=1))) == len(planted)
    # the automatic labels: the blink component is EOG, the BCG component cardiac
    why = res.details["why"]
    blink_ic, bcg_ic = int(r[0].argmax()), int(r[1].argmax())
    assert why.get(blink_ic, "").startswith("EOG") and why.get(bcg_ic, "").startswith("cardiac")
    assert sorted(res.qc["excluded"]) == sorted({blink_ic, bcg_ic})
    # the explained variance per component sums to about what the components explain
    var = res.details["component_variance"]
    assert len(var) == n and np.all(var >= 0) and 0.5 < var.sum() < 1.5


def test_users_choices_are_recorded_and_replayed_to_identical_data(recording, picard_run):
    raw, truth = recording
    _, auto = picard_run
    keep_bcg = [i for i in auto.qc["excluded"] if auto.details["why"][i].startswith("EOG")]
    choice = ",".join(str(i) for i in keep_bcg + [5])
    study1, res1 = _run(raw, {"exclude": choice}, rpeaks=truth["rpeaks"])
    assert res1.qc["excluded"] == sorted(keep_bcg + [5]) and res1.params["exclude"] == choice
    assert "chosen by the user" in res1.qc["excluded_why"]
    # the recorded parameters, run again: the same components, the same EEG to the last bit
    study2, _ = _run(raw, res1.params, rpeaks=truth["rpeaks"])
    np.testing.assert_array_equal(study1.eeg.get_data(), study2.eeg.get_data())
    # another choice gives other data (the comparison can fail)
    study3, _ = _run(raw, {"exclude": "[]"}, rpeaks=truth["rpeaks"])
    assert not np.array_equal(study3.eeg.get_data(), study1.eeg.get_data())
    np.testing.assert_allclose(study3.eeg.get_data(), raw.get_data(), atol=1e-12)


def test_cancel_interrupts_the_picard_fit(recording):
    raw, _ = recording
    seen = []

    def cb(f, msg):
        seen.append(msg)
        if msg.startswith("ICA: iteration 3"):
            p.token.cancel()

    p = Progress(cb)
    with pytest.raises(Cancelled):
        _run(raw, {}, progress=p)
    assert any(m.startswith("ICA: iteration 3") for m in seen)
    assert not any("detecting" in m for m in seen)  # stopped inside the fit
