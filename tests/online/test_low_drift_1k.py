"""Online at 1 kHz with a few ppm of clock drift (issue 17): the volumes' sub-sample phase
travels less than a sample over the run, so the aliased part of the artifact changes from
volume to volume but never covers the phase cycle the alias model needs. The long window
means then lag it all run; the mean of the last two volumes is used (inside the artifact's
channel subspace) where it has predicted far better (``CausalGradient._short_mean``)."""

from __future__ import annotations

import driftsynth
import mne
import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from workbench.engine.online import OnlineParams, replay_raw
from workbench.engine.online.gradient import CausalGradient


def _error_uv(seed: int, drift_ppm: float, sf: float = 1000.0) -> float:
    """1-40 Hz RMS error (µV) after volume 20 of the online correction of a 100 s, 8-channel
    recording at ``sf`` (35 slices / 2 s, markers on whole samples)."""
    tr = 2.0
    art, eeg, sched, _ = driftsynth.make(n_ch=8, duration=100.0, sfreq=sf, tr=tr, slices=35, seed=seed,
                                         drift_ppm=drift_ppm)
    raw = mne.io.RawArray(art + eeg, mne.create_info([f"E{i}" for i in range(8)], sf, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations(np.round(sched.onsets) / sf, 0.0, "Response/R128"))
    out = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=int(sf * 0.05)).data[:8]
    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    a, b = int(sched.onsets[20]), int(sched.onsets[-1])
    e = sosfiltfilt(sos, out.astype(float) - eeg, axis=1)[:, a:b]
    return float(np.sqrt(np.mean(e**2)) * 1e6)


def test_the_short_mean_is_used_below_2_5_khz_only() -> None:
    for sf in (1000.0, 2000.0, 2048.0):
        assert CausalGradient(4, sf, threaded=False)._short_on
    for sf in (2500.0, 4096.0, 5000.0):
        assert not CausalGradient(4, sf, threaded=False)._short_on


@pytest.mark.parametrize("seed", [1, 4])
def test_a_slowly_travelling_phase_is_followed_at_1_khz(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """4 ppm: 0.008 sample per volume. Measured (µV): seed 1 13.1 now, 29.2 with the long
    windows only; seed 4 10.4 vs 22.0 (with the last three volumes and not only inside the
    artifact's subspace: 15.1 and 11.9). Still near the size of the EEG itself (15 µV
    RMS): offline, whose windows are centred on the volume, leaves ~3 µV on such runs."""
    now = _error_uv(seed, 4.0)
    monkeypatch.setattr(CausalGradient, "_short", 0)
    old = _error_uv(seed, 4.0)
    print(f"seed {seed}: long windows only {old:.2f} uV, with the short mean {now:.2f} uV")
    assert now < 0.6 * old
    assert now < 16.0


def test_a_slowly_travelling_phase_is_followed_at_2_khz(monkeypatch: pytest.MonkeyPatch) -> None:
    """2 kHz, 2 ppm (0.008 sample per volume). The short mean was used below 2 kHz only
    until a sweep of random acquisitions (session 43) found online runs at 2 kHz with a few
    ppm whose error grew over the run with the long windows' lag (2 kHz, multiband 2, 3 ppm,
    20 mV artifact: 27 -> 76 uV per 2 s block, offline 8-24). Measured here: 4.0 uV, 8.9
    with the long windows only."""
    now = _error_uv(4, 2.0, 2000.0)
    monkeypatch.setattr(CausalGradient, "_short", 0)
    old = _error_uv(4, 2.0, 2000.0)
    print(f"2 kHz: long windows only {old:.2f} uV, with the short mean {now:.2f} uV")
    assert now < 0.6 * old
