"""A small synthetic slice-artifact recording for unit tests (not a phantom).

The artifact is a sum of sinusoids at harmonics of the volume rate evaluated at the
exact (drifting, asynchronous) scanner time of every EEG sample, so it is exactly
band-limited and every slot lands at its own sub-sample phase. Slots can differ
(``slot_variation``), there can be dead time, and the EEG is band-limited noise.
"""

from __future__ import annotations

import mne
import numpy as np
from scipy.signal import butter, sosfiltfilt


def make_recording(
    *,
    n_eeg: int = 6,
    sfreq: float = 2000.0,
    duration: float = 40.0,
    tr: float = 1.0,
    n_slots: int = 14,
    dead_time: float = 0.0,
    drift_ppm: float = 30.0,
    lead_in: float = 1.3,
    lead_out: float = 1.0,
    amp: float = 2e-3,
    slot_variation: float = 0.0,
    seed: int = 0,
    trigger: str = "Response/R128",
    fmax: float = 400.0,
):
    """Return ``(raw, truth_eeg, info)`` with the true volume onsets (s) in ``info``."""
    rng = np.random.default_rng(seed)
    n = int(round(duration * sfreq))
    alpha = 1 + drift_ppm * 1e-6
    beta = lead_in + 0.37 / sfreq
    t = np.arange(n) / sfreq
    tm = (t - beta) / alpha
    n_vol = int(np.floor((duration - lead_in - lead_out) / tr))
    scanning = (tm >= 0) & (tm < n_vol * tr)
    slot_len = (tr - dead_time) / n_slots
    tau = np.mod(tm[scanning], tr)
    slot = np.minimum((tau // slot_len).astype(int), n_slots - 1)
    in_slot = tau - slot * slot_len
    active = tau < n_slots * slot_len
    # one slot waveform: harmonics of the slot rate, smooth window so it is band-limited
    k = np.arange(1, int(fmax * slot_len))
    a_k = rng.standard_normal(k.size) / k**0.7
    b_k = rng.standard_normal(k.size) / k**0.7
    base = np.zeros(tau.size)
    ph = 2 * np.pi * in_slot / slot_len
    for kk, a, b in zip(k, a_k, b_k):
        base += a * np.sin(kk * ph) + b * np.cos(kk * ph)
    # slot-dependent gain and a small slot-dependent extra harmonic (multiband groups differ)
    sg = 1 + slot_variation * rng.standard_normal(n_slots)
    base = base * sg[slot] + slot_variation * np.sin(3 * ph + slot)
    base *= np.sin(np.pi * in_slot / slot_len) ** 2  # smooth at slot edges
    base[~active] = 0.0
    # dG/dt integrates to zero over a TR (the gradients return to zero): no DC part
    base -= base.mean()
    art = np.zeros(n)
    art[scanning] = base
    art *= amp / np.abs(art).max()
    gains = rng.uniform(0.4, 1.2, n_eeg + 2)
    sos = butter(2, [1, 40], "bandpass", fs=sfreq, output="sos")
    eeg = sosfiltfilt(sos, rng.standard_normal((n_eeg + 2, n)), axis=1)
    eeg *= 15e-6 / eeg.std(axis=1, keepdims=True)
    data = eeg + gains[:, None] * art[None, :]
    names = [f"EEG{i:02d}" for i in range(n_eeg)] + ["ECG", "EOG"]
    types = ["eeg"] * n_eeg + ["ecg", "eog"]
    info = mne.create_info(names, sfreq, types)
    raw = mne.io.RawArray(data, info, verbose=False)
    vol_on = alpha * np.arange(n_vol) * tr + beta
    trig = np.round(vol_on * sfreq) / sfreq  # markers sit on samples
    raw.set_annotations(mne.Annotations(trig, np.zeros(n_vol), [trigger] * n_vol))
    meta = {
        "volume_onsets": vol_on,
        "alpha": alpha,
        "beta": beta,
        "n_volumes": n_vol,
        "slot_len": slot_len,
        "artifact": art,
        "gains": gains,
        "sidecar": {
            "RepetitionTime": tr,
            "SliceTiming": list(np.arange(n_slots) * slot_len),
        },
    }
    return raw, eeg[:n_eeg], meta
