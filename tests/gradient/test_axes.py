"""The slice-wise fit of the gradient axes' waveforms (engine/gradient/axes.py): what the volume
templates leave when the lead loops' coupling changes within a volume (breathing, a drifting
bore), on the phantom's own artifact generator."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from workbench.engine.errors import InputError
from workbench.engine.gradient import GradientParams, remove_gradient
from workbench.engine.gradient.axes import axis_basis, slice_epochs

from . import driftsynth


def _run(art, eeg, sched, cfg, **kw):
    """remove_gradient from the volume triggers (sample-rounded) and the TR; returns the output
    and the result."""
    info = mne.create_info([f"E{i:02d}" for i in range(art.shape[0])], cfg.sfreq, "eeg")
    raw = mne.io.RawArray(art + eeg, info, verbose="error")
    raw.set_annotations(mne.Annotations(np.ceil(sched.onsets) / cfg.sfreq, 0.0, "Response/R128"))
    res = remove_gradient(raw, params=GradientParams(**kw), tr=cfg.tr, volume="Response/R128")
    return res.raw.get_data(), res


def _scores(out, eeg, sched, cfg) -> tuple[float, float]:
    """NRMSE 1-40 Hz against the EEG, and the error's RMS (µV) at the slice harmonics < 70 Hz."""
    sf = cfg.sfreq
    s0, s1 = int(np.ceil(sched.onsets[0])), int(sched.onsets[-1] + sched.period)
    sos = butter(4, [1.0, 40.0], "bandpass", fs=sf, output="sos")
    err = sosfiltfilt(sos, out - eeg, axis=1)[:, s0:s1]
    ref = sosfiltfilt(sos, eeg, axis=1)[:, s0:s1]
    e = (out - eeg)[:, s0:s1]
    f = np.fft.rfftfreq(e.shape[1], 1 / sf)
    fsl = cfg.excitations_per_volume / cfg.tr
    harm = np.zeros(f.size, bool)
    for k in range(1, int(70 / fsl) + 1):
        harm |= np.abs(f - k * fsl) <= 0.75
    E = np.abs(np.fft.rfft(e, axis=1)) ** 2
    left = float(np.sqrt(2 * E[:, harm].sum(axis=1).mean()) / e.shape[1] * 1e6)
    return float(np.sqrt((err**2).sum() / (ref**2).sum())), left


def test_slice_epochs_cover_the_slots_with_their_sub_sample_phase() -> None:
    onsets = np.array([100.3, 400.9, 701.5])
    starts, frac, length = slice_epochs(onsets, np.array([0.0, 100.0, 200.0]), 300.4, 1000)
    assert length == 99  # the shortest slot, one sample short of it (whole samples only)
    assert starts.tolist() == [101, 201, 301, 401, 501, 601, 702, 802]  # 902 + 99 > 1000: out
    assert np.allclose(frac, np.ceil(starts - 1e-9) - (np.repeat(onsets, 3)[:8] + np.tile([0, 100, 200], 3)[:8]))
    assert np.all((frac >= 0) & (frac < 1))


def test_the_axes_basis_spans_the_three_gradient_waveforms() -> None:
    """Channels mix three waveforms with content up to ~0.2 cycles per sample; the epochs start
    at every sub-sample phase: the basis learnt from the recording spans the three waveforms
    (principal angles near 0), which needs each phase bin moved onto the true start."""
    rng = np.random.default_rng(0)
    L, n_ep = 200, 400
    cycles, phases = np.array([30.0, 37.0, 44.0]), rng.uniform(0, 6, 3)

    def waves(x: np.ndarray) -> np.ndarray:  # exact at any fractional time within the epoch
        hann = 0.5 - 0.5 * np.cos(2 * np.pi * x / (L - 1))
        return np.sin(2 * np.pi * cycles[:, None] * x[None] / L + phases[:, None]) * hann[None]

    onsets = np.arange(n_ep) * (L + 1.37) + 5.0  # drifting phase
    n = int(onsets[-1] + L + 10)
    M = rng.normal(0, 1, (8, 3))
    data = np.zeros((8, n))
    tt = np.arange(n)
    for o in onsets:  # each epoch, placed at its exact fractional start
        seg = (tt >= o) & (tt < o + L)
        data[:, seg] += M @ waves(tt[seg] - o)
    data += 0.01 * rng.standard_normal(data.shape)
    starts, frac, length = slice_epochs(onsets, np.zeros(1), L + 1.37, n)
    B = axis_basis(data, np.arange(8), starts, frac, length, 3)
    Q, _ = np.linalg.qr(waves(np.arange(length, dtype=float)).T)
    cosines = np.linalg.svd(Q.T @ B.T, compute_uv=False)
    assert cosines.min() > 0.98, cosines


