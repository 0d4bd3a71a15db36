"""The same neural input through the canonical HRF and through the Balloon-Windkessel model.

Used by the GUI's hemodynamics teaching view (and usable in a notebook): one call gives
every curve the view plots, so the view itself computes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .balloon import BalloonParams, balloon_hrf, balloon_windkessel
from .hrf import spm_hrf

__all__ = ["STIMULI", "HemoComparison", "neural_input", "compare_models"]

#: stimulus patterns the view offers
STIMULI = ("single event", "block", "two events", "random events")


def neural_input(
    kind: str,
    t: np.ndarray,
    duration: float = 1.0,
    amplitude: float = 1.0,
    onset: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """A neural input time course on the grid ``t`` (s).

    ``single event``: a box of ``duration`` at ``onset``; ``block``: a 16 s block;
    ``two events``: two boxes 3 s apart (shows non-linear saturation); ``random events``:
    boxes at random times (seeded).
    """
    u = np.zeros_like(t)

    def box(t0: float, dur: float) -> None:
        u[(t >= t0) & (t < t0 + max(dur, t[1] - t[0]))] = amplitude

    if kind == "single event":
        box(onset, duration)
    elif kind == "block":
        box(onset, 16.0)
    elif kind == "two events":
        box(onset, duration)
        box(onset + 3.0, duration)
    elif kind == "random events":
        rng = np.random.default_rng(seed)
        for t0 in np.sort(rng.uniform(onset, t[-1] - 20.0, 6)):
            box(float(t0), duration)
    else:
        raise InputError(None, f"unknown stimulus {kind!r}; choose one of {', '.join(STIMULI)}")
    return u


@dataclass
class HemoComparison:
    """Every curve of the teaching view (times in s, BOLD as fractional change)."""

    t: np.ndarray
    neural: np.ndarray
    bold_hrf: np.ndarray  #: neural input convolved with SPM's HRF, scaled to the balloon peak
    bold_linear: np.ndarray  #: neural input through the linearised balloon model
    bold_balloon: np.ndarray  #: the non-linear Balloon-Windkessel BOLD
    flow: np.ndarray
    volume: np.ndarray
    deoxy: np.ndarray
    vasodilatory: np.ndarray
    hrf_scale: float


def compare_models(
    kind: str = "single event",
    params: BalloonParams | None = None,
    duration: float = 1.0,
    amplitude: float = 1.0,
    length: float = 40.0,
    dt: float = 0.05,
) -> HemoComparison:
    """Run one stimulus through the canonical HRF, the linearised and the full balloon model.

    The canonical-HRF curve has arbitrary units (SPM's HRF sums to 1); it is scaled by
    least squares onto the linearised balloon response, so the shapes can be compared.
    """
    P = params or BalloonParams()
    t = np.arange(0.0, length, dt)
    u = neural_input(kind, t, duration, amplitude)
    bw = balloon_windkessel(u, dt, P)
    h_lin = balloon_hrf(dt, P, length=min(32.0, length))
    lin = np.convolve(u, h_lin)[: len(t)] * dt
    can = np.convolve(u, spm_hrf(dt, length=min(32.0, length)))[: len(t)]
    denom = float(can @ can)
    scale = float(can @ lin) / denom if denom > 0 else 0.0
    return HemoComparison(
        t, u, can * scale, lin, bw.bold, bw.flow, bw.volume, bw.deoxy, bw.vasodilatory, scale
    )
