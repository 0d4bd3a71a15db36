"""ECG with heart-rate variability; BCG locked ~0.2 s after each R-peak."""

from __future__ import annotations

import numpy as np


def _epochs(x, centres, sf, lo, hi):
    a, b = int(round(lo * sf)), int(round(hi * sf))
    idx = [int(round(c * sf)) for c in centres]
    idx = [i for i in idx if i + a >= 0 and i + b <= x.shape[-1]]
    return np.stack([x[..., i + a:i + b] for i in idx]), np.arange(a, b) / sf


def test_bcg_peaks_about_0p2_s_after_r_peaks(truth):
    sf = truth.sfreq
    n_eeg = truth.config.n_eeg
    bcg = np.asarray(truth.arrays["bcg"][:n_eeg], dtype=float)
    ep, lag = _epochs(bcg, truth.rpeaks, sf, -0.2, 0.8)
    gfp = np.sqrt((ep.mean(0) ** 2).mean(0))
    measured = lag[np.argmax(gfp)]
    assert abs(measured - truth.config.bcg_delay_s) < 0.03
    # nothing before the R-peak (pulse transit delay)
    assert gfp[lag < 0.0].max() < 0.1 * gfp.max()
    # tens to hundreds of µV
    assert 20e-6 < np.median(np.abs(ep.mean(0)).max(axis=1)) < 400e-6


def test_bcg_shape_is_channel_specific_and_varies_beat_to_beat(truth):
    sf = truth.sfreq
    n_eeg = truth.config.n_eeg
    bcg = np.asarray(truth.arrays["bcg"][:n_eeg], dtype=float)
    ep, _ = _epochs(bcg, truth.rpeaks, sf, 0.0, 0.7)
    avg = ep.mean(0)
    r = np.corrcoef(avg)
    assert np.abs(r[np.triu_indices(n_eeg, 1)]).min() < 0.8  # not one shape scaled
    ch = int(np.argmax(np.abs(avg).max(1)))
    amp = np.array([np.dot(e[ch], avg[ch]) / np.dot(avg[ch], avg[ch]) for e in ep])
    assert 0.05 < amp.std() < 0.5


def test_heart_rate_variability_and_ecg_r_peaks(truth):
    cfg = truth.config
    rr = np.diff(truth.rpeaks)
    assert abs(60.0 / rr.mean() - cfg.heart_rate_bpm) < 8
    assert 0.3 * cfg.hrv < rr.std() / rr.mean() < 3 * cfg.hrv
    sf = truth.sfreq
    ecg = np.asarray(truth.arrays["clean"][truth.ch_names.index("ECG")], dtype=float)
    ep, lag = _epochs(ecg, truth.rpeaks, sf, -0.05, 0.05)
    # the R wave peaks at the R-peak time in every beat
    assert np.all(np.abs(lag[np.argmax(ep, axis=1)]) <= 0.5e-3 + 1e-12)  # µV noise on a broad peak
    # the recorded ECG channel carries gradient residue much larger than the ECG
    grad = np.asarray(truth.arrays["gradient"][truth.ch_names.index("ECG")], dtype=float)
    assert np.abs(grad).max() > 3 * np.abs(ecg).max()
