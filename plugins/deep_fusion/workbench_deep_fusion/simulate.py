"""A trial-level, multi-subject EEG-fMRI dataset with truth, from the phantom's pieces.

Built from the same pieces as the full phantom (:mod:`workbench.engine.phantom`): the
fsaverage head in a random pose and MNE's four-shell sphere forward
(:func:`~workbench.engine.phantom.head.make_head`, :func:`~workbench.engine.phantom.sources.make_forward`),
the role sources with their evoked waveforms (:data:`~workbench.engine.phantom.sources.SOURCES`,
:func:`~workbench.engine.phantom.sources.erp_waveform`), 1/f background dipoles and an alpha
rhythm, log-normal trial amplitudes, and SPM's canonical HRF
(:func:`workbench.engine.hemo.hrf.spm_hrf`) for the BOLD. It is generated at the trial
level (no gradient/BCG artefacts, no full 5 kHz recording), so a cohort of 8-20 subjects
takes seconds and a benchmark can vary one thing at a time.

Per subject:

* a rapid event-related design (ISI 2-4 s) of two conditions, ``visual`` and ``motor``,
  each trial with a log-normal amplitude (mean 1) scaling both its evoked response and
  its BOLD (the modulated sources);
* continuous EEG at ``sfreq`` (scalp channels, V): the condition's sources (visual
  cortex, lateral occipital, fMRI-invisible temporal source; motor cortex and the
  closed-field frontal source) with a subject-specific latency (x0.9-1.1) and gain
  (log-normal, sd 0.2), 40 pink-noise background dipoles, an alpha rhythm and 1 uV white
  sensor noise; epochs ``0 .. epoch_s`` after each onset;
* BOLD of six ROIs (the four coupled sources + two task-free regions), each
  ``voxels_per_roi`` voxels with subject-specific voxel weights, AR(1) physiological
  noise and white noise; the trial feature of a voxel is its mean BOLD change 4-7 s after
  the onset minus the second before (rapid-design overlap included, as in real data);
* the **ROI BOLD target** of the ``roi-bold`` task: the mean over the voxels of
  ``target_roi`` (default ``visual_cortex``) of the same per-trial BOLD change, with its
  noise-free value and the part caused by the trial's own neural input (``truth``): the
  trial's amplitude reaches the BOLD through the HRF, so the EEG of the trial (whose
  evoked response scales with the same amplitude) predicts part of it; the rest is
  overlap from neighbouring trials (rapid design) and BOLD noise, which no EEG epoch can
  predict. ``truth["roi_bold_r2_own"]`` is the R² of a linear fit of the target on that
  own-trial part: what a predictor knowing the trial's true amplitude and condition
  would explain;
* a **timing mismatch**: the subject's EEG clock is off by ``+-mismatch_s`` (random sign)
  relative to the scanner clock on which the events are given, so the EEG epochs are
  cut that far from the true onsets while the fMRI features stay right.

The result has ``eeg`` (trials x channels x times, V), ``fmri`` (trials x features,
fractional BOLD change), ``labels``, ``amplitudes`` (the amplitude task's truth),
``roi_bold`` (the roi-bold task's target), ``groups`` and ``truth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import signal

from workbench.engine.hemo.hrf import spm_hrf
from workbench.engine.phantom import sources as src
from workbench.engine.phantom.config import PhantomConfig
from workbench.engine.phantom.head import make_head

__all__ = ["SimConfig", "SimDataset", "simulate", "ROI_NAMES"]

#: ROIs of the fMRI features: the four sources with neurovascular coupling + two task-free
ROI_NAMES = ("visual_cortex", "motor_cortex", "lateral_occipital_task_only", "frontal_eeg_invisible",
             "rest_parietal", "rest_temporal")
_BOLD_GAIN = 0.01  #: fractional BOLD peak of a unit-amplitude, unit-coupling trial (~1 %)


@dataclass(frozen=True)
class SimConfig:
    """What the simulated cohort looks like.

    Attributes
    ----------
    n_subjects, n_trials : int
        Subjects and trials per subject.
    sfreq : float
        EEG sampling rate of the epochs (Hz).
    epoch_s : float
        Epoch length after the (assumed) onset (s).
    mismatch_s : float
        EEG-fMRI clock offset of every subject (s, random sign per subject).
    eeg_noise, fmri_noise : float
        Scale of the EEG background (dipoles, alpha, sensor noise) and of the BOLD noise
        (1 = default; larger = harder).
    voxels_per_roi : int
    n_heads : int
        Distinct head poses/forward models (subject ``s`` uses head ``s % n_heads``; each
        forward takes a few seconds, subjects sharing one still differ in gains, latencies
        and voxel weights).
    isi_s : (float, float)
    amplitude_sd : float
        Log-sd of the trial amplitudes.
    target_roi : str
        ROI (one of :data:`ROI_NAMES`) whose BOLD is the ``roi-bold`` target.
    seed : int
    """

    n_subjects: int = 8
    n_trials: int = 80
    sfreq: float = 100.0
    epoch_s: float = 0.8
    mismatch_s: float = 0.0
    eeg_noise: float = 1.0
    fmri_noise: float = 1.0
    voxels_per_roi: int = 4
    n_heads: int = 2
    isi_s: tuple[float, float] = (2.0, 4.0)
    amplitude_sd: float = 0.5
    target_roi: str = "visual_cortex"
    seed: int = 0


@dataclass
class SimDataset:
    """A simulated cohort (see the module docstring)."""

    eeg: np.ndarray  #: trials x channels x times (V)
    fmri: np.ndarray  #: trials x features (fractional BOLD change)
    labels: np.ndarray  #: trial condition (str)
    amplitudes: np.ndarray  #: true trial amplitude
    groups: np.ndarray  #: subject label per trial (str)
    channels: list[str]
    features: list[str]
    sfreq: float
    truth: dict[str, Any] = field(default_factory=dict)
    roi_bold: np.ndarray | None = None  #: per-trial BOLD change of ``target_roi`` (fractional)


@lru_cache(maxsize=8)
def _forward(head_seed: int) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """Scalp channels, gain (V per A m, FCz-referenced) and source names of one head pose."""
    cfg = PhantomConfig(seed=head_seed)
    rng = np.random.default_rng([head_seed, 7])
    head = make_head(cfg, rng)
    fwd = src.make_forward(head, rng)
    scalp = [i for i, c in enumerate(fwd.channels) if "EOG" not in c.upper() and "ECG" not in c.upper()]
    gain = np.asarray(fwd.gain)[scalp]
    gain.setflags(write=False)
    return [fwd.channels[i] for i in scalp], gain, tuple(fwd.names)


def _events(cfg: SimConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = cfg.isi_s
    onsets = 8.0 + np.concatenate([[0.0], np.cumsum(rng.uniform(lo, hi, cfg.n_trials - 1))])
    cond = np.array(["visual", "motor"])[rng.permutation(np.arange(cfg.n_trials) % 2)]
    sd = cfg.amplitude_sd
    amp = np.exp(rng.normal(0.0, sd, cfg.n_trials) - 0.5 * sd**2)
    return onsets, cond, amp


def _eeg(cfg: SimConfig, gain: np.ndarray, names: tuple[str, ...], onsets: np.ndarray, cond: np.ndarray,
         amp: np.ndarray, duration: float, rng: np.random.Generator) -> np.ndarray:
    """Continuous scalp EEG (channels x samples, V) of one subject."""
    fs = cfg.sfreq
    n = int(np.ceil(duration * fs))
    t = np.arange(n) / fs
    moments = np.zeros((len(names), n))
    lat_scale = rng.uniform(0.9, 1.1)
    loading = float(np.exp(rng.normal(0.0, 0.2)))
    for k, spec in enumerate(src.SOURCES):
        if spec.condition is None:  # the alpha rhythm (narrow-band, waxing and waning)
            sos = signal.butter(2, [8.5, 11.5], "bandpass", fs=fs, output="sos")
            a = signal.sosfilt(sos, rng.standard_normal(n))
            env = signal.sosfilt(signal.butter(2, 0.5, "lowpass", fs=fs, output="sos"), rng.standard_normal(n))
            env = np.clip(1.0 + 0.6 * env / max(env.std(), 1e-12), 0.1, None)
            moments[k] = cfg.eeg_noise * spec.moment_nam * 1e-9 * a / max(a.std(), 1e-12) * env / np.sqrt(2.0)
            continue
        for i in np.flatnonzero(cond == spec.condition):
            tt = (t - onsets[i]) / lat_scale
            sel = (tt >= 0) & (tt <= src.EVENT_LENGTH_S)
            a = amp[i] if spec.modulated else 1.0
            moments[k, sel] += loading * spec.moment_nam * 1e-9 * a * src.erp_waveform(spec, tt[sel])
    n_bg = len(names) - len(src.SOURCES)
    pb, pa = src._pink_filter()
    pink = signal.lfilter(pb, pa, rng.standard_normal((n_bg, n + 200)), axis=1)[:, 200:]
    moments[len(src.SOURCES):] = cfg.eeg_noise * src.BACKGROUND_NAM * 1e-9 * pink / pink.std()
    eeg = gain @ moments
    eeg += cfg.eeg_noise * 1e-6 * rng.standard_normal(eeg.shape)
    return eeg


def _fmri(cfg: SimConfig, onsets: np.ndarray, cond: np.ndarray, amp: np.ndarray, duration: float,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Trial features (trials x ROIs*voxels) of one subject, and the target ROI's
    per-trial BOLD change: measured, noise-free, and caused by the trial itself."""
    dt = 0.1
    n = int(np.ceil(duration / dt))
    t = np.arange(n) * dt
    hrf = spm_hrf(dt)
    hrf = hrf / hrf.max()
    by_name = {s.name: s for s in src.SOURCES}
    roi = np.zeros((len(ROI_NAMES), n))
    for r, name in enumerate(ROI_NAMES):
        spec = by_name.get(name)
        if spec is None or spec.bold == 0:
            continue
        u = np.zeros(n)
        for i in np.flatnonzero(cond == spec.condition):
            a = amp[i] if spec.modulated else 1.0
            u[(t >= onsets[i]) & (t < onsets[i] + src.NEURAL_DURATION_S)] += spec.bold * a
        roi[r] = _BOLD_GAIN * np.convolve(u, hrf)[:n] * dt / src.NEURAL_DURATION_S
    nv = cfg.voxels_per_roi
    weights = rng.uniform(0.4, 1.6, (len(ROI_NAMES), nv))
    vox = (roi[:, None, :] * weights[:, :, None]).reshape(-1, n)
    # physiological noise: AR(1) with a 3 s time constant, 0.5 % SD; thermal: white 0.3 % SD
    phi = np.exp(-dt / 3.0)
    e = signal.lfilter([np.sqrt(1 - phi**2)], [1.0, -phi], rng.standard_normal(vox.shape), axis=1)
    vox = vox + cfg.fmri_noise * (0.005 * e + 0.003 * rng.standard_normal(vox.shape))
    feats = np.empty((len(onsets), vox.shape[0]))
    r_t = ROI_NAMES.index(cfg.target_roi)
    w_t = float(weights[r_t].mean())
    clean = np.empty(len(onsets))
    own = np.zeros(len(onsets))
    spec_t = by_name.get(cfg.target_roi)
    for i, on in enumerate(onsets):
        peak = (t >= on + 4.0) & (t < on + 7.0)
        base = (t >= on - 1.0) & (t < on)
        feats[i] = vox[:, peak].mean(axis=1) - vox[:, base].mean(axis=1)
        clean[i] = w_t * (roi[r_t, peak].mean() - roi[r_t, base].mean())
        if spec_t is not None and spec_t.bold != 0 and cond[i] == spec_t.condition:
            # the response to this trial alone (its own neural input through the HRF)
            u = np.zeros(n)
            u[(t >= on) & (t < on + src.NEURAL_DURATION_S)] = spec_t.bold * (amp[i] if spec_t.modulated else 1.0)
            resp = _BOLD_GAIN * np.convolve(u, hrf)[:n] * dt / src.NEURAL_DURATION_S
            own[i] = w_t * (resp[peak].mean() - resp[base].mean())
    nv = cfg.voxels_per_roi
    target = feats[:, r_t * nv:(r_t + 1) * nv].mean(axis=1)
    return feats, target, clean, own


