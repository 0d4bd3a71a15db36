"""Gradient artifact from an EPI sequence timeline via Faraday's law.

Each slice excitation plays the same gradient waveform (trapezoids, piecewise linear
in time): a slice-select lobe on Gz with its refocusing lobe, read and phase
prephasers, an echo-planar readout train on Gx with phase-encoding blips on Gy, and a
spoiler on Gz. The flux of ``B_z = G(t) · r`` through a channel's lead loop is
``Φ_c(t) = G(t) · M_c``, so the EMF is ``-dG/dt · M_c``.

The amplifier does not sample the EMF at an instant: each EEG sample here is the
average EMF over its sample interval, which is exactly ``-(Φ(t_n) - Φ(t_{n-1})) / Δt``
with ``t_n`` the sample's time on the *scanner* clock; the piecewise-linear waveform is
evaluated at those exact (asynchronous, drifting) times, so every slice lands at its
own sub-sample phase. The amplifier's anti-alias low-pass (2nd-order Butterworth) then
band-limits it. Slow head motion (respiration) modulates each loop by ~1 %; optional
head movements change the loops abruptly (``motion_events``).

With ``gradient_drift > 0`` the artifact drifts the way a real bore's does
(:class:`BoreDrift`): breathing of varying rate and depth changes each loop's coupling
to the x, y and z gradients *differently* (so the artifact's shape changes, not only its
size), the gradient coils heat up over minutes (each axis's gain and delay change
slowly), the loops wander slowly, and head movements change each axis's coupling
separately.

Other artifact physics, each off by default (a different simulator or a real bore has
them; our correction must not depend on their absence): ``gradient_sampling="point"``
(the anti-alias filter acts on the continuous EMF, computed on a 16x finer grid, and
each sample is an instantaneous value), ``gradient_antialias=False`` (no amplifier
filter), ``gradient_jitter_s`` / ``gradient_volume_jitter_s`` (timing jitter of each
excitation / each volume's gradients against the nominal timeline and the triggers),
``gradient_eddy`` (exponential eddy-current tails on every gradient) and
``gradient_lf_uv`` (a slowly varying low-frequency volume-locked component).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from .clock import Timeline, make_timeline, make_triggers
from .config import PhantomConfig

__all__ = ["BoreDrift", "EpiWaveform", "epi_waveform", "GradientGenerator", "artifact_run"]

RAMP = 0.15e-3          # s, all ramps (slew ~150 T/m/s at 22 mT/m)
G_READ = 0.022          # T/m, readout amplitude
G_BLIP = 0.004          # T/m, phase-encoding blip peak
G_SLICE = 0.010         # T/m, slice-select amplitude
G_SPOIL = 0.018         # T/m
RF_FLAT = 2.56e-3       # s
READ_FLAT = 0.32e-3     # s
MAX_LINES = 64
MOTION_S = 0.3          # s, duration of one head movement
FINE_OVERSAMPLE = 16    # fine grid for point sampling / eddy currents
EDDY = ((0.03, 0.8e-3), (0.015, 6e-3), (0.008, 40e-3))  # (relative size, time constant s)


@dataclass
class EpiWaveform:
    """Breakpoints of the gradient waveform of one excitation.

    ``t`` (s after the excitation onset, non-decreasing) and ``g`` (3, n) in T/m for
    Gx (read), Gy (phase), Gz (slice); zero outside ``[0, t[-1]]``.
    """

    t: np.ndarray
    g: np.ndarray
    n_lines: int

    @property
    def duration(self) -> float:
        return float(self.t[-1])

    def at(self, tau: np.ndarray) -> np.ndarray:
        """Gradient (3, n) at times ``tau`` (one array, or one per axis) after the onset."""
        taus = tau if isinstance(tau, (list, tuple)) else (tau, tau, tau)
        return np.stack([np.interp(taus[k], self.t, self.g[k], left=0.0, right=0.0) for k in range(3)])


def epi_waveform(slice_period: float) -> EpiWaveform:
    """The gradient waveform of one slice excitation fitting in ``slice_period``."""
    overhead = 2 * RAMP + RF_FLAT + (2 * RAMP + 1.1e-3) + (2 * RAMP + 1.0e-3)
    spacing = 2 * RAMP + READ_FLAT
    n_lines = int(min(MAX_LINES, (0.85 * slice_period - overhead) // spacing))
    n_lines = max(n_lines, 4)
    events: list[tuple[int, float, float, float]] = []  # (axis, start, flat, amplitude)
    t = 0.0
    events.append((2, t, RF_FLAT, G_SLICE))
    t += 2 * RAMP + RF_FLAT
    events.append((2, t, 1.1e-3, -G_SLICE * (RF_FLAT + RAMP) / 2 / (1.1e-3 + RAMP)))
    events.append((0, t, 1.1e-3, -G_READ * (READ_FLAT + RAMP) / 2 / (1.1e-3 + RAMP)))
    events.append((1, t, 1.1e-3, -G_BLIP * n_lines / 2 * RAMP / (1.1e-3 + RAMP)))
    t += 2 * RAMP + 1.1e-3
    for k in range(n_lines):
        events.append((0, t, READ_FLAT, G_READ * (1 if k % 2 == 0 else -1)))
        if k < n_lines - 1:
            # blip during the ramps between two read lobes (triangle)
            events.append((1, t + RAMP + READ_FLAT, 0.0, G_BLIP))
        t += spacing
    events.append((2, t, 1.0e-3, G_SPOIL))
    t += 2 * RAMP + 1.0e-3
    times = np.unique(np.concatenate([[0.0, t]] + [
        [s, s + RAMP, s + RAMP + f, s + 2 * RAMP + f] for _, s, f, _ in events]))
    g = np.zeros((3, len(times)))
    for ax, s, f, a in events:
        g[ax] += np.interp(times, [s, s + RAMP, s + RAMP + f, s + 2 * RAMP + f], [0, a, a, 0], left=0, right=0)
    return EpiWaveform(times, g, n_lines)


class BoreDrift:
    """Slow, realistic changes of the gradient artifact's amplitude and shape.

    Every factor multiplies one channel's coupling to one gradient axis, so the channel's
    artifact (a sum of three axis waveforms) changes shape as well as size.

    * Breathing: a skewed cycle whose rate wanders around 0.2-0.3 Hz (+-15 % over about
      a minute) and whose depth varies (+-30 % over about 45 s); each loop and axis
      follows it with its own gain (0.3-2.5 % x ``scale``).
    * Gradient heating: each axis's gain rises by 0.5-3 % x ``scale`` towards a plateau
      (time constant 2-6 min) and its delay by up to 2 µs x ``scale`` (the coil's
      eddy-current response slows as it warms).
    * Wandering loops (cable and head settling, slow sway): two slow waves (periods
      0.5-3 min) per loop and axis, 3 % x ``scale`` (SD).
    * Head movements: a per-axis step of ``motion_size`` (relative SD) per movement.

    Parameters
    ----------
    scale : float
        Overall size (1: typical).
    n_ch : int
        Channels.
    duration : float
        Length of the recording (s).
    rng : numpy.random.Generator
        Own generator (the rest of the phantom is unchanged by turning this on).
    """

    def __init__(self, scale: float, n_ch: int, duration: float, rng: np.random.Generator) -> None:
        self.scale = float(scale)
        self.f0 = rng.uniform(0.2, 0.3)
        self.rate_ph, self.depth_ph = rng.uniform(0, 2 * np.pi, 2)
        self.resp_gain = rng.uniform(0.003, 0.025, (n_ch, 3)) * scale * rng.choice([-1, 1], (n_ch, 3))
        self.heat_gain = rng.uniform(0.005, 0.03, 3) * scale
        self.heat_tau = rng.uniform(120.0, 360.0)
        self.heat_delay = rng.uniform(0.5e-6, 2e-6, 3) * scale
        self.wander_f = rng.uniform(1 / 180, 1 / 30, (n_ch, 3, 2))
        self.wander_ph = rng.uniform(0, 2 * np.pi, (n_ch, 3, 2))
        self.wander_amp = rng.normal(0, 0.03, (n_ch, 3, 2)) * scale
        self.duration = duration

    def breathing(self, t: np.ndarray) -> np.ndarray:
        """Breathing signal in [-1, 1]-ish at times ``t`` (s)."""
        # rate f(t) = f0 (1 + 0.15 sin(2 pi t / 60 + ph)); its phase integrated in closed form
        ph = 2 * np.pi * self.f0 * (t - 0.15 * 60 / (2 * np.pi) * (np.cos(2 * np.pi * t / 60 + self.rate_ph)
                                                                   - np.cos(self.rate_ph)))
        depth = 1 + 0.3 * np.sin(2 * np.pi * t / 45 + self.depth_ph)
        return depth * (np.sin(ph) + 0.3 * np.sin(2 * ph + 0.8)) / 1.2

    def heating(self, t: np.ndarray) -> np.ndarray:
        """0 at the start, approaching 1 over a few minutes."""
        return 1.0 - np.exp(-np.clip(t, 0, None) / self.heat_tau)

    def delays(self, t: np.ndarray) -> list[np.ndarray]:
        """Per-axis delay (s) of the gradient waveform at times ``t``."""
        h = self.heating(t)
        return [d * h for d in self.heat_delay]

    def modulation(self, t: np.ndarray) -> np.ndarray:
        """Coupling factor (n_ch, 3, n) of every loop and axis at times ``t``."""
        b = self.breathing(t)
        h = self.heating(t)
        mod = 1.0 + self.resp_gain[:, :, None] * b[None, None, :]
        mod += (self.heat_gain[:, None] * h[None, :])[None]
        for k in range(2):
            mod += self.wander_amp[:, :, k, None] * np.sin(
                2 * np.pi * self.wander_f[:, :, k, None] * t[None, None, :] + self.wander_ph[:, :, k, None])
        return mod


class GradientGenerator:
    """The gradient artifact (V) of every channel, chunk by chunk on the EEG clock.

    Parameters
    ----------
    cfg : PhantomConfig
    timeline : Timeline
        Excitation onsets (scanner clock) and the clock relation.
    moments : ndarray, shape (n_channels, 3)
        Gradient moments of the lead loops (m³), before scaling.
    rng : numpy.random.Generator
        For the per-channel respiratory modulation and drift.
    motion_rng : numpy.random.Generator | None
        For the head movements (``cfg.motion_events``).
    """

    def __init__(self, cfg: PhantomConfig, timeline: Timeline, moments: np.ndarray, rng: np.random.Generator,
                 motion_rng: np.random.Generator | None = None):
        self.cfg = cfg
        self.tl = timeline
        self.wave = epi_waveform(cfg.slice_period_s)
        self.sos = signal.butter(2, cfg.lowpass_hz, "lowpass", fs=cfg.sfreq, output="sos")
        n_ch = len(moments)
        self.zi = np.zeros((self.sos.shape[0], n_ch, 2))
        # respiration-driven modulation of each loop, and a slow drift of the head
        self.resp_f = rng.uniform(0.22, 0.30)
        self.resp_amp = rng.uniform(0.003, 0.015, n_ch)
        self.resp_phase = rng.uniform(0, 2 * np.pi, n_ch)
        self.drift_amp = rng.uniform(-0.02, 0.02, n_ch)
        self.duration = cfg.duration_s
        # head movements: abrupt (0.3 s) per-channel changes of the loop coupling
        t0 = timeline.to_eeg(timeline.volume_onsets[0])
        t1 = timeline.to_eeg(timeline.volume_onsets[-1] + cfg.tr)
        # drawn from their own generator so adding movements leaves the rest unchanged
        mrng = motion_rng if motion_rng is not None else np.random.default_rng([cfg.seed, 7919])
        self.motion_onsets = np.sort(mrng.uniform(t0, t1, cfg.motion_events))
        self.motion_steps = mrng.normal(0.0, cfg.motion_size, (cfg.motion_events, n_ch))
        self.drift = None
        if cfg.gradient_drift > 0:
            drng = np.random.default_rng([cfg.seed, 104729])
            self.drift = BoreDrift(cfg.gradient_drift, n_ch, cfg.duration_s, drng)
            # head movements change each axis's coupling separately (a shape jump)
            self.motion_axes = drng.normal(0.0, cfg.motion_size, (cfg.motion_events, n_ch, 3))
        # other artifact physics (off by default; own generators: nothing else changes)
        self.exc_onsets = np.asarray(timeline.excitation_onsets, float)
        jrng = np.random.default_rng([cfg.seed, 15485863])
        n_exc = cfg.excitations_per_volume
        if cfg.gradient_volume_jitter_s > 0:
            vj = jrng.normal(0.0, cfg.gradient_volume_jitter_s, timeline.volume_onsets.size)
            self.exc_onsets = self.exc_onsets + np.repeat(vj, n_exc)[: self.exc_onsets.size]
        if cfg.gradient_jitter_s > 0:
            self.exc_onsets = self.exc_onsets + jrng.normal(0.0, cfg.gradient_jitter_s, self.exc_onsets.size)
        self.fine = cfg.gradient_sampling == "point" or cfg.gradient_eddy > 0
        self.os = FINE_OVERSAMPLE
        if self.fine:
            fs = cfg.sfreq * self.os
            self.fine_sos = signal.butter(2, cfg.lowpass_hz, "lowpass", fs=fs, output="sos")
            self.fine_zi = np.zeros((self.fine_sos.shape[0], 3, 2))
            # eddy currents: dG_eff/dt = dG/dt - sum_i a_i (h_i * dG/dt), h_i = exp(-t/tau_i)/tau_i
            self.eddy = [(a * cfg.gradient_eddy, tau) for a, tau in EDDY] if cfg.gradient_eddy > 0 else []
            self.eddy_zi = [np.zeros((3, 1)) for _ in self.eddy]
        self.lf = None
        if cfg.gradient_lf_uv > 0:
            self.lf = _LowFrequency(cfg, timeline, n_ch, np.random.default_rng([cfg.seed, 32452843]))
        self.moments = moments * self._calibration(moments)
        self._reset_state()

    def head_motion(self, volume_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The head's rigid-body motion at each volume, as realignment would report it.

        Every head movement (``motion_onsets``, the same 0.3 s events that change the lead
        loops' coupling) moves the head by a translation of ``20 mm x motion_size x
        (1 + |N(0, 0.5)|)`` in a random direction (1-1.5 mm at the default size, a
        framewise displacement well above the usual 0.5 mm) and a rotation of
        ``0.02 rad x motion_size`` (SD per axis); realignment noise (0.01 mm, 0.1 mrad SD)
        is added. The size of a movement and of its coupling change are drawn
        independently: only their timing is shared. Own generator: nothing else changes.

        Parameters
        ----------
        volume_times : ndarray, shape (n_volumes,)
            Time (s, EEG clock) at which each volume's pose is taken (its middle).

        Returns
        -------
        translations_mm, rotations_rad : ndarray, shape (n_volumes, 3)
            Relative to the first volume's pose before any movement (SPM's convention
            of realigning to the first volume).
        """
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, 86028121])
        n_ev = self.motion_onsets.size
        t = np.asarray(volume_times, float)
        size = 20.0 * cfg.motion_size * (1.0 + np.abs(rng.normal(0.0, 0.5, n_ev)))
        dirs = rng.normal(0.0, 1.0, (n_ev, 3))
        dirs /= np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-12)
        rot_steps = rng.normal(0.0, 0.02 * cfg.motion_size, (n_ev, 3))
        tra = rng.normal(0.0, 0.01, (t.size, 3))
        rot = rng.normal(0.0, 1e-4, (t.size, 3))
        for onset, d, s, r in zip(self.motion_onsets, dirs, size, rot_steps):
            ramp = np.clip((t - onset) / MOTION_S, 0.0, 1.0)
            k = (0.5 - 0.5 * np.cos(np.pi * ramp))[:, None]
            tra += k * (s * d)[None, :]
            rot += k * r[None, :]
        return tra, rot

    def _reset_state(self) -> None:
        """Filter states at the recording's start (after the calibration used them)."""
        self.zi = np.zeros_like(self.zi)
        if self.fine:
            self.fine_zi = np.zeros_like(self.fine_zi)
            self.eddy_zi = [np.zeros((3, 1)) for _ in self.eddy]

    def _flux(self, t_eeg: np.ndarray, delays: list[np.ndarray] | None = None) -> np.ndarray:
        """Gradient (3, n) at EEG-clock times (0 outside excitations), each axis
        optionally ``delays`` seconds late."""
        t = self.tl.to_mri(t_eeg)
        on = self.exc_onsets
        idx = np.searchsorted(on, t, side="right") - 1
        tau = t - on[np.clip(idx, 0, None)]
        tau = np.where(idx >= 0, tau, -1.0)
        if delays is not None:
            return self.wave.at([np.where(idx >= 0, tau - d, -1.0) for d in delays])
        return self.wave.at(tau)

    def _dgdt(self, n0: int, n1: int, delays: Any = None) -> np.ndarray:
        """dG/dt (3, n1 - n0) as the amplifier samples it at EEG samples ``n0..n1-1``.

        Default: the mean over each sample interval (the EEG-rate filter follows in
        :meth:`chunk`). On the fine grid (``gradient_sampling="point"`` or eddy
        currents): eddy tails and the anti-alias filter act on the 16x finer signal,
        and each sample is its value at the sample's instant (``"point"``) or its mean
        over the sample interval (``"mean"``, the EEG-rate filter then follows as usual).
        """
        sf = self.cfg.sfreq
        if not self.fine:
            t = np.arange(n0 - 1, n1) / sf
            g = self._flux(t, delays(t) if delays is not None else None)
            return np.diff(g, axis=1) * (sf * self.tl.alpha)  # mean dG/dt over each sample interval
        out = np.empty((3, n1 - n0))
        step = max(1, int(sf))  # 1 s blocks on the fine grid
        os_ = self.os
        point = self.cfg.gradient_sampling == "point"
        for b0 in range(n0, n1, step):
            b1 = min(n1, b0 + step)
            t = (b0 * os_ - 1 + np.arange((b1 - b0) * os_ + 1)) / (sf * os_)
            g = self._flux(t, delays(t) if delays is not None else None)
            dg = np.diff(g, axis=1) * (sf * os_ * self.tl.alpha)  # (3, (b1 - b0) * os)
            for k, (a, tau) in enumerate(self.eddy):
                # first-order response of the coil's eddy currents (time constant tau)
                c = np.exp(-1.0 / (sf * os_ * tau))
                resp, self.eddy_zi[k] = signal.lfilter([1 - c], [1, -c], dg, axis=1, zi=self.eddy_zi[k] * 1.0)
                dg = dg - a * resp
            if point:
                if self.cfg.gradient_antialias:
                    dg, self.fine_zi = signal.sosfilt(self.fine_sos, dg, axis=1, zi=self.fine_zi)
                out[:, b0 - n0:b1 - n0] = dg[:, os_ - 1::os_]  # the value at each sample's instant
            else:
                out[:, b0 - n0:b1 - n0] = dg.reshape(3, b1 - b0, os_).mean(axis=2)
        return out

    def _sampled(self, e: np.ndarray) -> np.ndarray:
        """The EEG-rate anti-alias filter (mean sampling only; point sampling had it on the
        fine grid)."""
        if not self.cfg.gradient_antialias or (self.fine and self.cfg.gradient_sampling == "point"):
            return e
        out, self.zi = signal.sosfilt(self.sos, e, axis=1, zi=self.zi)
        return out

    def _emf(self, n0: int, n1: int, moments: np.ndarray) -> np.ndarray:
        return -(moments @ self._dgdt(n0, n1))

    def _calibration(self, moments: np.ndarray) -> float:
        """Scale the loops so the median channel's filtered peak is ``cfg.gradient_mv``."""
        sf = self.cfg.sfreq
        on = self.tl.to_eeg(self.tl.excitation_onsets[0])
        n0 = int(on * sf) - 5
        n1 = n0 + int(self.cfg.slice_period_s * sf * 2) + 10
        e = self._emf(n0, n1, moments)
        if self.cfg.gradient_antialias and not (self.fine and self.cfg.gradient_sampling == "point"):
            e = signal.sosfilt(self.sos, e, axis=1)
        peak = np.median(np.abs(e).max(axis=1))
        return self.cfg.gradient_mv * 1e-3 / max(peak, 1e-30)

    def _drifting_emf(self, n0: int, n1: int) -> np.ndarray:
        """EMF with per-axis drifting coupling and delays (``gradient_drift > 0``)."""
        sf = self.cfg.sfreq
        assert self.drift is not None
        dg = self._dgdt(n0, n1, self.drift.delays)  # (3, n)
        tc = np.arange(n0, n1) / sf
        mod = self.drift.modulation(tc)  # (n_ch, 3, n)
        for onset, step in zip(self.motion_onsets, self.motion_axes):
            ramp = np.clip((tc - onset) / MOTION_S, 0.0, 1.0)
            mod += step[:, :, None] * (0.5 - 0.5 * np.cos(np.pi * ramp))[None, None, :]
        mod *= self.moments[:, :, None]
        return -np.einsum("can,an->cn", mod, dg)

    def chunk(self, n0: int, n1: int) -> np.ndarray:
        """Artifact (n_channels, n1 - n0) in V, continuous across consecutive chunks."""
        sf = self.cfg.sfreq
        if self.drift is not None:
            out = self._sampled(self._drifting_emf(n0, n1))
            return out + self.lf.chunk(n0, n1) if self.lf is not None else out
        e = self._emf(n0, n1, self.moments)
        t = np.arange(n0, n1) / sf
        mod = 1.0 + self.resp_amp[:, None] * np.sin(2 * np.pi * self.resp_f * t + self.resp_phase[:, None])
        mod += self.drift_amp[:, None] * (t / self.duration)[None, :]
        for onset, step in zip(self.motion_onsets, self.motion_steps):
            ramp = np.clip((t - onset) / MOTION_S, 0.0, 1.0)
            mod += step[:, None] * (0.5 - 0.5 * np.cos(np.pi * ramp))[None, :]
        e *= mod
        out = self._sampled(e)
        return out + self.lf.chunk(n0, n1) if self.lf is not None else out


