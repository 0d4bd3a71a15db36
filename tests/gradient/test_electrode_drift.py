"""An electrode's slow drift must not enter the gradient templates (issue 17, found by a
10-minute replay of the slow-EEG variant row: offline 1.72 uV against 0.64 online, and by
the random sweep's DC ramps)."""

from __future__ import annotations

from dataclasses import replace

import mne
import numpy as np
from scipy.signal import butter, sosfiltfilt

from workbench.engine.gradient import GradientParams, remove_gradient
from workbench.engine.gradient.aas import Schedule, correct_inplace, epoch_offsets

from . import driftsynth, gradsynth


def _walk(n_ch: int, n: int, sfreq: float, sd: float, seed: int) -> np.ndarray:
    """A random walk low-passed at 0.5 Hz (an electrode's drift), ``sd`` volts per row."""
    rng = np.random.default_rng(seed)
    w = np.cumsum(rng.standard_normal((n_ch, n // 100 + 2)), axis=1)
    w = np.repeat(w, 100, axis=1)[:, :n]
    w = sosfiltfilt(butter(2, 0.5, "lowpass", fs=sfreq, output="sos"), w, axis=1)
    return w * (sd / w.std(axis=1, keepdims=True))


def _nrmse(own_means: bool, drift_sd: float) -> float:
    """NRMSE 1-40 Hz against the truth (EEG plus the drift, which is the EEG's own)."""
    sf, tr = 2000.0, 1.0
    raw, eeg, meta = gradsynth.make_recording(duration=60.0, tr=tr, sfreq=sf, n_slots=14, seed=1)
    d = raw.get_data()[:6]
    walk = _walk(6, d.shape[1], sf, drift_sd, 5)
    a = meta["alpha"]
    sched = Schedule(np.asarray(meta["volume_onsets"]) * sf, tr * sf * a, np.arange(14) * meta["slot_len"] * sf * a)
    x = (d + walk).astype(np.float32)
    correct_inplace(x, sched, np.arange(6), replace(GradientParams(lowpass=None).aas(sf), own_means=own_means))
    s0, s1 = int(sched.onsets[0]) + 1, int(sched.onsets[-1] + sched.period)
    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    err = sosfiltfilt(sos, x - (eeg + walk), axis=1)[:, s0:s1]
    ref = sosfiltfilt(sos, eeg, axis=1)[:, s0:s1]
    return float(np.sqrt((err**2).sum() / (ref**2).sum()))


def test_drift_kept_out_of_the_templates() -> None:
    clean = _nrmse(True, 0.0)
    # a 200 uV drift (AC-coupled amplifiers leave this much; DC-coupled ones more): with
    # the epochs' drift in the templates 0.182, their offsets taken out 0.103, the line
    # through them 0.067 (0.068 without a drift)
    drifting = _nrmse(True, 200e-6)
    assert drifting < 1.15 * clean, (drifting, clean)
    assert drifting < 0.5 * _nrmse(False, 200e-6)
    # ... and without a drift nothing changes
    assert abs(clean - _nrmse(False, 0.0)) < 0.01 * clean


def test_epoch_offsets_keep_the_artifacts_own_alternating_mean() -> None:
    rng = np.random.default_rng(0)
    n = 120
    frac = (0.1 * np.arange(n)) % 1.0  # the phase steps a tenth of a sample a volume
    m = np.r_[1:6, -np.arange(1, 6)]
    basis = np.exp(-2j * np.pi * np.outer(frac, m))
    # row 0: the artifact's mean alternates with the phase (fifth order) + a little EEG;
    # row 1: a drift (the EEG's own), no alternation
    own = 1e-6 * rng.standard_normal((2, n))
    drift = np.cumsum(rng.standard_normal(n)) * 5e-6
    means = np.vstack([3e-3 + 40e-6 * np.cos(2 * np.pi * 5 * frac + 0.3) + own[0], -2e-3 + drift + own[1]])
    off = epoch_offsets(means, basis)
    # row 0: only the EEG is taken out (the alternation is the artifact's and stays)
    assert np.sqrt(np.mean((off[0] - (own[0] - own[0].mean())) ** 2)) < 0.3e-6
    # row 1: the whole drift about its mean is taken out, the basis fits it no better
    # than chance
    np.testing.assert_allclose(off[1], means[1] - means[1].mean(), atol=1e-12)
    # without the basis the alternation is taken out too
    off0 = epoch_offsets(means)
    np.testing.assert_allclose(off0, means - means.mean(axis=1, keepdims=True), atol=1e-12)


def test_steady_ramp_leaves_no_staircase() -> None:
    """A DC-coupled amplifier's steady ramp (50 uV/s, 3 mV over the run): every epoch has
    the same slope, which the offsets alone miss (the output then stepped by the ramp
    over a TR at every volume boundary)."""
    sf, tr = 2000.0, 1.0
    raw, eeg, meta = gradsynth.make_recording(duration=60.0, tr=tr, sfreq=sf, n_slots=14, seed=2)
    d = raw.get_data()[:6]
    ramp = 50e-6 * np.arange(d.shape[1]) / sf * np.linspace(-1, 1, 6)[:, None] + 0.02
    a = meta["alpha"]
    sched = Schedule(np.asarray(meta["volume_onsets"]) * sf, tr * sf * a, np.arange(14) * meta["slot_len"] * sf * a)
    x = (d + ramp).astype(np.float64)
    correct_inplace(x, sched, np.arange(6), GradientParams(lowpass=None).aas(sf))
    y = d.astype(np.float64)
    correct_inplace(y, sched, np.arange(6), GradientParams(lowpass=None).aas(sf))
    s0, s1 = int(sched.onsets[0]) + 1, int(sched.onsets[-1] + sched.period)
    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    err = sosfiltfilt(sos, x - ramp - y, axis=1)[:, s0:s1]  # what the ramp changed in the output
    ref = sosfiltfilt(sos, eeg, axis=1)[:, s0:s1]
    assert np.sqrt((err**2).sum() / (ref**2).sum()) < 0.05


def test_epoch_offsets_leave_a_ramp_to_the_drift_where_the_phases_tell_them_apart() -> None:
    """A DC ramp: taken out whole where the phase travels 1.5 samples over the run (the
    basis fitted with the drift does not take it); where it travels 0.6 sample the two
    cannot be told apart and only the means' smooth part is taken out (the basis alone
    took the ramp in, a sweep run 8.4 -> 58 uV; the means taken whole for a drift lost a
    mean changing with the phase at 1 kHz, 3.0 -> 11.4 uV; nothing taken out left the
    ramp in the templates)."""
    n = 31
    m = np.r_[1:3, -np.arange(1, 3)]
    rng = np.random.default_rng(1)
    means = 0.01 + 3e-3 * np.linspace(0, 1, n)[None] + 1e-6 * rng.standard_normal((3, n))
    fast = np.exp(-2j * np.pi * np.outer((0.049 * np.arange(n)) % 1.0, m))
    np.testing.assert_allclose(epoch_offsets(means, fast), means - means.mean(axis=1, keepdims=True), atol=1e-12)
    slow = np.exp(-2j * np.pi * np.outer((0.02 * np.arange(n)) % 1.0, m))
    off = epoch_offsets(means, slow)
    ramp = 3e-3 * (np.linspace(0, 1, n) - 0.5)
    # ... there only the smooth part goes: the ramp, not each epoch's own offset
    assert np.max(np.abs(off - ramp)) < 5e-6
    own = means - means.mean(axis=1, keepdims=True) - off
    assert np.std(own) > 0.5e-6


def _slow_phase_run(ramp_mv: float) -> float:
    """1-40 Hz RMS error (uV) after volume 10: 2.5 kHz, TR 1.3 s, 3 ppm (the phase travels
    0.65 sample over the run), 20 mV artifact, DC offsets of +-20 mV with ``ramp_mv`` over
    the run (a DC-coupled amplifier)."""
    sf, tr = 2500.0, 1.3
    art, eeg, sched, _ = driftsynth.make(n_ch=6, duration=90.0, sfreq=sf, tr=tr, slices=13, seed=4,
                                         drift_ppm=3.0, gradient_mv=20.0)
    n = eeg.shape[1]
    off = 20e-3 * np.linspace(-1, 1, 6)[:, None] + ramp_mv * 1e-3 * np.linspace(1, -1, 6)[:, None] * np.arange(n) / n
    raw = mne.io.RawArray(art + eeg + off, mne.create_info([f"E{i}" for i in range(6)], sf, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations(np.round(sched.onsets) / sf, 0.0, "Response/R128"))
    res = remove_gradient(raw, tr=tr, volume="Response/R128", params=GradientParams(n_jobs=1, lowpass=None))
    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    a, b = int(sched.onsets[10]), int(sched.onsets[-1])
    e = sosfiltfilt(sos, res.raw.get_data() - off - eeg, axis=1)[:, a:b]
    return float(np.sqrt(np.mean(e**2)) * 1e6)


def test_ramp_kept_out_where_the_phase_travels_slowly() -> None:
    """Measured 2.39 uV with the 5 mV ramps and without; taking nothing out where the
    phases travel under a sample (as before) left 4.87 with them."""
    flat, ramped = _slow_phase_run(0.0), _slow_phase_run(5.0)
    print(f"slow phase: {flat:.2f} uV without ramps, {ramped:.2f} with")
    assert ramped < 1.1 * flat
