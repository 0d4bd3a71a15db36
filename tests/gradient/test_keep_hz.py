"""Frequencies to keep (``GradientParams.keep_hz``): a steady-state response next to a
drifting, aliased artifact.

A steady signal turns by a fixed angle from volume to volume (its frequency times the TR);
a folded part of the artifact of order ``m`` turns by ``2 pi m`` times the volumes'
sampling-phase step. Where the two turns match, the alias model fits the signal as
artifact and takes it: at 2.5 kHz with 20 ppm (0.1 sample a volume) a 10 µV response at
10.05 Hz (0.1 cycle a volume, order 1) was 87 % removed, offline and online. The sampled
data cannot tell the two apart, so the user names the stimulation frequencies.
"""

from __future__ import annotations

import driftsynth
import mne
import numpy as np
import pytest
from driftsynth import error_uv, kept_share

from workbench.engine.errors import InputError
from workbench.engine.gradient import GradientParams, remove_gradient
from workbench.engine.gradient.correct import parse_keep_hz

SF, TR, FREQ = 2500.0, 2.0, 10.05


@pytest.fixture(scope="module")
def ssvep() -> tuple[mne.io.RawArray, np.ndarray, np.ndarray, np.ndarray]:
    """(raw, EEG truth without the response, the response, volume onsets): 100 s, 8
    channels, 35 slices, 20 ppm, a 10 µV response at 10.05 Hz."""
    art, eeg, sched, _ = driftsynth.make(n_ch=8, duration=100.0, sfreq=SF, tr=TR, slices=35, seed=2,
                                         drift_ppm=20.0)
    t = np.arange(eeg.shape[1]) / SF
    sig = 10e-6 * np.sin(2 * np.pi * FREQ * t + 0.3 * np.arange(8)[:, None])
    raw = mne.io.RawArray(art + eeg + sig, mne.create_info([f"E{i}" for i in range(8)], SF, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations(np.round(sched.onsets) / SF, 0.0, "Response/R128"))
    return raw, eeg, sig, np.asarray(sched.onsets)


def test_a_kept_frequency_is_not_taken_by_the_alias_model(ssvep) -> None:
    """Measured: 0.13 of the response left without ``keep_hz`` (1-40 Hz error 6.3 µV),
    0.97 with it (1.4 µV)."""
    raw, eeg, sig, onsets = ssvep
    res = {}
    for keep in ((), (FREQ,)):
        out = remove_gradient(raw, params=GradientParams(lowpass=None, keep_hz=keep), tr=TR,
                              volume="Response/R128")
        y = out.raw.get_data()
        res[keep] = (kept_share(y, sig, onsets, FREQ, SF), error_uv(y, eeg + sig, onsets, SF), out.qc)
    (k0, e0, _), (k1, e1, qc) = res[()], res[(FREQ,)]
    print(f"kept {k0:.2f} -> {k1:.2f}, 1-40 Hz error {e0:.2f} -> {e1:.2f} uV")
    assert k0 < 0.4  # the case does tempt the alias model
    assert k1 > 0.9
    assert e1 < 0.4 * e0
    assert qc["keep_hz"] == [FREQ] and qc["keep_locked_hz"] == []


def test_a_frequency_locked_to_the_volumes_is_reported(ssvep) -> None:
    """10 Hz at TR 2 s is 20 cycles a volume: the templates' mean takes it, kept or not."""
    raw, _eeg, _sig, _onsets = ssvep
    qc = remove_gradient(raw.copy().crop(0, 40), params=GradientParams(lowpass=None, keep_hz=(10.0, FREQ)),
                         tr=TR, volume="Response/R128").qc
    assert qc["keep_locked_hz"] == [10.0]


def test_frequencies_to_keep_are_parsed_with_clear_messages() -> None:
    assert parse_keep_hz("7.5, 12 15") == (7.5, 12.0, 15.0)
    assert parse_keep_hz(None) == () and parse_keep_hz("") == ()
    with pytest.raises(InputError, match="must be numbers in Hz"):
        parse_keep_hz("7.5, twelve")
    with pytest.raises(InputError, match="positive"):
        parse_keep_hz("-3")


def test_a_frequency_beyond_nyquist_is_refused(ssvep) -> None:
    raw = ssvep[0]
    with pytest.raises(InputError, match="1300 Hz must lie in"):
        remove_gradient(raw, params=GradientParams(keep_hz=(1300.0,)), tr=TR, volume="Response/R128")


def test_the_gradient_step_passes_them_on() -> None:
    from workbench.engine.steps.gradient import gradient_params

    assert gradient_params({"keep_hz": "7.5,12"}).keep_hz == (7.5, 12.0)
    assert gradient_params({"keep_hz": None}).keep_hz == ()
