"""BOLD series: neural input -> Balloon-Windkessel haemodynamics -> EPI voxels.

The neural input of every source with neurovascular coupling (trial amplitude x
coupling during each trial, :meth:`NeuralGenerator.neural_input`) drives the
Balloon-Windkessel model with SPM12's constants (:func:`workbench.engine.hemo.balloon_windkessel`).
Each voxel of a source's activation mask follows its region's fractional BOLD change,
sampled at the voxel's own slice acquisition time (slice timing honoured). Scanner
drift (linear + slow cosine, voxel-specific) and two kinds of noise are added, as in
real EPI (Krüger & Glover 2001, Magn Reson Med 46:631):

* thermal noise, white in time and space, of fixed size (``NOISE_SD``);
* physiological noise (cardiac, respiratory, vasomotion), proportional to the local
  signal (``PHYSIO_FRAC``), smooth in space (``PHYSIO_FWHM_MM``) and autocorrelated in
  time (AR(1) with time constant ``PHYSIO_TAU_S``).

Together they give a temporal SNR of ~130 in grey matter, typical of 3.5 mm voxels at
3 T; a unit-amplitude trial gives a BOLD peak of ~1 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..progress import Progress
from .anatomy import BoldGrid
from .clock import Timeline
from .config import PhantomConfig
from .sources import SOURCES

__all__ = ["BoldResult", "activation_masks", "make_bold", "NEURAL_DT", "NOISE_SD",
           "PHYSIO_FRAC", "PHYSIO_FWHM_MM", "PHYSIO_TAU_S"]

NEURAL_DT = 0.05  # s, sampling of the neural input and of the haemodynamic states
NOISE_SD = 6.0    # thermal noise SD (EPI intensity units; grey matter baseline ~1000)
PHYSIO_FRAC = 0.005   # physiological noise SD as a fraction of the local signal
PHYSIO_FWHM_MM = 8.0  # its spatial smoothness
PHYSIO_TAU_S = 2.0    # its temporal correlation time: AR(1) coefficient exp(-TR / tau)


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
    physio = _PhysioNoise(grid, cfg.tr, rng)
    data = np.empty((*grid.shape, n_vol), np.float32)
    for v in range(n_vol):
        if v % 16 == 0:
            progress(v / max(n_vol, 1), f"BOLD volume {v + 1}/{n_vol}")
        frac = np.zeros(grid.shape, np.float32)
        for k in active:
            frac += masks[k] * reg[k][v][None, None, :].astype(np.float32)
        t = tl.volume_onsets[v] / span
        drift = slope * t + cos_amp * np.cos(np.pi * t)
        vol = base * (1.0 + frac + drift * head + PHYSIO_FRAC * physio.next())
        vol += rng.standard_normal(grid.shape, dtype=np.float32) * NOISE_SD
        data[..., v] = vol
    progress(1.0, "BOLD done")
    return BoldResult(data, neural, bw, masks)


class _PhysioNoise:
    """Unit-variance noise field, Gaussian-smooth in space and AR(1) in time.

    Parameters
    ----------
    grid : BoldGrid
        The EPI grid (voxel sizes from its affine).
    tr : float
        Time between volumes (s).
    rng : numpy.random.Generator
        Source of the innovations.
    """

    def __init__(self, grid: BoldGrid, tr: float, rng: np.random.Generator) -> None:
        vox = np.sqrt((np.asarray(grid.affine)[:3, :3] ** 2).sum(axis=0))
        self.sigma = PHYSIO_FWHM_MM / (2.0 * np.sqrt(2.0 * np.log(2.0))) / vox  # voxels
        impulse = np.zeros((33, 33, 33))
        impulse[16, 16, 16] = 1.0
        self.norm = float(np.sqrt((ndimage.gaussian_filter(impulse, self.sigma) ** 2).sum()))
        self.rho = float(np.exp(-tr / PHYSIO_TAU_S))
        self.shape = grid.shape
        self.rng = rng
        self.state: np.ndarray | None = None

    def _field(self) -> np.ndarray:
        w = self.rng.standard_normal(self.shape).astype(np.float32)
        return ndimage.gaussian_filter(w, self.sigma, mode="wrap") / self.norm

    def next(self) -> np.ndarray:
        """The field of the next volume (float32, SD ~1 in every voxel)."""
        if self.state is None:
            self.state = self._field()
        else:
            self.state = self.rho * self.state + np.sqrt(1.0 - self.rho**2) * self._field()
        return self.state
