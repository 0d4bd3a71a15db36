"""Scanner and EEG clocks: slice/volume timeline and the triggers the EEG records.

The scanner clock is the reference (``t_MRI``, s, 0 = start of the first volume). The
EEG amplifier samples on its own, unlocked crystal: ``t_EEG = alpha * t_MRI + beta``
with ``alpha = 1 + drift_ppm * 1e-6`` and ``beta`` the EEG time at which scanning
started. EEG sample ``n`` is taken at ``t_EEG = n / sfreq``, i.e. at scanner time
``(n / sfreq - beta) / alpha``; because the slice period is generally not a whole
number of EEG samples (and drifts), every slice lands at a different sub-sample phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import PhantomConfig

__all__ = ["Timeline", "make_timeline", "slice_order", "Triggers", "make_triggers"]


def slice_order(n_slices: int, multiband: int) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved ascending slice order (odd then even, Siemens' default for even counts).

    Returns
    -------
    slice_group : ndarray, shape (n_slices,)
        Excitation index within the TR of each slice (0-based, slice number = index).
    acq_order : ndarray, shape (n_slices // multiband,)
        The first (lowest) slice excited at each excitation.
    """
    n_exc = n_slices // multiband
    band = np.arange(n_exc)
    order = np.concatenate([band[0::2], band[1::2]])  # interleaved within one band
    group = np.empty(n_slices, dtype=int)
    for k, s in enumerate(order):
        group[s::n_exc] = k  # the same position in every band is excited together
    return group, order


@dataclass
class Timeline:
    """The EPI acquisition on the scanner clock.

    Attributes
    ----------
    volume_onsets : ndarray
        Start of every volume (s, scanner clock).
    excitation_onsets : ndarray
        Start of every slice excitation (s, scanner clock), volume-major.
    slice_timing : ndarray, shape (n_slices,)
        Acquisition time of each slice relative to its volume's onset (BIDS SliceTiming).
    alpha, beta : float
        ``t_EEG = alpha * t_MRI + beta``.
    """

    volume_onsets: np.ndarray
    excitation_onsets: np.ndarray
    slice_timing: np.ndarray
    alpha: float
    beta: float

    def to_eeg(self, t_mri: np.ndarray | float) -> np.ndarray:
        """Scanner time -> EEG-clock time."""
        return self.alpha * np.asarray(t_mri, dtype=float) + self.beta

    def to_mri(self, t_eeg: np.ndarray | float) -> np.ndarray:
        """EEG-clock time -> scanner time."""
        return (np.asarray(t_eeg, dtype=float) - self.beta) / self.alpha


def make_timeline(cfg: PhantomConfig, rng: np.random.Generator) -> Timeline:
    """Volume and slice onsets for ``cfg``; ``beta`` gets a random sub-sample part."""
    n_exc = cfg.excitations_per_volume
    vol = np.arange(cfg.n_volumes) * cfg.tr
    exc = (vol[:, None] + np.arange(n_exc)[None, :] * cfg.slice_period_s).ravel()
    group, _ = slice_order(cfg.slices, cfg.multiband)
    timing = group * cfg.slice_period_s
    # scanning starts at the lead-in plus a random fraction of a sample: the two clocks
    # are not locked, so there is no reason for a trigger to fall on a sample
    beta = cfg.lead_in_s + rng.uniform(0.0, 1.0) / cfg.sfreq
    return Timeline(vol, exc, timing, cfg.alpha, beta)


@dataclass
class Triggers:
    """Volume triggers as the EEG recorded them, with their truth.

    Attributes
    ----------
    true_mri, true_eeg : ndarray
        Every volume onset on the scanner clock and its exact time on the EEG clock.
    recorded_eeg : ndarray
        Times of the volume markers written to the EEG (after jitter, drops, extras),
        EEG clock, quantised to the sample at or after the event.
    recorded_sample : ndarray of int
        Their sample indices (0-based).
    recorded_volume : ndarray of int
        The volume each recorded marker belongs to (-1 for a spurious extra).
    missing_volumes : ndarray of int
        Volumes whose trigger was dropped.
    """

    true_mri: np.ndarray
    true_eeg: np.ndarray
    recorded_eeg: np.ndarray
    recorded_sample: np.ndarray
    recorded_volume: np.ndarray
    missing_volumes: np.ndarray


def make_triggers(cfg: PhantomConfig, tl: Timeline, rng: np.random.Generator) -> Triggers:
    """Apply latency jitter, dropped and spurious triggers to the volume onsets."""
    true_mri = tl.volume_onsets.copy()
    true_eeg = tl.to_eeg(true_mri)
    n = len(true_mri)
    rec = true_eeg + (rng.normal(0.0, cfg.trigger_jitter_s, n) if cfg.trigger_jitter_s > 0 else 0.0)
    vol_idx = np.arange(n)
    missing = np.zeros(0, dtype=int)
    if cfg.missing_triggers:
        # keep the first trigger (it marks the start of scanning); drop others at random
        missing = np.sort(rng.choice(np.arange(1, n), size=cfg.missing_triggers, replace=False))
        keep = np.setdiff1d(vol_idx, missing)
        rec, vol_idx = rec[keep], vol_idx[keep]
    if cfg.extra_triggers:
        lo, hi = true_eeg[0], true_eeg[-1] + cfg.tr
        extra = rng.uniform(lo, hi, cfg.extra_triggers)
        rec = np.concatenate([rec, extra])
        vol_idx = np.concatenate([vol_idx, np.full(cfg.extra_triggers, -1)])
    order = np.argsort(rec, kind="stable")
    rec, vol_idx = rec[order], vol_idx[order]
    # the amplifier registers a TTL edge at the first sample at or after it
    samples = np.ceil(rec * cfg.sfreq - 1e-9).astype(np.int64)
    samples = np.clip(samples, 0, cfg.n_times - 1)
    return Triggers(true_mri, true_eeg, samples / cfg.sfreq, samples, vol_idx, missing)
