"""Gradient-artifact correction of an ``mne.io.Raw`` (the public engine entry point).

:func:`remove_gradient` finds and repairs the scanner triggers, fits the EEG clock
(:mod:`workbench.engine.sync`), builds the volume/slot schedule in fractional samples,
runs the slot-matched, sub-sample aligned average artifact subtraction
(:mod:`.aas`) on EEG, EOG, ECG and EMG channels, low-passes them (default 70 Hz, MNE's
FIR filter) and computes the QC of DESIGN §6. The input is never modified
(``copy=True``); the output keeps every channel, type, annotation and the sample grid.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import InputError
from ..progress import Progress, as_progress
from ..sync import Acquisition, SyncResult, detect_slots, synchronise
from .aas import AASParams, AASResult, Schedule, correct_inplace
from .qc import spectral_qc
from .saturation import clipped_channels

log = logging.getLogger(__name__)

#: channel types corrected (DESIGN: ECG too, so R-peaks can be found)
CORRECTED_TYPES = ("eeg", "eog", "ecg", "emg")


@dataclass
class GradientParams:
    """User-facing parameters of the gradient correction (see the GUI tooltips).

    Attributes
    ----------
    window : int | None
        Neighbouring volumes averaged per template (same slot, adjacent volumes).
        More averages less EEG into the template (its leak scales as 1/sqrt(window))
        but follows a drifting artifact less closely. Typical 8-30. None (auto): 20,
        or 8 below 2 kHz (see :meth:`main_window`).
    align : bool
        Sub-sample re-alignment of every volume by cross-correlation.
    amplitude_fit : bool
        Least-squares template amplitude per channel and volume.
    wiener : bool
        Per-frequency Wiener weighting of the template (see :class:`.aas.AASParams`).
    window_lf : int | None
        Longer window for the template below ``lf_cutoff_hz``, where the artifact is
        weak and the EEG leak dominates (None: same as ``window``).
    lf_cutoff_hz : float
        Frequency below which ``window_lf`` is used.
    lf_auto : bool
        Let the data choose that window among ``window_lf``, twice ``window``,
        ``window`` and half of it (smallest leave-one-out prediction error below
        ``lf_cutoff_hz``). Off by default: it follows a changing low-frequency artifact,
        but on the multiband phantom study it chose a short window and doubled the
        1-40 Hz error (EEG and BCG correlated across 0.9 s volumes "predict" well).
    alias_orders : int | None
        Orders of the sub-sample-phase alias model (0: off); see :class:`.aas.AASParams`.
        None (auto): :data:`ALIAS_ORDERS_LOW_RATE` from :data:`ALIAS_LOW_RATE_FROM_HZ` to
        :data:`LOW_RATE_HZ`, else :data:`ALIAS_ORDERS_DEFAULT` (see :meth:`orders`),
        and larger ones (:data:`ALIAS_ORDERS_TRY`) where the data ask for them
        (:func:`.aas._choose_orders`).
    obs : bool
        OBS (PCA of the high-passed residual, automatic rank) on EEG channels; useful
        without a low-pass. See :class:`.aas.AASParams`.
    anc : bool
        Guarded adaptive noise cancellation of the high-passed residual (EEG channels).
    lowpass : float | None
        Low-pass (Hz) after subtraction; None to skip. Typical 70 Hz.
    track : bool
        Choose each volume's template neighbours by similarity, per channel, among
        ``track_pool`` volumes around it (see :class:`.aas.AASParams`), so a drifting
        artifact (breathing, heating, movement) is followed.
    track_pool : int
        Candidate volumes for the similarity choice.
    spatial : bool
        Re-estimate the templates' EEG band across channels, inside and outside the
        artifact's few-dimensional channel subspace (see :mod:`.spatial`); EEG channels
        only, at least 5.
    wiener_strict : float
        In the EEG band the Wiener gain counts a bin's all-volume mean as artifact only
        beyond this many times its EEG leak (1: the unbiased estimate, which keeps a
        random third of EEG-only bins; 3: 5 %). See :func:`.aas.wiener_gain`.
    wiener_robust : float
        In the EEG band the Wiener gain measures the artifact's power on a mean that
        down-weights the volumes whose residual power there exceeds this many times the
        median, by ``c x median / power`` (blinks; 0: off). See
        :func:`.aas.robust_band_power`.
    window_auto : bool
        Let the data choose the main window among ``window``, half of it and 8 volumes
        (smallest leave-one-out template residual of the reference channels below the
        low-pass); see :class:`.aas.AASParams`.
    motion_params : str | None
        Realignment parameters of the fMRI run (SPM ``rp_*.txt``, FSL ``.par``, fMRIPrep
        confounds TSV; one row per volume): volumes separated by a head movement
        (framewise displacement above ``motion_fd_mm``) do not share templates (see
        :mod:`.motion`). None: off.
    motion_fd_mm : float
        Framewise displacement (mm, Power et al., 50 mm head radius) that cuts the run.
    motion_mode : str
        ``"offset"`` (neighbours across a movement moved by the artifact's step there) or
        ``"restrict"`` (neighbours from the same segment only); see :class:`.aas.AASParams`.
    slice_axes : int
        After the templates, per channel and slice epoch, regress what is left on this
        many waveforms of the gradient axes, learnt from the recording, fitted above
        ``slice_axes_hp_hz`` and subtracted over the whole band (see :mod:`.axes`): it
        follows couplings that change within a volume or between axes (breathing, a
        drifting bore). 0: off. Not run below :data:`LOW_RATE_HZ`: there the artifact
        aliases and a slice epoch is a few dozen samples (on the 1 kHz phantom it doubled
        what was left).
    slice_axes_hp_hz : float
        Frequency above which those coefficients are fitted (the EEG is negligible
        there against the artifact).
    slice_axes_smooth : int
        Consecutive slice epochs over which those coefficients are averaged.
    drift_refine : bool | None
        Refine the clock fit's drift from the artifact: the linear ramp of the volumes'
        onsets (within ±1 sample over the run, the triggers' rounding) that leaves the
        smallest template residual, kept only when it lowers it (QC
        ``refinements["drift"]``; see :class:`.aas.AASParams` ``drift_range``). None
        (auto): below :data:`LOW_RATE_HZ` with the alias model on, where the artifact
        aliases and its phase must be known to ~0.1 sample.
    lf_scale : bool
        After the correction, follow the size of the artifact's low band (1/TR to
        ``lf_cutoff_hz``) volume by volume: one scale per volume for each of the low
        band's (up to 3) parts across all EEG channels, smoothed over 5 volumes and
        subtracted, each kept only when its scales wander slowly (3x their noise; QC
        ``refinements["lf_scale"]``). The
        templates average that band over ``window_lf`` volumes, so a ringing of the
        scanner table whose size wanders is otherwise left (see :mod:`.lf_scale`).
    cardiac_pass : bool
        With an ECG channel: estimate every EEG channel's pulse artifact (BCG) from the
        corrected ECG's R-peaks, in turns with the gradient templates on the recording at
        ~250 Hz (backfitting), make the full-rate templates on the recording without it and
        add it back (see :mod:`.cardiac_pass`): a heartbeat whose harmonics sit near the
        volume lines is otherwise taken into the templates. Skipped (QC
        ``refinements["cardiac_pass"]`` says why) without an ECG, with fewer than 30 beats
        or untrustworthy R-peaks.
    keep_hz : tuple of float
        Steady-state stimulation frequencies (Hz; SSVEP, ASSR) to keep. A steady signal
        turns by a fixed angle from volume to volume, as a folded (aliased) part of the
        artifact does when the sampling clock drifts against the scanner's, and the alias
        model cannot tell the two apart: where the turns match it takes the signal (2.5
        kHz, 20 ppm: a 10 µV 10.05 Hz response 87 % removed). Within
        :data:`KEEP_WIDTH_HZ` of these frequencies no alias term is fitted. A frequency
        near a multiple of 1/TR repeats with the volumes and is taken by any template (the
        QC says so).
    n_jobs : int
        Threads.
    """

    window: int | None = None
    align: bool = True
    amplitude_fit: bool = True
    wiener: bool = True
    window_lf: int | None = 60
    lf_cutoff_hz: float = 40.0
    lf_auto: bool = False
    alias_orders: int | None = None
    obs: bool = False
    anc: bool = False
    lowpass: float | None = 70.0
    track: bool = False
    track_pool: int = 60
    spatial: bool = True
    wiener_strict: float = 3.0
    wiener_robust: float = 1.0
    window_auto: bool = False
    motion_params: str | None = None
    motion_fd_mm: float = 0.5
    motion_mode: str = "offset"
    slice_axes: int = 3
    slice_axes_hp_hz: float = 150.0
    slice_axes_smooth: int = 5
    drift_refine: bool | None = None
    lf_scale: bool = True
    cardiac_pass: bool = True
    keep_hz: tuple[float, ...] = ()
    n_jobs: int = 2

    def main_window(self, sfreq: float) -> int:
        """The main window: ``window``, or when None (auto) :data:`WINDOW_LOW_RATE` volumes
        below :data:`LOW_RATE_HZ` and :data:`WINDOW_DEFAULT` otherwise.

        Below ~2 kHz the slice artifact is strongly aliased: what each volume's sub-sample
        phase does to it goes beyond the alias model and changes from volume to volume,
        so a short window follows it better than a long one averages the EEG down. On a
        real in-bore run an 8-volume window removed ~20 dB more than a 30-volume one (the
        issue's evidence); on the phantom at 1 kHz 8 volumes remove 4.0-6.5 dB more than
        20 on all four artifact variants with NRMSE 1-40 Hz within +-1 %
        (``bench_gradient_results.md``, session 22). At 5 kHz 20 stays: there the EEG
        leak, not the artifact's change, limits the error.
        """
        if self.window is not None:
            return int(self.window)
        return WINDOW_LOW_RATE if 0 < sfreq < LOW_RATE_HZ else WINDOW_DEFAULT

    def aas(self, sfreq: float = 0.0) -> AASParams:
        low_rate = 0 < sfreq < LOW_RATE_HZ
        # the band the user keeps (fraction of the sampling rate): what the low-rate checks score
        kept_band = (float(self.lowpass) if self.lowpass else 70.0) / sfreq if sfreq > 0 else 0.0
        return AASParams(
            window=self.main_window(sfreq),
            align=bool(self.align),
            amplitude_fit=bool(self.amplitude_fit),
            wiener=bool(self.wiener),
            window_lf=None if not self.window_lf else int(self.window_lf),
            lf_cutoff=float(self.lf_cutoff_hz) / sfreq if sfreq > 0 else 0.0,
            lf_auto=bool(self.lf_auto),
            alias_orders=self.orders(sfreq),
            obs=bool(self.obs),
            anc=bool(self.anc),
            obs_highpass=70.0 / sfreq if sfreq > 0 else 0.014,
            track=bool(self.track),
            track_pool=int(self.track_pool),
            spatial=bool(self.spatial),
            wiener_strict=float(self.wiener_strict),
            wiener_robust=float(self.wiener_robust),
            wiener_strong=WIENER_STRONG_LOW_RATE if low_rate else 0.0,
            alias_bare_below=0.0 if low_rate else AASParams.alias_bare_below,
            window_auto=bool(self.window_auto),
            segment_check_fmax=float(self.lowpass) / sfreq if self.lowpass and sfreq > 0 else 0.0,
            # 40 ms tapered margins: the artifact's spectrum stays concentrated at its
            # harmonics instead of leaking (taper sidelobes) into the EEG bins, where the
            # Wiener gain would then have to keep the template and its EEG leak
            pad=int(max(32, round(0.04 * sfreq))) if sfreq > 0 else 32,
            drift_range=1.0 if self.refines_drift(sfreq) else 0.0,
            # (see AASParams.slow_drift: not where nearly everything folds)
            slow_drift=sfreq >= ALIAS_LOW_RATE_FROM_HZ,
            drift_score_fmax=kept_band,
            # (not below ALIAS_LOW_RATE_FROM_HZ: at 500 Hz, where nearly everything folds, the
            # 240 s fMRI-informed source phantom study chose eight; its 1-40 Hz error went
            # 2.57 -> 1.81 (NRMSE: the correction fails there either way) but its evoked
            # response went with it: visual source 24 -> 138 mm off, soft prior with dSPM)
            alias_orders_try=ALIAS_ORDERS_TRY if self.alias_orders is None and sfreq >= ALIAS_LOW_RATE_FROM_HZ
            else (),
            align_check_fmax=kept_band if low_rate else 0.0,
            # only where the artifact hardly aliases: below, it has parts the strong bins'
            # subspace misses, which change with each volume's sampling phase and average
            # out. 1-40 Hz error, 60 s drifting phantoms with a BCG: 5 kHz -4 %, -1 %, -7 %;
            # 2.5 kHz +2.4 %, 0, 0 and +4.5 % on the 150 s one; 2 kHz -1.5 %, -1 %;
            # variant table (16 ch) 1 kHz point sampling with drift NRMSE 0.640 -> 0.663
            spatial_steady_outside=sfreq >= STEADY_OUTSIDE_HZ,
            keep=tuple(float(f) / sfreq for f in self.keep_hz if 0 < f < sfreq / 2) if sfreq > 0 else (),
            keep_width=KEEP_WIDTH_HZ / sfreq if sfreq > 0 else 0.0,
        )

    def refines_drift(self, sfreq: float) -> bool:
        """``drift_refine``, or when None (auto) below :data:`LOW_RATE_HZ` with the alias
        model on."""
        if self.drift_refine is not None:
            return bool(self.drift_refine)
        return 0 < sfreq < LOW_RATE_HZ and self.orders(sfreq) > 0

    def orders(self, sfreq: float) -> int:
        """The alias model's orders: ``alias_orders``, or when None (auto)
        :data:`ALIAS_ORDERS_LOW_RATE` from :data:`ALIAS_LOW_RATE_FROM_HZ` up to
        :data:`LOW_RATE_HZ` and :data:`ALIAS_ORDERS_DEFAULT` otherwise.

        An alias of order ``m`` is artifact from ``m`` sampling rates above the band,
        folded in with a phase that turns ``m`` times per sample of sub-sample shift. At
        5 kHz little folds and two orders are enough (four fitted EEG: 90 s phantom
        0.0204 -> 0.0244 NRMSE 1-40 Hz; 2.5 kHz 0.0322 / 0.0321). At 1 kHz the
        echo-planar readout's kHz harmonics fold in from several rates up, and the
        variant table's 1 kHz rows (90 s x 12 ch, NRMSE 1-40 Hz, orders 1 / 2 / 3 / 4 /
        5 / 6) went 1.51 / 1.31 / 1.29 / 0.41 / 0.41 / 0.41 with the amplifier's low-pass
        after sampling and 0.90 / 0.61 / 0.62 / 0.51 / 0.52 / 0.52 with it before
        (point sampling), the slice-harmonic power removed within 0.3 dB either way
        (``bench_gradient_results.md``, session 31). Not below :data:`ALIAS_LOW_RATE_FROM_HZ`:
        at 500 Hz, where nearly everything folds and average subtraction fails anyway
        (a 240 s phantom study: NRMSE 2.55 with two orders), four made it 4.47. With too
        few volumes for the orders asked (three per coefficient) the model keeps as many
        as they allow, at least two (:class:`.residual.AliasModel`).
        """
        if self.alias_orders is not None:
            return int(self.alias_orders)
        return ALIAS_ORDERS_LOW_RATE if ALIAS_LOW_RATE_FROM_HZ <= sfreq < LOW_RATE_HZ else ALIAS_ORDERS_DEFAULT


#: the main window (volumes) at and above :data:`LOW_RATE_HZ`, and below it (see
#: :meth:`GradientParams.main_window`)
WINDOW_DEFAULT = 20
WINDOW_LOW_RATE = 8
LOW_RATE_HZ = 2000.0
#: the alias model's orders at and above :data:`LOW_RATE_HZ`, and below it (see
#: :meth:`GradientParams.orders`)
ALIAS_ORDERS_DEFAULT = 2
ALIAS_ORDERS_LOW_RATE = 4
#: larger orders tried on the data (:func:`.aas._choose_orders`), from
#: :data:`ALIAS_LOW_RATE_FROM_HZ` up
ALIAS_ORDERS_TRY = (4, 6, 8)
#: the lowest rate given :data:`ALIAS_ORDERS_LOW_RATE` (measured at 1 kHz; 500 Hz was worse)
ALIAS_LOW_RATE_FROM_HZ = 900.0
#: below :data:`LOW_RATE_HZ`, the leak multiple above which an EEG-band bin's Wiener gain
#: uses its own artifact power (:attr:`.aas.AASParams.wiener_strong`; 10-50 alike on the
#: 1 kHz rows, 100 too high for the folded 37.5 Hz line)
WIENER_STRONG_LOW_RATE = 20.0
#: half-width (Hz) around each frequency of ``GradientParams.keep_hz`` left without alias
#: terms (offline and online): the line's leak over an epoch's bins (0.5 Hz apart at TR 2 s)
KEEP_WIDTH_HZ = 1.0


def parse_keep_hz(text: str | None) -> tuple[float, ...]:
    """Frequencies to keep (``GradientParams.keep_hz``) from text such as ``"7.5, 12"``.

    Parameters
    ----------
    text : str | None
        Frequencies in Hz separated by commas or spaces; None or empty: none.

    Returns
    -------
    tuple of float
        The frequencies, each positive and finite.

    Raises
    ------
    InputError
        When an item is not a positive number.
    """
    out = []
    for item in (text or "").replace(",", " ").split():
        try:
            f = float(item)
        except ValueError:
            raise InputError(None, f"frequencies to keep must be numbers in Hz, e.g. '7.5, 12' (got {item!r})") from None
        if not (np.isfinite(f) and f > 0):
            raise InputError(None, f"a frequency to keep must be a positive number of Hz (got {item!r})")
        out.append(f)
    return tuple(out)


#: sampling rate from which the spatial pass counts the templates' spread outside the
#: artifact subspace only where the channel's mean holds artifact
#: (:attr:`.aas.AASParams.spatial_steady_outside`)
STEADY_OUTSIDE_HZ = 4000.0


@dataclass
class GradientResult:
    """Output of :func:`remove_gradient`.

    Attributes
    ----------
    raw : mne.io.BaseRaw
        The corrected recording.
    sync : SyncResult
        Triggers, clock fit and acquisition timeline.
    schedule : Schedule
        Volume onsets / period / slot offsets in samples (after re-alignment).
    aas : AASResult
        Per-volume shifts and amplitudes.
    picks : list[int]
        Corrected channels.
    qc : dict
        QC metrics (JSON-ready).
    """

    raw: Any
    sync: SyncResult
    schedule: Schedule
    aas: AASResult
    picks: list[int]
    params: GradientParams
    qc: dict[str, Any] = field(default_factory=dict)
    n_times: int = 0

    @property
    def scan_span(self) -> tuple[int, int]:
        """First and one-past-last sample of the scanning period."""
        on = self.schedule.onsets
        n = self.n_times or self.raw.n_times
        return int(max(np.ceil(on[0]), 0)), int(min(np.ceil(on[-1] + self.schedule.period), n))


def build_schedule(sync: SyncResult, sfreq: float) -> Schedule:
    """Volume onsets, period and slot offsets in samples (from the first sample)."""
    onsets = sync.volume_onsets() * sfreq
    period = sync.period_eeg * sfreq
    slots = np.asarray(sync.acquisition.slot_offsets, float) * sync.fit.alpha * sfreq
    if sync.kind == "slice":
        slots = np.zeros(1)
    return Schedule(onsets=onsets, period=period, slot_offsets=slots)


def _detect_acquisition(data: np.ndarray, sched: Schedule, sfreq: float, tr: float) -> Acquisition:
    """Slot timing from the signal: autocorrelation of a volume-averaged artifact."""
    n = min(sched.n_volumes, 20)
    L = int(np.floor(sched.period))
    st = np.round(sched.onsets[:n]).astype(int)
    st = st[(st >= 0) & (st + L <= data.shape[1])]
    if st.size == 0:
        return Acquisition(tr=tr, source="volume")
    ep = np.stack([data[:, s : s + L] for s in st]).mean(axis=0)
    ep = ep - ep.mean(axis=1, keepdims=True)
    # the channel with most artifact power
    x = ep[np.argmax(np.var(ep, axis=1))]
    return detect_slots(x, sfreq, tr)


def remove_gradient(
    raw: Any,
    *,
    params: GradientParams | None = None,
    sync: SyncResult | None = None,
    tr: float | None = None,
    volume: str | None = None,
    slice: str | None = None,  # noqa: A002 - matches the CLI option
    sidecar: dict[str, Any] | None = None,
    slices_per_volume: int | None = None,
    copy: bool = True,
    source: Any = None,
    progress: Progress | None = None,
) -> GradientResult:
    """Remove the fMRI gradient artifact from a recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (loaded if needed; not modified when ``copy``).
    params : GradientParams | None
        Algorithm parameters.
    sync : SyncResult | None
        A previous :func:`~workbench.engine.sync.synchronise` result; computed otherwise
        from the triggers (``tr``, ``volume``, ``slice``, ``sidecar``,
        ``slices_per_volume`` as there).
    copy : bool
        Work on a copy (default).
    source : path | None
        File named in error messages.
    progress : Progress | None
        Progress and cancellation.

    Returns
    -------
    GradientResult
    """
    p = as_progress(progress)
    params = params or GradientParams()
    _check_params(params, float(raw.info["sfreq"]))
    sync = sync or _sync(raw, tr, volume, slice, sidecar, slices_per_volume, source)
    out = raw.copy() if copy else raw
    if not out.preload:
        out.load_data()
    res = correct_array(
        out._data, out.info, sync, params=params, source=source, progress=p,
        events=event_samples(raw, sync),
    )
    if params.lowpass is not None:
        _set_lowpass(out.info, params.lowpass)
    res.raw = out
    return res


def _check_params(params: GradientParams, sfreq: float) -> None:
    if params.window is not None and params.window < 1:
        raise InputError(None, f"window must be >= 1 volume (got {params.window})")
    if params.lowpass is not None and not 0 < params.lowpass < sfreq / 2:
        raise InputError(None, f"low-pass {params.lowpass} Hz must lie in (0, {sfreq / 2}) Hz")
    if not 0 <= params.slice_axes <= 8:
        raise InputError(None, f"slice_axes must be 0-8 waveforms (got {params.slice_axes})")
    if params.motion_params and not (params.motion_fd_mm > 0):
        raise InputError(None, f"the motion threshold must be > 0 mm (got {params.motion_fd_mm})")
    for f in params.keep_hz:
        if not 0 < f < sfreq / 2:
            raise InputError(None, f"the frequency to keep {f:g} Hz must lie in (0, {sfreq / 2:g}) Hz")


def _set_lowpass(info: Any, lowpass: float) -> None:
    with info._unlock():
        lp = info["lowpass"]
        info["lowpass"] = float(lowpass) if lp is None else min(float(lp), float(lowpass))


def _sync(
    raw: Any, tr: Any, volume: Any, slice: Any, sidecar: Any, spv: Any, source: Any
) -> SyncResult:  # noqa: A002
    return synchronise(
        raw,
        tr=tr,
        volume=volume,
        slice=slice,
        sidecar=sidecar,
        slices_per_volume=spv,
        duration_s=raw.n_times / float(raw.info["sfreq"]),
        source=source,
    )


def event_samples(raw: Any, sync: SyncResult) -> np.ndarray:
    """Samples of the recording's markers that are not scanner triggers (stimuli,
    responses; not the volume or slice trigger, nor ``BAD``/``EDGE`` spans).

    Parameters
    ----------
    raw : mne.io.BaseRaw
    sync : SyncResult
        Names the scanner's triggers.
    """
    ann = raw.annotations
    if not len(ann):
        return np.zeros(0, np.int64)
    skip = {getattr(sync.info, "volume_name", None), getattr(sync.info, "slice_name", None)} - {None}
    on = np.asarray(ann.onset, float) - (raw.first_time if ann.orig_time is not None else 0.0)
    keep = [i for i, d in enumerate(ann.description)
            if d not in skip and not d.upper().startswith(("BAD", "EDGE"))]
    return np.round(on[keep] * float(raw.info["sfreq"])).astype(np.int64)


def correct_array(
    data: np.ndarray,
    info: Any,
    sync: SyncResult,
    *,
    params: GradientParams | None = None,
    source: Any = None,
    progress: Progress | None = None,
    events: np.ndarray | None = None,
) -> GradientResult:
    """The correction on a plain array (float32 or float64), in place.

    ``info`` (an ``mne.Info``) gives the channel names, types and bads and the rate;
    ``sync`` the scanner timeline; ``events`` the samples of stimulus markers
    (:func:`event_samples`; the low-band size pass leaves their share in the data).
    Used by :func:`remove_gradient` (on a Raw's data) and by the streaming file-to-file
    path (:func:`clean_file`), which holds the recording as float32 only. The returned
    result's ``raw`` is None.
    """
    import mne

    p = as_progress(progress)
    params = params or GradientParams()
    sfreq = float(info["sfreq"])
    _check_params(params, sfreq)
    n_times = data.shape[1]
    p(0.02, "triggers synchronised")
    sched = build_schedule(sync, sfreq)
    if sched.onsets.size and sched.onsets.max() >= n_times:
        raise InputError(source, "scanner triggers lie beyond the end of the data")
    if n_times < sched.period + 64:
        raise InputError(
            source,
            f"the recording ({n_times / sfreq:.2f} s) is shorter than one template window "
            f"(TR {sched.period / sfreq:.3f} s)",
        )
    if sched.n_volumes < 3:
        raise InputError(
            source, f"only {sched.n_volumes} volumes: at least 3 are needed for a template"
        )
    aas_params = params.aas(sfreq)
    motion = None
    if params.motion_params:
        from .motion import motion_segments, read_motion_params

        motion = motion_segments(read_motion_params(params.motion_params), sched.n_volumes,
                                 float(params.motion_fd_mm))
        aas_params = replace(aas_params, segments=motion.labels, segment_mode=str(params.motion_mode))
    types = info.get_channel_types()
    names = list(info["ch_names"])
    picks = np.array([i for i, t in enumerate(types) if t in CORRECTED_TYPES], int)
    eeg = np.asarray(mne.pick_types(info, eeg=True, exclude="bads"), int)
    if picks.size == 0:
        raise InputError(source, "no EEG, EOG, ECG or EMG channels to correct")
    # bad input: NaN channels are an error; flat channels are skipped and reported
    scan0 = int(max(np.ceil(sched.onsets[0]), 0))
    scan1 = int(min(np.ceil(sched.onsets[-1] + sched.period), n_times))
    nan_ch = [names[i] for i in picks if not np.all(np.isfinite(data[i]))]
    if nan_ch:
        raise InputError(
            source,
            f"channel(s) with NaN or infinite samples: {', '.join(nan_ch[:10])}; "
            "mark them bad and drop them, or interpolate them first",
        )
    extremes = {int(i): (float(data[i, scan0:scan1].min()), float(data[i, scan0:scan1].max()))
                for i in picks} if scan1 > scan0 else {int(i): (0.0, 0.0) for i in picks}
    flat = [i for i, (lo, hi) in extremes.items() if lo == hi]
    picks = np.array([i for i in picks if i not in flat], int)
    eeg = np.array([i for i in eeg if i not in flat], int)
    # channels that clip at the amplifier's range (looked for in 16 volumes over the run)
    look = np.unique(np.linspace(0, sched.n_volumes - 1, min(sched.n_volumes, 16)).round().astype(int))
    spans = [(max(int(np.ceil(sched.onsets[v])), 0), min(int(np.ceil(sched.onsets[v] + sched.period)), n_times))
             for v in look]
    clipped = clipped_channels(data, picks, spans, extremes)
    if sync.acquisition.source == "volume" and sync.kind == "volume":
        acq = _detect_acquisition(data[eeg if eeg.size else picks], sched, sfreq, sync.fit.tr_s)
        sync.acquisition = acq
        sched.slot_offsets = np.asarray(acq.slot_offsets, float) * sync.fit.alpha * sfreq
    before = None
    qc_span = _qc_span(scan0, scan1, sfreq)
    if eeg.size:
        # rows by a slice each (np.ix_ with an arange gathered sample by sample: ~0.2 s here);
        # the indexing already copies, so a float32 array is not copied again
        before = data[eeg, qc_span[0] : qc_span[1]].astype(np.float32, copy=False)
    axes_basis = None
    if params.slice_axes > 0 and sfreq >= LOW_RATE_HZ and params.slice_axes_hp_hz < 0.4 * sfreq:
        from .axes import axis_basis, slice_epochs

        ep_starts, ep_frac, ep_len = slice_epochs(sched.onsets, sched.slot_offsets, sched.period, n_times)
        learn = eeg if eeg.size >= params.slice_axes else picks
        learn = learn[np.linspace(0, learn.size - 1, min(learn.size, 16)).round().astype(int)]
        if ep_len >= 16 and ep_starts.size >= 10 and learn.size >= params.slice_axes:
            axes_basis = axis_basis(data, learn, ep_starts, ep_frac, ep_len, params.slice_axes)
    lf = None
    if params.lf_scale and eeg.size >= 5 and params.lf_cutoff_hz > 0:
        from .lf_scale import lf_shape, volume_starts

        vs = volume_starts(sched.onsets, n_times)
        lf = (vs, lf_shape(data, eeg, vs[0], vs[1], sfreq, float(params.lf_cutoff_hz),
                            float(sync.acquisition.slice_frequency or 0.0))) if vs else (None, None)
    p(0.05, "correcting")
    ecg = None
    if params.cardiac_pass and eeg.size and scan1 > scan0:
        from .cardiac_pass import ecg_row

        ecg = ecg_row(types, picks, data, (scan0, scan1))
    cardiac = None
    if ecg is not None:
        # the cardiac pass (see .cardiac_pass): the pulse artifact estimated from the ECG's
        # R-peaks (backfitted against the templates at ~250 Hz), out of the data while the
        # templates are made, back in afterwards
        from .cardiac_pass import estimate

        p(0.05, "pulse artifact from the ECG's R-peaks")
        cardiac = estimate(data, eeg, ecg, sfreq, sched, aas_params, (scan0, scan1), n_jobs=params.n_jobs,
                           progress=p.sub(0.05, 0.2))
        cardiac.add_to(data, -1.0, n_jobs=params.n_jobs)
    else:
        from .cardiac_pass import CardiacEstimate

        why = ("off" if not params.cardiac_pass else "no ECG channel" if eeg.size else "no EEG channels")
        cardiac = CardiacEstimate(None, {"used": False, "reason": why})
    aas = correct_inplace(
        data,
        sched,
        picks,
        aas_params,
        ref_picks=eeg if eeg.size else None,
        obs_picks=eeg,
        n_jobs=params.n_jobs,
        progress=p.sub(0.2 if ecg is not None else 0.05, 0.8),
    )
    sched = Schedule(aas.onsets, sched.period, sched.slot_offsets)
    axes_info = None
    if axes_basis is not None:
        from .axes import regress_slices, slice_epochs

        ep_starts, ep_frac, _ = slice_epochs(sched.onsets, sched.slot_offsets, sched.period, n_times)
        axes_info = regress_slices(data, picks, ep_starts, ep_frac, axes_basis, sfreq,
                                   float(params.slice_axes_hp_hz), int(params.slice_axes_smooth),
                                   n_jobs=params.n_jobs)
    lf_info = None
    if lf is not None:
        from .lf_scale import follow_lf_size

        vs, shape = lf
        if vs is None:
            lf_info = {"kept": False, "reason": "volumes not one evenly spaced run"}
        else:
            per_vol = None
            if events is not None and np.asarray(events).size:
                ev = np.sort(np.asarray(events, np.int64))
                per_vol = (np.searchsorted(ev, vs[0] + vs[1]) - np.searchsorted(ev, vs[0])).astype(float)
            lf_info = follow_lf_size(data, eeg, vs[0], vs[1], shape, events=per_vol)
    cardiac.add_to(data, n_jobs=params.n_jobs)  # the pulse artifact back: the cardiac step's to remove
    cardiac.coarse = None
    if params.lowpass is not None:
        _lowpass_inplace(data, picks, sfreq, float(params.lowpass), params.n_jobs, p.sub(0.8, 0.92))
    p(0.92, "quality control")
    qc: dict[str, Any] = {"sync": sync.qc(), "params": asdict(params)}
    qc.update(
        n_volumes=sched.n_volumes,
        n_corrected_channels=int(picks.size),
        skipped_channels=[names[i] for i in flat],
        saturated_channels=[names[i] for i in sorted(clipped)],
        saturated_pct={names[i]: float(v) for i, v in sorted(clipped.items())},
        scan_start_s=scan0 / sfreq,
        scan_stop_s=scan1 / sfreq,
        max_shift_samples=float(np.max(np.abs(aas.shifts))) if aas.shifts.size else 0.0,
        obs_rank_median=float(np.median(list(aas.obs_rank.values()))) if aas.obs_rank else 0.0,
        reference_channels=[names[i] for i in aas.ref_channels],
        # what the data decided: the artifact's channel subspace (spatial pass), whether the
        # re-alignment was kept, the low band's window
        refinements={"spatial": dict(aas.spatial), **{k: dict(v) for k, v in aas.checks.items()}},
    )
    # the same decisions as plain scalars for the QC table (what a user reads in the GUI/report)
    qc["refinements"]["cardiac_pass"] = dict(cardiac.info)
    qc["cardiac_pass_used"] = bool(cardiac.info.get("used"))
    if "align" in aas.checks:
        qc["alignment_kept"] = bool(aas.checks["align"].get("kept"))
    if "rank" in aas.spatial:
        qc["spatial_rank"] = int(aas.spatial["rank"])
    qc["window_volumes"] = int(aas.checks.get("window", {}).get("chosen", aas_params.window))
    qc["alias_orders"] = int(aas.checks.get("alias_orders", {}).get("orders", aas_params.alias_orders))
    if params.keep_hz:
        # a kept frequency that turns less than 1/window of a cycle a volume repeats with the
        # volumes over the window: the templates' plain mean takes it whatever is kept
        w = max(int(qc["window_volumes"]), 1)
        cyc = np.asarray(params.keep_hz, float) * float(sched.period) / sfreq
        qc["keep_hz"] = [float(f) for f in params.keep_hz]
        qc["keep_locked_hz"] = [float(f) for f, c in zip(params.keep_hz, cyc) if abs(c - np.round(c)) < 1.0 / w]
    if "drift" in aas.checks:
        qc["drift_refined_ppm"] = float(aas.checks["drift"]["drift_ppm_change"]) if aas.checks["drift"]["kept"] else 0.0
    if axes_info is not None:
        qc["refinements"]["slice_axes"] = dict(axes_info)
        qc["slice_axes_explained_pct"] = 100.0 * float(axes_info["explained"])
        qc["slice_axes_kept"] = bool(axes_info["kept"])
    if lf_info is not None:
        qc["refinements"]["lf_scale"] = dict(lf_info)
        qc["lf_scale_kept"] = bool(lf_info["kept"])
        if lf_info["kept"]:  # (when not kept the scales are the EEG's noise: no size to show)
            qc["lf_scale_range_pct"] = float(lf_info["size_range_pct"])
    qc.update(evolution_qc(aas.evolution, sched, sfreq))
    if motion is not None:
        qc.update(motion_qc(motion, int(aas_params.segment_min)))
        if "motion" in aas.checks:
            qc["motion_kept"] = bool(aas.checks["motion"].get("kept"))
    if before is not None:
        rows = eeg[0] + np.arange(eeg.size)
        # consecutive rows (the usual case): a view, no copy
        after = (data[rows[0] : rows[-1] + 1, qc_span[0] : qc_span[1]] if np.array_equal(eeg, rows)
                 else data[eeg, qc_span[0] : qc_span[1]])
        fmax = 0.9 * params.lowpass if params.lowpass else 250.0
        sq = spectral_qc(
            before,
            after,
            sfreq,
            sync.acquisition.slice_frequency,
            sync.fit.tr_s * sync.fit.alpha,
            fmax=fmax,
        )
        sq["per_channel"]["names"] = [names[i] for i in eeg]
        if aas.checks.get("alias_orders", {}).get("kept"):
            # more alias orders were needed: the artifact folds in at lines between the
            # volume lines (at (k + m x phase step) / TR), where this ratio assumes none,
            # so it would read its removal as EEG lost (0.22 on the variant table's
            # multiband row without an anti-alias filter, corrected to 4.6 uV)
            sq["power_kept_1_40_off_comb"] = None
            sq["per_channel"]["power_kept_1_40_off_comb"] = [None] * len(eeg)
        qc.update(sq)
    p(1.0, "done")
    return GradientResult(
        raw=None,
        sync=sync,
        schedule=sched,
        aas=aas,
        picks=[int(i) for i in picks],
        params=params,
        qc=qc,
        n_times=n_times,
    )


def evolution_qc(evo: dict[str, np.ndarray], sched: Schedule, sfreq: float) -> dict[str, Any]:
    """How the artifact changed over the run (per volume, median over channels).

    ``artifact_size_range_pct``: 5th-95th percentile range of the volumes' artifact size
    relative to the run's mean; ``artifact_shape_change_pct``: 95th percentile over
    volumes of ``100 sqrt(1 - r^2)``, the part of a volume's artifact that is not the
    run's mean shape (r: correlation over the strongest artifact bins). The per-volume
    curves go under ``evolution`` (time of each volume in s).
    """
    if not evo or "size" not in evo:
        return {}
    size = np.asarray(evo["size"], float)
    r = np.clip(np.asarray(evo["shape_r"], float), -1.0, 1.0)
    dev = 100.0 * np.sqrt(np.maximum(1.0 - r**2, 0.0))
    out: dict[str, Any] = {
        "artifact_size_range_pct": float(100.0 * (np.percentile(size, 95) - np.percentile(size, 5))),
        "artifact_shape_change_pct": float(np.percentile(dev, 95)),
        "evolution": {
            "time_s": [float(t) for t in np.asarray(sched.onsets, float) / sfreq],
            "size": [float(v) for v in size],
            "shape_change_pct": [float(v) for v in dev],
        },
    }
    for k in ("amplitude", "reach"):
        if k in evo:
            out["evolution"][k] = [float(v) for v in np.asarray(evo[k], float)]
    if "reach" in evo:
        out["neighbour_reach_volumes"] = float(np.median(evo["reach"]))
    return out


def motion_qc(motion: Any, segment_min: int) -> dict[str, Any]:
    """What the motion-informed template choice did (for the QC table).

    ``motion_segments``: segments the run was cut into; ``motion_volumes_moved``: volumes
    whose framewise displacement exceeded the threshold (each starts a segment);
    ``motion_volumes_short``: volumes in segments shorter than ``segment_min`` (they keep
    the ordinary window); ``motion_fd_max_mm``: the largest framewise displacement.
    """
    lab = np.asarray(motion.labels, int)
    lens = np.bincount(lab) if lab.size else np.zeros(0, int)
    return {
        "motion_segments": int(motion.n_segments),
        "motion_volumes_moved": int(motion.moved.size),
        "motion_volumes_short": int(lens[lens < max(segment_min, 2)].sum()),
        "motion_fd_max_mm": float(np.max(motion.fd_mm)) if motion.fd_mm.size else 0.0,
        "motion_fd_threshold_mm": float(motion.threshold_mm),
    }


def _qc_span(s0: int, s1: int, sfreq: float, max_s: float = 60.0) -> tuple[int, int]:
    """The QC stretch from the middle of the scanning period: a tenth of it, between
    20 s and ``max_s`` (the QC keeps a float32 copy of it, so it stays small)."""
    n = int(min(max_s, max(20.0, 0.1 * (s1 - s0) / sfreq)) * sfreq)
    if s1 - s0 <= n:
        return s0, s1
    mid = (s0 + s1) // 2
    return mid - n // 2, mid - n // 2 + n


def _lowpass_inplace(
    data: np.ndarray, picks: np.ndarray, sfreq: float, lowpass: float, n_jobs: int, p: Progress
) -> None:
    """Zero-phase FIR low-pass, channel by channel in threads.

    The filter is MNE's own design (``mne.filter.create_filter``: Hamming-windowed,
    linear phase, MNE's default transition band); it is applied in float32 by
    :func:`fir_same` (FFT overlap-save), which is several times faster than
    ``mne.filter.filter_data`` on float64 copies (and ~3x faster than
    ``scipy.signal.oaconvolve``, same result to 1e-6). The edges are zero-padded rather
    than reflected (they lie outside the scanning period in practice).
    """
    h = lowpass_taps(sfreq, lowpass).astype(np.float32)

    def run(r: int) -> None:
        p.check()
        data[r] = fir_same(data[r], h)

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, n_jobs)) as ex:
        for _ in ex.map(run, [int(r) for r in picks]):
            done += 1
            p(done / len(picks), "low-pass")


def lowpass_taps(sfreq: float, h_freq: float) -> np.ndarray:
    """The taps of MNE's default FIR low-pass, ``mne.filter.create_filter(None, sfreq, None, h_freq)``.

    MNE's documented defaults: transition band ``min(max(h_freq / 4, 2 Hz), Nyquist -
    h_freq)``, a length of 3.3 / transition seconds (Hamming) made odd, and the taps of
    ``scipy.signal.firwin`` at the transition's middle, Hamming-windowed, unit gain at 0
    Hz, centred in that length. Written out here because MNE's design imports
    :mod:`scipy.signal` (with scipy.stats, optimize and interpolate): 0.6-0.9 s of the
    start-up of every ``workbench clean``, a tenth of its whole run on a 10-minute
    64-channel recording. ``tests/gradient/test_lowpass_taps.py`` holds it equal to MNE's
    taps (to 1e-12) over rates and cut-offs.

    Parameters
    ----------
    sfreq : float
        Sampling rate (Hz).
    h_freq : float
        Pass-band edge (Hz), below the Nyquist frequency.

    Returns
    -------
    ndarray of float64, shape (n_taps,)
        Odd-length, symmetric taps.
    """
    sfreq, h_freq = float(sfreq), float(h_freq)
    trans = min(max(0.25 * h_freq, 2.0), sfreq / 2.0 - h_freq)
    if not 0 < h_freq < sfreq / 2.0 or trans <= 0:
        raise ValueError(f"low-pass edge {h_freq:g} Hz must lie between 0 and the Nyquist frequency "
                         f"({sfreq / 2:g} Hz) with room for a transition band")
    n = max(int(np.ceil(3.3 / trans * sfreq)), 1)  # MNE: 3.3 / transition seconds, rounded up
    n += (n - 1) % 2
    m_len = int(round(3.3 / (trans / sfreq)))  # firwin's own length for this transition
    m_len += 1 - m_len % 2
    cutoff = (2.0 * h_freq + trans) / sfreq  # transition middle, as a fraction of Nyquist
    k = np.arange(m_len) - 0.5 * (m_len - 1)
    taps = cutoff * np.sinc(cutoff * k)
    taps *= 0.54 - 0.46 * np.cos(2.0 * np.pi * np.arange(m_len) / max(m_len - 1, 1))  # symmetric Hamming
    taps /= taps.sum()
    out = np.zeros(max(n, m_len))
    off = (out.size - m_len) // 2
    out[off : off + m_len] = taps
    return out


def fir_same(x: np.ndarray, h: np.ndarray, nfft: int = 16384, batch: int = 32) -> np.ndarray:
    """``np.convolve(x, h, "same")`` for an odd-length low-pass ``h``, in float32, by
    overlap-save: :func:`fir_decimate` keeping every sample.

    Written here rather than ``scipy.signal.oaconvolve``: blocks of ``nfft`` samples are
    taken as a strided view of one zero-padded copy of ``x`` and transformed ``batch`` at
    a time; on a 3-million-sample channel with MNE's 70 Hz low-pass (943 taps at 5 kHz)
    that takes ~21 ms against oaconvolve's ~75 ms (same output to ~1e-6 relative; the
    Nyquist bin, deep in the stop band, is dropped).

    Parameters
    ----------
    x : ndarray, shape (n,)
        Signal.
    h : ndarray, shape (m,)
        Filter taps (``m`` odd, ``m < nfft``), a low-pass.
    nfft : int
        FFT length of one block.
    batch : int
        Blocks transformed together.

    Returns
    -------
    ndarray of float32, shape (n,)
    """
    return fir_decimate(x, h, 1, nfft=nfft, batch=batch)


def fir_decimate(x: np.ndarray, h: np.ndarray, q: int, nfft: int = 16384, batch: int = 32) -> np.ndarray:
    """``fir_same(x, h)[::q]`` for a low-pass ``h`` well inside the new Nyquist, without
    computing the samples that are dropped.

    Overlap-save: blocks of ``nfft`` samples, a strided view of one zero-padded copy of
    ``x``, are transformed ``batch`` at a time; each block's spectrum is kept only up to
    the new Nyquist frequency (``sfreq / 2q``) and transformed back at the low rate, so the
    inverse transforms are ``q`` times shorter and the full-rate output is never written
    (for the gradient step's cardiac pass, 5 kHz to 250 Hz: 7.5 ms per 3-million-sample
    channel against 18 ms for the full-rate filter). The bins above the new Nyquist, where ``h`` has its stop band, are
    dropped rather than folded back, so the result differs from every ``q``-th sample of
    :func:`fir_same` only by what ``h`` leaves of them (on a 3-million-sample channel, 5 kHz
    to 250 Hz with the 40 Hz taps: 1.3e-5 of the signal).

    Parameters
    ----------
    x : ndarray, shape (n,)
        Signal.
    h : ndarray, shape (m,)
        Filter taps (``m`` odd), a low-pass whose stop band starts below ``sfreq / 2q``.
    q : int
        Decimation factor.
    nfft : int
        FFT length of one block (at least; rounded to a multiple of ``q``).
    batch : int
        Blocks transformed together.

    Returns
    -------
    ndarray of float32, shape (ceil(n / q),)
        The filtered signal at samples ``0, q, 2q, ...``.
    """
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import fft as sfft

    q = max(int(q), 1)
    m, n = int(h.size), int(x.size)
    M = sfft.next_fast_len(-(-int(max(nfft, 2 * m)) // q), real=True)
    M += M % 2  # even: the kept bins end at the low rate's Nyquist bin
    nfft = q * M
    L = ((nfft - m + 1) // q) * q  # new samples per block, a multiple of q
    npad = (m - 1) // 2
    i0 = npad % q  # where the kept samples fall in every block (the same for all)
    t0 = m - 1 + i0  # ... and in the block's circular output
    k = np.arange(M // 2 + 1)
    Hs = sfft.rfft(np.asarray(h, np.float64), nfft)[: M // 2 + 1] * np.exp(2j * np.pi * k * t0 / nfft) / q
    Hs[-1] = 0.0  # the low rate's Nyquist bin: h's stop band; irfft would keep only its real part
    Hs = Hs.astype(np.complex64)
    n_out = -(-n // q)
    skip = npad // q  # kept outputs before sample 0
    per = L // q
    nb = -(-(skip + n_out) // per)
    xp = np.zeros((nb - 1) * L + nfft, np.float32)  # the last block's window ends here
    xp[m - 1 : m - 1 + n] = x
    win = sliding_window_view(xp, nfft)[::L]  # block j: xp[j L : j L + nfft], no copy
    out = np.empty((nb, per), np.float32)
    for s in range(0, nb, batch):
        X = sfft.rfft(win[s : s + batch], axis=-1)[:, : M // 2 + 1]
        X *= Hs
        out[s : s + X.shape[0]] = sfft.irfft(X, M, axis=-1)[:, : per]
    return out.reshape(-1)[skip : skip + n_out]
