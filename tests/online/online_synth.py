"""Synthetic streams for the online tests: an exactly periodic, band-limited gradient
artifact at a non-integer period (so sub-sample alignment matters), EEG-like noise, an
ECG with known R-peaks and a BCG locked to them."""

from __future__ import annotations

import numpy as np
from scipy import signal


def gradient_artifact(n_ch: int, n: int, period: float, onset0: float, seed: int = 0,
                      harmonics: int = 120, amp: float = 2e-3) -> np.ndarray:
    """Fourier series in 1/period up to ``harmonics``: exact at any fractional time."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) - onset0
    h = np.arange(1, harmonics + 1)
    c = rng.normal(size=(n_ch, h.size)) / np.sqrt(h)
    ph = rng.uniform(0, 2 * np.pi, (n_ch, h.size))
    out = np.zeros((n_ch, n))
    for k in range(h.size):
        out += c[:, k : k + 1] * np.cos(2 * np.pi * h[k] * t[None] / period + ph[:, k : k + 1])
    out *= amp / np.std(out)
    out[:, : int(np.ceil(onset0))] = 0.0  # the scan starts at onset0
    return out


def eeg_noise(n_ch: int, n: int, sfreq: float, seed: int = 1, rms: float = 20e-6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_ch, n))
    sos = signal.butter(2, [1, 40], btype="band", fs=sfreq, output="sos")
    x = signal.sosfilt(sos, x, axis=1)
    return x * rms / x.std()


def markers(period: float, onset0: float, n: int) -> np.ndarray:
    """Volume-marker samples: the first sample at or after each true onset."""
    k = np.arange(int((n - onset0) / period))
    return np.ceil(onset0 + k * period).astype(int)


def ecg_and_bcg(n_eeg: int, n: int, sfreq: float, hr: float = 70.0, seed: int = 2,
                bcg_uv: float = 60.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ecg (n,), bcg (n_eeg, n), R-peak samples)."""
    rng = np.random.default_rng(seed)
    rr = sfreq * 60 / hr
    peaks = []
    t = 0.5 * sfreq
    while t < n - sfreq:
        peaks.append(int(t))
        t += rr * (1 + 0.04 * rng.normal())
    peaks = np.array(peaks)
    ecg = np.zeros(n)
    qrs = signal.windows.gaussian(int(0.04 * sfreq), int(0.006 * sfreq)) * 1e-3
    twave = signal.windows.gaussian(int(0.3 * sfreq), int(0.05 * sfreq)) * 0.3e-3
    shape = rng.normal(size=n_eeg)
    bcg_w = (signal.windows.gaussian(int(0.5 * sfreq), int(0.06 * sfreq))
             - 0.6 * np.roll(signal.windows.gaussian(int(0.5 * sfreq), int(0.08 * sfreq)), int(0.12 * sfreq)))
    bcg = np.zeros((n_eeg, n))
    d = int(0.15 * sfreq)
    for p in peaks:
        a = p - qrs.size // 2
        ecg[a : a + qrs.size] += qrs
        b = p + int(0.2 * sfreq)
        ecg[b : b + twave.size] += twave[: max(0, min(twave.size, n - b))]
        s = p + d
        m = min(bcg_w.size, n - s)
        bcg[:, s : s + m] += shape[:, None] * bcg_w[None, :m] * bcg_uv * 1e-6
    return ecg, bcg, peaks


def band(x: np.ndarray, sfreq: float) -> np.ndarray:
    """What online output and truth are compared in: the online causal 70 Hz low-pass,
    then a causal 1-40 Hz band-pass (4th-order Butterworth each)."""
    lp = signal.butter(4, 70, fs=sfreq, output="sos")
    bp = signal.butter(4, [1, 40], btype="band", fs=sfreq, output="sos")
    return signal.sosfilt(bp, signal.sosfilt(lp, x, axis=1), axis=1)


def vhdr(study):
    """The phantom study's BrainVision header (``online_phantom``)."""
    return study / "sub-01" / "eeg" / "sub-01_task-phantom_eeg.vhdr"


