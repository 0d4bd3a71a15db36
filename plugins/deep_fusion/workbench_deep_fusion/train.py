"""Training one network: mini-batches, early stopping, seeds, device, progress and Cancel.

Deterministic on the CPU: :func:`set_determinism` seeds torch, turns on
``torch.use_deterministic_algorithms`` and fixes the thread count (results are
bit-identical for the same seed and thread count; a different thread count may change
the last bits of the reductions). Mini-batch order comes from a seeded
``torch.Generator``. :func:`deterministic` scopes those process-wide settings to a run:
on leaving it, the previous determinism flags, thread count and global RNG state are
restored, so the rest of the program (or another plugin) is not left with them.

Classification trains with the cross-entropy, regression (``ModelConfig.regression``)
with the mean squared error on the standardised target.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.engine.errors import InputError
from workbench.engine.progress import Progress, as_progress

__all__ = ["TrainConfig", "set_determinism", "deterministic", "resolve_device", "train_model", "predict", "embed"]

DEVICES = ("auto", "cpu", "cuda")


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
    device : str
        ``"cpu"`` or ``"cuda"`` (resolved by :func:`resolve_device`).
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
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(name: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when PyTorch sees a CUDA GPU, else ``"cpu"``.

    Raises
    ------
    InputError
        ``"cuda"`` asked for where PyTorch sees no CUDA GPU (one line), or an unknown name.
    """
    name = (name or "auto").strip().lower()
    if name not in DEVICES:
        raise InputError(None, f"parameter 'device': {name!r} is not one of {', '.join(DEVICES)}")
    has_cuda = bool(torch.cuda.is_available())
    if name == "auto":
        return "cuda" if has_cuda else "cpu"
    if name == "cuda" and not has_cuda:
        raise InputError(None, "device 'cuda' asked for, but PyTorch sees no CUDA GPU here (torch "
                               f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use device=auto or cpu")
    return name


def set_determinism(seed: int, threads: int = 1, device: str = "cpu") -> None:
    """Seed torch, use deterministic algorithms and fix the CPU thread count.

    These are process-wide settings: use it inside :func:`deterministic`, which restores
    the previous ones afterwards.
    """
    n = threads if threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, n))
    if device == "cuda":
        # cuBLAS is deterministic only with a fixed workspace (read when its handle is made)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


@contextlib.contextmanager
def deterministic(threads: int = 1) -> Iterator[None]:
    """Scope of a deterministic run: restores the determinism flags, threads and RNG after it.

    Inside, :func:`set_determinism` may be called as often as needed (once per network).
    """
    was = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    n_threads = torch.get_num_threads()
    rng = torch.get_rng_state()
    try:
        torch.set_num_threads(max(1, threads if threads > 0 else (os.cpu_count() or 1)))
        torch.use_deterministic_algorithms(True)
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn_only)
        torch.set_num_threads(n_threads)
        torch.set_rng_state(rng)


def _t(a: np.ndarray, dtype=torch.float32, device: str = "cpu") -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)


def _criterion(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.is_floating_point():  # regression: one output per trial
        return F.mse_loss(out[:, 0], y)
    return F.cross_entropy(out, y)


def _loss(model: nn.Module, kind: str, e: torch.Tensor, f: torch.Tensor, y: torch.Tensor,
          have_eeg: bool = True, have_fmri: bool = True) -> torch.Tensor:
    if kind == "late" and have_eeg and have_fmri:
        # each branch is trained as a predictor of its own as well, so that it still
        # predicts when the other modality is missing
        le, lf = model.branches(e, f)
        fused = (le + lf) / 2 if y.is_floating_point() else le + lf
        return _criterion(fused, y) + 0.5 * (_criterion(le, y) + _criterion(lf, y))
    return _criterion(model(e, f, have_eeg, have_fmri), y)


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
        subjects, never the test subjects). ``y``: class indices (integers), or the
        standardised target (floats) for a regression model.
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
    dev = cfg.device
    ydt = torch.float32 if np.issubdtype(np.asarray(fit[2]).dtype, np.floating) else torch.long
    model.to(dev)
    E, Fm, Y = _t(fit[0], device=dev), _t(fit[1], device=dev), _t(fit[2], ydt, dev)
    Ev, Fv, Yv = _t(val[0], device=dev), _t(val[1], device=dev), _t(val[2], ydt, dev)
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
            idx = order[b0:b0 + cfg.batch_size].to(dev)
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
            vl = float(_criterion(model(Ev, Fv), Yv))
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


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def predict(model: nn.Module, eeg: np.ndarray, fmri: np.ndarray, have_eeg: bool = True,
            have_fmri: bool = True) -> np.ndarray:
    """Class probabilities (trials x classes), or the prediction (trials,) of a regression model."""
    model.eval()
    dev = _device_of(model)
    with torch.no_grad():
        out = model(_t(eeg, device=dev), _t(fmri, device=dev), have_eeg, have_fmri)
        if getattr(model, "regression", False) or out.shape[1] == 1:
            return out[:, 0].cpu().numpy().astype(np.float64)
        return torch.softmax(out, dim=1).cpu().numpy().astype(np.float64)


def embed(model: nn.Module, eeg: np.ndarray, fmri: np.ndarray) -> np.ndarray:
    """The model's latent of each trial (trials x latent)."""
    model.eval()
    dev = _device_of(model)
    with torch.no_grad():
        return model.embed(_t(eeg, device=dev), _t(fmri, device=dev)).cpu().numpy().astype(np.float64)
