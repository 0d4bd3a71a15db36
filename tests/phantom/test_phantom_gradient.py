"""Gradient artifact: Faraday's law on the EPI timeline, sampled asynchronously."""

from __future__ import annotations

import numpy as np
from scipy import signal

from workbench.engine.phantom.clock import make_timeline
from workbench.engine.phantom.gradient import GradientGenerator, epi_waveform


def _scan_window(truth):
    t_first = truth.triggers["true_eeg"][0]
    t_last = truth.triggers["true_eeg"][-1] + truth.config.tr
    sf = truth.sfreq
    return int(np.ceil(t_first * sf)) + 10, int(t_last * sf) - 10


def test_gradient_is_periodic_at_the_slice_rate(truth):
    sf = truth.sfreq
    a, b = _scan_window(truth)
    x = np.asarray(truth.arrays["gradient"][5, a:b], dtype=float)
    f, p = signal.welch(x, fs=sf, nperseg=2 ** 16)
    # slice frequency as the EEG clock sees it (EEG clock runs fast by alpha)
    f_slice = 1.0 / (truth.config.slice_period_s * truth.alpha)
    df = f[1] - f[0]
    for k in (1, 2, 3, 5, 8):
        on = p[np.abs(f - k * f_slice) <= 1.5 * df].max()
        between = np.median(p[(f > (k + 0.3) * f_slice) & (f < (k + 0.7) * f_slice)])
        assert on > 100 * between, k
    # and the strongest peaks all sit on slice harmonics (volume rate subharmonics aside)
    top = f[np.argsort(p)[-10:]]
    assert np.all(np.abs(top / f_slice - np.round(top / f_slice)) < 0.05)


def test_gradient_is_millivolts_and_dwarfs_the_eeg(truth):
    a, b = _scan_window(truth)
    n_eeg = truth.config.n_eeg
    g = np.asarray(truth.arrays["gradient"][:n_eeg, a:b], dtype=float)
    c = np.asarray(truth.arrays["clean"][:n_eeg, a:b], dtype=float)
    peak_mv = np.abs(g).max(axis=1) * 1e3
    assert 1.0 < np.median(peak_mv) < 20.0  # BrainAmp MR range is ±16 mV
    eeg_rms = np.sqrt((c ** 2).mean(axis=1))
    assert np.all((eeg_rms > 3e-6) & (eeg_rms < 60e-6))  # scalp EEG: tens of µV
    ratio = np.sqrt((g ** 2).mean(axis=1)) / eeg_rms
    assert np.median(ratio) > 30
    # channels differ: loop geometry gives each its own size
    assert peak_mv.max() / peak_mv.min() > 2


def test_gradient_is_zero_outside_scanning(truth):
    sf = truth.sfreq
    lead_in = int(truth.triggers["true_eeg"][0] * sf) - 5
    g = np.asarray(truth.arrays["gradient"][:, :lead_in])
    assert np.abs(g).max() == 0.0


def test_slices_land_at_different_subsample_phases(truth):
    sf = truth.sfreq
    on = truth.alpha * truth.triggers["slice_onsets_mri"] + truth.beta
    frac = (on * sf) % 1.0
    assert frac.std() > 0.2  # spread over the whole sample interval
    n_exc = truth.config.excitations_per_volume
    first = frac[:n_exc]
    assert len(np.unique(np.round(first, 2))) >= 0.7 * n_exc  # every slice its own phase
    # with drift, the same slice of successive volumes moves by ~drift·TR·sfreq samples
    shift = np.diff(frac[::n_exc])
    shift = (shift + 0.5) % 1.0 - 0.5
    expected = truth.config.tr * (truth.alpha - 1) * truth.sfreq
    np.testing.assert_allclose(np.median(shift), (expected + 0.5) % 1.0 - 0.5, atol=1e-6)
    # the sampled artifact of two slices differs by more than rounding noise, because
    # each slice is seen at its own phase, even though the waveform is identical
    g = np.asarray(truth.arrays["gradient"][5], dtype=float)
    n = int(truth.config.slice_period_s * sf * 0.8)
    s0 = int(np.floor(on[10] * sf))
    s1 = int(np.floor(on[11] * sf))
    d = g[s0:s0 + n] - g[s1:s1 + n]
    assert np.sqrt((d ** 2).mean()) > 0.01 * np.sqrt((g[s0:s0 + n] ** 2).mean())


