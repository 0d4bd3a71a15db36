"""Neural sources: the EEG-invisible source is silent at the scalp, trial amplitudes are real."""

from __future__ import annotations

import numpy as np


def test_eeg_invisible_source_has_about_zero_eeg_power(truth):
    src = {s["name"]: s for s in truth.sources}
    inv = src["frontal_eeg_invisible"]
    assert inv["closed_field"] and inv["bold_visible"]
    visible = [s["eeg_gain_norm"] for s in truth.sources if s["role"] in ("task", "fmri_invisible")]
    # same dipole moment, < 1 % of the scalp power of any visible source
    assert (inv["eeg_gain_norm"] / min(visible)) ** 2 < 0.01
    # the fMRI-invisible source is strongly visible in the EEG
    assert src["temporal_fmri_invisible"]["eeg_gain_norm"] > 0.5 * max(visible)


def test_evoked_responses_scale_with_trial_amplitude(truth):
    from workbench.engine.phantom.sources import SOURCES, erp_waveform

    sf = truth.sfreq
    rows = truth.meta["source_moment_rows"]
    k = rows.index("visual_cortex")
    spec = SOURCES[k]
    mom = truth.load("source_moments")
    ev = truth.events
    sel = ev["condition"] == "visual"
    assert sel.sum() >= 3
    # the true dipole moment of each trial is the waveform scaled by the trial amplitude
    peak_lat = spec.peaks[1][0]
    est = []
    for s in ev["onset_eeg"][sel]:
        a = int(np.ceil(s * sf))
        seg = np.asarray(mom[k, a:a + int(0.5 * sf)], dtype=float)
        w = erp_waveform(spec, (a + np.arange(len(seg))) / sf - s) * spec.moment_nam * 1e-9
        est.append(np.dot(seg, w) / np.dot(w, w))
    np.testing.assert_allclose(est, ev["amplitude"][sel], rtol=1e-4)
    assert 0.15 < peak_lat < 0.2
    # and the EEG carries it: the trial average of the clean EEG, unmixed with the role
    # sources' gains, follows the visual evoked waveform
    gain = np.load(truth.path("sub-01/sub-01_gain.npy"))
    unmix = np.linalg.pinv(gain[:, : len(SOURCES)])
    n_ch = gain.shape[0]
    pre, post = int(0.1 * sf), int(0.5 * sf)
    eps = []
    for s in ev["onset_eeg"][sel]:
        a = int(np.ceil(s * sf))
        eps.append((unmix @ np.asarray(truth.clean[:n_ch, a - pre:a + post], dtype=float))[k])
    w = erp_waveform(spec, np.arange(-pre, post) / sf)
    assert np.corrcoef(np.mean(eps, 0), w)[0, 1] > 0.5


def test_clean_eeg_has_alpha_and_1_over_f(truth):
    from scipy import signal

    sf = truth.sfreq
    ch = truth.ch_names.index("Oz")
    x = np.asarray(truth.arrays["clean"][ch], dtype=float)
    f, p = signal.welch(x, fs=sf, nperseg=int(4 * sf))
    band = lambda lo, hi: p[(f >= lo) & (f < hi)].mean()  # noqa: E731
    assert band(9, 11.5) > 3 * band(14, 18)  # an alpha peak
    assert band(2, 4) > 3 * band(20, 30) > 3 * band(100, 150)  # falling spectrum
