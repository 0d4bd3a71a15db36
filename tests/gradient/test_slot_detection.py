"""Slots per volume inferred from the signal when there are only volume triggers.

Regression (issue 17): on the phantom's EPI artifact at 5 kHz (30 slices, TR 2 s) the
slot count came out as 31 at 15.885 Hz: the autocorrelation of an EPI artifact has a comb
of near-equal peaks one echo spacing apart around the slot lag, and the first of them
within 90 % of the highest was taken as the slot period.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from workbench.engine.phantom.gradient import epi_waveform
from workbench.engine.sync.acquisition import detect_slots


def _template(
    sfreq: float, tr: float, slices: int, dead: float = 0.0, seed: int = 0, noise: float = 0.01
) -> np.ndarray:
    """One TR of a channel's EPI gradient artifact (the phantom's waveform): the time
    derivative of a mix of the three gradient axes, block-averaged down to ``sfreq``."""
    up = 10
    fine = sfreq * up
    period = (tr - dead) / slices
    wave = epi_waveform(period)
    n = int(round(tr * sfreq))
    t = np.arange(n * up) / fine
    g = np.zeros(t.size)
    mix = np.array([1.0, 0.4, 0.7])
    for k in range(slices):
        g += mix @ wave.at(t - k * period)
    emf = np.gradient(g, 1 / fine)
    x = emf.reshape(n, up).mean(axis=1)
    rng = np.random.default_rng(seed)
    return x + noise * np.std(x) * rng.standard_normal(n)


@pytest.mark.parametrize(
    ("sfreq", "slices"), [(5000.0, 30), (5000.0, 35), (2500.0, 30), (5000.0, 24)]
)
def test_slot_count_and_rate_without_dead_time(sfreq: float, slices: int) -> None:
    tr = 2.0
    acq = detect_slots(_template(sfreq, tr, slices), sfreq, tr)
    assert acq.source == "signal"
    assert acq.n_slots == slices
    assert acq.slice_frequency == pytest.approx(slices / tr, rel=1e-3)
    assert acq.detection["ambiguous"] is False


def test_slot_count_and_rate_with_dead_time() -> None:
    sfreq, tr, slices, dead = 5000.0, 2.0, 30, 0.4
    acq = detect_slots(_template(sfreq, tr, slices, dead=dead), sfreq, tr)
    assert acq.source == "signal"
    assert acq.n_slots == slices
    assert acq.slice_frequency == pytest.approx(slices / (tr - dead), rel=2e-3)
    assert acq.dead_time == pytest.approx(dead, abs=0.01)


def test_detection_is_reported_in_the_qc() -> None:
    acq = detect_slots(_template(5000.0, 2.0, 30), 5000.0, 2.0)
    qc = acq.qc()
    assert qc["timing_source"] == "signal"
    assert qc["slot_detection"]["score"] > 0.9
    assert "ambiguous" in qc["slot_detection"]


def test_no_slot_structure_falls_back_to_one_slot_per_volume() -> None:
    x = np.random.default_rng(1).standard_normal(10000)
    acq = detect_slots(x, 5000.0, 2.0)
    assert acq.n_slots == 1 and acq.source == "volume"


def test_aliased_artifact_flags_a_possible_divisor() -> None:
    """At 1 kHz, 35 slices in 2 s (57.14 samples each) repeat sampled every 7 slices (400
    samples): the spectrum holds the power on every 2.5 Hz and 5 slots fit best. That
    count is kept (it is where the aliased artifact's power is) but flagged, with a note
    that tells the user to give the slice count; the same acquisition at 5 kHz is not."""
    acq = detect_slots(_template(1000.0, 2.0, 35), 1000.0, 2.0)
    assert acq.n_slots == 5
    det = acq.detection
    assert det["aliased"] is True and det["ambiguous"] is True
    assert "multiple of 5" in det["note"] and "slices per volume" in det["note"]
    # a slot count that is right at 1 kHz (40 slices: 50 samples, 50 ms) is not flagged
    ok = detect_slots(_template(1000.0, 2.0, 40), 1000.0, 2.0)
    assert ok.n_slots == 40 and not ok.detection.get("aliased")
    # 35 slices at 2.1 s: 60 samples each, no aliasing into a divisor
    ok = detect_slots(_template(1000.0, 2.1, 35), 1000.0, 2.1)
    assert ok.n_slots == 35 and not ok.detection.get("aliased")


def test_gradient_step_says_the_slot_count_may_be_a_divisor() -> None:
    """The flag reaches the user as a step message (GUI log, CLI), not only the QC JSON."""
    import mne

    from workbench.engine.progress import as_progress
    from workbench.engine.steps.gradient import SPEC
    from workbench.engine.study import Study

    sfreq, tr, n_vol, lead = 1000.0, 2.0, 24, 1500
    one = _template(sfreq, tr, 35) * 1e-3 / 0.5
    rng = np.random.default_rng(4)
    x = np.zeros((3, lead + n_vol * one.size + lead))
    for i, g in enumerate((1.0, 0.6, -0.8)):
        x[i, lead : lead + n_vol * one.size] = g * np.tile(one, n_vol)
    x += 10e-6 * rng.standard_normal(x.shape)
    raw = mne.io.RawArray(x, mne.create_info(["C3", "C4", "Pz"], sfreq, "eeg"), verbose=False)
    on = (lead + np.arange(n_vol) * one.size) / sfreq
    raw.set_annotations(mne.Annotations(on, 0.0, "Response/R128"))
    study = Study()
    study.raw = raw
    out = SPEC.run(study, {p.name: p.default for p in SPEC.params}, as_progress(None))
    assert out.qc["n_slots"] == 5
    assert any("may be a multiple of 5" in m for m in out.messages), out.messages


def test_dead_time_that_leaves_a_weak_comb_is_found_by_the_slot_lag_search() -> None:
    """16 slots in the first 0.88 s of a 1 s TR (multiband 3 with 48 slices, as the
    variant table's multiband case): the comb explains about half the power and, taken
    as it was, gave 200 slots at 200 Hz (the readout's comb), so the QC had no slice
    harmonic below 63 Hz and reported -inf dB."""
    acq = detect_slots(_template(5000.0, 1.0, 16, dead=0.12), 5000.0, 1.0)
    assert acq.n_slots == 16
    assert acq.slice_frequency == pytest.approx(16 / 0.88, rel=2e-3)
    assert acq.detection["method"].startswith("slot-lag")


def test_qc_without_a_slice_harmonic_in_band_is_not_a_number() -> None:
    from workbench.engine.gradient.qc import spectral_qc

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 20000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = spectral_qc(x, 0.5 * x, 5000.0, 200.0, 1.0, fmax=63.0)
    for k in ("harmonic_rms_before_uv", "harmonic_rms_after_uv", "harmonic_reduction_db"):
        assert q[k] is None
    assert q["per_channel"]["reduction_db"] == [None] * 3
    assert q["comb_reduction_db"] == pytest.approx(6.02, abs=0.05)


@pytest.mark.parametrize(("tr", "slices", "dead"), [(1.0, 16, 0.05), (1.0, 16, 0.4), (2.0, 30, 0.1), (1.5, 20, 0.3)])
def test_slot_rate_with_dead_time_is_accurate(tr: float, slices: int, dead: float) -> None:
    """The slot period from the lag search within 0.2 % (it was 2-3 % off for short or long
    dead times when lags up to the whole TR, which wrap onto the dead time, were scored)."""
    acq = detect_slots(_template(5000.0, tr, slices, dead=dead), 5000.0, tr)
    assert acq.slice_frequency == pytest.approx(slices / (tr - dead), rel=2e-3)
