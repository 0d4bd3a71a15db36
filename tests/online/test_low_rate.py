"""The online correction below 2 kHz: the stop gate must not take the aliased artifact for a
scanner that stopped (issue 17: online at 1 kHz)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.online import OnlineParams, replay_raw
from workbench.engine.online.gradient import CausalGradient


@pytest.fixture(scope="module")
def phantom_1k(tmp_path_factory: pytest.TempPathFactory):
    """60 s, 32 EEG + EOG + ECG at 1 kHz, TR 2 s, 35 slices, a drifting artifact and a head
    movement (the 90 s cardiac-pass phantom's settings, shorter)."""
    from online_synth import vhdr

    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.phantom import load_truth
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    out = tmp_path_factory.mktemp("online_1k") / "study"
    simulate_study(out, PhantomConfig(duration_s=60, n_eeg=32, sfreq=1000, tr=2.0, slices=35, seed=16,
                                      gradient_drift=1.0, motion_events=1))
    return read_eeg(vhdr(out), preload=True), load_truth(out)


def _run(raw, truth):
    r = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=50)
    sf = truth.sfreq
    eeg = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    target = raw.get_data(picks=eeg) - np.asarray(truth.arrays["gradient"][eeg])
    a = int(22 * sf)  # after volume 10
    e = sosfiltfilt(sos, r.data[eeg].astype(float) - target, axis=1)[:, a:]
    t = sosfiltfilt(sos, target, axis=1)[:, a:]
    return r, float(np.sqrt((e**2).sum() / (t**2).sum()))


def test_no_volume_is_taken_for_stopped_at_1_khz(phantom_1k, monkeypatch: pytest.MonkeyPatch) -> None:
    """With 5-sample blocks (5 ms, as at higher rates) most volumes were taken for
    stopped: left uncorrected from there and never averaged into a template, so the
    templates stayed those of the first volumes. Measured on this phantom: 5-sample
    blocks 24 volumes stopped, NRMSE 1-40 Hz (against the truth with its BCG, after
    volume 10) 1.38; 20 samples none, 0.78. Offline gets 0.13 on such a phantom: the rest
    of the online gap at 1 kHz is not this."""
    raw, truth = phantom_1k
    assert CausalGradient(4, 1000.0, threaded=False)._block == 20
    assert CausalGradient(4, 5000.0, threaded=False)._block == 25  # 5 ms above 2 kHz, as before
    now, e_now = _run(raw, truth)
    monkeypatch.setattr(CausalGradient, "_stop_block_low", 5)
    # (with the false-stop check on, the 5-sample blocks alone stopped 2 volumes, 0.767:
    # it learns from a stopped volume whose next marker came on time; see test_false_stop)
    monkeypatch.setattr(CausalGradient, "_stop_recover", False)
    old, e_old = _run(raw, truth)
    print(f"volumes stopped {old.state['volumes_artifact_ended']} -> {now.state['volumes_artifact_ended']}, "
          f"NRMSE 1-40 Hz {e_old:.3f} -> {e_now:.3f}")
    assert now.state["volumes_artifact_ended"] == 0
    assert not any("stopped" in m for m in now.messages)
    assert old.state["volumes_artifact_ended"] > 5
    assert e_now < 0.8 * e_old


def test_a_scan_aborted_mid_volume_is_still_seen_at_1_khz(phantom_1k) -> None:
    """The longer blocks do not blind the gate: the scanner stops 0.4 s into volume 20
    (its marker came); the rest of the volume passes through flagged 'gradient artifact
    ended', from within a block of the stop (measured: flagged from 2 ms before it)."""
    from workbench.engine.online import flags as F

    raw, truth = phantom_1k
    sf = truth.sfreq
    onsets = sorted(a["onset"] for a in raw.annotations if a["description"].endswith("R128"))
    s20 = int(round(onsets[20] * sf))
    stop = s20 + int(0.4 * sf)
    cut = raw.copy()
    rows = [i for i, t in enumerate(raw.get_channel_types()) if t in ("eeg", "eog", "ecg")]
    assert list(truth.ch_names[: len(raw.ch_names)]) == list(raw.ch_names)
    grad = np.asarray(truth.arrays["gradient"])
    cut._data[rows, stop:] -= grad[rows, stop : raw.n_times]
    cut.set_annotations(cut.annotations[[i for i, a in enumerate(cut.annotations)
                                         if not (a["description"].endswith("R128") and a["onset"] > onsets[20] + 0.5)]])
    out = replay_raw(cut, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=50)
    ended = np.flatnonzero(out.flags & F.ARTIFACT_ENDED)
    print(f"flagged from {(ended[0] - stop) / sf * 1e3 if ended.size else np.nan:.0f} ms after the stop")
    assert ended.size and abs(ended[0] - stop) <= 20
    assert out.state["volumes_artifact_ended"] == 1
    assert any("gradient artifact stopped" in m for m in out.messages)
