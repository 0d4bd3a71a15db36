"""Training one network: mini-batches, early stopping, seeds, progress and Cancel.

Deterministic on the CPU: :func:`set_determinism` seeds torch, turns on
``torch.use_deterministic_algorithms`` and fixes the thread count (results are
bit-identical for the same seed and thread count; a different thread count may change
the last bits of the reductions). Mini-batch order comes from a seeded
``torch.Generator``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.engine.progress import Progress, as_progress

__all__ = ["TrainConfig", "set_determinism", "train_model", "predict", "embed"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes
    ----------
    epochs : int
        Upper bound on passes over the training trials.
    patience : int
        Stop when the validation loss has not improved for this many epochs; the weights
        of the best epoch are kept.
    batch_size : int
    lr : float
        Adam's learning rate.
    weight_decay : float
        L2 penalty (AdamW's decoupled weight decay).
    modality_dropout : float
        Probability that a mini-batch is trained with one modality (chosen at random)
        removed, as at test time when a modality is missing (0 = never).
    seed : int
    threads : int
        torch CPU threads (0 = the number of cores). 1 by default: the networks are small
        and on a loaded machine OpenMP threads spin-wait (an epoch took 24 s with 2
        threads and 1.1 s with 1 under load 12 on 2 cores).
    """

    epochs: int = 60
    patience: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-2
    modality_dropout: float = 0.0
    seed: int = 0
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def set_determinism(seed: int, threads: int = 1) -> None:
    """Seed torch, use deterministic algorithms and fix the CPU thread count."""
    n = threads if threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, n))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def _t(a: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(dtype)


def _loss(model: nn.Module, kind: str, e: torch.Tensor, f: torch.Tensor, y: torch.Tensor,
          have_eeg: bool = True, have_fmri: bool = True) -> torch.Tensor:
    if kind == "late" and have_eeg and have_fmri:
        # each branch is trained as a classifier of its own as well, so that it still
        # predicts when the other modality is missing
        le, lf = model.branches(e, f)
        return F.cross_entropy(le + lf, y) + 0.5 * (F.cross_entropy(le, y) + F.cross_entropy(lf, y))
    return F.cross_entropy(model(e, f, have_eeg, have_fmri), y)


def train_model(model: nn.Module, kind: str, fit: tuple[np.ndarray, np.ndarray, np.ndarray],
                val: tuple[np.ndarray, np.ndarray, np.ndarray], cfg: TrainConfig,
                progress: Progress | None = None) -> dict[str, Any]:
    """Train ``model`` in place; return its history.

    Parameters
    ----------
    model : torch.nn.Module
        From :func:`~workbench_deep_fusion.models.build_model`.
    kind : str
        Its kind (``"late"`` adds the per-branch losses).
    fit, val : (eeg, fmri, y)
        Standardised training and validation trials (validation = held-out training
        subjects, never the test subjects).
    cfg : TrainConfig
    progress : Progress | None
        Reported once per epoch; raises :class:`~workbench.engine.errors.Cancelled` when
        the user cancels (checked every mini-batch).

    Returns
    -------
    dict
        ``train_loss``, ``val_loss`` per epoch, ``best_epoch`` (1-based), ``epochs_run``,
        ``stopped_early``.
    """
    progress = as_progress(progress)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    E, Fm, Y = _t(fit[0]), _t(fit[1]), _t(fit[2], torch.long)
    Ev, Fv, Yv = _t(val[0]), _t(val[1]), _t(val[2], torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(Y)
    best, best_state, best_epoch, wait = np.inf, None, 0, 0
    hist: dict[str, Any] = {"train_loss": [], "val_loss": []}
    epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for b0 in range(0, n, cfg.batch_size):
            progress.check()
            idx = order[b0:b0 + cfg.batch_size]
            if len(idx) < 2:  # batch norm needs two trials
                continue
            he = hf = True
            if cfg.modality_dropout > 0 and kind in ("early", "late", "hybrid") and rng.random() < cfg.modality_dropout:
                he, hf = (False, True) if rng.random() < 0.5 else (True, False)
            opt.zero_grad()
            loss = _loss(model, kind, E[idx], Fm[idx], Y[idx], he, hf)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            vl = float(F.cross_entropy(model(Ev, Fv), Yv))
        hist["train_loss"].append(total / n)
        hist["val_loss"].append(vl)
        if vl < best - 1e-6:
            best, best_epoch, wait = vl, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            wait += 1
        progress(epoch / cfg.epochs, f"{kind}: epoch {epoch}, validation loss {vl:.3f}")
        if wait >= cfg.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist.update(best_epoch=best_epoch, epochs_run=epoch, stopped_early=epoch < cfg.epochs)
    return hist


def predict(model: nn.Module, eeg: np.ndarray, fmri: np.ndarray, have_eeg: bool = True,
            have_fmri: bool = True) -> np.ndarray:
    """Class probabilities (trials x classes)."""
    model.eval()
    with torch.no_grad():
        logits = model(_t(eeg), _t(fmri), have_eeg, have_fmri)
        return torch.softmax(logits, dim=1).numpy().astype(np.float64)


def embed(model: nn.Module, eeg: np.ndarray, fmri: np.ndarray) -> np.ndarray:
    """The model's latent of each trial (trials x latent)."""
    model.eval()
    with torch.no_grad():
        return model.embed(_t(eeg), _t(fmri)).numpy().astype(np.float64)
