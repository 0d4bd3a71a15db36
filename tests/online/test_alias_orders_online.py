"""Online alias orders chosen on the data (issue 17), as offline (``aas._choose_orders``).

An amplifier that samples the EMF without an anti-alias filter lets the artifact fold in
from many rates up. At 5 kHz, 20 ppm and a 1 s TR the volumes' phase steps 0.1 sample a
volume, so the fifth order alternates from volume to volume (which two orders leave
whole), the orders +-5 share one basis, and so do 6 and -4: the fit keeps the
directions the phases identify (``CausalGradient._alias_pinv``). The orders are checked
once the clock is pinned (``.alias_orders.OrdersCheck``): every candidate predicts each
new epoch before it joins the fits. The epochs' own means, which alternate too, are
modelled apart (``_dc_terms``): the stored spectra have them taken out."""

from __future__ import annotations

import driftsynth
import mne
import numpy as np
from scipy.signal import butter, sosfiltfilt

from workbench.engine.online import OnlineParams, replay_raw
from workbench.engine.online.alias_orders import OrdersCheck, alias_basis


def _run(folds: bool, orders: int | None, dur: float = 80.0) -> tuple[float, dict, list[str]]:
    """1-40 Hz RMS error (µV) after volume 45 of the online correction, the orders' state
    and the messages: 8 channels, 5 kHz, multiband 3, TR 1 s, 20 ppm, markers on whole
    samples; ``folds``: point sampling without an anti-alias filter (else the filtered
    default)."""
    sf = 5000.0
    kw = dict(tr=1.0, slices=48, multiband=3, dead_time_s=0.12)
    if folds:
        kw.update(gradient_sampling="point", gradient_antialias=False)
    art, eeg, sched, _ = driftsynth.make(n_ch=8, duration=dur, sfreq=sf, seed=2, drift_ppm=20.0, **kw)
    raw = mne.io.RawArray(art + eeg, mne.create_info([f"E{i}" for i in range(8)], sf, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations(np.round(sched.onsets) / sf, 0.0, "Response/R128"))
    res = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False, alias_orders=orders), chunk=50)
    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    a, b = int(sched.onsets[min(45, len(sched.onsets) - 2)]), int(sched.onsets[-1])
    e = sosfiltfilt(sos, res.data[:8].astype(float) - eeg, axis=1)[:, a:b]
    return float(np.sqrt(np.mean(e**2)) * 1e6), res.state["alias_orders"], res.messages


def test_more_orders_online_where_the_artifact_folds_from_far_up() -> None:
    """Measured: six orders chosen at volume 31 (error ratios 4 / 6 / 8 orders: 0.998 /
    0.074 / 0.093); 1-40 Hz after volume 45 8.3 uV, 49.6 with the two orders given."""
    auto, st, msgs = _run(True, None)
    two, st2, _ = _run(True, 2)
    print(f"multiband online: auto {auto:.2f} uV ({st}), two orders given {two:.2f} uV")
    assert st["orders"] > 2 and st["kept"]
    assert st2 == {"orders": 2}  # given: not tried
    assert any("alias orders raised" in m for m in msgs)
    assert auto < 0.35 * two
    # the templates change at the switch: no volume taken for the scanner stopping after it
    after = msgs[[i for i, m in enumerate(msgs) if "alias orders raised" in m][0]:]
    assert not any("artifact stopped" in m for m in after), after


def test_two_orders_kept_online_where_more_do_not_predict() -> None:
    """The same scan sampled through an anti-alias filter: little folds, the check runs and
    keeps two orders."""
    _, st, msgs = _run(False, None, dur=50.0)
    print(f"filtered online: {st}")
    assert st["orders"] == 2 and st["kept"] is False and st["volumes_scored"] >= 8
    assert not any("alias orders raised" in m for m in msgs)


def test_the_check_takes_the_fewest_orders_that_predict() -> None:
    """Synthetic epochs whose alias part has orders 1 and 3 only, phases stepping 0.13
    sample a volume: two orders miss the third; four and six predict it alike, four are
    taken."""
    rng = np.random.default_rng(0)
    C, kb, n0 = 3, 12, 30
    coef = {1: rng.standard_normal((C, kb)) + 1j * rng.standard_normal((C, kb)),
            3: rng.standard_normal((C, kb)) + 1j * rng.standard_normal((C, kb))}

    def epoch(ph: float) -> np.ndarray:
        e = 0.01 * (rng.standard_normal((C, kb)) + 1j * rng.standard_normal((C, kb)))
        for m, c in coef.items():
            e += c * np.exp(-2j * np.pi * m * ph) + np.conj(c) * np.exp(2j * np.pi * m * ph)
        return e

    ph = (0.37 + 0.13 * np.arange(n0 + 40)) % 1.0
    E = np.stack([epoch(p) for p in ph])
    chk = OrdersCheck(2, (4, 6), k_lf=kb, kb=kb, volumes=8)
    chk.start(E[:n0], ph[:n0], E[:n0], ph[:n0])
    chosen = None
    for v in range(n0, n0 + 40):  # each new epoch against the mean of the last n0
        win = ph[v - n0 : v]
        chosen = chk.add(E[v] - E[v - n0 : v].mean(axis=0), ph[v], win, win)
        if chosen is not None:
            break
    print(chk.info)
    assert chosen == 4 and chk.info["kept"]
    assert chk.info["candidates"]["4"] < 0.01 and chk.info["candidates"]["6"] < 0.01
    assert alias_basis(2, [0.25]).shape == (1, 4)


def test_no_false_stop_when_the_orders_change() -> None:
    """The phantom's multiband artifact without an anti-alias filter (45 s, 16 channels):
    six volumes after the switch the stop check (``gate_stop``) took the scanner for
    stopped at the quiet gap 44 ms into a volume, where the new templates had not
    settled, and left that volume uncorrected; it now waits a window of volumes."""
    from scipy.signal import butter, sosfilt

    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.gradient import artifact_run

    cfg = PhantomConfig(duration_s=45.0, seed=3, lead_in_s=3.0, lead_out_s=3.0, sfreq=5000.0, tr=1.0,
                        slices=48, multiband=3, dead_time_s=0.12, gradient_sampling="point",
                        gradient_antialias=False)
    art, trig, _, _ = artifact_run(cfg, 16, 3)
    rng = np.random.default_rng(8)
    eeg = sosfilt(butter(4, [1, 40], "bandpass", fs=cfg.sfreq, output="sos"), rng.standard_normal(art.shape), axis=1)
    eeg *= 15e-6 / eeg.std()
    raw = mne.io.RawArray(art + eeg, mne.create_info([f"E{i:02d}" for i in range(16)], cfg.sfreq, "eeg"),
                          verbose=False)
    raw.set_annotations(mne.Annotations(trig.recorded_sample / cfg.sfreq, 0.0, "Response/R128"))
    msgs = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False), chunk=50).messages
    raised = [i for i, m in enumerate(msgs) if "alias orders raised" in m]
    assert raised, msgs
    assert not any("artifact stopped" in m for m in msgs[raised[0]:]), msgs[raised[0]:]
