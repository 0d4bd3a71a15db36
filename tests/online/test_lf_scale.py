"""Online: the low band's size followed from volume to volume (``online/lf_scale.py``).

A synthetic stream built here, not by the phantom: a slice-comb gradient artifact, a
scanner-table ringing after each volume (three damped oscillations, each channel its own
coupling) whose size wanders by a slow random walk (not the phantom's sinusoids), and
band-limited noise EEG. The online templates average the low band over 60 volumes and
leave that wander; the pass predicts each volume's share from the ones before.
"""

from __future__ import annotations

import numpy as np
import pytest
from online_synth import band, eeg_noise, markers, run_synthetic

SF = 2500.0
PERIOD = 2.0 * SF * (1 + 15e-6)  # 2 s TR on a clock 15 ppm off
ONSET0 = 1000.3
N_CH = 12


def _stream(seconds: float, wander: bool, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x: EEG rows then a flat ECG row, EEG truth, the ringing alone, markers)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SF)
    t = np.arange(n)
    # the gradient artifact: harmonics of 30 slots per volume from 15 Hz up to ~450 Hz
    grad = np.zeros((N_CH, n))
    for h in range(1, 31):
        f = 30 * h / PERIOD
        c = rng.normal(size=N_CH) * 1e-3 / h**0.5
        grad += c[:, None] * np.cos(2 * np.pi * f * (t - ONSET0) + rng.uniform(0, 2 * np.pi))
    grad[:, : int(np.ceil(ONSET0))] = 0.0
    # the ringing: three damped oscillations after each onset, a size per volume
    onsets = ONSET0 + np.arange(int((n - ONSET0) / PERIOD)) * PERIOD
    f0, tau = np.array([7.0, 13.0, 26.0]), np.array([0.35, 0.25, 0.15])
    coup = rng.normal(size=(N_CH, 3))
    steps = rng.normal(size=onsets.size) * 0.12 if wander else np.zeros(onsets.size)
    size = np.clip(1.0 + np.cumsum(steps) - np.mean(np.cumsum(steps)), 0.3, None)
    ring = np.zeros((N_CH, n))
    m = int(2.0 * SF)
    u = np.arange(m) / SF
    wave = np.exp(-u[None] / tau[:, None]) * np.sin(2 * np.pi * f0[:, None] * u[None])  # (3, m)
    for on, s in zip(onsets, size):
        a = int(np.ceil(on))
        b = min(a + m, n)
        ring[:, a:b] += s * (coup @ wave[:, : b - a])
    ring *= 15e-6 / np.sqrt(np.mean(ring[:, int(ONSET0) :] ** 2))
    eeg = eeg_noise(N_CH, n, SF, seed=seed + 1, rms=15e-6)
    x = np.vstack([grad + ring + eeg, np.zeros((1, n))])
    return x, eeg, ring, markers(PERIOD, ONSET0, n)


def _err(out: np.ndarray, eeg: np.ndarray, marks: np.ndarray, from_vol: int) -> float:
    e = band(out[:N_CH], SF) - band(eeg, SF)
    return float(np.sqrt(np.mean(e[:, marks[from_vol] : marks[-1]] ** 2)))


def _params(on: bool):
    from workbench.engine.online import OnlineParams

    return OnlineParams(lowpass_hz=None, bcg=False, cardiac_pass=False, lf_scale=on)


@pytest.fixture(scope="module")
def wandering():
    return _stream(100.0, wander=True)


def test_a_wandering_ringing_is_followed(wandering, monkeypatch) -> None:
    """The pass is judged with the rotating template off: at 2.5 kHz that template
    follows part of the wander too (7.70 -> 7.09 uV without the pass), which would
    leave the pass less to show. Measured: pass off 7.70, on 5.52 uV; both on 5.57."""
    from workbench.engine.online.gradient import CausalGradient

    x, eeg, ring, marks = wandering
    both, _, _ = run_synthetic(x, marks, SF, _params(True), chunk=50)
    monkeypatch.setattr(CausalGradient, "_rot", False)
    off, _, st_off = run_synthetic(x, marks, SF, _params(False), chunk=50)
    on, msgs, st_on = run_synthetic(x, marks, SF, _params(True), chunk=50)
    e_off, e_on = _err(off, eeg, marks, 15), _err(on, eeg, marks, 15)
    ring_rms = float(np.sqrt(np.mean(band(ring, SF)[:, marks[15] :] ** 2)))
    # off, the template's 60-volume mean leaves the wander; on, most of it goes
    assert e_off > 0.25 * ring_rms
    assert e_on < 0.8 * e_off, (e_on, e_off)
    assert st_off["low_band_followed"] == {}
    assert st_on["low_band_followed"]["parts_followed"] >= 1
    assert any("low band's size wanders" in m for m in msgs), msgs
    # the rotating template and the pass together lose nothing against the pass alone
    e_both = _err(both, eeg, marks, 15)
    assert e_both < 1.05 * e_on, (e_both, e_on)