class _LowFrequency:
    """A slowly varying low-frequency volume-locked component (``gradient_lf_uv``).

    After each volume's gradients the scanner table and the cables ring: three damped
    oscillations (5-35 Hz, decay 0.15-0.6 s) per volume, summed over the volumes, seen
    by each channel with its own coupling; the ringing's size wanders (two slow waves,
    periods 20-90 s, together ~40 %), so a template averaged over many volumes does
    not follow it.
    """

    def __init__(self, cfg: PhantomConfig, tl: Timeline, n_ch: int, rng: np.random.Generator) -> None:
        self.sf = cfg.sfreq
        self.on = tl.to_eeg(tl.volume_onsets)
        self.f = rng.uniform(5.0, 35.0, 3)
        self.tau = rng.uniform(0.15, 0.6, 3)
        self.ph = rng.uniform(0, 2 * np.pi, 3)
        self.amp = rng.uniform(0.5, 1.0, 3)
        self.coupling = rng.normal(0.0, 1.0, (n_ch, 3))
        self.wf = rng.uniform(1 / 90, 1 / 20, 2)
        self.wph = rng.uniform(0, 2 * np.pi, 2)
        # scale: the typical channel's RMS over a volume is gradient_lf_uv
        t = np.arange(int(cfg.tr * self.sf)) / self.sf
        w = self._wave(t)  # (3, n)
        rms = np.sqrt(np.median(np.mean((self.coupling @ w) ** 2, axis=1)))
        self.scale = cfg.gradient_lf_uv * 1e-6 / max(rms, 1e-30)
        self.span = 4.0 * float(self.tau.max())

    def _wave(self, t: np.ndarray) -> np.ndarray:
        return (self.amp[:, None] * np.exp(-t[None, :] / self.tau[:, None])
                * np.sin(2 * np.pi * self.f[:, None] * t[None, :] + self.ph[:, None]) * (t >= 0)[None, :])

    def chunk(self, n0: int, n1: int) -> np.ndarray:
        t = np.arange(n0, n1) / self.sf
        acc = np.zeros((3, t.size))
        for ton in self.on[(self.on < t[-1] + 1e-9) & (self.on > t[0] - self.span)]:
            m = (t >= ton) & (t < ton + self.span)
            acc[:, m] += self._wave(t[m] - ton)
        size = 1.0 + 0.25 * np.sin(2 * np.pi * self.wf[0] * t + self.wph[0]) \
            + 0.15 * np.sin(2 * np.pi * self.wf[1] * t + self.wph[1])
        return (self.coupling @ acc) * (self.scale * size)[None, :]


