"""The detector on real ECGs (agreement with a reference made another way) and the correction
pass on real in-scanner R-peak marker streams (BrainVision Analyzer, FMRIB qrs0 events)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cardiac_helpers import read_ecg, read_set_qrs, read_vmrk_pulses, reference_beats  # noqa: E402

from workbench.engine.cardiac.qc import match_beats  # noqa: E402
from workbench.engine.cardiac.rpeaks import correct_beats, detect_rpeaks, rr_report  # noqa: E402


def _inner(t, n, sf, margin=0.1):
    return t[(t > margin) & (t < n / sf - margin)]


@pytest.mark.parametrize("name", ["pyhrv_SampleECG.txt", "peakdet_ECG.csv"])
def test_clean_real_ecgs_agree_with_the_reference(name, test_data):
    x, sf = read_ecg(test_data / "ecg", name)
    ref = _inner(reference_beats(x, sf), len(x), sf)
    ours = _inner(detect_rpeaks(x, sf).times, len(x), sf)
    m = match_beats(ours, ref, 0.01)
    assert m["f1"] == 1.0, m  # every beat, within 10 ms of the reference's QRS extreme
    assert m["mean_abs_error_ms"] < 2.0


def test_mitbih_208_with_ectopic_beats(test_data):
    """MIT-BIH record 208 (300 s, ~1/3 ventricular ectopic beats): the matched-filter reference
    finds the normal beats; we must find them too, and the ectopic ones it misses by design."""
    x, sf = read_ecg(test_data / "ecg", "scipy111_misc_ecg.dat")
    ref = _inner(reference_beats(x, sf), len(x), sf)
    res = detect_rpeaks(x, sf)
    ours = _inner(res.times, len(x), sf)
    m = match_beats(ours, ref, 0.05)
    assert m["sensitivity"] >= 0.95, m
    # the beats we add to the reference are real (ectopic) beats: wide QRS, not noise
    extra = ours[[np.min(np.abs(ref - t)) > 0.05 for t in ours]]
    assert len(extra) < 0.15 * len(ours)
    assert res.report["implausible_pct"] < 6.0
    assert res.report["beats_fixed"] > 0  # the correction pass found beats the threshold missed


def _streams(test_data):
    root = test_data / "markers"
    out = []
    for p in sorted((root / "bids_eeg_rest_fmri" / "derivatives").rglob("*.vmrk")):
        t, _ = read_vmrk_pulses(p)
        out.append((p.name, t))
    for p in sorted((root / "bcgnet_sub34").glob("*_eval.set")):
        t, _ = read_set_qrs(p)
        out.append((p.name, t))
    return out


def test_real_marker_streams_are_plausible_after_correction(test_data):
    streams = _streams(test_data)
    assert len(streams) == 5
    dup_total = 0
    for name, t in streams:
        fixed, inserted, counts = correct_beats(t, interpolate=True)
        rep = rr_report(fixed)
        assert rep["implausible_pct"] < 1.0, (name, rep, counts)
        assert 40 < rep["hr_bpm"] < 100, name
        dup_total += counts["duplicates"]
        assert np.all(np.diff(fixed) > 0.25)
    assert dup_total >= 2  # FMRIB qrs0 events 0 ms apart in both BCGNet runs
