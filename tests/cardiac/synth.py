"""A small synthetic recording for the editor and ICA tests (fast: no gradient, 250-500 Hz).

EEG on standard 10-20 positions = independent background sources mixed into the channels
+ a pulse artifact (BCG) 0.2 s after each R-peak with a smooth map + blinks on frontal
channels; an ECG channel with sharp QRS complexes; an EOG channel. Every planted source
and its map are returned as truth.
"""

from __future__ import annotations

import numpy as np

NAMES = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4",
         "P8", "O1", "Oz", "O2"]


def make_recording(duration: float = 60.0, sfreq: float = 500.0, seed: int = 0, hr_bpm: float = 66.0,
                   n_background: int = 8) -> tuple[object, dict]:
    """(mne Raw, truth) with truth keys ``rpeaks``, ``blink``, ``bcg``, ``sources``, ``maps``."""
    import mne

    rng = np.random.default_rng(seed)
    n = int(duration * sfreq)
    t = np.arange(n) / sfreq
    rr = 60.0 / hr_bpm
    beats = []
    b = 0.4
    while b < duration - 0.1:
        beats.append(b)
        b += rr * (1 + 0.05 * rng.standard_normal())
    rpeaks = np.round(np.array(beats) * sfreq) / sfreq
    ecg = 2e-5 * rng.standard_normal(n)
    bcg = np.zeros(n)
    for r in rpeaks:
        ecg += 1e-3 * np.exp(-0.5 * ((t - r) / 0.008) ** 2) - 2e-4 * np.exp(-0.5 * ((t - r - 0.03) / 0.01) ** 2)
        tau = t - r - 0.2
        bcg += np.exp(-0.5 * (tau / 0.06) ** 2) - 0.6 * np.exp(-0.5 * ((tau - 0.15) / 0.05) ** 2)
    blink = np.zeros(n)
    for c in rng.uniform(1, duration - 1, int(duration / 4)):
        blink += np.exp(-0.5 * ((t - c) / 0.08) ** 2)
    info = mne.create_info(NAMES + ["ECG", "EOG"], sfreq, ["eeg"] * len(NAMES) + ["ecg", "eog"])
    mont = mne.channels.make_standard_montage("colin27_1020")
    info.set_montage(mont, on_missing="ignore")
    pos = np.array([info["chs"][i]["loc"][:3] for i in range(len(NAMES))])
    # background: super-Gaussian (Laplace) and sub-Gaussian (AM sinusoid) sources with random maps
    src = []
    for k in range(n_background):
        if k % 2:
            f = 6 + 3 * k
            # each with its own envelope (a shared one would make them dependent)
            env = 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6))
            src.append(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) * env)
        else:
            src.append(rng.laplace(size=n))
    src = np.array(src)
    maps = rng.standard_normal((len(NAMES), n_background))
    # the BCG map: smooth, largest at the back and sides; the blink map: frontal
    bcg_map = 0.5 + np.abs(pos[:, 0]) / np.abs(pos[:, 0]).max() - pos[:, 1] / np.abs(pos[:, 1]).max()
    blink_map = np.clip(pos[:, 1] / np.abs(pos[:, 1]).max(), 0, None) ** 2 + 0.02
    eeg = 5e-6 * maps @ src + 2e-5 * np.outer(bcg_map, bcg) + 1e-4 * np.outer(blink_map, blink)
    eeg += 2e-7 * rng.standard_normal(eeg.shape)
    eog = 2e-4 * blink + 2e-6 * rng.standard_normal(n)
    raw = mne.io.RawArray(np.vstack([eeg, ecg, eog]), info, verbose="error")
    truth = {"rpeaks": rpeaks, "blink": blink, "bcg": bcg, "sources": src, "maps": maps,
             "bcg_map": bcg_map, "blink_map": blink_map}
    return raw, truth
