"""Scanner-trigger discovery on the real marker files and on synthetic marker lists."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.engine.io.triggers import find_scanner_triggers, normalise_name

M = "markers"


def _ann(test_data, rel, **kw):
    return mne.read_annotations(test_data / M / rel, **kw)


def test_analyzer_slice_and_volume_markers(test_data):
    # Analyzer derivative at 250 Hz: 'Scanner,s ' slices 18 samples (72 ms) apart, TR 540 samples
    ann = _ann(test_data, "bids_eeg_rest_fmri/derivatives/sub-32/eeg/sub-32_task-rest_eeg.vmrk", sfreq=250.0)
    t = find_scanner_triggers(ann)
    assert t.volume_name == "Scanner/Scan Start" and t.n_volumes == 300
    assert t.slice_name == "Scanner/s " and t.n_slices == 9000
    assert t.tr == pytest.approx(2.160, abs=1e-9)
    assert t.slice_period == pytest.approx(0.072, abs=1e-9)
    assert t.slices_per_volume == 30
    assert t.rpeak_name == "Pulse Artifact/R" and t.n_rpeaks == 745
    assert t.volume_regular and t.slice_regular
    assert t.counts["SyncStatus/Sync On"] == 324
    # the first volume coincides with the first slice
    assert t.volume_onsets[0] == pytest.approx(t.slice_onsets[0])


@pytest.mark.parametrize("sub,n_r", [("35", 734), ("36", 845)])
def test_other_subjects_rpeaks(test_data, sub, n_r):
    ann = _ann(test_data, f"bids_eeg_rest_fmri/derivatives/sub-{sub}/eeg/sub-{sub}_task-rest_eeg.vmrk", sfreq=250.0)
    t = find_scanner_triggers(ann)
    assert (t.n_volumes, t.n_slices, t.n_rpeaks, t.slices_per_volume) == (300, 9000, n_r, 30)


def test_farm_r128(test_data):
    ann = _ann(test_data, "farm_emg_fmri/me3mb3_tr1600_sl54.vmrk")
    t = find_scanner_triggers(ann)
    assert t.volume_name == "Response/R128" and t.n_volumes == 487
    assert t.tr == pytest.approx(1.600, abs=1e-9)
    d = np.diff(t.volume_onsets)
    assert np.all(np.abs(d - 1.6) < 1e-9)  # exactly 8000 samples at 5 kHz
    assert t.slice_name is None  # S 1..S 4 stimuli and Sync On are not slice triggers
    assert t.counts["SyncStatus/Sync On"] == 484


def test_eeglab_s128_and_qrs_duplicates(test_data):
    ann = _ann(test_data, "bcgnet_sub34/sub34_r01_eval.set")
    t = find_scanner_triggers(ann)
    assert t.volume_name == "S128" and t.n_volumes == 150
    assert t.tr == pytest.approx(2.100, abs=1e-6)
    assert t.rpeak_name == "qrs0" and t.n_rpeaks == 305
    assert t.duplicates["rpeak"] == 1  # one R-peak marked twice, 0 ms apart


def test_rest_raw_has_only_sync_markers(test_data):
    # the Recorder-side marker file holds only 'Sync On': nothing is a trigger
    ann = _ann(test_data, "bids_eeg_rest_fmri/sub-32/eeg/sub-32_task-rest_eeg.vmrk")
    t = find_scanner_triggers(ann)
    assert not t.found and t.counts == {"SyncStatus/Sync On": 398}


def test_given_name_absent_lists_the_names(test_data):
    ann = _ann(test_data, "farm_emg_fmri/me3mb3_tr1600_sl54.vmrk")
    with pytest.raises(InputError) as err:
        find_scanner_triggers(ann, volume="TR", source="x.vmrk")
    msg = str(err.value)
    assert msg.startswith("x.vmrk: volume trigger 'TR' not found")
    assert "'Response/R128' (487)" in msg and "\n" not in msg


@pytest.mark.parametrize("given", ["R128", "response/r128", "Response,R128", " r128 "])
def test_given_name_forms(test_data, given):
    ann = _ann(test_data, "farm_emg_fmri/me3mb3_tr1600_sl54.vmrk")
    t = find_scanner_triggers(ann, volume=given)
    assert t.volume_name == "Response/R128" and t.how["volume"] == "given"


def test_given_slice_name_with_comma(test_data):
    ann = _ann(test_data, "bids_eeg_rest_fmri/derivatives/sub-32/eeg/sub-32_task-rest_eeg.vmrk", sfreq=250.0)
    t = find_scanner_triggers(ann, slice="Scanner,s")
    assert t.slice_name == "Scanner/s " and t.n_slices == 9000


def _regular(name, n, period, start=1.0, jitter=0.0, rng=None):
    o = start + period * np.arange(n)
    if jitter:
        o = o + rng.uniform(-jitter, jitter, n)
    return {name: o}


@pytest.mark.parametrize(
    "vol,slc",
    [("TREV", None), ("V", "Slice"), ("TR", None), ("Scan Start", None), ("S 128", None), ("Volume", "Slice"),
     ("Scanner/Volume Start", "Scanner/Slice Start")],
)
def test_known_names(vol, slc):
    markers = _regular(vol, 50, 2.0)
    if slc:
        markers |= _regular(slc, 50 * 20, 0.1)
    markers |= _regular("Sync On", 200, 0.5)  # regular, but never a trigger
    t = find_scanner_triggers(markers)
    assert t.volume_name == vol and t.tr == pytest.approx(2.0)
    if slc:
        assert t.slice_name == slc and t.slices_per_volume == 20
        assert t.slice_period == pytest.approx(0.1)


def test_regular_stream_beats_irregular_better_named():
    rng = np.random.default_rng(0)
    m = {"R128": np.sort(rng.uniform(0, 100, 40))}  # irregular R128 (e.g. a response button)
    m |= _regular("TR", 40, 2.5)
    t = find_scanner_triggers(m)
    assert t.volume_name == "TR"


def test_regularity_fallback_for_unknown_name():
    m = _regular("T  1", 120, 1.8) | _regular("Stimulus/S  3", 5, 7.3)
    t = find_scanner_triggers(m)
    assert t.volume_name == "T  1" and t.how["volume"] == "regularity"
    assert t.tr == pytest.approx(1.8)


def test_r_peak_only_under_pulse_type():
    m = _regular("Response/R128", 30, 2.0) | {"Comment/R": [1.0, 2.0, 3.0]} | _regular("R", 200, 0.9)
    t = find_scanner_triggers(m)
    assert t.rpeak_name == "R" and t.n_rpeaks == 200


def test_raw_input_onsets_from_first_sample():
    info = mne.create_info(["a"], 1000.0, "eeg")
    raw = mne.io.RawArray(np.zeros((1, 20000)), info, first_samp=5000, verbose=False)
    raw.set_meas_date(0)
    raw.set_annotations(mne.Annotations(raw.first_time + 1.0 + 2.0 * np.arange(9), 0, "R128", orig_time=raw.info["meas_date"]))
    t = find_scanner_triggers(raw)
    assert t.volume_onsets[0] == pytest.approx(1.0) and t.n_volumes == 9


def test_normalise_name():
    assert normalise_name("Scanner,s ") == "scanner/s"
    assert normalise_name("New Segment/") == "newsegment"
    assert normalise_name("S  8") == "s8"


def test_gaps_report_missing_and_extra():
    o = 3.0 + 2.0 * np.arange(100)
    o = np.delete(o, [20, 60, 61])  # one gap of 2 TRs, one of 3 TRs
    o = np.sort(np.concatenate([o, [50.7, 120.2]]))  # two spurious triggers
    t = find_scanner_triggers({"Response/R128": o})
    assert t.tr == pytest.approx(2.0)
    assert t.gaps["volume"] == {"long": 2, "missing_est": 3, "short": 4}
    assert "~3 missing" in t.to_text()
    clean = find_scanner_triggers({"Response/R128": 3.0 + 2.0 * np.arange(100)})
    assert clean.gaps["volume"] == {"long": 0, "missing_est": 0, "short": 0} and clean.volume_regular


def _slice_train(n_vol, spv, period, tr, start=0.7, drop_first=0):
    o = np.concatenate([start + v * tr + period * np.arange(spv) for v in range(n_vol)])
    return o[drop_first:]


def test_r128_on_every_slice_is_a_slice_stream():
    """Some set-ups send R128 per slice: the stream is slices; volumes come from the pauses."""
    o = _slice_train(40, 20, 0.09, 2.0, drop_first=7)  # recording began mid-volume
    t = find_scanner_triggers({"Response/R128": o, "SyncStatus/Sync On": np.arange(0, 80, 0.5)})
    assert t.volume_name is None and t.slice_name == "Response/R128"
    assert t.how == {"slice": "name (slice rate)", "volume": "slice gaps"}
    assert t.slice_period == pytest.approx(0.09) and t.slices_per_volume == 20
    assert t.tr == pytest.approx(2.0) and t.n_volumes == 39  # the cut first volume is dropped
    assert t.volume_onsets[0] == pytest.approx(2.7)
    assert "volumes: 39 found from the pauses in the slice triggers" in t.to_text()


def test_slices_without_pauses_give_no_volumes():
    t = find_scanner_triggers({"Slice": 0.5 + 0.1 * np.arange(600)})
    assert t.slice_name == "Slice" and t.volume_onsets.size == 0 and t.tr is None


def test_given_volume_name_at_slice_rate_is_kept():
    o = _slice_train(10, 20, 0.09, 2.0)
    t = find_scanner_triggers({"R128": o}, volume="R128")
    assert t.volume_name == "R128" and t.how["volume"] == "given"
