"""The causal Wiener gain in the EEG band, on a 5 kHz phantom (where the EEG leak, not
aliasing, limits the online correction)."""

from __future__ import annotations

import numpy as np
import pytest
from online_synth import band, vhdr

from workbench.engine.online import OnlineParams, replay_raw
from workbench.engine.online.gradient import CausalGradient


@pytest.fixture(scope="module")
def phantom_5k(tmp_path_factory: pytest.TempPathFactory):
    """40 s, 32 EEG at 5 kHz, TR 2 s with 30 slices, 20 ppm, a drifting artifact and one
    head movement (about 5 s to build)."""
    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.phantom import load_truth
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    out = tmp_path_factory.mktemp("online_5k") / "study"
    simulate_study(out, PhantomConfig(duration_s=40, n_eeg=32, sfreq=5000, tr=2.0, slices=30, seed=5,
                                      drift_ppm=20.0, gradient_drift=1.0, motion_events=1))
    return read_eeg(vhdr(out), preload=True), load_truth(out)


def _eeg_and_target(raw, truth) -> tuple[list[int], np.ndarray]:
    """The EEG rows and their truth without the gradient artifact, in the compared band."""
    eeg = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    return eeg, band(raw.get_data(picks=eeg) - np.asarray(truth.arrays["gradient"][eeg]), truth.sfreq)


def test_eeg_band_counts_as_artifact_only_well_above_its_leak(phantom_5k, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the EEG band the long mean's power is mostly the EEG leak times a random draw
    (exponential for Gaussian EEG, heavier-tailed for blinks and bursts): counted as
    artifact beyond 1x its leak it keeps the template in a third of the EEG-only bins,
    beyond 3x (as offline, ``GradientParams.wiener_strict``) in 5 %: less EEG lost.

    Measured with the pulse artifact left in the templates' epochs (``cardiac_pass``
    off: 3.18 -> 2.08 uV; 64-sample margins: 3.14 -> 2.28 in an earlier session); with it
    kept out (the default), part of what the strict rule kept out is gone already: 2.24
    -> 1.91 uV.

    The blink-robust bound on the same power (``_wiener_robust``) also lowers what the
    strict rule lowers, so strict is measured with it off; with it on (the default) strict
    1 -> 3 gave 1.96 -> 1.91 uV, and the bound must not make the default worse (1.909 uV
    with it, 1.910 without)."""
    raw, truth = phantom_5k
    sf = truth.sfreq
    eeg, target = _eeg_and_target(raw, truth)
    a = int(22 * sf)  # after volume 10
    err = {}
    monkeypatch.setattr(CausalGradient, "_wiener_robust", 0.0)
    for pulse in (False, True):
        for strict in (1.0, 3.0):
            monkeypatch.setattr(CausalGradient, "_wiener_strict", strict)
            p = OnlineParams(lowpass_hz=None, bcg=False, cardiac_pass=pulse)
            y = replay_raw(raw, params=p, chunk=100).data[eeg]
            err[pulse, strict] = float(np.sqrt(np.mean((band(y, sf) - target)[:, a:] ** 2)))
    print({k: round(v * 1e6, 2) for k, v in err.items()}, "uV, 1-40 Hz after volume 10 (pulse pass, strict)")
    assert err[False, 3.0] < 0.85 * err[False, 1.0]
    assert err[True, 3.0] < 0.9 * err[True, 1.0]
    assert err[True, 3.0] < err[False, 3.0]
    monkeypatch.undo()
    y = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=100).data[eeg]
    default = float(np.sqrt(np.mean((band(y, sf) - target)[:, a:] ** 2)))
    print(round(default * 1e6, 3), "uV with the blink-robust bound")
    assert default <= 1.01 * err[True, 3.0]


def test_a_long_epoch_margin_keeps_the_gain_error_out_of_each_volume_start(
        phantom_5k, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-bin Wiener gains act on an epoch as a circular convolution: with 64-sample
    margins (13 ms at 5 kHz) their error lands in each volume's first ~50 ms. The default
    margin at 5 kHz is 0.1 s; measured in the first 50 ms of each volume from volume 10 on 4.49 -> 2.99 uV
    (three other seeds of this phantom: 4.4 -> 2.5-3.1), over whole volumes 2.44 -> 2.13."""
    raw, truth = phantom_5k
    sf = truth.sfreq
    assert CausalGradient.auto_margin(sf) == 500 and CausalGradient.auto_margin(2500.0) == 64
    eeg, target = _eeg_and_target(raw, truth)
    onsets = [o for d, o in zip(raw.annotations.description, raw.annotations.onset) if d.endswith("R128")]
    st = np.round(np.asarray(onsets) * sf).astype(int)
    w = int(0.05 * sf)
    out = {}
    for label in ("default", "64 samples"):
        if label != "default":
            monkeypatch.setattr(CausalGradient, "auto_margin", staticmethod(lambda sfreq: 64))
        e = band(replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=100).data[eeg], sf) - target
        first = np.concatenate([e[:, s : s + w] for s in st[10:-1]], axis=1)
        out[label] = (float(np.sqrt(np.mean(first**2))), float(np.sqrt(np.mean(e[:, st[10] : st[-1]] ** 2))))
    print({k: [round(x * 1e6, 2) for x in v] for k, v in out.items()}, "uV: first 50 ms, whole volumes")
    assert out["default"][0] < 0.8 * out["64 samples"][0]
    assert out["default"][1] < out["64 samples"][1]
