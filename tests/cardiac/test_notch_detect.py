"""Line-frequency detection of the notch step: 50 or 60 Hz with harmonics, next to the residue
lines a gradient correction leaves (a comb at multiples of 1/TR), and no line at all."""

from __future__ import annotations

from types import SimpleNamespace

import mne
import numpy as np
import pytest

from workbench.engine.runner import Runner
from workbench.engine.steps import builtin_steps
from workbench.engine.study import Study

SF = 1000.0


def _eeg(mains: tuple[float, float] | None, lines: dict[float, float], seed: int, n_ch: int = 16,
         seconds: float = 60.0) -> mne.io.RawArray:
    """Pink-ish EEG (10 µV) + optional mains ``(Hz, µV)`` with two harmonics (/k^1.2) + single
    lines ``{Hz: µV}`` standing for the residue a gradient correction leaves; channel-specific
    amplitudes and phases."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SF)
    t = np.arange(n) / SF
    spec = np.fft.rfft(rng.standard_normal((n_ch, n)), axis=1)
    spec /= np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / SF), 1.0))
    x = np.fft.irfft(spec, n, axis=1)
    x *= 1e-5 / x.std()
    tones = dict(lines)
    if mains is not None:
        for h in range(1, 4):
            tones[mains[0] * h] = tones.get(mains[0] * h, 0.0) + mains[1] / h ** 1.2
    for f, uv in tones.items():
        amp = uv * 1e-6 * rng.uniform(0.5, 1.0, (n_ch, 1))
        x += amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3, (n_ch, 1)))
    return mne.io.RawArray(x, mne.create_info(n_ch, SF, "eeg"), verbose="error")


def _sync(slice_rate: float, volumes: np.ndarray | None = None, tr: float = 2.0) -> SimpleNamespace:
    """The part of a scanner timeline the notch step reads (slice rate; volume onsets if given)."""
    out = SimpleNamespace(acquisition=SimpleNamespace(slot_period=1.0 / slice_rate), fit=SimpleNamespace(alpha=1.0))
    if volumes is not None:
        out.volume_onsets = lambda: volumes
        out.period_eeg = tr
    return out


def _notch(raw, slice_rate=None, volumes=None):
    study = Study()
    study.set_raw(raw)
    if slice_rate:
        study.sync = _sync(slice_rate, volumes)
    return Runner(study, builtin_steps(), "unused", write_files=False).run_step("notch")


@pytest.mark.parametrize("mains, lines, slice_rate, seed", [
    ((50.0, 2.0), {60.0: 1.0}, None, 1),  # weak mains (~9 dB) beside a residue line at the other candidate
    ((60.0, 2.5), {50.0: 1.0}, 12.5, 2),  # the residue line at 50 Hz is a slice harmonic; mains is not
    ((60.0, 2.5), {}, None, 3),
    ((60.0, 2.5), {45.0: 0.7, 75.0: 1.0}, 15.0, 4),  # mains on slice harmonic 4, above its neighbours
])
def test_weak_mains_is_found_beside_residue_lines(mains, lines, slice_rate, seed):
    res = _notch(_eeg(mains, lines, seed), slice_rate)
    assert res.qc["line_detected"] and res.qc["line_freq_hz"] == mains[0], res.messages
    assert res.qc["line_peak_after_db"] < 3.0 < res.qc["line_peak_before_db"] < 16.0
    assert res.qc["n_harmonics"] >= 4  # harmonics up to 250 Hz notched too


@pytest.mark.parametrize("lines, slice_rate, seed, why", [
    ({}, None, 5, "no line noise stands out"),
    ({60.0: 0.8}, None, 6, "no line noise stands out"),
    # residue at slice harmonic 3 (20 Hz slices), as strong as mains, with stronger neighbours
    ({60.0: 2.5, 40.0: 1.5, 80.0: 5.0}, 20.0, 7, "may be gradient residue"),
])
def test_no_mains_says_none_found_and_filters_nothing(lines, slice_rate, seed, why):
    res = _notch(_eeg(None, lines, seed), slice_rate)
    assert not res.qc["line_detected"] and res.qc["n_harmonics"] == 0
    assert why in res.messages[0] and "nothing filtered" in res.messages[0]
    assert res.qc["power_kept_1_40"] == pytest.approx(1.0)


def _scan_residue(raw: mne.io.RawArray, start: float, stop: float, lines: dict[float, float], seed: int):
    """Add residue lines during the scan only (from ``start`` to ``stop`` s)."""
    rng = np.random.default_rng(seed)
    t = raw.times
    on = (t >= start) & (t < stop)
    for f, uv in lines.items():
        amp = uv * 1e-6 * rng.uniform(0.5, 1.0, (len(raw.ch_names), 1))
        raw._data[:, on] += amp * np.sin(2 * np.pi * f * t[on] + rng.uniform(0, 6.3, (len(raw.ch_names), 1)))
    return raw


@pytest.mark.parametrize("mains", [50.0, 60.0, None])
def test_the_eeg_recorded_without_scanning_decides(mains):
    """Strong residue at 60 Hz during the scan (more than the mains): the 3 s before and after it decide."""
    raw = _eeg((mains, 4.0) if mains else None, {}, 8)
    raw = _scan_residue(raw, 3.0, 57.0, {60.0: 8.0, 50.0: 1.0}, 9)
    volumes = np.arange(3.0, 56.0, 2.0)  # TR 2 s: the last volume ends at 57 s
    res = _notch(raw, 20.0, volumes)
    if mains is None:
        assert not res.qc["line_detected"] and "recorded without scanning" in res.messages[0]
    else:
        assert res.qc["line_detected"] and res.qc["line_freq_hz"] == mains, res.messages
        assert "recorded without scanning" in res.messages[0]
    # without the timeline, the residue line would be taken for mains
    res2 = _notch(raw)
    assert res2.qc.get("line_freq_hz") == 60.0


def test_the_phantom_mains_is_found_after_gradient_correction(gradient_corrected):
    """The cardiac phantom (50 Hz mains + 2 harmonics, TR 1.5 s, 20 slices) after the gradient step
    (nine more phantom variations are measured by benchmarks/bench_cardiac.py --notch)."""
    study = gradient_corrected.fork()
    study.results = {}
    res = Runner(study, builtin_steps(), "unused", write_files=False).run_step("notch")
    assert res.qc["line_detected"] and res.qc["line_freq_hz"] == 50.0
    assert res.qc["line_peak_after_db"] < 3.0
