"""Settings of a phantom study (:class:`PhantomConfig`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import InputError

__all__ = ["PhantomConfig"]


@dataclass(frozen=True)
class PhantomConfig:
    """Everything that defines a simulated simultaneous EEG-fMRI study.

    Units are SI (s, Hz, V) except where a name says otherwise (``_mm``, ``_ppm``,
    ``_bpm``, ``_uv``, ``_mv``). The same config and seed give identical files.

    Attributes
    ----------
    duration_s : float
        Length of the EEG recording (EEG clock). Scanning starts ``lead_in_s`` after
        the EEG starts and ends ``lead_out_s`` before it stops.
    sfreq : float
        EEG sampling rate (Hz), on the EEG amplifier's own clock.
    n_eeg : int
        Number of scalp EEG channels, 32 or 64 (10-20/10-10 names, FCz reference);
        one ECG and one EOG channel are added.
    tr : float
        Repetition time of the EPI sequence (s, scanner clock).
    slices : int
        Slices per volume (all bands together).
    multiband : int
        Simultaneous-multislice factor; ``slices / multiband`` excitations per TR.
    dead_time_s : float
        Gap at the end of each TR without slice acquisitions.
    drift_ppm : float
        How much faster the EEG clock runs than the scanner clock (parts per million):
        ``t_EEG = alpha * t_MRI + beta`` with ``alpha = 1 + drift_ppm * 1e-6``.
    missing_triggers, extra_triggers : int
        Volume triggers dropped from / spuriously added to the EEG marker file.
    trigger_jitter_s : float
        Standard deviation of the latency of each registered trigger (s).
    slice_markers : bool
        Also write a marker for every slice excitation (``Scanner/s``, the
        BrainVision Analyzer convention), on the EEG clock.
    dig_noise_mm : float
        RMS 3D error of each digitised point (mm).
    dig_bias_mm : float
        Systematic outward offset of every digitised point (a stylus/cap-thickness
        miscalibration), mm along the direction from the head centre.
    dig_lift_mm : tuple(float, float)
        Range of the height of each digitised electrode above the skin (mm, uniform per
        electrode, along the scalp normal): the stylus touches the electrode housing on
        the cap, 3-5 mm above the skin with the gel. ``(0, 0)`` digitises the skin.
    dig_coverage : str
        Where the head-shape points are: ``"upper"`` (above the ear/nasion plane, what a
        digitiser session with the cap on gives), ``"upper+face"`` (plus nose and brow)
        or ``"full"`` (down to 6 cm below that plane).
    dig_outliers : int
        Head-shape points digitised 15 mm off the skin (the stylus lifted).
    dig_axis_scale : float
        Gain error of one digitiser axis (1.015: 1.5 % too long; the axis is drawn at
        random per subject). The defaults are a realistic session; ``IDEALISED_DIG`` in
        :mod:`.head` gives the idealised one.
    n_head_points : int
        Extra head-shape points digitised on the scalp.
    n_subjects : int
        Subjects ``sub-01`` ... written into the study.
    seed : int
        Seed of every random choice.
    line_freq : float
        Mains frequency (Hz); harmonics up to ``line_harmonics`` are added.
    heart_rate_bpm, hrv : float
        Mean heart rate and heart-rate variability (SD of RR intervals / mean RR).
    bcg_delay_s : float
        Delay of the ballistocardiogram peak after each R-peak.
    n_trials : int | None
        Number of task trials; ``None`` fills the scan with trials ``isi_s`` apart.
    isi_s : tuple(float, float)
        Range of the (uniformly jittered) interval between trial onsets; 2-4 s is a
        rapid event-related design (~10 trials of each of the two conditions per minute).
    trial_amplitude_sd : float
        Trial-by-trial variability of the evoked response and its BOLD: the SD of the
        log of each trial's amplitude (log-normal, mean 1; 0.5 is a coefficient of
        variation of ~50 %, as attention, arousal and habituation make single-trial
        responses vary).
    chunk_s : float
        Length of the blocks the EEG is generated and streamed to disk in.
    gradient_mv : float
        Peak of the gradient artifact on a typical channel (mV, after the amplifier
        filter); scales the electrode lead-loop areas (the shape is pure geometry).
    bcg_uv : float
        Peak of the average ballistocardiogram on a typical channel (µV); scales the
        pulse-driven head rotation (the channel pattern is pure geometry).
    amp_lowpass_hz : float | None
        Hardware anti-alias low-pass of the amplifier (Hz); ``None`` means
        ``sfreq / 4`` (BrainAmp MR: 1000 Hz at 5 kHz).
    bold_voxel_mm : float
        In-plane voxel size of the BOLD series; slice thickness is chosen to cover
        120 mm of brain.
    t1_voxel_mm : float
        Voxel size of the T1-weighted volume.
    blink_rate_hz : float
        Mean blink rate.
    motion_events : int
        Small head movements during the scan: each changes every lead loop's coupling
        to the gradients by ~``motion_size`` (relative SD) within 0.3 s, so the
        gradient artifact steps (a template that does not track it leaves residue).
    motion_size : float
        Relative SD of the loop change per movement.
    gradient_drift : float
        How much the gradient artifact's amplitude *and shape* drift over the run, the
        way a real bore does (0: off, 1: typical). Breathing (variable rate and depth)
        changes each lead loop's coupling to the three gradient axes differently,
        gradient-coil heating changes each axis's gain and delay slowly (minutes), and
        the loops wander slowly; head movements (``motion_events``) then change each
        axis's coupling separately (a shape jump, not only an amplitude step).
    gradient_sampling : str
        How the amplifier turns the lead EMF into samples. ``"mean"`` (default): each
        sample is the EMF averaged over its sample interval, then the anti-alias filter
        runs at the sampling rate. ``"point"``: the anti-alias filter acts on the
        continuous EMF (computed on a 16x finer grid) and each sample is its
        instantaneous value, as an ADC behind an analog filter takes it (with a weak
        filter the artifact aliases strongly).
    gradient_antialias : bool
        Apply the amplifier's anti-alias low-pass (``amp_lowpass_hz``) to the gradient
        artifact at all (False: an amplifier without one).
    gradient_jitter_s : float
        SD of a random timing error of every slice excitation against the nominal
        timeline (s, scanner side; the gradient clock's jitter); 0: off.
    gradient_volume_jitter_s : float
        SD of a random shift of each whole volume's gradients against its trigger
        (s; trigger-to-artifact jitter); 0: off.
    gradient_eddy : float
        Size of the eddy-current response left after pre-emphasis: each axis's gradient
        gets exponential tails (time constants 0.8, 6 and 40 ms, relative sizes 3, 1.5
        and 0.8 % x this value), so the artifact has slow, volume-locked tails; 0: off.
    gradient_lf_uv : float
        RMS (µV, typical channel) of a slowly varying low-frequency (5-35 Hz)
        volume-locked component (the scanner table and cables vibrating after each
        volume's gradients), its size wandering by ~40 % over tens of seconds; 0: off.
    """

    duration_s: float = 60.0
    sfreq: float = 5000.0
    n_eeg: int = 32
    tr: float = 2.0
    slices: int = 30
    multiband: int = 1
    dead_time_s: float = 0.0
    drift_ppm: float = 20.0
    missing_triggers: int = 0
    extra_triggers: int = 0
    trigger_jitter_s: float = 0.0
    slice_markers: bool = False
    dig_noise_mm: float = 2.0
    dig_bias_mm: float = 0.0
    dig_lift_mm: tuple[float, float] = (3.0, 5.0)
    dig_coverage: str = "upper"
    dig_outliers: int = 4
    dig_axis_scale: float = 1.0
    n_head_points: int = 150
    n_subjects: int = 1
    seed: int = 0
    line_freq: float = 50.0
    line_harmonics: int = 3
    heart_rate_bpm: float = 65.0
    hrv: float = 0.05
    bcg_delay_s: float = 0.21
    n_trials: int | None = None
    isi_s: tuple[float, float] = (2.0, 4.0)
    trial_amplitude_sd: float = 0.5
    lead_in_s: float = 2.0
    lead_out_s: float = 1.0
    chunk_s: float = 20.0
    gradient_mv: float = 5.0
    bcg_uv: float = 80.0
    amp_lowpass_hz: float | None = None
    bold_voxel_mm: float = 3.5
    t1_voxel_mm: float = 2.0
    blink_rate_hz: float = 0.2
    motion_events: int = 0
    motion_size: float = 0.05
    gradient_drift: float = 0.0
    gradient_sampling: str = "mean"
    gradient_antialias: bool = True
    gradient_jitter_s: float = 0.0
    gradient_volume_jitter_s: float = 0.0
    gradient_eddy: float = 0.0
    gradient_lf_uv: float = 0.0

    def __post_init__(self) -> None:
        def bad(name: str, problem: str) -> None:
            raise InputError(None, f"phantom setting {name}: {problem}")

        for name in ("duration_s", "sfreq", "tr", "chunk_s", "line_freq", "heart_rate_bpm",
                     "gradient_mv", "bcg_uv", "bold_voxel_mm", "t1_voxel_mm"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                bad(name, f"must be a positive number, got {v!r}")
        for name in ("dead_time_s", "trigger_jitter_s", "dig_noise_mm", "dig_bias_mm", "hrv",
                     "lead_in_s", "lead_out_s", "blink_rate_hz", "trial_amplitude_sd"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                bad(name, f"must be a non-negative number, got {v!r}")
        if self.n_eeg not in (32, 64):
            bad("n_eeg", f"must be 32 or 64, got {self.n_eeg!r}")
        if self.sfreq < 500:
            bad("sfreq", f"must be at least 500 Hz to sample the gradient artifact, got {self.sfreq}")
        if not (isinstance(self.multiband, int) and self.multiband >= 1):
            bad("multiband", f"must be an integer >= 1, got {self.multiband!r}")
        if not (isinstance(self.slices, int) and self.slices >= 1):
            bad("slices", f"must be an integer >= 1, got {self.slices!r}")
        if self.slices % self.multiband:
            bad("slices", f"{self.slices} slices are not divisible by multiband factor {self.multiband}")
        if self.dead_time_s >= self.tr:
            bad("dead_time_s", f"{self.dead_time_s} s leaves no time to acquire slices in TR {self.tr} s")
        if (self.tr - self.dead_time_s) / (self.slices // self.multiband) < 0.01:
            bad("slices", "less than 10 ms per excitation: too many slices for this TR")
        if abs(self.drift_ppm) > 1000:
            bad("drift_ppm", f"|drift| must be below 1000 ppm, got {self.drift_ppm}")
        if not (isinstance(self.gradient_drift, (int, float)) and 0 <= self.gradient_drift <= 5):
            bad("gradient_drift", f"must be in [0, 5], got {self.gradient_drift!r}")
        if self.gradient_sampling not in ("mean", "point"):
            bad("gradient_sampling", f"must be 'mean' or 'point', got {self.gradient_sampling!r}")
        for name in ("gradient_jitter_s", "gradient_volume_jitter_s", "gradient_eddy", "gradient_lf_uv"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                bad(name, f"must be a number >= 0, got {v!r}")
        if not (isinstance(self.motion_size, (int, float)) and 0 <= self.motion_size < 0.5):
            bad("motion_size", f"must be in [0, 0.5), got {self.motion_size!r}")
        lo_l, hi_l = self.dig_lift_mm
        if not (0 <= lo_l <= hi_l <= 20):
            bad("dig_lift_mm", f"must be (min, max) with 0 <= min <= max <= 20 mm, got {self.dig_lift_mm!r}")
        if self.dig_coverage not in ("upper", "upper+face", "full"):
            bad("dig_coverage", f"must be 'upper', 'upper+face' or 'full', got {self.dig_coverage!r}")
        if not (isinstance(self.dig_axis_scale, (int, float)) and 0.8 <= self.dig_axis_scale <= 1.2):
            bad("dig_axis_scale", f"must be between 0.8 and 1.2, got {self.dig_axis_scale!r}")
        for name in ("missing_triggers", "extra_triggers", "n_head_points", "seed", "motion_events", "dig_outliers"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 0):
                bad(name, f"must be a non-negative integer, got {v!r}")
        if not (isinstance(self.n_subjects, int) and 1 <= self.n_subjects <= 99):
            bad("n_subjects", f"must be an integer in 1..99, got {self.n_subjects!r}")
        if self.n_trials is not None and not (isinstance(self.n_trials, int) and self.n_trials >= 0):
            bad("n_trials", f"must be a non-negative integer or None, got {self.n_trials!r}")
        if self.trial_amplitude_sd > 1.5:
            bad("trial_amplitude_sd", f"must be at most 1.5 (log units), got {self.trial_amplitude_sd}")
        lo, hi = self.isi_s
        if not (0 < lo <= hi):
            bad("isi_s", f"must be (min, max) with 0 < min <= max, got {self.isi_s!r}")
        if self.scan_duration_s < self.tr or self.n_volumes < 2:
            bad("duration_s", f"{self.duration_s} s leaves less than two TRs of scanning "
                f"after the {self.lead_in_s} s lead-in and {self.lead_out_s} s lead-out")
        if self.n_volumes <= self.missing_triggers + 1:
            bad("missing_triggers", f"cannot drop {self.missing_triggers} of {self.n_volumes} volume triggers")
        if self.amp_lowpass_hz is not None and not (0 < self.amp_lowpass_hz < self.sfreq / 2):
            bad("amp_lowpass_hz", f"must be between 0 and Nyquist ({self.sfreq / 2} Hz)")

    # ----------------------------------------------------------------- derived
    @property
    def scan_duration_s(self) -> float:
        """Scanner time available for volumes (s)."""
        return self.duration_s - self.lead_in_s - self.lead_out_s

    @property
    def n_volumes(self) -> int:
        """Number of complete volumes acquired."""
        return int(math.floor(self.scan_duration_s / self.tr * (1 - 1e-9)))

    @property
    def n_times(self) -> int:
        """Number of EEG samples."""
        return int(round(self.duration_s * self.sfreq))

    @property
    def excitations_per_volume(self) -> int:
        """Slice excitations (slice groups) per TR."""
        return self.slices // self.multiband

    @property
    def slice_period_s(self) -> float:
        """Time between slice excitations (s, scanner clock)."""
        return (self.tr - self.dead_time_s) / self.excitations_per_volume

    @property
    def alpha(self) -> float:
        """EEG-clock rate relative to the scanner clock."""
        return 1.0 + self.drift_ppm * 1e-6

    @property
    def lowpass_hz(self) -> float:
        """Amplifier anti-alias cut-off (Hz)."""
        return float(self.amp_lowpass_hz) if self.amp_lowpass_hz is not None else self.sfreq / 4.0

    def describe(self) -> list[str]:
        """Derived timing and sizes, one fact per line (for the CLI and teaching)."""
        per_slice = self.slice_period_s * self.sfreq
        n_ch = self.n_eeg + 2
        size_gb = n_ch * self.n_times * 4 / 1e9
        return [
            f"{self.n_volumes} volumes of {self.slices} slices (multiband {self.multiband}: "
            f"{self.excitations_per_volume} excitations per TR {self.tr:g} s)",
            f"slice period {self.slice_period_s * 1e3:.3f} ms = {per_slice:.3f} EEG samples"
            + ("" if abs(per_slice - round(per_slice)) > 1e-9 else " (a whole number: only drift moves the phase)"),
            f"clock drift {self.drift_ppm:g} ppm: {abs(self.drift_ppm) * 1e-6 * self.scan_duration_s * 1e3:.2f} ms "
            f"of mismatch over the scan",
            f"{n_ch} channels x {self.n_times:,} samples: {size_gb:.2f} GB of EEG, "
            f"{7 * size_gb:.2f} GB with the ground-truth components",
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        d = asdict(self)
        d["isi_s"] = list(self.isi_s)
        d["dig_lift_mm"] = list(self.dig_lift_mm)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhantomConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputError(None, f"unknown phantom settings: {', '.join(unknown)}")
        d = dict(d)
        for key in ("isi_s", "dig_lift_mm"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)
