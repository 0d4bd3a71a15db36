"""Ground-truth simulation of DCM data (for tests, the benchmark and the example).

The neuronal layer is integrated exactly (it is linear while the input is constant: one
matrix exponential per microtime bin); the haemodynamics use the engine's *nonlinear*
Balloon-Windkessel (:func:`workbench.engine.hemo.balloon_windkessel`, fixed-step RK4) with
each region's decay, transit and epsilon, not the inversion's bilinear approximation, so
the inversion is tested against a model it does not share exactly. BOLD is sampled at
mid-TR like SPM's default delay, in percent, with white noise at a chosen SNR (signal SD /
noise SD per region) plus a slow drift the inversion's high-pass confounds must absorb.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

from workbench.engine.hemo import BalloonParams, balloon_windkessel

from .integrate import H_DECAY, H_TRANSIT, Design, make_design
from .model import DcmModel
from .priors import Layout, layout

__all__ = ["Simulation", "simulate", "neural_states", "block_events", "random_truth"]


@dataclass
class Simulation:
    """Simulated data with its truth."""

    model: DcmModel
    layout: Layout
    theta: np.ndarray
    design: Design
    events: list[tuple[float, float, str]]
    bold: np.ndarray  # (n_scans, n) percent, noisy
    bold_clean: np.ndarray
    neural: np.ndarray  # (n_bins, n)
    eeg: np.ndarray | None = None  # (n_eeg, n)
    eeg_times: np.ndarray | None = None
    eeg_gain: np.ndarray | None = None


def neural_states(theta: np.ndarray, lay: Layout, u: np.ndarray, dt: float) -> np.ndarray:
    """Exact neuronal states ``z`` at the start of every microtime bin, ``(n_bins, n)``."""
    P = lay.unpack(theta[None])
    A, B, C = P["A"][0], P["B"][0], P["C"][0]
    n = lay.n
    configs, inv = np.unique(u, axis=0, return_inverse=True)
    props = []
    for cfg in configs:
        Aeff = A + (np.einsum("j,jkl->kl", cfg, B) if B.shape[0] else 0)
        SI = np.diag(Aeff)
        M = np.zeros((n + 1, n + 1))
        M[:n, :n] = Aeff - np.diag(np.exp(SI) / 2 + SI)
        M[:n, n] = (C @ cfg) / 16.0
        props.append(expm(M * dt))
    z = np.zeros((u.shape[0], n))
    x = np.zeros(n + 1)
    x[n] = 1.0
    for b in range(u.shape[0]):
        z[b] = x[:n]
        x = props[inv[b]] @ x
    return z


def block_events(inputs: list[str], total: float, rng: np.random.Generator, block: float = 15.0,
                 drive: str | None = None) -> list[tuple[float, float, str]]:
    """A block design: ``drive`` (default: the first input) on/off in blocks of ``block`` s; every
    other input (a modulator/context) on during random halves of the run in long epochs."""
    drive = drive or inputs[0]
    ev = []
    t = block
    while t + block < total:
        ev.append((t, block, drive))
        t += 2 * block + rng.uniform(-3, 3)
    for name in inputs:
        if name == drive:
            continue
        t = rng.uniform(0, 30)
        while t < total - 20:
            dur = min(rng.uniform(40, 80), total - t - 1)
            ev.append((t, dur, name))
            t += dur + rng.uniform(40, 80)
    return ev


def simulate(model: DcmModel, theta: np.ndarray, tr: float, n_scans: int,
             events: list[tuple[float, float, str]], snr: float = 2.0, seed: int = 0,
             drift: float = 0.5, eeg_rate: float | None = None, eeg_snr: float = 2.0,
             eeg_gain: np.ndarray | None = None, hemodynamics: str = "nonlinear") -> Simulation:
    """Simulate BOLD (and optionally region EEG envelopes) from known parameters.

    Parameters
    ----------
    model : DcmModel
    theta : ndarray
        True parameter vector in :func:`layout` order.
    tr : float
        Repetition time (s).
    n_scans : int
    events : list of (onset s, duration s, input name)
    snr : float
        Standard deviation of each region's clean BOLD over that of its noise.
    seed : int
    drift : float
        Amplitude of a slow drift (fraction of the noise SD).
    eeg_rate : float | None
        Sampling rate (Hz) of simulated EEG envelopes ``g_r z_r(t) + noise`` (None: no EEG).
    hemodynamics : str
        ``"nonlinear"`` (the engine's RK4 Balloon-Windkessel, default) or ``"bilinear"`` (the
        inversion's own forward model: separates the inference's calibration from the error
        of SPM's bilinear approximation).
    """
    rng = np.random.default_rng(seed)
    lay = layout(model)
    design = make_design(tr, n_scans, events, model.inputs)
    z = neural_states(theta, lay, design.u, design.dt)
    P = lay.unpack(theta[None])
    eps = float(np.exp(P["epsilon"][0]))
    clean = np.empty((n_scans, model.n))
    if hemodynamics == "bilinear":
        from .integrate import predict

        clean[:] = predict(theta, lay, design)[0]
    for r in range(model.n if hemodynamics == "nonlinear" else 0):
        bp = BalloonParams(kappa=H_DECAY * float(np.exp(P["decay"][0, r])),
                           tau=H_TRANSIT * float(np.exp(P["transit"][0, r])), epsilon=eps)
        # RK4 at the microtime step (TR/16 <= 0.19 s, well below the haemodynamic time constants)
        res = balloon_windkessel(z[:, r], design.dt, bp, max_step=max(0.05, design.dt))
        clean[:, r] = 100.0 * res.bold[design.sample_bins]
    sd = clean.std(axis=0)
    sd[sd == 0] = 1e-3
    noise_sd = sd / snr
    t = np.arange(n_scans) * tr
    phase = rng.uniform(0, 2 * np.pi, model.n)
    slow = drift * noise_sd * np.sin(2 * np.pi * t[:, None] / (n_scans * tr) + phase)
    bold = clean + rng.standard_normal(clean.shape) * noise_sd + slow
    sim = Simulation(model, lay, theta, design, events, bold, clean, z)
    if eeg_rate:
        te = np.arange(0, n_scans * tr - 1e-9, 1.0 / eeg_rate)
        zi = np.stack([np.interp(te, np.arange(z.shape[0]) * design.dt, z[:, r]) for r in range(model.n)], 1)
        g = np.ones(model.n) if eeg_gain is None else np.asarray(eeg_gain, float)
        sig = zi * g
        esd = sig.std(axis=0)
        esd[esd == 0] = 1e-3
        sim.eeg = sig + rng.standard_normal(sig.shape) * esd / eeg_snr
        sim.eeg_times, sim.eeg_gain = te, g
    return sim


def random_truth(model: DcmModel, rng: np.random.Generator, strength: tuple[float, float] = (0.2, 0.5),
                 hemo_sd: float = 0.06) -> np.ndarray:
    """Random true parameters inside ``model``'s masks: connections of random sign and size
    (Hz), modulations of the same size, driving inputs 0.4-0.8 (SPM's P.C; the flow uses
    C/16), self-connections near 0, haemodynamic parameters a little off their prior means.
    The network is redrawn until it is stable under every input."""
    lay = layout(model)
    n = model.n
    for _ in range(200):
        A = np.where(model.a, rng.uniform(*strength, (n, n)) * rng.choice([-1, 1], (n, n)), 0.0)
        np.fill_diagonal(A, rng.normal(0, 0.1, n))
        B = np.where(model.b, rng.uniform(*strength, model.b.shape) * rng.choice([-1, 1], model.b.shape), 0.0)
        for k in range(model.m):
            np.fill_diagonal(B[k], 0.0)
        C = np.where(model.c, rng.uniform(0.4, 0.8, model.c.shape), 0.0)
        theta = lay.pack(A, B, C, rng.normal(0, hemo_sd, n), rng.normal(0, hemo_sd, n), rng.normal(0, hemo_sd))
        if _stable(theta, lay, model.m):
            return theta
    raise RuntimeError("could not draw a stable network")


def _stable(theta: np.ndarray, lay: Layout, m: int) -> bool:
    P = lay.unpack(theta[None])
    A, B = P["A"][0], P["B"][0]
    for cfg in np.array(np.meshgrid(*[[0, 1]] * m)).reshape(m, -1).T if m else [np.zeros(0)]:
        Aeff = A + (np.einsum("j,jkl->kl", cfg, B) if m else 0)
        SI = np.diag(Aeff)
        EE = Aeff - np.diag(np.exp(SI) / 2 + SI)
        if np.max(np.linalg.eigvals(EE).real) > -0.05:
            return False
    return True