def test_overlapping_epochs_are_corrected_once() -> None:
    """Re-aligned volumes can make the last slice of one overlap the first of the next: the
    later epoch is dropped, so no sample is corrected twice (the output equals one pass over
    the disjoint epochs)."""
    from workbench.engine.gradient.axes import regress_slices

    rng = np.random.default_rng(1)
    L = 100
    basis = np.linalg.qr(rng.standard_normal((L, 3)))[0].T
    data = rng.standard_normal((2, 5000)).astype(np.float32)
    starts = np.array([10, 110, 207, 300, 405, 500])  # 207 starts inside 110..210
    frac = np.zeros(starts.size)
    a, b = data.copy(), data.copy()
    regress_slices(a, np.arange(2), starts, frac, basis, 5000.0, hp_hz=0.0, smooth=1, min_explained=None)
    keep = np.array([10, 110, 300, 405, 500])
    regress_slices(b, np.arange(2), keep, np.zeros(keep.size), basis, 5000.0, hp_hz=0.0, smooth=1,
                   min_explained=None)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, data)


@pytest.mark.parametrize("sfreq", [5000.0, 2500.0])
def test_the_slice_fit_follows_a_drifting_bore(sfreq) -> None:
    """A drifting bore (breathing changes each loop's coupling to each axis, heating, wandering
    loops) and two head movements: the volume templates leave the changes at the slice harmonics;
    the slice-wise fit removes most of that, with the EEG band as before or better."""
    art, eeg, sched, cfg = driftsynth.make(n_ch=12, duration=60, sfreq=sfreq, tr=2.0, slices=35, seed=3,
                                           drift=2.0, motion_events=2)
    off = _scores(_run(art, eeg, sched, cfg, slice_axes=0)[0], eeg, sched, cfg)
    out, res = _run(art, eeg, sched, cfg)
    on = _scores(out, eeg, sched, cfg)
    assert on[1] < 0.6 * off[1], (on, off)
    assert on[0] < 1.03 * off[0], (on, off)
    assert res.qc["slice_axes_explained_pct"] > 20.0 and res.qc["slice_axes_kept"] is True
    assert res.qc["refinements"]["slice_axes"]["rank"] == 3


def test_a_steady_bore_keeps_its_result() -> None:
    """No drift: the fit finds little to remove and changes neither score by more than a few %."""
    art, eeg, sched, cfg = driftsynth.make(n_ch=8, duration=40, sfreq=5000.0, tr=2.0, slices=35, seed=5)
    off = _scores(_run(art, eeg, sched, cfg, slice_axes=0)[0], eeg, sched, cfg)
    on = _scores(_run(art, eeg, sched, cfg)[0], eeg, sched, cfg)
    assert on[0] < 1.03 * off[0] and on[1] < 1.05 * off[1], (on, off)


def test_nothing_to_follow_changes_nothing() -> None:
    """EEG and a residual of pure noise: the fit removes no more than chance on the first
    channels, which are put back; nothing is changed."""
    from workbench.engine.gradient.axes import regress_slices

    rng = np.random.default_rng(2)
    L = 280
    basis = np.linalg.qr(rng.standard_normal((L, 3)))[0].T
    data = (1e-5 * rng.standard_normal((6, 40000))).astype(np.float32)
    starts = np.arange(100, 39000, L + 5)
    before = data.copy()
    info = regress_slices(data, np.arange(6), starts, np.zeros(starts.size), basis, 5000.0)
    assert info["kept"] is False and info["explained"] < 0.02
    assert np.array_equal(data, before)


def test_not_run_below_2_khz_and_checked() -> None:
    """Below 2 kHz the artifact aliases and a slice epoch is a few dozen samples: not run."""
    art, eeg, sched, cfg = driftsynth.make(n_ch=6, duration=30, sfreq=1000.0, tr=2.0, slices=35, seed=1)
    _, res = _run(art, eeg, sched, cfg)
    assert "slice_axes" not in res.qc["refinements"] and "slice_axes_explained_pct" not in res.qc
    with pytest.raises(InputError, match="slice_axes"):
        _run(art, eeg, sched, cfg, slice_axes=-1)


def test_a_fit_that_raises_the_eeg_band_is_dropped() -> None:
    """The synthetic slice artifact of the GUI tests (2 kHz, 14 slices/s): the axes explain 12 %
    above 150 Hz, but subtracting them raised what was left below it 3x (harmonics after 3.1 ->
    8.8 uV, 1-40 Hz power kept 0.99 -> 2.58 when it was kept): the check drops it and the output
    is that of the fit switched off."""
    from workbench.engine.gradient import remove_gradient

    from .gradsynth import make_recording

    raw, _, meta = make_recording(duration=30, n_eeg=8)
    off = remove_gradient(raw, sidecar=meta["sidecar"], params=GradientParams(slice_axes=0))
    on = remove_gradient(raw, sidecar=meta["sidecar"])
    info = on.qc["refinements"]["slice_axes"]
    assert info["kept"] is False and info["below_ratio"] > 1.0 and on.qc["slice_axes_kept"] is False
    assert np.array_equal(on.raw.get_data(), off.raw.get_data())
    assert on.qc["harmonic_rms_after_uv"] < 5.0
