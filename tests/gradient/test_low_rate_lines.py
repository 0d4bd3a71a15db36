"""At 1 kHz the readout's harmonics fold into the EEG band as lone lines (962.5 Hz, the
55th slice harmonic at 35 slices / 2 s, onto 37.5 Hz). The Wiener gain's EEG-band rule
(the smaller of a bin's own artifact power and its neighbours' mean) shrank such a line's
template to a fraction and left the rest of it in the EEG."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from workbench.engine.gradient import GradientParams, remove_gradient
from workbench.engine.gradient.aas import wiener_gain

from . import driftsynth


def test_a_lone_strong_line_keeps_its_own_power() -> None:
    """One bin 40x its leak among bins of leak only: with the neighbours' mean (9 bins)
    its gain was ~0.8; kept by ``strong``, 40 / 41. EEG-only bins are not raised."""
    rng = np.random.default_rng(0)
    nf, kc, nv, w = 120, 80, 60, 60
    noise = np.ones((1, nf))
    leak = noise / w
    power = leak * rng.exponential(1.0, (1, nf))  # EEG only: the leak times an exponential draw
    power[0, 40] = 40 * leak[0, 40]
    n_avg = np.full(nf, float(w))
    args = (None, None, power, noise, n_avg, nv, kc, 9, 0)
    spread = np.zeros((1, nf))
    off = wiener_gain(*args, spread=spread)
    on = wiener_gain(*args, spread=spread, strong=20.0)
    assert off[0, 40] < 0.85, off[0, 40]
    assert on[0, 40] == pytest.approx(40 / 41, rel=1e-5)
    others = np.arange(nf) != 40
    np.testing.assert_array_equal(on[0, others], off[0, others])


@pytest.mark.parametrize("sampling", ["mean", "point"])
def test_the_folded_lines_are_removed_at_1khz(sampling: str) -> None:
    """64 s at 1 kHz, 20 ppm: 1-40 Hz error 3.7 / 3.6 uV (mean / point sampling), with
    the rule off 5.8 / 7.6 (fails with ``WIENER_STRONG_LOW_RATE = 0``)."""
    sfreq, tr = 1000.0, 2.0
    art, eeg, sched, _cfg = driftsynth.make(n_ch=8, duration=64.0, sfreq=sfreq, tr=tr, slices=35, seed=0,
                                            drift_ppm=20.0, gradient_sampling=sampling)
    trig = np.round(sched.onsets)
    raw = mne.io.RawArray(art + eeg, mne.create_info([f"E{i}" for i in range(8)], sfreq, "eeg"),
                          verbose=False)
    raw.set_annotations(mne.Annotations(trig / sfreq, 0.0, "Response/R128"))
    res = remove_gradient(raw, tr=tr, volume="Response/R128", params=GradientParams(n_jobs=1))
    sos = butter(4, [1, 40], "bandpass", fs=sfreq, output="sos")
    err = sosfiltfilt(sos, res.raw.get_data() - eeg, axis=1)[:, int(trig[5]):int(trig[-1])]
    left = float(np.sqrt(np.mean(err**2)) * 1e6)
    assert left < 4.5, left


def test_the_low_band_fits_the_alias_terms_on_the_basis_minus_its_window_means(monkeypatch) -> None:
    """300 s at 1 kHz, 20 ppm: the low band's 60 volumes span 2.4 cycles of the sampling
    phase, so the window means of the alias basis are small but not 0. Fitting the bare
    basis there (``alias_bare_below`` 0.1, as at 5 kHz) took less of each alias term than
    the residual holds: 1-40 Hz 3.22 uV against 2.82 with the basis minus its window
    means (the default below 2 kHz)."""
    from dataclasses import replace

    import workbench.engine.gradient.correct as correct

    sfreq, tr = 1000.0, 2.0
    art, eeg, sched, _cfg = driftsynth.make(n_ch=6, duration=300.0, sfreq=sfreq, tr=tr, slices=35, seed=0,
                                            drift_ppm=20.0)
    trig = np.round(sched.onsets)
    raw = mne.io.RawArray(art + eeg, mne.create_info([f"E{i}" for i in range(6)], sfreq, "eeg"),
                          verbose=False)
    raw.set_annotations(mne.Annotations(trig / sfreq, 0.0, "Response/R128"))
    sos = butter(4, [1, 40], "bandpass", fs=sfreq, output="sos")

    def left() -> float:
        res = remove_gradient(raw.copy(), tr=tr, volume="Response/R128", params=GradientParams(n_jobs=2))
        err = sosfiltfilt(sos, res.raw.get_data() - eeg, axis=1)[:, int(trig[5]):int(trig[-1])]
        return float(np.sqrt(np.mean(err**2)) * 1e6)

    default = left()
    aas = correct.GradientParams.aas
    monkeypatch.setattr(correct.GradientParams, "aas",
                        lambda self, sfreq=0.0: replace(aas(self, sfreq), alias_bare_below=0.1))
    bare = left()
    assert default < 0.92 * bare, (default, bare)
