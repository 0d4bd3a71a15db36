"""The alias model's orders chosen on the data (issue 17): an amplifier that samples the
EMF without an anti-alias filter lets the artifact fold in from many rates up. At 5 kHz,
20 ppm and a 1 s TR the volumes' phase steps 0.1 sample per volume and the fifth order
alternates from volume to volume, which the two default orders leave whole; more orders
on a recording that needs two fit EEG, so they are used only where they predict the
other half of the volumes better (``aas._choose_orders``)."""

from __future__ import annotations

import driftsynth
import mne
import numpy as np
from scipy.signal import butter, sosfiltfilt

from workbench.engine.gradient import GradientParams, remove_gradient


def _run(multiband: int, orders: int | None, ppm: float = 20.0, tr: float = 2.0) -> tuple[float, dict]:
    """1-40 Hz RMS error (µV) after volume 10 and the orders check, 8 channels, 60 s at
    5 kHz, point sampling without an anti-alias filter, ``ppm`` (single band: TR ``tr``)."""
    sf = 5000.0
    kw = dict(tr=1.0, slices=48, multiband=3, dead_time_s=0.12) if multiband > 1 else dict(tr=tr, slices=35)
    art, eeg, sched, _ = driftsynth.make(n_ch=8, duration=60.0, sfreq=sf, seed=2, drift_ppm=ppm,
                                         gradient_sampling="point", gradient_antialias=False, **kw)
    raw = mne.io.RawArray(art + eeg, mne.create_info([f"E{i}" for i in range(8)], sf, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations(np.round(sched.onsets) / sf, 0.0, "Response/R128"))
    res = remove_gradient(raw, tr=kw["tr"], volume="Response/R128",
                          params=GradientParams(n_jobs=1, alias_orders=orders))
    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    a, b = int(sched.onsets[10]), int(sched.onsets[-1])
    e = sosfiltfilt(sos, res.raw.get_data() - eeg, axis=1)[:, a:b]
    return float(np.sqrt(np.mean(e**2)) * 1e6), res.qc


def test_more_orders_where_the_artifact_folds_from_far_up() -> None:
    """Multiband 3, TR 1 s: measured 7.0 uV with six orders chosen (residual ratio 0.20),
    49.0 with the two given."""
    auto, qc = _run(3, None)
    two, qc2 = _run(3, 2)
    print(f"multiband: auto {auto:.2f} uV ({qc['refinements']['alias_orders']}), two orders {two:.2f} uV")
    assert qc["alias_orders"] > 2 and qc["refinements"]["alias_orders"]["kept"]
    assert "alias_orders" not in qc2["refinements"] and qc2["alias_orders"] == 2  # given: not tried
    assert auto < 0.3 * two
    # the artifact folded in between the volume lines: the power kept there is not scored
    # (it read 0.22, its removal taken for EEG lost), but with the two orders it is
    assert qc["power_kept_1_40_off_comb"] is None and qc2["power_kept_1_40_off_comb"] is not None


def test_two_orders_kept_where_more_fit_eeg() -> None:
    """Single band, TR 2 s: the phase steps 0.2 sample per volume, the fifth order turns
    once per volume like the template itself; more orders fitted EEG (measured: 3.9 uV
    with two chosen, 7.9 with six given; their residual ratio 6.1)."""
    auto, qc = _run(1, None)
    six, _ = _run(1, 6)
    print(f"single band: auto {auto:.2f} uV ({qc['refinements']['alias_orders']}), six orders {six:.2f} uV")
    assert qc["alias_orders"] == 2 and not qc["refinements"]["alias_orders"]["kept"]
    assert qc["power_kept_1_40_off_comb"] is not None
    assert auto < six


def test_more_orders_found_where_the_interleaved_halves_hide_them() -> None:
    """Single band, TR 1 s, 30 ppm: the phase steps 0.15 sample a volume, 20 phases over
    the run but 10 in the even volumes (and 10 in the odd), fewer than six orders' twelve
    coefficients. Scored on even and odd, six orders were fitted on a near-singular basis,
    shrunk to nothing and scored as two (1.09x): two were kept, 91.8 uV. Scored on the
    run's first and second half (``aas._score_halves``), six are chosen (0.34x): 29.5 uV."""
    auto, qc = _run(1, None, ppm=30.0, tr=1.0)
    two, _ = _run(1, 2, ppm=30.0, tr=1.0)
    print(f"0.15 sample a volume: auto {auto:.2f} uV ({qc['refinements']['alias_orders']}), two orders {two:.2f}")
    assert qc["alias_orders"] > 2 and qc["refinements"]["alias_orders"]["kept"]
    assert auto < 0.5 * two


def test_score_halves_keep_the_phase_step() -> None:
    from workbench.engine.gradient.aas import _score_halves
    from workbench.engine.gradient.residual import AliasModel

    n = 57
    even_odd = [np.arange(0, n, 2), np.arange(1, n, 2)]
    # 0.15 sample a volume (+ the clock fit's small error): six orders are near-singular
    # on either interleaved half, well conditioned on either contiguous one
    six = AliasModel((0.1502 * np.arange(n)) % 1.0, 6)
    halves = _score_halves(n, [six])
    assert np.array_equal(halves[0], np.arange(n // 2)) and np.array_equal(halves[1], np.arange(n // 2, n))
    # where both splits condition the models alike, even and odd as before
    for step in (0.03, 0.07):
        models = [AliasModel((step * np.arange(n)) % 1.0, o) for o in (2, 4, 6)]
        assert all(np.array_equal(a, b) for a, b in zip(_score_halves(n, models), even_odd)), step
    assert all(np.array_equal(a, b) for a, b in zip(_score_halves(n, [None]), even_odd))



def _error_2k(params: GradientParams) -> tuple[float, dict]:
    """1-40 Hz RMS error (µV) after volume 10: 2 kHz with the amplifier's anti-alias
    filter, -15 ppm, TR 1.065 s, 14 slices, a drifting bore, triggers jittered by 0.4 ms
    (one missing), 8 channels, 55 s (the phantom's recipe, ``artifact_run``)."""
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.gradient import artifact_run

    cfg = PhantomConfig(seed=2, lead_in_s=3.0, lead_out_s=3.0, sfreq=2000.0, tr=1.065, slices=14,
                        drift_ppm=-15.0, duration_s=55.0, gradient_drift=1.0, missing_triggers=1,
                        trigger_jitter_s=0.0004)
    art, trig, _tl, _gen = artifact_run(cfg, 8, 2)
    sf = cfg.sfreq
    eeg = sosfiltfilt(butter(2, [1, 40], "bandpass", fs=sf, output="sos"),
                      np.random.default_rng(9).standard_normal(art.shape), axis=1)
    eeg *= 15e-6 / eeg.std(axis=1, keepdims=True)
    raw = mne.io.RawArray(art + eeg, mne.create_info([f"E{i}" for i in range(8)], sf, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations(trig.recorded_sample / sf, 0.0, "Response/R128"))
    res = remove_gradient(raw, tr=cfg.tr, volume="Response/R128", params=params)
    st = np.asarray(trig.recorded_sample, int)
    e = sosfiltfilt(butter(4, [1, 40], "bandpass", fs=sf, output="sos"), res.raw.get_data() - eeg,
                    axis=1)[:, st[10] : st[-1]]
    return float(np.sqrt(np.mean(e**2)) * 1e6), res.qc


def test_shifts_judged_with_the_orders_the_data_want() -> None:
    """At 2 kHz the aliased artifact pulls the re-alignment's lags towards each volume's
    sampling phase. Judged with the two default orders, those shifts scored better than
    none; the four orders chosen afterwards then fitted the shifted phases and left
    several times what they leave on the unshifted schedule (measured 14.45 against 4.23
    uV; sweep seed 8 #1 19.9 against 6.6). The shifts are now judged with the orders the
    unshifted schedule wants (``aas._correct_inplace``, step 1)."""
    auto, qc = _error_2k(GradientParams(n_jobs=1))
    fixed, _ = _error_2k(GradientParams(n_jobs=1, align=False))
    print(f"2 kHz: auto {auto:.2f} uV ({qc['refinements'].get('align')}, orders {qc['alias_orders']}), "
          f"no re-alignment {fixed:.2f} uV")
    assert qc["alias_orders"] > 2
    assert auto < 1.25 * fixed
