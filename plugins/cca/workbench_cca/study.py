"""CCA on a study's own data: EEG band power (HRF-convolved) x BOLD voxel time series.

X (volumes x channels): for every EEG channel, the power of the band-passed signal in
short bins, convolved with SPM's canonical HRF and sampled at the middle of each volume
(the first volume's time on the EEG clock from the scanner's volume triggers). Y
(volumes x voxels): the BOLD series in the brain mask. Both are high-pass filtered with
the same cosine basis (SPM's 128 s default) and the volumes are the observations.

The band power is computed here rather than with MNE's ``tfr_array_*`` because a
continuous power envelope of a long recording binned at a fraction of the TR is all that
is needed (a filter and a square); MNE does the filtering and resampling, nilearn the
brain mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["StudyFeatures", "study_features", "volume_times", "highpass"]


class StudyFeatures:
    """Observations (volumes) x features for both blocks, with what is needed to map them back."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, ch_names: list[str], info: Any, mask: np.ndarray,
                 affine: np.ndarray, times: np.ndarray, how_timed: str) -> None:
        self.X, self.Y = X, Y
        self.ch_names, self.info = ch_names, info
        self.mask, self.affine = mask, affine
        self.times, self.how_timed = times, how_timed


def volume_times(raw: Any, n_vols: int, tr: float, offset: float = 0.0) -> tuple[np.ndarray, str]:
    """EEG-clock time (s from the first sample) at which each volume starts.

    The scanner's volume triggers in the EEG markers when there are at least ``n_vols`` of
    them (drift-free by construction), else ``offset + i * tr`` (``offset``: the EEG time
    of the first volume, 0 when the EEG was synchronised onto the scanner clock).
    """
    try:
        from workbench.engine.io.triggers import find_scanner_triggers

        info = find_scanner_triggers(raw)
        onsets = np.sort(np.asarray(info.volume_onsets, float))
    except Exception:  # noqa: BLE001 - no or ambiguous markers: fall back on the offset
        onsets = np.zeros(0)
    if onsets.size >= n_vols:
        return onsets[:n_vols], f"{onsets.size} volume triggers in the EEG markers"
    return offset + tr * np.arange(n_vols), f"first volume at {offset:.3f} s on the EEG clock, TR {tr:g} s"


def _band_power(raw: Any, band: tuple[float, float], dt: float) -> tuple[np.ndarray, list[str], Any]:
    """Power of each EEG channel in ``band`` averaged over bins of ``dt`` s (channels x bins)."""
    lo, hi = band
    if not 0 < lo < hi:
        raise InputError(None, f"band {lo:g}-{hi:g} Hz: the low edge must be above 0 and below the high edge")
    picks = raw.copy().pick("eeg", exclude="bads")
    if len(picks.ch_names) < 2:
        raise InputError(None, "the EEG has fewer than 2 good EEG channels: nothing to correlate")
    sf = float(picks.info["sfreq"])
    if hi >= sf / 2:
        raise InputError(None, f"band {lo:g}-{hi:g} Hz reaches the Nyquist frequency ({sf / 2:g} Hz)")
    picks.load_data(verbose="error")
    target = max(4.0 * hi, 100.0)
    if sf > 2 * target:  # filter at a lower rate: same band, far less work on 5 kHz recordings
        picks.resample(target, verbose="error")
        sf = float(picks.info["sfreq"])
    picks.filter(lo, hi, verbose="error")
    data = picks.get_data()
    per_bin = max(1, int(round(dt * sf)))
    n_bins = data.shape[1] // per_bin
    power = (data[:, : n_bins * per_bin] ** 2).reshape(data.shape[0], n_bins, per_bin).mean(axis=2)
    return power, list(picks.ch_names), picks.info


def highpass(D: np.ndarray, tr: float, cutoff_hz: float = 1 / 128) -> np.ndarray:
    """Remove the mean and a discrete cosine basis below ``cutoff_hz`` from each column (SPM's filter).

    Written here (a least-squares fit of ``floor(2 n tr cutoff)`` cosines, as ``spm_filter``
    and nilearn's cosine drift model do) because importing ``nilearn.signal`` for it costs
    several seconds and pulls in scikit-learn.
    """
    n = D.shape[0]
    order = int(np.floor(2.0 * n * tr * cutoff_hz))
    t = (np.arange(n) + 0.5) / n
    B = np.column_stack([np.ones(n)] + [np.cos(np.pi * k * t) for k in range(1, order + 1)])
    Q, _ = np.linalg.qr(B)
    return D - Q @ (Q.T @ D)


