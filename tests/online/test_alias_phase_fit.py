"""Early alias phases fitted on the artifact itself, on a 2.5 kHz phantom (where the
artifact aliases and the markers' whole-sample quantisation pins the clock only after
~20 volumes)."""

from __future__ import annotations

import numpy as np
import pytest
from online_synth import band, vhdr

from workbench.engine.online import OnlineParams, replay_raw
from workbench.engine.online.gradient import CausalGradient


@pytest.fixture(scope="module")
def phantom_2k5(tmp_path_factory: pytest.TempPathFactory):
    """56 s, 32 EEG at 2.5 kHz, TR 2 s with 30 slices, 20 ppm, a drifting artifact and
    one head movement (a few seconds to build)."""
    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.phantom import load_truth
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    out = tmp_path_factory.mktemp("online_2k5") / "study"
    simulate_study(out, PhantomConfig(duration_s=56, n_eeg=32, sfreq=2500, tr=2.0, slices=30, seed=2,
                                      drift_ppm=20.0, gradient_drift=1.0, motion_events=1))
    return read_eeg(vhdr(out), preload=True), load_truth(out)


def test_alias_phases_from_the_artifact_before_the_clock_is_pinned(phantom_2k5, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the marker fit is pinned the alias phases came from the measured onsets,
    whose slope follows the artifact's own timing (about 0.01 sample per volume off the
    sampling clock, a tenth of a cycle over a window at 20 ppm): the alias model fitted
    to them predicted new epochs poorly. The slope the epochs' alias part fits best,
    with the out-of-sample checks redone leave-one-out for it, lets the alias terms in
    several volumes earlier."""
    raw, truth = phantom_2k5
    sf = truth.sfreq
    eeg = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    target = band(raw.get_data(picks=eeg) - np.asarray(truth.arrays["gradient"][eeg]), sf)
    on = np.asarray(truth.triggers["true_eeg"], float) * sf
    a, b = int(on[14]), int(on[24])  # volumes 14-24: before the clock pins (at 24)
    err = {}
    for fit in (False, True):
        monkeypatch.setattr(CausalGradient, "_alias_phase_fit", fit, raising=False)
        y = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=250).data[eeg]
        err[fit] = float(np.sqrt(np.mean((band(y, sf) - target)[:, a:b] ** 2)))
    print({k: round(v * 1e6, 2) for k, v in err.items()}, "uV, 1-40 Hz, volumes 14-24")
    # measured 4.22 -> 3.39 uV until session 38. Most of that drift of the measured onsets
    # was a sign error in the online alignment (test_onset_alignment.py): with the epochs
    # moved onto the template the right way, 3.28 -> 3.21 uV, the fit adds little here
    assert err[True] < 1.02 * err[False]
    assert err[True] < 3.39e-6 and err[False] < 3.6e-6