def simulate(cfg: SimConfig | None = None, **overrides: Any) -> SimDataset:
    """Simulate a cohort.

    Parameters
    ----------
    cfg : SimConfig | None
        The configuration (default :class:`SimConfig`).
    **overrides
        Fields of :class:`SimConfig` to change (``simulate(n_subjects=4, mismatch_s=0.5)``).

    Returns
    -------
    SimDataset
        The same configuration always gives the same arrays.
    """
    cfg = SimConfig(**{**(cfg.__dict__ if cfg is not None else {}), **overrides})
    n_t = int(round(cfg.epoch_s * cfg.sfreq))
    if cfg.target_roi not in ROI_NAMES:
        raise ValueError(f"target_roi {cfg.target_roi!r} is not one of {ROI_NAMES}")
    eeg_all, fmri_all, lab, amps, grp, offsets = [], [], [], [], [], []
    roi_t, roi_clean, roi_own = [], [], []
    channels: list[str] = []
    for s in range(cfg.n_subjects):
        rng = np.random.default_rng([cfg.seed, 1000 + s])
        channels, gain, names = _forward(1000 * cfg.seed + s % cfg.n_heads)
        onsets, cond, amp = _events(cfg, rng)
        duration = onsets[-1] + 16.0
        offset = cfg.mismatch_s * (1.0 if rng.random() < 0.5 else -1.0)
        eeg = _eeg(cfg, gain, names, onsets, cond, amp, duration + abs(offset) + 2.0, rng)
        start = np.round((onsets + offset) * cfg.sfreq).astype(int)
        idx = start[:, None] + np.arange(n_t)[None, :]
        eeg_all.append(np.transpose(eeg[:, idx], (1, 0, 2)))
        feats, target, clean, own = _fmri(cfg, onsets, cond, amp, duration, rng)
        fmri_all.append(feats)
        roi_t.append(target)
        roi_clean.append(clean)
        roi_own.append(own)
        lab.append(cond)
        amps.append(amp)
        grp.append(np.full(cfg.n_trials, f"sub-{s + 1:02d}"))
        offsets.append(offset)
    features = [f"{r}_v{v + 1}" for r in ROI_NAMES for v in range(cfg.voxels_per_roi)]
    target, own = np.concatenate(roi_t), np.concatenate(roi_own)
    A = np.column_stack([own, np.ones_like(own)])
    resid = target - A @ np.linalg.lstsq(A, target, rcond=None)[0]
    r2_own = 1.0 - float(np.sum(resid**2)) / float(np.sum((target - target.mean()) ** 2))
    return SimDataset(
        eeg=np.concatenate(eeg_all).astype(np.float32),
        fmri=np.concatenate(fmri_all).astype(np.float32),
        labels=np.concatenate(lab),
        amplitudes=np.concatenate(amps),
        groups=np.concatenate(grp),
        channels=channels,
        features=features,
        sfreq=cfg.sfreq,
        truth={"config": dict(cfg.__dict__), "eeg_offset_s": offsets, "roi_names": list(ROI_NAMES),
               "eeg_unit": "V", "fmri_unit": "fractional BOLD change", "target_roi": cfg.target_roi,
               "roi_bold_clean": np.concatenate(roi_clean), "roi_bold_own": own, "roi_bold_r2_own": r2_own},
        roi_bold=target,
    )
