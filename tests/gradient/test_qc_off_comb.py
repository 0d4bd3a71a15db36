"""The "1-40 Hz power kept between the volume lines" QC figure tells artifact removed from EEG lost.

The plain 1-40 Hz power-kept ratio counts any artifact below 40 Hz as power before, so a
good correction of a ringing scanner table reads low (0.27-0.34 on the variant table's
20 µV row). Between the lines k/TR nothing repeats with the volumes: there the ratio is
the EEG's own.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from workbench.engine.gradient.qc import spectral_qc

SF, TR = 1000.0, 2.0


def _eeg(n_ch: int, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sos = butter(2, [1, 40], "bandpass", fs=SF, output="sos")
    x = sosfiltfilt(sos, rng.standard_normal((n_ch, int(seconds * SF))), axis=1)
    return 15e-6 * x / x.std(axis=1, keepdims=True)


def _ringing(n_ch: int, seconds: float, seed: int = 1) -> np.ndarray:
    """A 5-35 Hz ringing after every volume, 20 µV, its size wandering ±40 % over ~60 s."""
    rng = np.random.default_rng(seed)
    n_tr = int(TR * SF)
    t = np.arange(n_tr) / SF
    shape = np.exp(-t / 0.4) * (np.sin(2 * np.pi * 9 * t) + 0.6 * np.sin(2 * np.pi * 23 * t + 1.0))
    n_vol = int(seconds / TR)
    size = 1 + 0.4 * np.sin(2 * np.pi * np.arange(n_vol) * TR / 60.0 + rng.uniform(0, 6))
    one = np.concatenate([s * shape for s in size])
    gains = rng.uniform(0.5, 1.5, n_ch)
    return 20e-6 * gains[:, None] * one[None, :] / shape.std()


def test_a_good_correction_of_in_band_artifact_reads_near_one_between_the_lines():
    eeg = _eeg(8, 64.0)
    before = eeg + _ringing(8, 64.0)
    q = spectral_qc(before, eeg, SF, 17.5, TR, fmax=250.0)
    assert q["power_kept_1_40"] < 0.6  # the plain ratio takes the ringing for lost EEG
    assert 0.95 < q["power_kept_1_40_off_comb"] < 1.05
    assert all(0.9 < v < 1.1 for v in q["per_channel"]["power_kept_1_40_off_comb"])


def test_eeg_lost_reads_low_between_the_lines():
    eeg = _eeg(8, 64.0)
    before = eeg + _ringing(8, 64.0)
    lost = sosfiltfilt(butter(4, 20.0, "lowpass", fs=SF, output="sos"), eeg, axis=1)
    q = spectral_qc(before, lost, SF, 17.5, TR, fmax=250.0)
    assert q["power_kept_1_40_off_comb"] < 0.7
    # and with no artifact at all, both ratios agree that EEG was lost
    q0 = spectral_qc(eeg, lost, SF, 17.5, TR, fmax=250.0)
    assert q0["power_kept_1_40_off_comb"] == pytest.approx(q0["power_kept_1_40"], abs=0.05)


def test_without_a_tr_or_on_a_short_span_the_figure_is_na():
    eeg = _eeg(4, 64.0)
    assert spectral_qc(eeg, eeg, SF, 17.5, 0.0)["power_kept_1_40_off_comb"] is None
    short = eeg[:, : int(3 * TR * SF)]
    q = spectral_qc(short, short, SF, 17.5, TR)
    assert q["power_kept_1_40_off_comb"] is None
    assert q["per_channel"]["power_kept_1_40_off_comb"] == [None] * 4
