"""BOLD series: neural input -> Balloon-Windkessel haemodynamics -> EPI voxels.

The neural input of every source with neurovascular coupling (trial amplitude x
coupling during each trial, :meth:`NeuralGenerator.neural_input`) drives the
Balloon-Windkessel model with SPM12's constants (:func:`workbench.engine.hemo.balloon_windkessel`).
Each voxel of a source's activation mask follows its region's fractional BOLD change,
sampled at the voxel's own slice acquisition time (slice timing honoured). Scanner
drift (linear + slow cosine, voxel-specific) and thermal noise are added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..progress import Progress
from .anatomy import BoldGrid
from .clock import Timeline
from .config import PhantomConfig
from .sources import SOURCES

__all__ = ["BoldResult", "activation_masks", "make_bold", "NEURAL_DT", "NOISE_SD"]

NEURAL_DT = 0.05  # s, sampling of the neural input and of the haemodynamic states
NOISE_SD = 6.0    # thermal noise SD (EPI intensity units; grey matter baseline ~1000)


@dataclass
class BoldResult:
    """The simulated BOLD run and its truth.

    Attributes
    ----------
    data : ndarray of float32, shape (nx, ny, n_slices, n_volumes)
    neural : ndarray, shape (n_t, n_roles)
        Neural input per role source (scanner clock, ``NEURAL_DT`` apart).
    bold_regions : ndarray, shape (n_t, n_roles)
        Fractional BOLD change per role source (Balloon-Windkessel output).
    masks : ndarray of bool, shape (n_roles, nx, ny, n_slices)
        Region of each role source (active only where its coupling is non-zero).
    """

    data: np.ndarray
    neural: np.ndarray
    bold_regions: np.ndarray
    masks: np.ndarray


def activation_masks(grid: BoldGrid, pos_mri: np.ndarray) -> np.ndarray:
    """Boolean masks (n_roles, *grid.shape): brain voxels within each source's radius."""
    centres = grid.centres_m()
    brain = np.isin(grid.labels, (4, 5, 6))
    masks = np.zeros((len(SOURCES), *grid.shape), bool)
    for k, spec in enumerate(SOURCES):
        if spec.mask_mm > 0:
            d = np.linalg.norm(centres - pos_mri[k], axis=-1)
            masks[k] = (d <= spec.mask_mm * 1e-3) & brain
    return masks


def make_bold(cfg: PhantomConfig, tl: Timeline, grid: BoldGrid, neural: np.ndarray,
              pos_mri: np.ndarray, rng: np.random.Generator, progress: Progress) -> BoldResult:
    """Simulate the BOLD run (see module docstring)."""
    from ..hemo import balloon_windkessel

    n_vol = cfg.n_volumes
    bw = balloon_windkessel(neural, NEURAL_DT).bold
    bw[:, [s.bold == 0 for s in SOURCES]] = 0.0
    masks = activation_masks(grid, pos_mri)
    t_grid = np.arange(neural.shape[0]) * NEURAL_DT
    # acquisition time of every (volume, slice), and the region signals there
    t_acq = tl.volume_onsets[:, None] + tl.slice_timing[None, :]  # (n_vol, n_slices)
    active = [k for k, s in enumerate(SOURCES) if s.bold != 0 and masks[k].any()]
    reg = {k: np.interp(t_acq, t_grid, bw[:, k]) for k in active}
    base = grid.baseline
    head = base > 50
    # drift: a voxel-specific linear trend and slow cosine, scaled to the local signal
    slope = rng.normal(0.0, 0.01, grid.shape).astype(np.float32)
    cos_amp = rng.normal(0.0, 0.004, grid.shape).astype(np.float32)
    span = max(n_vol * cfg.tr, cfg.tr)
    data = np.empty((*grid.shape, n_vol), np.float32)
    for v in range(n_vol):
        if v % 16 == 0:
            progress(v / max(n_vol, 1), f"BOLD volume {v + 1}/{n_vol}")
        frac = np.zeros(grid.shape, np.float32)
        for k in active:
            frac += masks[k] * reg[k][v][None, None, :].astype(np.float32)
        t = tl.volume_onsets[v] / span
        drift = slope * t + cos_amp * np.cos(np.pi * t)
        vol = base * (1.0 + frac + drift * head)
        vol += rng.standard_normal(grid.shape, dtype=np.float32) * NOISE_SD
        data[..., v] = vol
    progress(1.0, "BOLD done")
    return BoldResult(data, neural, bw, masks)
