"""One call from markers to a synchronised scanner timeline (:func:`synchronise`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from .acquisition import Acquisition, evenly_spaced, from_sidecar, from_slice_triggers
from .clock import ClockFit, fit_clock
from .triggers import TriggerTrain, repair_triggers


@dataclass
class SyncResult:
    """Triggers found, repaired train, clock fit and acquisition timeline.

    Attributes
    ----------
    info : TriggerInfo
        What :func:`~workbench.engine.io.triggers.find_scanner_triggers` found.
    train : TriggerTrain
        The repaired volume train (or slice train when there are no volume triggers
        and the slices cannot be grouped into volumes).
    fit : ClockFit
        ``t_EEG = alpha * t_MRI + beta``.
    acquisition : Acquisition
        TR and slot offsets on the scanner clock.
    kind : str
        ``"volume"`` or ``"slice"``: what one grid step of ``train`` is.
    """

    info: Any
    train: TriggerTrain
    fit: ClockFit
    acquisition: Acquisition
    kind: str = "volume"

    def volume_onsets(self) -> np.ndarray:
        """Onset of every volume on the EEG clock (s), from the clock fit (sub-sample exact).

        Volumes are the grid of the repaired train: the fitted line is used (it averages
        out trigger quantisation and jitter), run by run.
        """
        tr = self.fit.tr_s
        out = [
            self.fit.eeg_time(self.train.index[self.train.run == r] * tr, run=r)
            for r in range(self.train.n_runs)
        ]
        return np.concatenate(out) if out else np.zeros(0)

    @property
    def period_eeg(self) -> float:
        """One grid step on the EEG clock (s)."""
        return self.fit.alpha * self.fit.tr_s

    def qc(self) -> dict[str, Any]:
        """JSON-ready QC: the fields the ``workbench sync --json`` contract names first."""
        f, t = self.fit, self.train
        out = {
            "alpha": f.alpha,
            "beta_s": f.beta_s,
            "drift_ppm": f.drift_ppm,
            "drift_us_per_s": f.drift_us_per_s,
            "drift_ppm_ci": list(f.drift_ppm_ci),
            "mismatch_ms": f.mismatch_ms,
            "n_triggers": t.n_triggers,
            "n_input": t.n_input,
            "n_missing": t.n_missing,
            "n_extra": t.n_extra,
            "n_duplicates": t.n_duplicates,
            "n_expected": t.n_expected,
            "n_runs": t.n_runs,
            "jitter_us": f.jitter_us,
            "max_residual_us": f.max_residual_us,
            "n_outliers": f.n_outliers,
            "tr_known": f.tr_known,
            "kind": self.kind,
            "volume_trigger": getattr(self.info, "volume_name", None),
            "slice_trigger": getattr(self.info, "slice_name", None),
        }
        out.update(self.acquisition.qc())
        return out


def _markers_summary(info: Any) -> str:
    counts = getattr(info, "counts", {}) or {}
    return ", ".join(f"{n!r} ({c})" for n, c in list(counts.items())[:15]) or "none"


def marker_resolution(markers: Any) -> float:
    """The time grid (s) of markers that sit on EEG samples: ``1 / sfreq`` of a Raw
    (``info["sfreq"]``) or of a header (``sfreq``); 0 when unknown."""
    info = getattr(markers, "info", None)
    sfreq = info.get("sfreq") if hasattr(info, "get") else getattr(markers, "sfreq", None)
    try:
        sfreq = float(sfreq) if sfreq is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
    return 1.0 / sfreq if sfreq > 0 else 0.0


def synchronise(
    markers: Any,
    *,
    tr: float | None = None,
    volume: str | None = None,
    slice: str | None = None,  # noqa: A002 - matches the CLI option
    sidecar: dict[str, Any] | None = None,
    slices_per_volume: int | None = None,
    n_expected: int | None = None,
    duration_s: float | None = None,
    source: Any = None,
    resolution: float | None = None,
) -> SyncResult:
    """Find, validate and repair the scanner triggers, and fit the EEG clock to them.

    Parameters
    ----------
    markers : mne.io.BaseRaw | mne.Annotations | EEGHeader | mapping
        Where the markers are (onsets in seconds from the first sample).
    tr : float | None
        Nominal TR (s). Defaults to the sidecar's ``RepetitionTime``; without either,
        the TR is the median trigger spacing and the drift cannot be measured.
    volume, slice : str | None
        Trigger names (auto-detected when None).
    sidecar : dict | None
        BIDS BOLD sidecar (``RepetitionTime``, ``SliceTiming``, multiband).
    slices_per_volume : int | None
        Evenly spaced slots per volume (when there is no SliceTiming).
    n_expected : int | None
        Volumes in the BOLD series, for the count check.
    duration_s : float | None
        Length of the EEG; triggers beyond it are an error.
    source : path | None
        The file, named in errors.
    resolution : float | None
        The markers' time grid in seconds (None: ``1 / sfreq`` of a Raw or of a header
        with a sampling rate, markers sit on samples); the clock fit takes the triggers'
        rounding to it into account (see :func:`~.clock.fit_clock`).

    Returns
    -------
    SyncResult
    """
    from ..io.triggers import find_scanner_triggers

    info = find_scanner_triggers(markers, volume, slice, source=source)
    if resolution is None:
        resolution = marker_resolution(markers)
    if not info.found:
        raise InputError(
            source, f"no scanner triggers found; markers present: {_markers_summary(info)}"
        )
    if sidecar and tr is None and sidecar.get("RepetitionTime"):
        tr = float(sidecar["RepetitionTime"])
    if duration_s is not None:
        for name, on in (
            (info.volume_name, info.volume_onsets),
            (info.slice_name, info.slice_onsets),
        ):
            if name is not None and on.size and (on.max() >= duration_s or on.min() < 0):
                late = int(np.sum(on >= duration_s))
                raise InputError(
                    source,
                    f"{late} {name!r} trigger(s) lie beyond the end of the data "
                    f"({duration_s:.3f} s); the markers do not belong to this recording",
                )
    vol = info.volume_onsets if info.volume_name is not None else None
    slc = info.slice_onsets if info.slice_name is not None else None
    # acquisition timeline on the scanner clock
    acq: Acquisition | None = None
    if sidecar and sidecar.get("SliceTiming"):
        acq = from_sidecar(sidecar, tr=tr, source=source)
    if vol is not None and vol.size >= 3:
        name = info.volume_name
        train = repair_triggers(vol, None, n_expected=n_expected, name=name, source=source)
        fit = fit_clock(train, tr, resolution=resolution)
        if acq is None:
            if slices_per_volume:
                acq = evenly_spaced(fit.tr_s, int(slices_per_volume))
            elif slc is not None and slc.size >= 3:
                acq = from_slice_triggers(np.unique(vol), np.unique(slc), fit.tr_s)
            else:
                acq = Acquisition(tr=fit.tr_s, source="volume")
        return SyncResult(info, train, fit, acq, "volume")
    if slc is None or slc.size < 3:
        raise InputError(
            source,
            f"fewer than 3 scanner triggers found; markers present: {_markers_summary(info)}",
        )
    # slice triggers only
    if acq is None and slices_per_volume and tr:
        acq = evenly_spaced(tr, int(slices_per_volume))
    if acq is None:
        acq = from_slice_triggers(None, np.unique(slc), tr)
    n_slots = acq.n_slots
    train_s = repair_triggers(slc, None, name=info.slice_name, source=source)
    if n_slots > 1 and acq.dead_time < 0.5 * acq.slot_period and train_s.n_runs == 1:
        # group every n_slots slice triggers into a volume (no dead time: any phase works)
        n_vol = train_s.n_triggers // n_slots
        keep = np.arange(n_vol) * n_slots
        train = TriggerTrain(
            onsets=train_s.onsets[keep],
            index=np.arange(n_vol),
            run=np.zeros(n_vol, int),
            filled=train_s.filled[keep],
            period=train_s.period * n_slots,
            n_input=train_s.n_input,
            n_duplicates=train_s.n_duplicates,
            n_extra=train_s.n_extra,
            n_missing=train_s.n_missing,
            n_expected=n_expected,
            jitter_s=train_s.jitter_s,
            max_deviation_s=train_s.max_deviation_s,
        )
        fit = fit_clock(train, acq.tr if tr else None, resolution=resolution)
        return SyncResult(info, train, fit, acq, "volume")
    fit = fit_clock(train_s, (tr / n_slots) if (tr and n_slots) else None, resolution=resolution)
    return SyncResult(
        info, train_s, fit, Acquisition(tr=fit.tr_s, source="slice-triggers"), "slice"
    )