def artifact_run(cfg: PhantomConfig, n_ch: int, seed: int,
                 chunk_s: float = 10.0) -> tuple[np.ndarray, Any, Timeline, GradientGenerator]:
    """The phantom's gradient artifact alone on ``n_ch`` channels, with its scanner
    timeline and recorded triggers: the recipe the variant benchmark and the online tests
    build their recordings on (one seed; the same draws in the same order, so a seed
    gives the same artifact in both).

    Parameters
    ----------
    cfg : PhantomConfig
        The run (rate, TR, slices, drift, artifact physics).
    n_ch : int
        Channels (lead-loop moments drawn at 1e-3 per gradient axis).
    seed : int
        Seeds the timeline and triggers (``seed``), the generator (``seed + 1``) and its
        head motion (``seed + 2``).
    chunk_s : float
        Generated in chunks of this many seconds (as a recording arrives; the generator
        is continuous across chunks).

    Returns
    -------
    art : ndarray, shape (n_ch, cfg.n_times)
        The artifact (V).
    triggers : Triggers
        The volume triggers as recorded (``recorded_sample``) and true.
    timeline : Timeline
    generator : GradientGenerator
    """
    rng = np.random.default_rng(seed)
    tl = make_timeline(cfg, rng)
    trig = make_triggers(cfg, tl, rng)
    gen = GradientGenerator(cfg, tl, rng.normal(0, 1e-3, (n_ch, 3)), np.random.default_rng(seed + 1),
                            motion_rng=np.random.default_rng(seed + 2))
    step = max(int(chunk_s * cfg.sfreq), 1)
    art = np.concatenate([gen.chunk(i, min(i + step, cfg.n_times)) for i in range(0, cfg.n_times, step)], axis=1)
    return art, trig, tl, gen
