"""The phantom's gradient artifact alone (no head model, no study on disk), for fast tests.

Uses the phantom's own :class:`~workbench.engine.phantom.gradient.GradientGenerator`
(EPI waveform, Faraday's law, amplifier filter, optional bore drift) with random lead
loops, plus band-limited 1-40 Hz noise as the EEG.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

from workbench.engine.gradient.aas import Schedule
from workbench.engine.phantom.clock import make_timeline
from workbench.engine.phantom.config import PhantomConfig
from workbench.engine.phantom.gradient import GradientGenerator


def make(
    *,
    n_ch: int = 8,
    duration: float = 90.0,
    sfreq: float = 2500.0,
    tr: float = 2.0,
    slices: int = 20,
    multiband: int = 1,
    drift: float = 0.0,
    motion_events: int = 0,
    seed: int = 0,
    eeg_uv: float = 15.0,
    **physics: object,
) -> tuple[np.ndarray, np.ndarray, Schedule, PhantomConfig]:
    """Return ``(artifact, eeg, schedule, cfg)``; ``schedule`` holds the true onsets.

    ``physics``: further ``PhantomConfig`` fields (``gradient_sampling``, ``gradient_lf_uv``, ...).
    """
    cfg = PhantomConfig(duration_s=duration, sfreq=sfreq, tr=tr, slices=slices, multiband=multiband,
                        seed=seed, gradient_drift=drift, motion_events=motion_events,
                        lead_in_s=1.0, lead_out_s=1.0, **physics)
    rng = np.random.default_rng(seed)
    tl = make_timeline(cfg, rng)
    moments = rng.normal(0, 1e-3, (n_ch, 3))
    gen = GradientGenerator(cfg, tl, moments, np.random.default_rng(seed + 1),
                            motion_rng=np.random.default_rng(seed + 2))
    art = gen.chunk(0, cfg.n_times)
    sos = butter(2, [1, 40], "bandpass", fs=sfreq, output="sos")
    eeg = sosfiltfilt(sos, rng.standard_normal((n_ch, cfg.n_times)), axis=1)
    eeg *= eeg_uv * 1e-6 / eeg.std(axis=1, keepdims=True)
    onsets = tl.to_eeg(tl.volume_onsets) * sfreq
    return art, eeg, Schedule(onsets, tr * cfg.alpha * sfreq, np.zeros(1)), cfg


def make_with_motion(**kw: object) -> tuple[np.ndarray, np.ndarray, Schedule, PhantomConfig, np.ndarray, np.ndarray]:
    """As :func:`make`, plus the head's true motion per volume (``translations_mm``,
    ``rotations_rad``: the phantom's ``head_motion`` at each volume's middle) and the
    movements' onsets (s, EEG clock) appended: ``(..., motion, onsets)`` with ``motion``
    of shape (n_volumes, 6) in SPM's column order."""
    seed = int(kw.get("seed", 0))  # type: ignore[arg-type]
    art, eeg, sched, cfg = make(**kw)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    tl = make_timeline(cfg, rng)
    moments = rng.normal(0, 1e-3, (art.shape[0], 3))
    gen = GradientGenerator(cfg, tl, moments, np.random.default_rng(seed + 1),
                            motion_rng=np.random.default_rng(seed + 2))
    tra, rot = gen.head_motion(tl.to_eeg(tl.volume_onsets + 0.5 * cfg.tr))
    return art, eeg, sched, cfg, np.hstack([tra, rot]), gen.motion_onsets


def pulse(beats: np.ndarray, n: int, sfreq: float, n_ch: int, seed: int, peak_v: float) -> np.ndarray:
    """A ballistocardiogram-like signal: at each beat (s) damped 5.5 and 4 Hz waves 0.25 and
    0.4 s later, ``peak_v`` at the kernel's peak, a random pattern over the ``n_ch``
    channels (``seed``). Shape (n_ch, n)."""
    kt = np.arange(int(0.8 * sfreq)) / sfreq
    k = np.exp(-0.5 * ((kt - 0.25) / 0.07) ** 2) * np.cos(2 * np.pi * 5.5 * (kt - 0.25))
    k += 0.6 * np.exp(-0.5 * ((kt - 0.4) / 0.05) ** 2) * np.cos(2 * np.pi * 4.0 * (kt - 0.4))
    x = np.zeros(n + kt.size)
    for b in beats:
        i = int(round(b * sfreq))
        x[i : i + kt.size] += k
    w = np.random.default_rng(seed).normal(0.0, 1.0, n_ch)
    return np.outer(w, x[:n] / np.abs(k).max()) * peak_v


def kept_share(out: np.ndarray, sig: np.ndarray, onsets: np.ndarray, freq: float, sf: float) -> float:
    """The response's amplitude in the output over its true amplitude (median over
    channels), after volume 10."""
    a, b = int(onsets[10]), int(onsets[-1])
    z = np.exp(-2j * np.pi * freq * np.arange(a, b) / sf)
    return float(np.median(np.abs(out[:, a:b] @ z) / np.abs(sig[:, a:b] @ z)))


def error_uv(out: np.ndarray, truth: np.ndarray, onsets: np.ndarray, sf: float) -> float:
    """1-40 Hz RMS error (µV, zero-phase band-pass) after volume 10."""
    sos = butter(4, [1, 40], "bandpass", fs=sf, output="sos")
    a, b = int(onsets[10]), int(onsets[-1])
    return float(np.sqrt(np.mean(sosfiltfilt(sos, out - truth, axis=1)[:, a:b] ** 2)) * 1e6)
