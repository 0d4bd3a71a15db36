"""Robust clock fit and correction onto the scanner clock."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from workbench.engine.sync import fit_clock, realign_to_scanner, repair_triggers

TR = 2.0
SFREQ = 5000.0


def recorded(drift_ppm: float, n: int = 300, beta: float = 4.321, seed: int = 0) -> np.ndarray:
    """Trigger times on the EEG clock, quantised to EEG samples like a marker file."""
    alpha = 1 + drift_ppm * 1e-6
    t = alpha * TR * np.arange(n) + beta + np.random.default_rng(seed).normal(0, 20e-6, n)
    return np.round(t * SFREQ) / SFREQ


@pytest.mark.parametrize("drift", [-35.0, 0.0, 12.5, 80.0])
def test_drift_recovered_within_its_confidence_interval(drift: float) -> None:
    fit = fit_clock(repair_triggers(recorded(drift)), TR)
    lo, hi = fit.drift_ppm_ci
    assert lo - 1e-3 <= drift <= hi + 1e-3  # (exact grid at 0 ppm: zero-width interval)
    assert abs(fit.drift_ppm - drift) < 0.5  # 300 volumes of 2 s: sub-ppm
    assert abs(fit.beta_s - 4.321) < 30e-6
    # accumulated mismatch over the run: drift x duration
    assert fit.mismatch_ms == pytest.approx(drift * 1e-6 * 598 * 1e3, rel=0.05, abs=0.02)
    assert fit.jitter_us < 100


def test_outliers_do_not_bias_the_fit_unlike_ols() -> None:
    t = recorded(25.0)
    bad = t.copy()
    bad[-12:] += 0.006  # the last triggers arrive 6 ms late (high leverage for OLS)
    bad[[5, 100]] += [0.004, -0.003]
    train = repair_triggers(bad)
    fit = fit_clock(train, TR)
    ols = (np.polyfit(train.index * TR, train.onsets, 1)[0] - 1) * 1e6  # what realign_raw does
    assert fit.n_outliers >= 14
    assert abs(fit.drift_ppm - 25.0) < 0.5
    assert abs(ols - 25.0) > 2 * abs(fit.drift_ppm - 25.0)


def test_agrees_with_ols_on_clean_triggers() -> None:
    t = recorded(40.0)
    fit = fit_clock(repair_triggers(t), TR)
    slope = np.polyfit(np.arange(t.size) * TR, t, 1)[0]
    assert abs(fit.alpha - slope) < 1e-8


def test_unknown_tr_means_no_drift() -> None:
    fit = fit_clock(repair_triggers(recorded(30.0)), None)
    assert not fit.tr_known and fit.drift_ppm == 0.0 and fit.alpha == 1.0
    assert fit.tr_s == pytest.approx(TR * (1 + 30e-6), abs=2e-6)


def test_realign_keeps_samples_and_annotations_on_their_samples() -> None:
    n = int(SFREQ * 30)
    info = mne.create_info(["C3", "C4"], SFREQ, "eeg")
    data = np.random.default_rng(0).standard_normal((2, n)) * 1e-5
    raw = mne.io.RawArray(data, info, first_samp=1234, verbose=False)
    raw.set_meas_date(1_700_000_000)
    samples = np.array([100, 5000, 123456])
    raw.set_annotations(
        mne.Annotations(
            raw.first_time + samples / SFREQ,
            [0.0, 0.1, 0.0],
            ["a", "b", "c"],
            orig_time=raw.info["meas_date"],
        )
    )
    fit = fit_clock(repair_triggers(recorded(50.0, n=14)), TR)
    out = realign_to_scanner(raw, fit)
    assert out.info["sfreq"] == pytest.approx(SFREQ * fit.alpha)
    np.testing.assert_array_equal(out.get_data(), raw.get_data())  # same samples
    on = out.annotations.onset - out.first_time
    np.testing.assert_allclose(on * out.info["sfreq"], samples, atol=0.01)  # MNE keeps µs
    np.testing.assert_allclose(raw.get_data(), data)  # input untouched
    assert raw.info["sfreq"] == SFREQ


def test_triggers_rounded_to_samples_are_not_outliers() -> None:
    """1 kHz, 20 ppm, 26 volumes of 2 s: the drift moves the triggers by one sample over the
    run, so most of them lie exactly on one line of the sample grid (MAD scale 0). With the
    grid given, the rest are rounding, not outliers, and the drift is kept."""
    sf = 1000.0
    t = np.round(((1 + 20e-6) * TR * np.arange(26) + 1.0 + 0.6e-3) * sf) / sf
    steps = np.round(t * sf) - np.round(t[0] * sf) - np.arange(26) * TR * sf
    assert np.bincount(steps.astype(int)).max() > 13  # most on one line
    # without the grid the MAD scale is 0 (or 1e-16 s, by the machine's rounding): the
    # fit no longer takes that for a timing scale (it rejected the triggers past the
    # one-sample step as outliers and came out at exactly 0 ppm)
    old = fit_clock(repair_triggers(t), TR)
    assert old.n_outliers == 0 and 5.0 < old.drift_ppm < 40.0
    fit = fit_clock(repair_triggers(t), TR, resolution=1 / sf)
    assert fit.n_outliers == 0
    assert 5.0 < fit.drift_ppm < 40.0
    lo, hi = fit.drift_ppm_ci
    assert hi - lo > 5.0  # no longer a zero-width interval


@pytest.mark.parametrize("drift", [-8.0, 4.0, 8.0, 12.0, 20.0])
@pytest.mark.parametrize("offset", [0.1e-3, 0.45e-3, 0.9e-3])
def test_interval_holds_the_truth_when_rounding_hides_the_drift(drift: float, offset: float) -> None:
    """1 kHz, 56 volumes of 2 s: at 4-8 ppm the triggers move by under a sample over the
    run, so they round the same way for long stretches (the errors are not independent)
    and the least-squares interval excluded the truth (0.00 ppm, [-2.39, 2.39] at 4 and 8
    ppm). The slopes that keep a line within the rounding of every trigger bound it."""
    sf = 1000.0
    t = np.round(((1 + drift * 1e-6) * TR * np.arange(56) + 3.0 + offset) * sf) / sf
    fit = fit_clock(repair_triggers(t), TR, resolution=1 / sf)
    lo, hi = fit.drift_ppm_ci
    assert lo <= drift <= hi, (fit.drift_ppm, lo, hi)
    assert hi - lo < 25.0  # bounded: a sample over the run's 110 s is 9.1 ppm


def test_interval_is_not_widened_when_the_triggers_dither_through_the_grid() -> None:
    """5 kHz, 300 volumes at 12.5 ppm: the triggers cross many grid lines and the rounding
    behaves like noise; the interval stays sub-ppm."""
    fit = fit_clock(repair_triggers(recorded(12.5)), TR, resolution=1 / SFREQ)
    lo, hi = fit.drift_ppm_ci
    assert lo <= 12.5 <= hi and hi - lo < 1.0
