"""The online path on the phantom: against the truth and against the offline correction."""

from __future__ import annotations

import numpy as np
import pytest
from online_synth import band, vhdr

from workbench.engine.online import flags as F
from workbench.engine.online import replay_raw
from workbench.engine.online.qc import residual_vs_offline


@pytest.fixture(scope="module")
def data(online_phantom):
    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.phantom import load_truth

    raw = read_eeg(vhdr(online_phantom), preload=True)
    truth = load_truth(online_phantom)
    on = replay_raw(raw, chunk=40)
    return raw, truth, on


def test_online_against_truth(data) -> None:
    raw, truth, on = data
    sf = truth.sfreq
    eeg = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    A = {k: np.asarray(v[eeg], np.float64) for k, v in truth.arrays.items()}
    target = band(A["clean"] + A["line"] + A["blink"] + A["drift"], sf)  # both artifacts gone
    marks = np.flatnonzero(np.diff(np.r_[0, on.flags & F.NO_VOLUME]) != 0)
    a, b = int(15 * sf), int(27 * sf)
    assert np.all(on.flags[a:b] == 0), F.counts(on.flags[a:b])
    err_on = np.sqrt(np.mean((band(on.data[eeg], sf) - target)[:, a:b] ** 2))
    err_raw = np.sqrt(np.mean((band(raw.get_data(picks=eeg), sf) - target)[:, a:b] ** 2))
    err_grad_only = np.sqrt(np.mean((band(raw.get_data(picks=eeg) - A["gradient"], sf) - target)[:, a:b] ** 2))
    print(f"1-40 Hz error vs truth: online {err_on * 1e6:.1f} uV, uncorrected {err_raw * 1e6:.1f} uV, "
          f"truth gradient removed but BCG left {err_grad_only * 1e6:.1f} uV")
    # measured 8.5 dB below leaving both artifacts in (most of the mV artifact lies above 40 Hz)
    assert 20 * np.log10(err_raw / err_on) > 6
    assert err_on < err_grad_only  # and the BCG subtraction helps
    assert marks.size >= 1


def test_residual_against_offline(data) -> None:
    raw, _, on = data
    q = residual_vs_offline(raw, on.data, skip_volumes=10)
    assert q["residual_volumes"] >= 15
    print({k: round(v, 2) for k, v in q.items() if isinstance(v, float)})
    # goal 3 dB; measured 4.7 dB here (11.3 vs 6.5 uV, the EEG floor 10.3 uV): at 2 kHz
    # the artifact aliases, and 30 volumes at 20 ppm drift do not show the causal alias
    # model enough sub-sample phases (offline without its alias model leaves as much
    # as online: 16.1 vs 17.4 uV in 1-40 Hz). -2.8 dB on the 150 s 5 kHz phantom.
    assert q["residual_vs_offline_db"] <= 7.0, q  # 4.9 dB until session 38, 6.55 since (see below)
    assert q["harmonic_reduction_db_online"] > 8
    # 105x until session 38 (11.98 uV), 87x since (14.51 uV): the epochs are now moved
    # onto the template the right way (test_onset_alignment.py); at 2 kHz the artifact
    # folds and the lags measured on it are pulled towards each volume's sampling phase.
    # On the 150 s 2 kHz drifting phantom (bench_online_convergence.py) 1-40 Hz after
    # volume 10 is unchanged (6.22 / 6.23 uV), at 2.5 kHz 3.01 -> 2.66 uV. Not measuring
    # the onsets once the artifact folds gave 13.09 uV here and 5.66 there, but broke the
    # volumes predicted without a marker at 2 kHz (test_missing_markers, test_late_markers)
    assert q["residual_volume_locked_uv_uncorrected"] > 80 * q["residual_volume_locked_uv_online"]


def test_messages_and_state(data) -> None:
    _, truth, on = data
    assert any("gradient correction running" in m for m in on.messages)
    assert any("BCG correction running" in m for m in on.messages)
    st = on.state
    assert st["tr_changes"] == 0 and st["samples_missing"] == 0
    # the spatial pass found the gradient axes' few dimensions among the 32 EEG channels
    assert 3 <= st["artifact_subspace_rank"] <= 8
    # about every beat after learning was found
    n_true = np.sum(truth.rpeaks > 8)
    assert abs(st["rpeaks"] - n_true) <= 3


def test_power_kept_compares_like_with_like(data) -> None:
    """With the BCG on online, the offline reference also removes the BCG; both then come
    near what removing the true artifacts keeps (a BCG-cleaned online output against a
    gradient-only offline output read 0.19 vs 1.00 on the 150 s phantom)."""
    from workbench.engine.gradient.qc import spectral_qc

    raw, truth, on = data
    q = residual_vs_offline(raw, on.data, skip_volumes=10, bcg=True)
    assert q["power_kept_offline_stages"] == "gradient+bcg"
    sf = truth.sfreq
    a, b = (int(round(t * sf)) for t in q["residual_span_s"])
    eeg = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    A = {k: np.asarray(v[eeg], np.float64)[:, a:b] for k, v in truth.arrays.items()}
    before = raw.get_data(picks=eeg)[:, a:b]
    ideal = spectral_qc(before, A["clean"] + A["line"] + A["blink"] + A["drift"], sf, q["f_slice_hz"], 1.0,
                        fmax=63)["power_kept_1_40"]
    on_k, off_k = q["power_kept_1_40_online"], q["power_kept_1_40_offline"]
    print(f"power kept 1-40 Hz: online {on_k:.3f}, offline gradient+BCG {off_k:.3f}, truth {ideal:.3f}")
    # measured: online 0.225 (its causal BCG leaves a residue), offline 0.134, truth 0.152
    assert abs(off_k / ideal - 1) < 0.25
    assert 0.8 < on_k / off_k < 2.0
    # with the BCG off online, the reference is the gradient-only correction (keeps ~all)
    q0 = residual_vs_offline(raw, on.data, skip_volumes=10, bcg=False)
    assert q0["power_kept_offline_stages"] == "gradient" and q0["power_kept_1_40_offline"] > 0.9


def test_output_with_bcg_does_not_depend_on_chunk_size(data) -> None:
    """An LSL inlet delivers other chunks than the replay: with the BCG on, the output is
    the same to < 1 nV (before, 37- vs 20-sample chunks differed by up to 66 uV here)."""
    raw, _, on = data
    other = replay_raw(raw, chunk=17)
    np.testing.assert_array_equal(other.flags, on.flags)
    assert np.any(on.flags == 0)  # gradient and BCG both corrected somewhere
    assert on.state["gradient_epochs_pulse_cleaned"] > 0  # the pulse kept out of the templates too
    assert np.max(np.abs(other.data[:-1].astype(np.float64) - on.data[:-1])) < 1e-9