def study_features(inputs: Any, band: tuple[float, float], hrf: bool = True, high_pass: float = 1 / 128,
                   progress: Any = None) -> StudyFeatures:
    """X = HRF-convolved band power per channel, Y = BOLD voxels in the mask; rows = volumes."""

    from workbench.engine.hemo.hrf import spm_hrf

    if inputs.eeg is None or inputs.bold is None:
        missing = "EEG" if inputs.eeg is None else "BOLD"
        raise InputError(None, f"CCA on the study needs its EEG and BOLD ({missing} missing); or give two "
                               "feature tables with --x and --y")
    bold = inputs.bold
    if len(bold.shape) != 4 or bold.shape[3] < 10:
        raise InputError(inputs.sources.get("bold"), "BOLD must be a 4D series of at least 10 volumes")
    n_vols = int(bold.shape[3])
    tr = float(inputs.bold_meta.get("RepetitionTime") or bold.header.get_zooms()[3] or 0)
    if not tr > 0:
        raise InputError(inputs.sources.get("bold"), "no repetition time (RepetitionTime in the sidecar)")
    if progress is not None:
        progress(0.0, f"EEG band power {band[0]:g}-{band[1]:g} Hz")
    dt = tr / 16.0
    power, ch_names, info = _band_power(inputs.eeg, band, dt)
    vt, how = volume_times(inputs.eeg, n_vols, tr, float(inputs.eeg_offset or 0.0))
    t_bins = (np.arange(power.shape[1]) + 0.5) * dt
    sample_at = vt + tr / 2.0  # the middle of each volume's acquisition
    if sample_at[-1] > t_bins[-1] or sample_at[0] < 0:
        raise InputError(inputs.sources.get("eeg"), f"the EEG ({t_bins[-1] + dt / 2:.1f} s) does not cover the "
                                                    f"{n_vols} volumes ({how}): is it the same run?")
    if hrf:
        h = spm_hrf(dt)
        power = np.array([np.convolve(p - p.mean(), h)[: p.size] for p in power])
    X = np.array([np.interp(sample_at, t_bins, p) for p in power]).T  # volumes x channels
    if progress is not None:
        progress(0.5, "BOLD time series in the mask")
    if inputs.mask is not None:
        mask = np.asanyarray(inputs.mask.dataobj) != 0
        if mask.shape != bold.shape[:3]:
            raise InputError(inputs.sources.get("mask"), f"the mask's grid {mask.shape} differs from the BOLD's "
                                                         f"{bold.shape[:3]}: resample it to the BOLD first")
    else:
        import warnings

        from nilearn.masking import compute_epi_mask

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nilearn warns on an empty mask: handled below
            mask = np.asanyarray(compute_epi_mask(bold).dataobj) != 0
    data = np.asanyarray(bold.dataobj)
    if mask.sum() < 10:  # no brain/background contrast (e.g. a synthetic series): every varying voxel
        mask = np.ptp(data, axis=3) > 0
    Y = np.asarray(data[mask], np.float64).T  # volumes x voxels
    X = highpass(X, tr, high_pass)
    Y = highpass(Y, tr, high_pass)
    if Y.shape[1] < 2:
        raise InputError(inputs.sources.get("bold"), "fewer than 2 brain voxels vary over time: no BOLD to "
                                                     "correlate (check the mask)")
    keep = Y.std(axis=0) > 1e-12 * max(float(np.abs(Y).max()), 1e-300)
    if not keep.all():  # constant voxels (outside the head inside a loose mask) carry nothing
        mask = mask.copy()
        idx = np.argwhere(mask)
        mask[tuple(idx[~keep].T)] = False
        Y = Y[:, keep]
    return StudyFeatures(X, Y, ch_names, info, mask, np.asarray(bold.affine), sample_at, how)
