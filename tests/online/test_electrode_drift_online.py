"""Online: an electrode's steady drift must not enter the templates (issue 17; the random
sweep's DC ramps, ``bench_gradient_sweep.py --faults``: 22.5 uV 1-40 Hz on one run, 3.3
with the drift's slope taken out of the stored epochs, 2.3 without the ramps)."""

from __future__ import annotations

import driftsynth
import mne
import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from workbench.engine.online import OnlineParams, replay_raw
from workbench.engine.online.gradient import CausalGradient


def _error_uv(ramp_uv_s: float, sf: float = 2500.0) -> float:
    """1-40 Hz RMS error (uV) after volume 10 of the online correction of a 60 s, 8-channel
    recording with DC offsets and steady ramps of ``ramp_uv_s`` (uV/s, sign by channel)."""
    tr = 2.0
    art, eeg, sched, _ = driftsynth.make(n_ch=8, duration=60.0, sfreq=sf, tr=tr, slices=35, seed=3, drift_ppm=20.0)
    t = np.arange(art.shape[1]) / sf
    dc = 0.02 * np.linspace(-1, 1, 8)[:, None] + ramp_uv_s * 1e-6 * np.linspace(1, -0.5, 8)[:, None] * t[None]
    raw = mne.io.RawArray(art + eeg + dc, mne.create_info([f"E{i}" for i in range(8)], sf, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations(np.round(sched.onsets) / sf, 0.0, "Response/R128"))
    out = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=int(sf * 0.02)).data[:8]
    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    a, b = int(sched.onsets[10]), int(sched.onsets[-1])
    e = sosfiltfilt(sos, out.astype(float) - eeg - dc, axis=1)[:, a:b]
    return float(np.sqrt(np.mean(e**2)) * 1e6)


def test_a_steady_ramp_leaves_no_staircase(monkeypatch: pytest.MonkeyPatch) -> None:
    clean = _error_uv(0.0)  # 2.35 uV
    assert _error_uv(80.0) < 1.3 * clean  # 2.35
    monkeypatch.setattr(CausalGradient, "_drift_line", False)
    assert _error_uv(80.0) > 3 * clean  # 13.3: the stored epochs' slope made a staircase
