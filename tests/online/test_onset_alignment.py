"""Each stored epoch is moved onto the template by the sub-sample delay measured on it
(issue 17, online; ``CausalGradient.align``).

The delay ``tau`` maximises ``Re sum S conj(T) e^{i w tau}``, so the epoch is advanced by
``tau`` (``S e^{+i w tau}``) and its onset is ``onset + tau``. Until session 38 the epoch
was delayed by ``tau`` instead while its onset was advanced: every stored epoch sat
``2 tau`` off, the measured onsets drifted off the truth (-0.36 samples over 45 volumes on
a 40 mV artifact, 20 ppm between the clocks) and the templates smeared with them.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft as sfft

from workbench.engine.gradient.aas import newton_shift
from workbench.engine.online import OnlineParams, replay_raw
from workbench.engine.online.gradient import CausalGradient


def test_newton_shift_sign() -> None:
    """The convention the online step relies on: an epoch 0.3 samples later than the
    template gives tau = +0.3, and S e^{+i w tau} lands on the template."""
    n, c = 256, 64
    t = np.arange(n)
    f = np.arange(n // 2 + 1) / n
    pulse = lambda at: np.exp(-0.5 * ((t - at) / 3.0) ** 2)  # noqa: E731
    T, S = sfft.rfft(pulse(c)), sfft.rfft(pulse(c + 0.3))
    tau = float(newton_shift((S * np.conj(T))[None], 2 * np.pi * f, 1.0)[0])
    assert tau == pytest.approx(0.3, abs=1e-6)
    back = sfft.irfft(S * np.exp(2j * np.pi * f * tau), n)
    assert np.sum(back * t) / np.sum(back) == pytest.approx(c, abs=1e-6)


@pytest.fixture(scope="module")
def strong_artifact():
    """(raw of the artifact alone, true onsets in samples): 70 s x 6 ch at 5 kHz, TR 2 s,
    35 slices, 40 mV, 20 ppm between the clocks (the onsets' sampling phase turns by 0.2
    sample per volume)."""
    from online_synth import phantom_gradient

    raw, _, trig, cfg = phantom_gradient(6, seed=3, duration_s=70.0, sfreq=5000.0, tr=2.0, slices=35,
                                         gradient_mv=40.0)
    return raw, np.asarray(trig.true_eeg, float) * cfg.sfreq  # (seconds in the timeline)


def _measured(raw, monkeypatch: pytest.MonkeyPatch) -> dict[int, float]:
    """Volume number -> onset measured on its epoch (samples)."""
    got: dict[int, float] = {}
    store = CausalGradient._job_store

    def spy(self, *a, **k):
        out = store(self, *a, **k)
        if self._meas:
            got[self._meas[-1][0]] = self._meas[-1][1]
        return out

    monkeypatch.setattr(CausalGradient, "_job_store", spy)
    replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=50)
    return got


def test_measured_onsets_follow_the_true_ones(strong_artifact, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, true = strong_artifact
    got = _measured(raw, monkeypatch)
    vols = np.array(sorted(v for v in got if 5 <= v < len(true)))
    err = np.array([got[v] - true[v] for v in vols])
    err -= np.median(err)  # the artifact's own delay from its onset
    slope = np.polyfit(vols, err, 1)[0]
    print(f"measured - true onset over volumes {vols[0]}-{vols[-1]}: SD {err.std():.4f} samples, "
          f"drift {slope * 30:+.4f} samples per 30 volumes")
    # the old sign: SD 0.077, drift -0.31 per 30 volumes
    assert err.std() < 0.01 and abs(slope) * 30 < 0.02
