"""Channels that clip at the amplifier's range are found and named (not silently left noisy)."""

from __future__ import annotations

import numpy as np
import pytest
from gradsynth import make_recording

from workbench.engine.gradient import remove_gradient
from workbench.engine.gradient.saturation import clipped_fraction


def test_clipped_fraction_counts_runs_at_the_rails_only() -> None:
    x = np.array([0.0, 1, 5, 5, 5, 2, -3, -3, 0, 5, 1, -3, -3, -3, -3], np.float32)
    # runs of >= 3 at the max (5: 3 samples) and min (-3: 4 samples); the pair and the lone 5 do not count
    assert clipped_fraction(x, -3.0, 5.0) == pytest.approx(7 / x.size)
    assert clipped_fraction(x, -3.0, 5.0, min_run=5) == 0.0
    assert clipped_fraction(np.zeros(10), 0.0, 0.0) == 0.0


def test_a_clipping_channel_is_named_and_the_others_are_not() -> None:
    raw, _, _ = make_recording(n_eeg=6, sfreq=2000.0, duration=30.0, tr=1.0, n_slots=14, amp=4e-3)
    data = raw.get_data()
    # the amplifier's rail at 60 % of EEG02's artifact peak (float32, as a file holds it)
    rail = float(np.float32(0.6 * np.abs(data[2]).max()))
    data[2] = np.clip(data[2], -rail, rail).astype(np.float32)
    raw._data[:] = data
    res = remove_gradient(raw)
    assert res.qc["saturated_channels"] == ["EEG02"]
    assert res.qc["saturated_pct"]["EEG02"] > 0.5
    # the step tells the user, by name
    from workbench.engine.progress import as_progress
    from workbench.engine.steps.gradient import SPEC
    from workbench.engine.study import Study

    study = Study()
    study.raw = raw
    out = SPEC.run(study, {p.name: p.default for p in SPEC.params}, as_progress(None))
    assert out.qc["saturated_channels"] == ["EEG02"]
    assert any("clip" in m and "EEG02" in m for m in out.messages), out.messages


def test_an_unclipped_recording_reports_none() -> None:
    raw, _, _ = make_recording(n_eeg=4, sfreq=2000.0, duration=20.0, tr=1.0, n_slots=14)
    res = remove_gradient(raw)
    assert res.qc["saturated_channels"] == [] and res.qc["saturated_pct"] == {}


def test_one_flat_peak_is_not_clipping() -> None:
    """A coarsely quantised smooth peak (a blink) holds its maximum for a few samples once;
    the rail of a clipping channel is hit in volume after volume."""
    from workbench.engine.gradient.saturation import clipped_channels

    x = np.sin(np.linspace(0, 60 * np.pi, 6000) + 0.1)
    x[1000:1040] = 2.0  # one flat peak, in the first span only
    ext = {0: (float(x.min()), float(x.max()))}
    spans = [(0, 1500), (1500, 3000), (3000, 4500), (4500, 6000)]
    assert clipped_channels(x[None, :], [0], spans, ext) == {}
    y = np.clip(x, -0.9, 0.9)  # every period clipped
    assert 0 in clipped_channels(y[None, :], [0], spans, {0: (-0.9, 0.9)})


def test_clipping_of_an_aliased_1khz_artifact_is_found() -> None:
    """At 1 kHz the aliased artifact's clipped peaks are mostly single samples (no runs of
    three): the rail value recurring in most volumes gives it away."""
    import sys
    from pathlib import Path

    import mne

    sys.path.insert(0, str(Path(__file__).parent))
    from test_slot_detection import _template

    sfreq, tr, n_vol, lead = 1000.0, 2.0, 24, 1500
    one = _template(sfreq, tr, 35) * 1e-3 / 0.5
    rng = np.random.default_rng(5)
    x = np.zeros((4, lead + n_vol * one.size + lead))
    for i, g in enumerate((1.0, 0.7, -0.9, 0.5)):
        x[i, lead : lead + n_vol * one.size] = g * np.tile(one, n_vol)
    x += 10e-6 * rng.standard_normal(x.shape)
    rail = 0.6 * np.abs(x[1]).max()
    x[1] = np.clip(x[1], -rail, rail)
    from workbench.engine.gradient.saturation import rail_samples

    hits, runs = rail_samples(x[1], float(x[1].min()), float(x[1].max()))
    assert hits > 10 * n_vol and runs < hits / 2  # mostly single clipped samples
    raw = mne.io.RawArray(x, mne.create_info(["C3", "C4", "Pz", "Oz"], sfreq, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations((lead + np.arange(n_vol) * one.size) / sfreq, 0.0, "Response/R128"))
    res = remove_gradient(raw, tr=tr)
    assert res.qc["saturated_channels"] == ["C4"]
