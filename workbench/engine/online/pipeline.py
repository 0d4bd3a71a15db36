"""The online correction pipeline: chunks in, cleaned chunks out, per-chunk latency.

Pure numpy/scipy and Qt-free; it knows nothing of LSL (:mod:`.lsl` feeds it). Order of
work on each chunk: stream checks (gap, sample rate), volume markers mapped to samples,
causal gradient subtraction (:mod:`.gradient`), a causal Butterworth low-pass (the
online stand-in for the offline zero-phase FIR; its group delay is reported), causal
R-peaks on the ECG (:mod:`.rpeaks`), causal BCG subtraction (:mod:`.bcg`). With an ECG,
the R-locked mean of past beats (:mod:`.pulse`) is also kept out of the gradient
templates' epochs (the offline cardiac pass made causal). Nothing ever
stops the stream: bad input makes samples pass through uncorrected, flagged
(:mod:`.flags`), with a one-line message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from ..io.triggers import VOLUME_NAMES, normalise_name
from . import flags as F
from .backfit import TrailingBackfit
from .bcg import CausalBCG
from .gradient import CausalGradient
from .pulse import CausalPulse
from .rpeaks import CausalRPeaks

log = logging.getLogger(__name__)

#: channel types the gradient correction is applied to (the offline step's set)
CORRECTED_TYPES = ("eeg", "eog", "ecg", "emg")
#: name of the flag channel appended to the cleaned stream
FLAG_CHANNEL = "ONLINE_FLAG"


@dataclass
class OnlineParams:
    """Parameters of the online correction.

    Attributes
    ----------
    volume_marker : str | None
        Marker name of the volume trigger (``"R128"`` matches ``"Response/R128"``);
        None accepts the usual scanner names (``R128``, ``Volume``, ``TR`` ...).
    window : int
        Past volumes averaged per gradient template.
    window_lf : int | None
        Longer window for the template below 40 Hz (None: off).
    wiener : bool
        Weight each frequency of the template by its artifact-to-EEG ratio.
    trend : bool
        Extrapolate the template's per-frequency trend to the current volume.
    alias_orders : int | None
        Orders of the causal alias model (the sub-sample-phase part of the artifact);
        0: off; None: 4 from 900 Hz to 2 kHz, else 2 (as offline).
    align : bool | None
        Measure each volume's onset on its epoch and place the templates at onsets
        predicted from those measurements (else from the markers only); None: from
        2 kHz (below, the aliased part pulls the measurements).
    predict_onsets : bool
        When a volume's marker is late or missing, correct the volume from the onset
        the TR rhythm predicts, where the data confirm the artifact (else those samples
        pass through uncorrected, flagged); at most ``predict_volumes`` volumes past the
        last marker.
    slice_axes : int
        Gradient axes' waveforms whose mix, left by the template in the blocks before, is
        subtracted (:class:`.axes.OnlineAxes`; the offline step's slice-wise fit made
        causal; applied only while it predicts); 0 or below 2 kHz: off.
    lf_scale : bool
        Follow the size of the artifact's low band (the scanner table's ringing, below
        40 Hz) from volume to volume, each volume's share predicted from the ones before
        (:mod:`.lf_scale`, the offline step's ``lf_scale`` made causal); only where that
        size wanders. Switch it off when stimuli are locked to the volume onsets in task
        blocks: their evoked response would be taken for the ringing.
    spatial : bool
        Below 1.25x the low band's cut-off, give the template's parts inside and outside
        the artifact's channel subspace their own Wiener gains (the offline step's
        spatial pass made causal; :meth:`.gradient.CausalGradient._split_low_band`).
    predict_volumes : int
        Volumes predicted past the last marker before giving up (flagged).
    min_volumes : int
        Volumes needed before the gradient is subtracted.
    lowpass_hz : float | None
        Causal low-pass after the gradient subtraction (Hz); None: off.
    lowpass_order : int
        Butterworth order of that low-pass.
    bcg : bool
        Subtract the BCG (needs an ECG channel).
    cardiac_pass : bool
        Keep the pulse artifact out of the gradient templates (:mod:`.pulse`; needs an
        ECG channel): each volume epoch enters them minus the R-locked mean of the beats
        before it, as the offline gradient step's cardiac pass does. The BCG itself is
        left for the BCG step.
    pulse_backfit : bool
        With the cardiac pass: the offline pass's backfitting on the last 60 s, every
        10 s (4 s in the first minute) in a thread of its own, once that window holds 30
        beats (:mod:`.backfit`); the stored volumes it covers are cleaned again with it.
        It separates a heart that repeats with the volumes, which the causal R-locked
        mean cannot.
    bcg_window : int
        Past beats averaged per BCG template.
    bcg_min_beats : int
        Beats needed before the BCG is subtracted.
    rate_tolerance : float
        Relative mismatch between the header's and the measured sample rate that
        stops the correction (flagged) until it agrees again.
    gap_s : float
        A jump of the sample timestamps larger than this is a gap (stop and resume).
    keep_hz : tuple of float
        Steady-state stimulation frequencies (Hz; SSVEP, ASSR) to keep: around them the
        gradient template is the window mean alone (``CausalGradient`` ``keep_hz``; a
        steady signal is otherwise followed like the folded artifact, which turns from
        volume to volume as the clocks drift).
    """

    volume_marker: str | None = None
    window: int = 20
    window_lf: int | None = 60
    wiener: bool = True
    trend: bool = False
    alias_orders: int | None = None
    align: bool | None = None
    predict_onsets: bool = True
    predict_volumes: int = 10
    slice_axes: int = 3
    spatial: bool = True
    lf_scale: bool = True
    min_volumes: int = 3
    lowpass_hz: float | None = 70.0
    lowpass_order: int = 4
    bcg: bool = True
    cardiac_pass: bool = True
    pulse_backfit: bool = True
    bcg_window: int = 20
    bcg_min_beats: int = 5
    rate_tolerance: float = 0.02
    gap_s: float = 0.1
    keep_hz: tuple[float, ...] = ()


@dataclass
class ChunkResult:
    """One cleaned chunk.

    Attributes
    ----------
    data : ndarray (n_channels + 1, n)
        Every input channel (corrected ones cleaned, others passed through) plus the
        flag channel (:data:`FLAG_CHANNEL`) as the last row.
    flags : ndarray (n,)
        Per-sample flags (:mod:`.flags`).
    first_sample : int
        Global index of the first sample.
    compute_s : float
        Time spent in :meth:`OnlinePipeline.process`.
    messages : list of str
        New state messages (bad input, learning done, ...).
    live : dict
        A small QC snapshot after this chunk (:meth:`OnlinePipeline.live`): what a live
        view shows while the run goes on, handed over with the chunk so that a view
        never reads the pipeline's state from another thread.
    """

    data: np.ndarray
    flags: np.ndarray
    first_sample: int
    compute_s: float
    messages: list[str] = field(default_factory=list)
    live: dict[str, Any] = field(default_factory=dict)


def is_volume_marker(name: str, wanted: str | None) -> bool:
    """Whether a marker ``name`` is the volume trigger (``wanted`` or a usual name)."""
    n = normalise_name(name)
    short = n.rsplit("/", 1)[-1]
    if wanted is not None:
        w = normalise_name(wanted)
        return n == w or short == w
    return n in VOLUME_NAMES[:9] or short in VOLUME_NAMES[:9]


class OnlinePipeline:
    """Causal gradient + BCG correction fed sample chunks.

    Parameters
    ----------
    ch_names : list of str
    ch_types : list of str
        MNE channel types; ``eeg``, ``eog``, ``ecg``, ``emg`` are gradient-corrected.
    sfreq : float
        Sample rate from the stream's header (Hz).
    params : OnlineParams | None
    ecg : str | None
        ECG channel for the R-peaks (None: the first channel of type ``ecg``; no ECG
        channel means no BCG correction, said once).
    threaded : bool
        Prepare gradient templates in a background thread.
    """

    def __init__(
        self,
        ch_names: list[str],
        ch_types: list[str],
        sfreq: float,
        params: OnlineParams | None = None,
        *,
        ecg: str | None = None,
        threaded: bool = True,
    ) -> None:
        self.p = params or OnlineParams()
        self.ch_names = list(ch_names)
        self.sfreq = float(sfreq)
        self.picks = np.array([i for i, t in enumerate(ch_types) if t in CORRECTED_TYPES], int)
        self.messages: list[str] = []
        self._new: list[str] = []
        if ecg is not None and ecg not in self.ch_names:
            raise ValueError(f"ECG channel {ecg!r} is not in the stream")
        if ecg is None:
            ecg = next((n for n, t in zip(ch_names, ch_types) if t == "ecg"), None)
        if ecg is None:  # an ECG recorded as an EEG channel, named so
            ecg = next((n for n in ch_names if n.upper().startswith(("ECG", "EKG"))), None)
        self.ecg = ecg
        self.ecg_row: int | None = None
        if ecg is not None and self.ch_names.index(ecg) in self.picks:
            self.ecg_row = int(np.flatnonzero(self.picks == self.ch_names.index(ecg))[0])
        self.grad = CausalGradient(
            self.picks.size, self.sfreq, window=self.p.window, window_lf=self.p.window_lf,
            wiener=self.p.wiener, trend=self.p.trend, min_volumes=self.p.min_volumes, threaded=threaded,
            alias_orders=self.p.alias_orders, align=self.p.align, predict_onsets=self.p.predict_onsets,
            predict_volumes=self.p.predict_volumes, slice_axes=self.p.slice_axes, spatial=self.p.spatial,
            lf_scale=self.p.lf_scale, keep_hz=self.p.keep_hz,
            spatial_rows=[k for k, i in enumerate(self.picks) if ch_types[i] == "eeg" and k != self.ecg_row],
        )
        self.sos = None
        if self.p.lowpass_hz is not None:
            self.sos = signal.butter(self.p.lowpass_order, self.p.lowpass_hz, fs=self.sfreq, output="sos")
            self.zi = np.zeros((self.sos.shape[0], self.picks.size, 2))
        want_peaks = self.p.bcg or self.p.cardiac_pass
        self.rpeaks = CausalRPeaks(self.sfreq) if (want_peaks and self.ecg_row is not None) else None
        bcg_rows = [k for k, i in enumerate(self.picks) if ch_types[i] in ("eeg", "eog") and k != self.ecg_row]
        self.bcg_rows = np.array(bcg_rows, int)
        self.bcg = (CausalBCG(self.bcg_rows.size, self.sfreq, window=self.p.bcg_window, min_beats=self.p.bcg_min_beats)
                    if self.rpeaks and self.p.bcg else None)
        self.pulse: CausalPulse | None = None
        self.backfit: TrailingBackfit | None = None
        if self.p.cardiac_pass and self.rpeaks is not None:
            assert self.ecg_row is not None
            self.pulse_rows = np.array([*bcg_rows, self.ecg_row], int)  # the EEG's pulse, the ECG's own beat
            self.pulse = CausalPulse(self.pulse_rows.size, self.sfreq)
            self.grad.pulse, self.grad.pulse_rows = self.pulse, self.pulse_rows
            if self.p.pulse_backfit:
                from ..gradient.correct import GradientParams

                self.backfit = TrailingBackfit(self.pulse_rows.size, self.sfreq)
                self.grad.backfit = self.backfit
                self.grad.backfit_params = GradientParams(
                    keep_hz=tuple(f for f in self.p.keep_hz if 0 < f < self.sfreq / 2)).aas(self.sfreq)
        beyond = [f for f in self.p.keep_hz if not 0 < f < self.sfreq / 2]
        if beyond:
            self._say(f"frequencies to keep outside (0, {self.sfreq / 2:g}) Hz ignored: "
                      + ", ".join(f"{f:g} Hz" for f in beyond))
        if self.p.bcg and self.rpeaks is None:
            self._say("no ECG channel: the BCG is not corrected (samples flagged)")
        if self.p.cardiac_pass and self.rpeaks is None:
            self._say("no ECG channel: the pulse artifact is not kept out of the gradient templates")
        self._pulse_said = False
        self._pulse_bad = False
        self.n_in = 0  # samples received (global index of the next one)
        self.n_missing = 0
        self._flag_counts = {"corrected": 0, **{name: 0 for name in F.NAMES.values()}}
        self._last_ts: float | None = None
        self._rate_ref: tuple[int, float] | None = None
        self._rate_bad = False
        self._markers: list[tuple[float, str]] = []
        self._marker_count = 0
        self._said_no_markers = False
        self._bcg_said = False
        self._grad_said = False
        self.n_rpeaks = 0

    # ----------------------------------------------------------------- helpers
    def _say(self, msg: str) -> None:
        log.info("online: %s", msg)
        self.messages.append(msg)
        self._new.append(msg)

    @property
    def out_names(self) -> list[str]:
        """Channel names of the cleaned stream."""
        return [*self.ch_names, FLAG_CHANNEL]

    def filter_delay_ms(self, freq: float = 10.0) -> float:
        """Group delay of the causal low-pass at ``freq`` (ms); 0 without it."""
        if self.sos is None:
            return 0.0
        b, a = signal.sos2tf(self.sos)
        _, gd = signal.group_delay((b, a), w=[freq], fs=self.sfreq)
        return float(gd[0] / self.sfreq * 1e3)

    def add_markers(self, stamps: Any, names: Any) -> None:
        """Markers with their timestamps (same clock as the samples' timestamps).

        Only volume triggers (see :func:`is_volume_marker`) are kept.
        """
        for t, n in zip(np.atleast_1d(stamps), np.atleast_1d(names)):
            if is_volume_marker(str(n), self.p.volume_marker):
                self._markers.append((float(t), str(n)))
        self._markers.sort()

    def add_marker_samples(self, samples: Any) -> None:
        """Volume markers given directly as global sample indices (file replay)."""
        for s in np.atleast_1d(samples):
            self._markers.append((np.nan, f"#{int(s)}"))

    def marker_due(self, timestamps: np.ndarray) -> bool:
        """True when the marker rhythm says a volume starts within these samples
        (next chunk) and no marker for it has arrived yet, and the gradient cannot
        start it from its predicted onset (too few markers to predict it)."""
        g = self.grad
        if g.period is None or not g.vols or self._rate_bad or g.predicts:
            return False
        if any(t <= timestamps[-1] + 2.0 / self.sfreq for t, _ in self._markers):
            return False
        n0 = self.n_in
        n1 = n0 + len(timestamps)
        last = g.vols[-1].marker
        k = max(1, int(np.ceil((n0 - last - 2) / g.period)))
        pred = last + k * g.period
        return n0 - 2 <= pred < n1 + 2

    def _map_markers(self, ts: np.ndarray, n0: int) -> None:
        """Hand the markers on these samples, or on the sample right after them, to
        the gradient correction.

        The sample after the chunk too: a volume starts at its predicted onset when its
        marker agrees to a sample (:meth:`.gradient.CausalGradient._start`), so a marker
        on the next sample may start the volume on this chunk's last one. Held back
        until its own chunk, it left that sample to a provisional volume, judged on one
        sample (flagged "marker late" on the 2 kHz phantom replayed in 1- and 2-sample
        chunks, which kept a beat out of the BCG template for a second).
        """
        keep = []
        n1 = n0 + ts.size
        for t, name in self._markers:
            if name.startswith("#"):
                idx = int(name[1:])
                if idx > n1:
                    keep.append((t, name))
                    continue
            else:
                if t > ts[-1] + 1.5 / self.sfreq:
                    keep.append((t, name))
                    continue
                idx = n0 + int(round((t - ts[0]) * self.sfreq))
            self.grad.add_marker(idx, now=n0)
            self._marker_count += 1
        self._markers = keep

    def _check_stream(self, ts: np.ndarray) -> None:
        n0 = self.n_in
        if self._last_ts is not None:
            jump = ts[0] - self._last_ts
            if jump > self.p.gap_s:
                miss = max(int(round(jump * self.sfreq)) - 1, 0)
                self.n_missing += miss
                self.grad.gap(miss)
                if self.bcg is not None:
                    self.bcg.gap(miss)
                if self.pulse is not None:
                    self.pulse.gap(miss)
                if self.backfit is not None:
                    self.backfit.gap(miss)
                self.n_in += miss
                self._rate_ref = None
                self._say(
                    f"stream gap of {jump:.3f} s (~{miss} samples lost) at sample {n0}: "
                    "gradient correction paused until the next volume marker"
                )
        self._last_ts = float(ts[-1])
        n_end = self.n_in + ts.size
        if self._rate_ref is None:
            self._rate_ref = (n_end, float(ts[-1]))
            return
        dn = n_end - self._rate_ref[0]
        dt = float(ts[-1]) - self._rate_ref[1]
        if dt >= 5.0:
            eff = dn / dt
            bad = abs(eff / self.sfreq - 1.0) > self.p.rate_tolerance
            if bad and not self._rate_bad:
                self._say(
                    f"samples arrive at {eff:.1f} Hz but the stream header says {self.sfreq:g} Hz: "
                    "passing through uncorrected (flagged) until they agree"
                )
            elif not bad and self._rate_bad:
                self._say(f"sample rate agrees with the header again ({eff:.1f} Hz): correcting")
            self._rate_bad = bad
            self._rate_ref = (n_end, float(ts[-1]))

    # ----------------------------------------------------------------- process
    def process(self, data: np.ndarray, timestamps: np.ndarray | None = None) -> ChunkResult:
        """Clean one chunk of samples.

        Parameters
        ----------
        data : ndarray (n_channels, n)
            Samples in volts, the channels of ``ch_names``.
        timestamps : ndarray (n,) | None
            Sample times (s, the markers' clock); None: from the sample count.

        Returns
        -------
        ChunkResult
        """
        t_start = time.perf_counter()
        n = data.shape[1]
        if timestamps is None:
            timestamps = (self.n_in + np.arange(n)) / self.sfreq
        ts = np.asarray(timestamps, float)
        jumps = np.flatnonzero(np.diff(ts) > self.p.gap_s) + 1 if n > 1 else np.zeros(0, int)
        if jumps.size:  # a gap inside the chunk: each side on its own
            parts = [self.process(data[:, a:b], ts[a:b]) for a, b in zip(np.r_[0, jumps], np.r_[jumps, n])]
            return ChunkResult(
                np.concatenate([r.data for r in parts], axis=1),
                np.concatenate([r.flags for r in parts]),
                parts[0].first_sample,
                time.perf_counter() - t_start,
                [m for r in parts for m in r.messages],
                parts[-1].live,
            )
        if n == 0:
            return ChunkResult(np.zeros((len(self.ch_names) + 1, 0), np.float32), np.zeros(0, np.int16), self.n_in, 0.0,
                               live=self.live())
        self._check_stream(ts)
        n0 = self.n_in
        self._map_markers(ts, n0)
        out = np.array(data, np.float32, copy=True)
        x = out[self.picks]
        if self.backfit is not None:  # the raw rows, before the gradient step sees them
            self.backfit.push(x[self.pulse_rows])
        y, fl = self.grad.process(x, subtract=not self._rate_bad)
        if self._rate_bad:
            fl |= F.RATE_MISMATCH
        while self.grad.messages:  # popped one by one: its worker threads may add to it meanwhile
            self._say(self.grad.messages.pop(0))
        if self.pulse is not None:
            self._pulse_messages()
        if not self._said_no_markers and self._marker_count == 0 and n0 + n > 10 * self.sfreq:
            self._said_no_markers = True
            want = self.p.volume_marker or "R128/Volume/TR"
            self._say(
                f"no scanner volume markers ({want}) in the first 10 s: passing through "
                "without gradient correction (flagged)"
            )
        if not self._grad_said and np.any(fl == 0) and self._marker_count:
            self._grad_said = True
            self._say(f"gradient correction running (template of {self.grad.n_templates} volumes, TR {self.grad.tr_s:.4f} s)")
        usable = (fl & F.GRADIENT_UNCORRECTED) == 0
        if self.pulse is not None:  # before the low-pass: the pulse filters on its own
            self.pulse.push(y[self.pulse_rows], ~usable)
        if self.sos is not None:
            y, self.zi = signal.sosfilt(self.sos, y, axis=1, zi=self.zi)
            y = y.astype(np.float32, copy=False)
        peaks: list[int] = []
        if self.rpeaks is not None:
            peaks = self.rpeaks.process(y[self.ecg_row], n0, usable)
            self.n_rpeaks += len(peaks)
            if self.pulse is not None:
                self.pulse.add_beats(peaks, self.rpeaks.announced)
                self.grad.pulse_through = n0 + n
        if self.rpeaks is not None and self.bcg is not None:
            # R-peaks the pulse gate does not trust (QRS unlike each other, faster than a
            # heart: a lead without a heartbeat gives the gradient residual's peaks) place
            # BCG templates on something else than beats: learnt, not subtracted (EEG of a
            # no-heartbeat stream, 50-60 s: 6.90 uV subtracted, 5.16 with the BCG off)
            trusted = self.pulse is None or self.pulse.trusted
            yb, ready = self.bcg.process(y[self.bcg_rows], peaks, announced=self.rpeaks.announced,
                                         unusable=~usable, subtract=not self._rate_bad and trusted)
            y[self.bcg_rows] = yb
            fl[~ready] |= F.BCG_LEARNING
            if ready.any() and not self._bcg_said:
                self._bcg_said = True
                self._say(f"BCG correction running ({self.bcg.n_beats_stored} beats in the template)")
        elif self.p.bcg:  # asked for, but no ECG to find the beats in: not corrected
            fl |= F.BCG_OFF
        out[self.picks] = y
        self.n_in = n0 + n
        res = np.empty((out.shape[0] + 1, n), np.float32)
        res[:-1] = out
        res[-1] = fl
        self._count_flags(fl)
        msgs, self._new = self._new, []
        return ChunkResult(res, fl, n0, time.perf_counter() - t_start, msgs, self.live())

    def _pulse_messages(self) -> None:
        """Say once when the pulse is first kept out of the gradient templates, and when
        the R-peaks' QRS stop (or start again) to look alike enough for it."""
        assert self.pulse is not None
        if not self._pulse_said and self.grad.n_pulse_cleaned:
            self._pulse_said = True
            self._say(f"pulse artifact kept out of the gradient templates (R-locked mean of "
                      f"{self.pulse.window} beats, {self.n_rpeaks} R-peaks so far)")
        q = self.pulse.quality
        bad = not self.pulse.trusted
        if bad != self._pulse_bad:
            self._pulse_bad = bad
            hr = self.pulse.hr_bpm
            if bad:
                why = (f"QRS correlation {q:.2f} < {self.pulse.min_quality:.2f}" if q < self.pulse.min_quality
                       else f"{hr:.0f} bpm: faster than a heart, peaks on something else than QRS")
                self._say(f"R-peaks not trustworthy ({why}): "
                          "the pulse artifact is not kept out of the gradient templates until they are")
            else:
                self._say(f"R-peaks trustworthy again (QRS correlation {q:.2f}, {hr:.0f} bpm): the pulse "
                          "artifact is kept out of the gradient templates")

    def close(self) -> None:
        """Stop the background thread."""
        self.grad.close()

    def live(self) -> dict[str, Any]:
        """A few counters for a live view (cheap: called after every chunk)."""
        g = self.grad
        return {
            "samples_in": int(self.n_in),
            "samples_missing": int(self.n_missing),
            "volume_markers": int(self._marker_count),
            "tr_s": g.tr_s,
            "gradient_templates": int(g.n_templates),
            "late_markers": int(g.n_late),
            "late_markers_covered": int(g.n_late_covered),
            "volumes_predicted_unmarked": int(g.n_unmarked),
            "rpeaks": int(self.n_rpeaks),
            "gradient_epochs_pulse_cleaned": int(g.n_pulse_cleaned),
            "gradient_epochs_pulse_backfit": int(g.n_recleaned),
            "low_band_volumes_followed": int(g.lowband.n_followed) if g.lowband is not None else 0,
        }

    def _count_flags(self, fl: np.ndarray) -> None:
        """Add one chunk's samples to the per-flag sample counts (``state()["flags"]``)."""
        for name, k in F.counts(fl).items():
            self._flag_counts[name] += k

    def state(self) -> dict[str, Any]:
        """A JSON-ready summary of the current state."""
        return {
            "params": asdict(self.p),
            "samples_in": int(self.n_in),
            "samples_missing": int(self.n_missing),
            "volume_markers": int(self._marker_count),
            "tr_s": self.grad.tr_s,
            "gradient_templates": int(self.grad.n_templates),
            "artifact_subspace_rank": self.grad.spatial_rank,
            # the alias orders in use, and the check that chose them (from 2 kHz up, once
            # the clock is pinned: the candidates' out-of-sample error relative to the base)
            "alias_orders": {"orders": int(self.grad.alias_orders), **self.grad.orders_info},
            "low_band_followed": (dict(self.grad.lowband.info)
                                  if self.grad.lowband is not None else {}),
            "low_band_volumes_followed": (int(self.grad.lowband.n_followed)
                                          if self.grad.lowband is not None else 0),
            "tr_changes": int(self.grad.n_tr_changes),
            "spurious_markers": int(self.grad.n_spurious),
            "late_markers": int(self.grad.n_late),
            "late_markers_covered": int(self.grad.n_late_covered),
            "samples_from_predicted_onsets": int(self.grad.n_predicted),
            "samples_marker_late_uncorrected": int(self.grad.n_unconfirmed),
            "volumes_predicted_unmarked": int(self.grad.n_unmarked),
            "volumes_artifact_ended": int(self.grad.n_stopped),
            "samples_artifact_ended": int(self.grad.n_ended),
            # ... of which the next marker came on the TR rhythm: learnt from after all
            "volumes_stopped_then_marked": int(self.grad.n_false_stops),
            "marker_loss_gave_up": int(self.grad.n_lost),
            "rpeaks": int(self.n_rpeaks),
            "bcg_beats": int(self.bcg.n_beats_stored) if self.bcg else 0,
            "gradient_epochs_pulse_cleaned": int(self.grad.n_pulse_cleaned),
            "gradient_epochs_pulse_backfit": int(self.grad.n_recleaned),
            "pulse_rpeak_quality": (None if self.pulse is None or not np.isfinite(self.pulse.quality)
                                    else round(float(self.pulse.quality), 3)),
            "ecg_channel": self.ecg,
            "flags": dict(self._flag_counts),  # samples per flag so far (a sample may carry several)
            "lowpass_delay_ms_at_10hz": self.filter_delay_ms(),
        }
