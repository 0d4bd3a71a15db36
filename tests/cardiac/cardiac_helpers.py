"""Helpers of the cardiac tests: real ECG readers, beat matching, a reference detector."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy import signal

from workbench.engine.cardiac.qc import match_beats

__all__ = ["read_ecg", "REAL_ECGS", "reference_beats", "match_beats", "read_vmrk_pulses", "read_set_qrs"]

#: file -> (reader kind, sampling rate)
REAL_ECGS = {
    "scipy111_misc_ecg.dat": 360.0,  # MIT-BIH record 208 excerpt (PVCs)
    "pyhrv_SampleECG.txt": 1000.0,  # BITalino
    "peakdet_ECG.csv": 1000.0,  # physiopy/peakdet
}


def read_ecg(folder: Path, name: str) -> tuple[np.ndarray, float]:
    """One vendored real ECG as (signal, sfreq)."""
    path = Path(folder) / name
    if name.endswith(".dat"):
        with np.load(path) as d:
            x = (d["ecg"].astype(float) - 1024) / 200.0
    elif name.endswith(".txt"):
        x = np.loadtxt(path, comments="#")[:, 5].astype(float)
    else:
        x = np.loadtxt(path).astype(float)
    return x, REAL_ECGS[name]


def reference_beats(x: np.ndarray, sfreq: float, min_corr: float = 0.7) -> np.ndarray:
    """A careful reference made by a different method from ours (matched filter).

    MNE's ``find_ecg_events`` gives first beats; their median QRS (±60 ms of the 0.5-40 Hz
    ECG) is the template of a matched filter (normalised cross-correlation); every local
    maximum of the correlation above ``min_corr`` at least 250 ms from a higher one whose
    5-30 Hz peak-to-peak amplitude (±60 ms) is at least 40 % of the median beat's is a beat,
    placed at the extreme of the QRS (the sign of the template's extreme) within ±40 ms.
    Beats shaped unlike the template (ectopic beats) are missed by design: tests score
    them separately.
    """
    import mne

    info = mne.create_info(["ECG"], sfreq, ["ecg"])
    raw = mne.io.RawArray(x[None] * 1e-3, info, verbose="error")
    ev, _, _ = mne.preprocessing.find_ecg_events(raw, ch_name="ECG", verbose="error")
    sos = signal.butter(3, [0.5, 40.0], "bandpass", fs=sfreq, output="sos")
    z = signal.sosfiltfilt(sos, x)
    w = int(round(0.06 * sfreq))
    k = ev[:, 0] - raw.first_samp
    k = k[(k > w) & (k < len(z) - w)]
    seg = np.stack([z[i - w:i + w + 1] for i in k])
    tmpl = np.median(seg, axis=0)
    tmpl = tmpl - tmpl.mean()
    pol = 1.0 if tmpl.max() >= -tmpl.min() else -1.0
    n = len(tmpl)
    num = np.correlate(z, tmpl, mode="same")
    energy = np.convolve(z ** 2, np.ones(n), mode="same") - np.convolve(z, np.ones(n), mode="same") ** 2 / n
    r = num / np.sqrt(np.maximum(energy, 1e-30) * (tmpl ** 2).sum())
    pk, _ = signal.find_peaks(r, height=min_corr, distance=int(0.25 * sfreq))
    sos2 = signal.butter(3, [5.0, 30.0], "bandpass", fs=sfreq, output="sos")
    y = signal.sosfiltfilt(sos2, x)
    pk = pk[(pk > w) & (pk < len(y) - w)]
    amp = np.array([np.ptp(y[i - w:i + w + 1]) for i in pk])
    pk = pk[amp >= 0.4 * np.median(amp)]
    v = int(round(0.04 * sfreq))
    out = []
    for i in pk:
        a, b = max(i - v, 0), min(i + v + 1, len(z))
        out.append(a + int(np.argmax(pol * z[a:b])))
    return np.unique(np.array(out)) / sfreq


def read_vmrk_pulses(path: Path, sfreq: float = 250.0) -> tuple[np.ndarray, float]:
    """``Pulse Artifact,R`` marker times (s) of a BrainVision Analyzer marker file.

    The sampling rate comes from the header beside it, else ``sfreq`` (the Analyzer
    exports of this dataset are at 250 Hz; two of them ship without their header).
    """
    path = Path(path)
    txt = path.read_text(encoding="utf-8", errors="replace")
    pos = np.array([int(m) for m in re.findall(r"Pulse Artifact,R,(\d+),", txt)], float)
    vhdr = path.with_suffix(".vhdr")
    si = 1e6 / sfreq
    if vhdr.is_file():
        si = float(re.search(r"SamplingInterval=(\d+)", vhdr.read_text(errors="replace")).group(1))
    return (pos - 1) * si * 1e-6, 1e6 / si


def read_set_qrs(path: Path) -> tuple[np.ndarray, float]:
    """FMRIB ``qrs0`` event times (s) of an EEGLAB ``.set`` header."""
    from pymatreader import read_mat

    d = read_mat(str(path))
    eeg = d.get("EEG", d)
    ev = eeg["event"]
    typ = np.asarray(ev["type"]).astype(str)
    lat = np.asarray(ev["latency"], float)
    sf = float(eeg["srate"])
    return (lat[typ == "qrs0"] - 1) / sf, sf