def test_emf_follows_faradays_law_for_a_single_trapezoid(study_config):
    # unit loop moment along x: EMF = -dGx/dt, the sample average of a ramp is exact
    cfg = study_config
    tl = make_timeline(cfg, np.random.default_rng(0))
    gen = GradientGenerator(cfg, tl, np.array([[1.0, 0.0, 0.0]]), np.random.default_rng(0))
    wave = epi_waveform(cfg.slice_period_s)
    n0 = int(np.ceil(tl.to_eeg(tl.excitation_onsets[3]) * cfg.sfreq))
    n1 = n0 + int(wave.duration * cfg.sfreq)
    emf = gen._emf(n0, n1, np.array([[1.0, 0.0, 0.0]]))[0]
    t = np.arange(n0 - 1, n1) / cfg.sfreq
    gx = gen._flux(t)[0]
    # Σ EMF · Δt = -(Gx(end) - Gx(start)) (flux change), for any sampling phase
    dt = 1.0 / (cfg.sfreq * tl.alpha)
    np.testing.assert_allclose(emf.sum() * dt, -(gx[-1] - gx[0]), atol=1e-12)
    assert np.abs(emf).max() > 50  # slew of order 100 T/m/s


def test_multiband_and_dead_time_shape_the_timeline():
    from workbench.engine.phantom import PhantomConfig

    cfg = PhantomConfig(duration_s=12.0, tr=1.6, slices=54, multiband=3, dead_time_s=0.4)
    tl = make_timeline(cfg, np.random.default_rng(0))
    assert cfg.excitations_per_volume == 18
    np.testing.assert_allclose(np.diff(tl.excitation_onsets[:18]), (1.6 - 0.4) / 18)
    gen = GradientGenerator(cfg, tl, np.array([[1e-4, 2e-4, 3e-4]]), np.random.default_rng(0))
    sf = cfg.sfreq
    v = 2  # the dead time of volume 2: after its last excitation's readout, before volume 3
    last_end = tl.to_eeg(tl.excitation_onsets[v * 18 + 17]) + gen.wave.duration + 0.005
    next_start = tl.to_eeg(tl.volume_onsets[v + 1]) - 0.002
    assert next_start - last_end > 0.3
    a, b = int(last_end * sf), int(next_start * sf)
    n0 = int(tl.to_eeg(tl.volume_onsets[v]) * sf)
    x = gen.chunk(n0, b)[0]
    quiet = np.abs(x[a - n0:]).max()
    busy = np.abs(x[: a - n0]).max()
    assert quiet < 1e-3 * busy  # only the amplifier filter's decay remains in the gap
    # multiband: slices excited together share their SliceTiming
    assert len(np.unique(tl.slice_timing)) == 18


def test_head_movement_steps_the_artifact():
    from workbench.engine.phantom import PhantomConfig

    cfg = PhantomConfig(duration_s=20.0, tr=1.0, slices=10, motion_events=1, motion_size=0.1)
    tl = make_timeline(cfg, np.random.default_rng(0))
    gen = GradientGenerator(cfg, tl, np.random.default_rng(1).normal(size=(8, 3)) * 1e-4,
                            np.random.default_rng(2), motion_rng=np.random.default_rng(3))
    sf = cfg.sfreq
    onset = gen.motion_onsets[0]
    x = gen.chunk(0, cfg.n_times)
    # the same excitation slot one volume before and one volume after the movement
    per = cfg.tr * tl.alpha
    k = int(np.searchsorted(tl.to_eeg(tl.volume_onsets), onset))
    assert 2 <= k < len(tl.volume_onsets) - 1  # a movement with whole volumes on both sides
    a = int(tl.to_eeg(tl.volume_onsets[k - 2]) * sf)
    b = int(tl.to_eeg(tl.volume_onsets[k + 1]) * sf)
    n = int(0.8 * per * sf)
    rms_before = np.sqrt((x[:, a:a + n] ** 2).mean(1))
    rms_after = np.sqrt((x[:, b:b + n] ** 2).mean(1))
    change = rms_after / rms_before - 1
    expected = gen.motion_steps[0]
    # each channel changes by its own step (respiration and drift add ~±2 %)
    assert np.corrcoef(change, expected)[0, 1] > 0.9
    assert np.abs(change).max() > 0.05
