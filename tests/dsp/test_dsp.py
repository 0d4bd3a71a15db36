"""workbench.engine.dsp against scipy.signal on the same inputs (the peer it replaces on
the start-up-sensitive path; see the package's docstring)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from workbench.engine.dsp.butterworth import butter_sos, sosfiltfilt
from workbench.engine.dsp.peaks import find_peaks, local_maxima

DESIGNS = [
    (3, (10.0, 35.0), "bandpass", 250.0),  # the R-peak detector's bands at the pass's rate
    (3, (15.0, 40.0), "bandpass", 250.0),
    (3, (1.0, 40.0), "bandpass", 5000.0),  # its polarity band at full rate (poles near 1)
    (2, (5.0, 30.0), "bandpass", 1000.0),
    (2, 2.0, "highpass", 500.0),
    (3, 0.5, "highpass", 250.0),
    (4, 0.01, "highpass", 1.0),
    (3, 30.0, "lowpass", 250.0),
    (1, 5.0, "lowpass", 100.0),
]


@pytest.mark.parametrize("order,cut,kind,fs", DESIGNS)
def test_butterworth_matches_scipy(order, cut, kind, fs):
    ours, ref = butter_sos(order, cut, kind, fs), signal.butter(order, cut, kind, fs=fs, output="sos")
    assert ours.shape == ref.shape
    _, h_ours = signal.sosfreqz(ours, 2048, fs=fs)
    _, h_ref = signal.sosfreqz(ref, 2048, fs=fs)
    np.testing.assert_allclose(h_ours, h_ref, rtol=0, atol=1e-11)
    rng = np.random.default_rng(order)
    # a drifting signal (the edges' steady-state start matters) and several at once
    x = np.cumsum(rng.standard_normal(150_000)) * 0.05 + rng.standard_normal(150_000)
    y, y_ref = sosfiltfilt(ours, x), signal.sosfiltfilt(ref, x)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-8 * np.abs(y_ref).max())
    X = rng.standard_normal((3, 70_001))  # longer than one block of the recursion
    Y, Y_ref = sosfiltfilt(ours, X.T, axis=0), signal.sosfiltfilt(ref, X.T, axis=0)
    np.testing.assert_allclose(Y, Y_ref, rtol=0, atol=1e-9 * np.abs(Y_ref).max())
    # edges: the first and last samples, where the padding and start states act
    np.testing.assert_allclose(y[:50], y_ref[:50], rtol=0, atol=1e-8 * np.abs(y_ref).max())
    np.testing.assert_allclose(y[-50:], y_ref[-50:], rtol=0, atol=1e-8 * np.abs(y_ref).max())


def test_short_signal_and_bad_design_are_refused():
    sos = butter_sos(3, (10.0, 35.0), "bandpass", 250.0)
    with pytest.raises(ValueError, match="longer than the filter's padding"):
        sosfiltfilt(sos, np.ones(20))
    with pytest.raises(ValueError, match="band-pass edges"):
        butter_sos(3, (40.0, 10.0), "bandpass", 250.0)
    with pytest.raises(ValueError, match="cut-off"):
        butter_sos(3, 200.0, "lowpass", 250.0)


def test_peaks_match_scipy_on_random_and_flat_topped_signals():
    rng = np.random.default_rng(1)
    for t in range(300):
        n = int(rng.integers(3, 3000))
        # rounded values give flat tops and tied heights (scipy's middle-of-plateau and
        # quicksort order of ties)
        x = np.round(rng.standard_normal(n) * 3) if t % 2 else np.cumsum(rng.standard_normal(n))
        d = float(rng.choice([1, 1.5, 3, 7.2, 25, 100]))
        h = float(rng.choice([-1e9, 0.0, 1.0]))
        ours, po = find_peaks(x, height=h, distance=d)
        ref, pr = signal.find_peaks(x, height=h, distance=d)
        np.testing.assert_array_equal(ours, ref)
        np.testing.assert_array_equal(po["peak_heights"], pr["peak_heights"])
    x = np.array([0, 1, 1, 1, 0, 2, 2, 0, 3], float)  # plateaus of 3 and 2; a rising last sample
    np.testing.assert_array_equal(local_maxima(x), [2, 5])


def test_peaks_match_scipy_on_an_ecg_energy():
    """The detector's own input: the Teager energy of a band-passed ECG."""
    from workbench.engine.cardiac.rpeaks import teager_energy

    fs = 250.0
    t = np.arange(int(60 * fs)) / fs
    rng = np.random.default_rng(3)
    beats = np.cumsum(0.85 + 0.05 * rng.standard_normal(80))
    ecg = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in beats) + 0.05 * rng.standard_normal(t.size)
    e = teager_energy(sosfiltfilt(butter_sos(3, (10.0, 35.0), "bandpass", fs), ecg), fs)
    ours, _ = find_peaks(e, height=0.0, distance=62)
    ref, _ = signal.find_peaks(e, height=0.0, distance=62)
    np.testing.assert_array_equal(ours, ref)
    assert len(ours) > 60
