"""R-peak detector and RR correction pass: phantom with gradient residue, variations, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.cardiac.eegbeats import beats_from_eeg
from workbench.engine.cardiac.qc import match_beats
from workbench.engine.cardiac.rpeaks import correct_beats, detect_rpeaks, implausible_intervals
from workbench.engine.errors import InputError


def _true(truth, n):
    t = np.asarray(truth.rpeaks, float)
    return t[(t >= 0) & (t <= (n - 1) / truth.sfreq)]


def _ecg(study):
    raw = study.eeg
    return raw.get_data(picks=["ECG"])[0], float(raw.info["sfreq"])


def test_phantom_ecg_after_gradient_correction_f1(gradient_corrected, cardiac_truth):
    ecg, sf = _ecg(gradient_corrected)
    res = detect_rpeaks(ecg, sf)
    m = match_beats(res.times, _true(cardiac_truth, len(ecg)), 0.01)
    assert m["f1"] >= 0.99, m
    assert m["mean_abs_error_ms"] < 3.0
    assert res.polarity == 1 and res.report["implausible_pct"] == 0.0


def test_phantom_ecg_with_the_full_gradient_artifact(cardiac_truth):
    i = cardiac_truth.ch_names.index("ECG")
    ecg = cardiac_truth.recorded()[i]  # gradient (mV) far larger than the ECG
    assert np.abs(np.asarray(cardiac_truth.arrays["gradient"][i])).max() > 3 * np.ptp(cardiac_truth.arrays["clean"][i]) / 2
    res = detect_rpeaks(ecg, cardiac_truth.sfreq)
    assert match_beats(res.times, _true(cardiac_truth, len(ecg)), 0.01)["f1"] >= 0.99


@pytest.mark.parametrize("case", ["inverted", "weak", "spikes"])
def test_detector_variations(case, gradient_corrected, cardiac_truth):
    ecg, sf = _ecg(gradient_corrected)
    clean = np.asarray(cardiac_truth.arrays["clean"][cardiac_truth.ch_names.index("ECG")], float)
    if case == "inverted":
        x = -ecg
    elif case == "weak":  # the ECG at a quarter of its size: the BCG on the lead is as large
        x = (ecg - clean) + 0.25 * clean
    else:  # 20 spikes of 1.5 mV (electrode pops) between beats
        x = ecg.copy()
        rng = np.random.default_rng(0)
        for k in rng.integers(100, len(x) - 100, 20):
            x[k:k + 5] += 1.5e-3 * rng.choice([-1, 1])
    res = detect_rpeaks(x, sf)
    m = match_beats(res.times, _true(cardiac_truth, len(x)), 0.01)
    assert m["f1"] >= 0.99, (case, m, res.report)
    if case == "inverted":
        assert res.polarity == -1
    if case == "spikes":
        assert m["fp"] == 0  # no spike taken for a beat


def test_missing_ecg_falls_back_to_the_pulse_artifact_in_the_eeg(gradient_corrected, cardiac_truth):
    raw = gradient_corrected.eeg
    eeg = raw.get_data(picks="eeg")
    ecg_beats = detect_rpeaks(raw.get_data(picks=["ECG"])[0], raw.info["sfreq"]).times
    res = beats_from_eeg(eeg, raw.info["sfreq"], ecg_rpeaks=ecg_beats)
    true = _true(cardiac_truth, raw.n_times)
    m = match_beats(res.times, true, 0.1)
    # the beats sit a constant lag from the R-peaks (the artifact's own reference point)
    m2 = match_beats(res.times - m["lag_ms"] / 1e3, true, 0.02)
    assert m2["f1"] >= 0.95, m2
    assert res.source == "eeg" and res.report["implausible_pct"] < 1.0
    assert 0.15 < res.report["bcg_lag_s"] < 0.35  # the ECG->BCG lag, reported


def test_no_pulse_in_the_eeg_is_refused(cardiac_truth):
    clean = np.asarray(cardiac_truth.arrays["clean"][:32], float)
    with pytest.raises(InputError, match="no usable pulse artifact"):
        beats_from_eeg(clean, cardiac_truth.sfreq)


def test_correction_pass_fixes_missed_extra_and_duplicated_beats():
    rng = np.random.default_rng(1)
    t = np.cumsum(0.9 + 0.03 * rng.standard_normal(200))
    broken = np.delete(t, [20, 80])  # two missed beats
    broken = np.append(broken, [t[50] + 0.31, t[120] + 0.45])  # two extra beats
    broken = np.append(broken, [t[150], t[151]])  # two duplicates 0 ms apart (FMRIB qrs0)
    fixed, inserted, counts = correct_beats(broken, interpolate=True)
    assert counts["duplicates"] == 2 and counts["extra"] == 2 and counts["missed_interpolated"] == 2
    assert len(fixed) == len(t) and inserted.sum() == 2
    assert np.max(np.abs(fixed - t)) < 0.1
    assert not implausible_intervals(fixed).any()


def test_ectopic_short_long_pair_is_kept():
    t = np.cumsum(np.full(60, 0.8))
    t[30] -= 0.25  # a premature beat followed by a compensatory pause: a real beat
    fixed, _, counts = correct_beats(t, interpolate=True)
    assert counts["extra"] == 0 and len(fixed) == len(t)


@pytest.mark.parametrize("kind, match", [("flat", "flat"), ("saturated", "saturated"), ("nan", "NaN")])
def test_unusable_ecg_is_refused(kind, match, gradient_corrected):
    ecg, sf = _ecg(gradient_corrected)
    if kind == "flat":
        x = np.zeros_like(ecg)
    elif kind == "saturated":
        x = np.clip(ecg, None, np.percentile(ecg, 90))
    else:
        x = ecg.copy()
        x[100] = np.nan
    with pytest.raises(InputError, match=match):
        detect_rpeaks(x, sf)