def test_an_electrode_ramp_does_not_move_the_followed_share(wandering) -> None:
    """DC offsets of +-20 mV and ramps of +-3 mV over the run on the EEG rows (a
    DC-coupled amplifier): they entered the shape (a line over the epoch leaks into
    every bin kept) and each volume's share; measured 5.52 uV without them, 7.60 with
    them, 5.53 with the lines kept out of both."""
    x, eeg, _ring, marks = wandering
    n = x.shape[1]
    ramp = np.zeros_like(x)
    ramp[:N_CH] = (20e-3 * np.linspace(-1, 1, N_CH)[:, None]
                   + 3e-3 * np.linspace(1, -1, N_CH)[:, None] * np.arange(n)[None] / n)
    plain, _, _ = run_synthetic(x, marks, SF, _params(True), chunk=50)
    ramped, _, st = run_synthetic(x + ramp, marks, SF, _params(True), chunk=50)
    e_plain, e_ramp = _err(plain, eeg, marks, 15), _err(ramped - ramp, eeg, marks, 15)
    assert st["low_band_followed"]["parts_followed"] >= 1
    assert e_ramp < 1.05 * e_plain, (e_ramp, e_plain)


def test_a_steady_ringing_is_left_to_the_template() -> None:
    x, eeg, _ring, marks = _stream(70.0, wander=False, seed=8)
    off, _, _ = run_synthetic(x, marks, SF, _params(False), chunk=50)
    on, msgs, st = run_synthetic(x, marks, SF, _params(True), chunk=50)
    assert st["low_band_followed"] == {}
    assert not any("low band" in m for m in msgs)
    assert np.array_equal(on, off)


def test_the_output_does_not_depend_on_the_chunks(wandering) -> None:
    x, _eeg, _ring, marks = wandering
    x, marks = x[:, : int(60 * SF)], marks[marks < int(60 * SF) - 1]
    a, _, st = run_synthetic(x, marks, SF, _params(True), chunk=50)
    b, _, _ = run_synthetic(x, marks, SF, _params(True), chunk=173)
    assert st["low_band_followed"]["parts_followed"] >= 1
    assert np.abs(a - b).max() < 1e-9


def test_each_volume_is_predicted_from_the_volume_right_before() -> None:
    """The pass alone on a noise-free ringing whose size follows a slow wave: the share
    taken out of volume v is the share of volume v - 1 (smoothing weight 1 here), not of
    v - 2, the newest the worker has seen when it builds the model."""
    from concurrent.futures import Future

    from workbench.engine.online.lf_scale import CausalLowBand

    sf, period, n_rows, n_vol = 500.0, 1000.0, 6, 40
    rng = np.random.default_rng(3)
    u = np.arange(int(period)) / sf
    wave = np.stack([np.exp(-u / 0.3) * np.sin(2 * np.pi * 9.0 * u),
                     np.exp(-u / 0.2) * np.sin(2 * np.pi * 21.0 * u + 1.0)])
    shape = rng.normal(size=(n_rows, 2)) @ wave * 10e-6
    size = 1.0 + 0.4 * np.sin(2 * np.pi * np.arange(n_vol) / 25.0)
    start = 1000
    raw = np.zeros((n_rows, start + int(period) * (n_vol + 1)))
    for v in range(n_vol):
        raw[:, start + v * 1000 : start + (v + 1) * 1000] = size[v] * shape

    def run(fn, *args):
        f: Future = Future()
        f.set_result(fn(*args))
        return f

    lb = CausalLowBand(np.arange(n_rows), sf, submit=run, raw=lambda a, b: raw[:, a:b], say=lambda m: None)
    resid = []
    for v in range(n_vol):
        first = start + v * 1000
        y = ((size[v] - 1.0) * shape).astype(np.float32)  # the template took out the mean size
        for a in range(0, 1000, 100):
            lb.flush(first + a)  # (the correction calls it at each chunk's start)
            lb.apply(v, first, period, y, a, 100, first + a)
        resid.append(float(np.sqrt(np.mean(y[:, : lb.n] ** 2))))
    late = slice(20, n_vol)
    shape_rms = float(np.sqrt(np.mean(shape**2)))
    one_back = np.abs(size[late] - size[19:-1]) * shape_rms
    two_back = np.abs(size[late] - size[18:-2]) * shape_rms
    assert lb.info["parts_followed"] == 2
    assert np.all(np.asarray(resid)[late] < 0.05 * shape_rms + 1.2 * one_back)
    assert np.mean(np.asarray(resid)[late]) < 0.7 * np.mean(two_back)