def replay_mixed(raw, seed: int, params=None) -> tuple[np.ndarray, list[str], dict]:
    """Replay ``raw`` in chunks of 1-200 samples, markers handed over one sample ahead of
    their own (the least a live stream may give): (output, messages, state)."""
    from workbench.engine.online.pipeline import OnlinePipeline

    data = raw.get_data()
    n, sf = data.shape[1], float(raw.info["sfreq"])
    ts = np.arange(n) / sf
    on = np.asarray(raw.annotations.onset, float)
    names = list(raw.annotations.description)
    order = np.argsort(on)
    on, names = on[order], [names[i] for i in order]
    rng = np.random.default_rng(seed)
    pipe = OnlinePipeline(list(raw.ch_names), raw.get_channel_types(), sf, params)
    out = np.empty((data.shape[0] + 1, n), np.float32)
    s = mi = 0
    try:
        while s < n:
            e = min(s + int(rng.choice([1, 1, 2, 3, 20, 37, 80, 200])), n)
            j = int(np.searchsorted(on, ts[min(e + 1, n) - 1], side="right"))
            if j > mi:
                pipe.add_markers(on[mi:j], names[mi:j])
                mi = j
            out[:, s:e] = pipe.process(data[:, s:e], ts[s:e]).data
            s = e
    finally:
        pipe.close()
    return out, list(pipe.messages), pipe.state()


def run_synthetic(x: np.ndarray, marks: np.ndarray, sfreq: float, params=None,
                  chunk: int = 100) -> tuple[np.ndarray, list[str], dict]:
    """Clean ``x`` (EEG rows, then one ECG row) in ``chunk``-sample chunks, each volume
    marker handed over with the chunk before its own at the latest: (every input row
    cleaned, messages, state)."""
    from workbench.engine.online.pipeline import OnlinePipeline

    n_eeg, n = x.shape[0] - 1, x.shape[1]
    pipe = OnlinePipeline([f"E{i}" for i in range(n_eeg)] + ["ECG"], ["eeg"] * n_eeg + ["ecg"], sfreq, params)
    out = np.empty_like(x)
    mi = 0
    try:
        for s in range(0, n, chunk):
            j = int(np.searchsorted(marks, s + chunk + 1))
            if j > mi:
                pipe.add_marker_samples(list(marks[mi:j]))
                mi = j
            out[:, s : s + chunk] = pipe.process(x[:, s : s + chunk]).data[: n_eeg + 1]  # (then the flags)
    finally:
        pipe.close()
    return out, list(pipe.messages), pipe.state()


def phantom_gradient(n_ch: int, seed: int = 3, eeg_rms: float = 0.0, **config):
    """The phantom's gradient artifact (``phantom.gradient.artifact_run``, as the variant
    benchmark makes it) on ``n_ch`` EEG rows, plus ``eeg_rms`` of 1-40 Hz noise
    (0: none), as an MNE Raw with its volume markers (``Response/R128``).

    ``config``: :class:`PhantomConfig` fields (``duration_s``, ``sfreq``, ...).
    Returns ``(raw, eeg, triggers, cfg)``.
    """
    import mne

    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.gradient import artifact_run

    cfg = PhantomConfig(seed=seed, lead_in_s=3.0, lead_out_s=3.0, **config)
    art, trig, _tl, _gen = artifact_run(cfg, n_ch, seed)
    eeg = np.zeros_like(art)
    if eeg_rms > 0:
        sos = signal.butter(2, [1, 40], "bandpass", fs=cfg.sfreq, output="sos")
        eeg = signal.sosfiltfilt(sos, np.random.default_rng(seed + 5).standard_normal(art.shape), axis=1)
        eeg *= eeg_rms / eeg.std(axis=1, keepdims=True)
    raw = mne.io.RawArray(art + eeg, mne.create_info([f"E{i:02d}" for i in range(n_ch)], cfg.sfreq, "eeg"),
                          verbose=False)
    raw.set_annotations(mne.Annotations(trig.recorded_sample / cfg.sfreq, 0.0, "Response/R128"))
    return raw, eeg, trig, cfg
