"""Tracking a drifting artifact, the phantom's bore drift, the EEG kept, the lean step path."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib
import driftsynth  # noqa: E402
from gradsynth import make_recording  # noqa: E402

from workbench.engine.errors import InputError
from workbench.engine.gradient import AASParams, GradientParams, correct_inplace, remove_gradient
from workbench.engine.gradient.aas import similar_neighbours
from workbench.engine.progress import as_progress


def _base(sfreq: float, **kw) -> AASParams:
    """The engine's defaults as GradientParams maps them (without the re-alignment)."""
    a = GradientParams().aas(sfreq)
    a.align = False
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def _residual_db(art: np.ndarray, sched, params: AASParams) -> tuple[float, object]:
    d = art.astype(np.float32)
    res = correct_inplace(d, sched, np.arange(d.shape[0]), params)
    s0, s1 = int(sched.onsets[0]) + 1, int(sched.onsets[-1] + sched.period)
    r = d[:, s0:s1]
    return float(20 * np.log10(np.sqrt((r**2).mean() / (art[:, s0:s1] ** 2).mean()))), res


def test_similar_neighbours_choose_the_same_state_never_the_volume_itself() -> None:
    rng = np.random.default_rng(0)
    n, g = 40, 3
    a, b = rng.normal(size=(2, 16)) + 1j * rng.normal(size=(2, 16))
    state = (np.arange(n) // 2) % 2  # two breathing states, alternating every 2 volumes
    F = np.where(state[None, :, None] == 0, a, b) * rng.uniform(0.5, 2.0, (g, n, 1))  # sizes vary
    F = F + 0.01 * (rng.normal(size=F.shape) + 1j * rng.normal(size=F.shape))
    sel = similar_neighbours(F.astype(np.complex64), window=8, pool=20)
    assert sel.shape == (g, n, 8)
    v = np.arange(n)[None, :, None]
    assert not np.any(sel == v)
    assert np.all(state[sel] == state[None, :, None])  # shape decides, not size
    assert np.all(np.abs(sel - v) <= 20)


def test_phantom_bore_drift_changes_the_artifact_size_and_shape() -> None:
    kw = dict(duration=60, sfreq=2500, tr=1.0, slices=20, n_ch=6, seed=1)
    art0, _, sched0, _ = driftsynth.make(drift=0.0, **kw)
    art1, _, sched1, _ = driftsynth.make(drift=1.0, motion_events=1, **kw)
    np.testing.assert_allclose(sched0.onsets, sched1.onsets)  # the same scan, only the bore differs
    e0 = correct_inplace(art0.astype(np.float32), sched0, np.arange(6), _base(2500, track=False)).evolution
    e1 = correct_inplace(art1.astype(np.float32), sched1, np.arange(6), _base(2500, track=False)).evolution
    rng0, rng1 = (np.ptp(np.percentile(e["size"], [5, 95])) for e in (e0, e1))
    assert rng1 > 1.5 * rng0
    dev0, dev1 = (np.percentile(np.sqrt(1 - np.clip(e["shape_r"], -1, 1) ** 2), 95) for e in (e0, e1))
    assert dev1 > dev0
    with pytest.raises(InputError, match="gradient_drift"):
        driftsynth.make(drift=-1.0)


@pytest.mark.parametrize("drift", [0.0, 1.0])
def test_tracked_neighbours_follow_the_artifact_better_than_a_fixed_window(drift: float) -> None:
    art, _, sched, cfg = driftsynth.make(drift=drift, motion_events=1 if drift else 0, duration=100,
                                         sfreq=5000, tr=2.0, slices=35, n_ch=4, seed=0)
    fixed, _ = _residual_db(art, sched, _base(cfg.sfreq, track=False))
    tracked, res = _residual_db(art, sched, _base(cfg.sfreq, track=True))
    assert tracked < fixed - 1.0, (tracked, fixed)
    assert "reach" in res.evolution and res.evolution["reach"].shape == (sched.n_volumes,)


def test_at_2500_hz_similarity_is_judged_without_the_alias_part() -> None:
    """At 2.5 kHz the sub-sample-phase (alias) part dominated the features: "similar" meant "same
    phase", i.e. volumes far away in time while the bore drifts. Without it the chosen volumes lie
    nearer and leave less artifact (fails with ``track_dealias=False``)."""
    art, _eeg, sched, _ = driftsynth.make(drift=1.0, duration=90, sfreq=2500, tr=1.0, slices=20, n_ch=3, seed=0)
    plain_db, plain = _residual_db(art, sched, _base(2500.0, track=True, track_dealias=False))
    dealias_db, dealias = _residual_db(art, sched, _base(2500.0, track=True))
    assert dealias_db < plain_db - 0.5, (dealias_db, plain_db)
    assert np.mean(dealias.evolution["reach"]) < np.mean(plain.evolution["reach"]) - 1.0


def test_the_eeg_band_keeps_more_eeg_with_the_smoothed_wiener_gain() -> None:
    """Between the artifact's lines the template holds only leaked EEG; the gain must drop it."""
    art, eeg, sched, cfg = driftsynth.make(duration=80, sfreq=5000, tr=2.0, slices=35, n_ch=4, seed=2)
    s0, s1 = int(sched.onsets[0]) + 1, int(sched.onsets[-1] + sched.period)
    sos = butter(4, [1, 40], "bandpass", fs=cfg.sfreq, output="sos")
    eb = sosfiltfilt(sos, eeg[:, s0:s1], axis=1)

    def loss(**kw) -> float:
        d = (art + eeg).astype(np.float32)
        correct_inplace(d, sched, np.arange(4), _base(cfg.sfreq, **kw))
        rb = sosfiltfilt(sos, d[:, s0:s1] - eeg[:, s0:s1], axis=1)
        return float(np.sqrt((rb**2).sum() / (eb**2).sum()))

    # the smoothing on its own (with the unbiased power estimate it was designed with; the
    # blink weighting, wiener_robust, off: it works on the same estimate)
    smoothed = loss(wiener_strict=1.0, wiener_robust=0.0)
    per_bin, no_wiener = loss(wiener_strict=1.0, wiener_smooth=1, wiener_robust=0.0), loss(wiener=False)
    assert smoothed < 0.95 * per_bin and per_bin < 0.85 * no_wiener, (smoothed, per_bin, no_wiener)
    # the default also counts the all-volume mean as artifact only beyond 3x its leak
    # (measured 0.1318 -> 0.1291)
    strict = loss(wiener_robust=0.0)
    assert strict < 0.98 * smoothed, (strict, smoothed)
    # without blinks the blink weighting changes next to nothing here (0.1291 -> 0.1292)
    assert abs(loss() - strict) < 0.005 * strict, (loss(), strict)


def test_evolution_is_in_the_qc() -> None:
    raw, _, meta = make_recording(duration=30, n_eeg=4)
    for track in (True, False):
        res = remove_gradient(raw, params=GradientParams(track=track, lowpass=None), sidecar=meta["sidecar"])
        q = res.qc
        assert len(q["evolution"]["time_s"]) == res.schedule.n_volumes == len(q["evolution"]["size"])
        assert np.isfinite(q["artifact_size_range_pct"]) and np.isfinite(q["artifact_shape_change_pct"])
        assert ("reach" in q["evolution"]) == track == ("neighbour_reach_volumes" in q)
        # the synthetic artifact does not drift: the volumes' sizes agree within a few %
        assert q["artifact_size_range_pct"] < 5


def test_the_epoch_view_shows_the_neighbours_the_correction_used() -> None:
    """With tracking the "Template & epochs" view shows the chosen volumes, not the fixed window."""
    from workbench.engine.gradient.inspect import epoch_stack

    raw, _, meta = make_recording(duration=40, n_eeg=3)
    v = 20
    tracked = remove_gradient(raw, params=GradientParams(track=True, lowpass=None), sidecar=meta["sidecar"])
    fixed = remove_gradient(raw, params=GradientParams(track=False, lowpass=None), sidecar=meta["sidecar"])
    assert fixed.aas.neighbours == {}
    ch = tracked.picks[0]
    chosen = np.sort(tracked.aas.neighbours[ch][v])
    d = epoch_stack(raw, tracked, ch, v)
    assert d["tracked"] and v not in chosen and chosen.size == 20
    np.testing.assert_array_equal(d["neighbours"], chosen)
    assert d["epochs"].shape[0] == 20 and d["template"].size == d["epochs"].shape[1]
    np.testing.assert_allclose(d["template"], d["epochs"].mean(axis=0), rtol=1e-6, atol=1e-12)
    f = epoch_stack(raw, fixed, ch, v)
    window = np.array([j for j in range(10, 31) if j != v])
    assert not f["tracked"]
    np.testing.assert_array_equal(f["neighbours"], window)
    assert set(chosen) != set(window)  # the two views differ here


def test_step_on_an_unloaded_recording_is_lean_and_matches_the_loaded_path(tmp_path: Path) -> None:
    import tracemalloc

    import mne

    from workbench.engine.gradient.export import write_raw
    from workbench.engine.steps.gradient import SPEC
    from workbench.engine.study import Study

    raw, _, meta = make_recording(duration=60, n_eeg=30, sfreq=1000.0, fmax=300.0)
    src = tmp_path / "in_eeg.vhdr"
    write_raw(raw, src)
    file_bytes = (tmp_path / "in_eeg.eeg").stat().st_size  # float32
    params = {p.name: p.default for p in SPEC.params}
    results = {}
    for preload in (True, False):
        study = Study()
        study.raw = mne.io.read_raw_brainvision(src, preload=preload, verbose="error")
        study.bold_meta = meta["sidecar"]
        tracemalloc.start()
        out = SPEC.run(study, params, as_progress(None))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results[preload] = (out, peak)
    lean, loaded = results[False][0], results[True][0]
    assert not lean.provides["eeg"].preload  # a Raw over the float32 array, read in chunks
    np.testing.assert_allclose(lean.provides["eeg"].get_data(), loaded.provides["eeg"].get_data(),
                               rtol=0, atol=2e-7)
    for k in ("harmonic_rms_after_uv", "power_kept_1_40"):
        assert lean.qc[k] == pytest.approx(loaded.qc[k], rel=1e-3)
    print("peak / float32 file: lean", results[False][1] / file_bytes, "loaded", results[True][1] / file_bytes)
    assert results[False][1] < 2.2 * file_bytes
    assert results[True][1] > 1.5 * results[False][1]
