"""The networks: per-modality encoders into a shared latent, and the fusion heads.

Written here in PyTorch rather than taken from braindecode because braindecode pulls an
unpinned torch (a multi-GB CUDA build, see installer/bootstrap.sh) and its models expose
no latent for late/hybrid fusion; the EEG encoder is a small EEGNet-style network
(Lawhern et al. 2018, J Neural Eng 15:056013): temporal convolution -> depthwise spatial
convolution -> separable convolution, with batch norm, ELU, average pooling, dropout.

Every model maps ``(eeg, fmri)`` -> class logits (or, with ``regression``, one predicted
value per trial: the same networks with a one-unit linear head) and has ``embed(eeg, fmri)`` giving the
latent the report projects. ``have_eeg`` / ``have_fmri`` say whether a modality is
present at test time:

* ``early``: the fMRI features are broadcast over time and stacked with the EEG channels,
  one EEGNet-style network sees them together (the inputs must be aligned trial by
  trial; a missing modality is fed as zeros, its training mean after standardisation);
* ``late``: one network per modality, each with its own classifier; the fused logits
  are their sum (a product of the two posteriors); a missing modality's logits are left
  out (regression: the mean of the two branches' predictions, each trained to predict
  the target alone too, so a missing branch leaves a prediction on the same scale);
* ``hybrid``: both encoders give tokens in the shared latent (EEG: one per pooled time
  step; fMRI: ``n_fmri_tokens``), each modality attends to the other (cross-modal
  multi-head attention, residual), pooled latents are concatenated into the classifier;
  a missing modality's tokens are zero and its cross-attention term is dropped;
* ``eeg_only`` / ``fmri_only``: one encoder and a linear classifier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["ModelConfig", "EEGEncoder", "FMRIEncoder", "build_model", "MODEL_KINDS", "FUSION_KINDS"]

FUSION_KINDS = ("early", "late", "hybrid")
MODEL_KINDS = (*FUSION_KINDS, "eeg_only", "fmri_only")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of a model (kept in a checkpoint's JSON to rebuild it)."""

    kind: str
    n_channels: int
    n_times: int
    n_features: int
    n_classes: int
    latent: int = 16
    f1: int = 8  #: temporal filters
    depth: int = 2  #: spatial filters per temporal filter
    kernel: int = 25  #: temporal kernel (samples)
    hidden: int = 64  #: fMRI MLP width
    n_fmri_tokens: int = 4
    heads: int = 2
    dropout: float = 0.25
    regression: bool = False  #: one output (n_classes 1) trained with the squared error

    def to_dict(self) -> dict:
        return asdict(self)


class EEGEncoder(nn.Module):
    """EEGNet-style encoder: (batch, channels, times) -> tokens (batch, steps, latent).

    Spatial filters (``f1 * depth`` weighted sums of the channels) each followed by its
    own temporal filter (depthwise), batch norm, ELU, average pooling by 4, a separable
    convolution (depthwise temporal + pointwise), batch norm, ELU, pooling by 4, dropout.
    Spatial-then-temporal is the same family of rank-1 spatio-temporal filters as EEGNet's
    temporal-then-spatial order; written with 1-D convolutions because PyTorch's grouped 2-D
    convolutions are several times slower on the CPU.
    """

    def __init__(self, n_channels: int, n_times: int, latent: int, f1: int = 8, depth: int = 2,
                 kernel: int = 25, dropout: float = 0.25) -> None:
        super().__init__()
        f2 = f1 * depth
        k = max(3, min(kernel, n_times) | 1)  # odd, no longer than the epoch
        k2 = max(3, min(9, n_times // 4) | 1)
        self.net = nn.Sequential(
            nn.Conv1d(n_channels, f2, 1, bias=False),  # spatial filters
            nn.Conv1d(f2, f2, k, padding=k // 2, groups=f2, bias=False),  # a temporal filter each
            nn.BatchNorm1d(f2),
            nn.ELU(),
            nn.AvgPool1d(4, ceil_mode=True),
            nn.Dropout(dropout),
            nn.Conv1d(f2, f2, k2, padding=k2 // 2, groups=f2, bias=False),  # separable convolution
            nn.Conv1d(f2, f2, 1, bias=False),
            nn.BatchNorm1d(f2),
            nn.ELU(),
            nn.AvgPool1d(4, ceil_mode=True),
            nn.Dropout(dropout),
        )
        with torch.no_grad():
            self.n_steps = int(self.net(torch.zeros(2, n_channels, n_times)).shape[2])
        self.proj = nn.Linear(f2, latent)
        self.pos = nn.Parameter(torch.zeros(self.n_steps, latent))  # where in the epoch a token is
        self.flat = nn.Linear(f2 * self.n_steps, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (batch, steps, latent), one per pooled time step, with their position."""
        return self.proj(self.net(x).transpose(1, 2)) + self.pos

    def vector(self, x: torch.Tensor) -> torch.Tensor:
        """One latent vector per trial (batch, latent) from the whole time course: an evoked
        response is decoded from *when* its features occur, which a mean over time loses."""
        return self.flat(self.net(x).flatten(1))


class FMRIEncoder(nn.Module):
    """MLP: (batch, features) -> tokens (batch, n_tokens, latent)."""

    def __init__(self, n_features: int, latent: int, hidden: int = 64, n_tokens: int = 1,
                 dropout: float = 0.25) -> None:
        super().__init__()
        self.n_tokens, self.latent = n_tokens, latent
        self.net = nn.Sequential(
            nn.Dropout(min(dropout, 0.2)),
            nn.Linear(n_features, hidden),
            nn.ELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, latent * n_tokens),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(x.shape[0], self.n_tokens, self.latent)


class _EEGOnly(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.enc = EEGEncoder(c.n_channels, c.n_times, c.latent, c.f1, c.depth, c.kernel, c.dropout)
        self.head = nn.Linear(c.latent, c.n_classes)

    def embed(self, eeg, fmri, have_eeg=True, have_fmri=True):
        return self.enc.vector(eeg)

    def forward(self, eeg, fmri, have_eeg=True, have_fmri=True):
        return self.head(self.embed(eeg, fmri))


class _FMRIOnly(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.enc = FMRIEncoder(c.n_features, c.latent, c.hidden, 1, c.dropout)
        self.head = nn.Linear(c.latent, c.n_classes)

    def embed(self, eeg, fmri, have_eeg=True, have_fmri=True):
        return self.enc(fmri)[:, 0]

    def forward(self, eeg, fmri, have_eeg=True, have_fmri=True):
        return self.head(self.embed(eeg, fmri))


class _Early(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.enc = EEGEncoder(c.n_channels + c.n_features, c.n_times, c.latent, c.f1, c.depth, c.kernel, c.dropout)
        self.head = nn.Linear(c.latent, c.n_classes)

    def embed(self, eeg, fmri, have_eeg=True, have_fmri=True):
        if not have_eeg:
            eeg = torch.zeros_like(eeg)
        if not have_fmri:
            fmri = torch.zeros_like(fmri)
        x = torch.cat([eeg, fmri.unsqueeze(2).expand(-1, -1, eeg.shape[2])], dim=1)
        return self.enc.vector(x)

    def forward(self, eeg, fmri, have_eeg=True, have_fmri=True):
        return self.head(self.embed(eeg, fmri, have_eeg, have_fmri))


class _Late(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.eeg = _EEGOnly(c)
        self.fmri = _FMRIOnly(c)
        self.regression = c.regression

    def branches(self, eeg, fmri):
        """Logits of each branch (trained with their own loss too, see train.py)."""
        return self.eeg(eeg, fmri), self.fmri(eeg, fmri)

    def embed(self, eeg, fmri, have_eeg=True, have_fmri=True):
        ze = self.eeg.embed(eeg, fmri) if have_eeg else torch.zeros(eeg.shape[0], self.eeg.head.in_features)
        zf = self.fmri.embed(eeg, fmri) if have_fmri else torch.zeros(fmri.shape[0], self.fmri.head.in_features)
        return torch.cat([ze, zf], dim=1)

    def forward(self, eeg, fmri, have_eeg=True, have_fmri=True):
        out = 0
        if have_eeg:
            out = out + self.eeg(eeg, fmri)
        if have_fmri:
            out = out + self.fmri(eeg, fmri)
        if self.regression and have_eeg and have_fmri:
            out = out / 2  # the branches' mean: each is trained to predict the target alone too
        return out


class _Hybrid(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.eeg = EEGEncoder(c.n_channels, c.n_times, c.latent, c.f1, c.depth, c.kernel, c.dropout)
        self.fmri = FMRIEncoder(c.n_features, c.latent, c.hidden, c.n_fmri_tokens, c.dropout)
        self.e_from_f = nn.MultiheadAttention(c.latent, c.heads, dropout=0.0, batch_first=True)
        self.f_from_e = nn.MultiheadAttention(c.latent, c.heads, dropout=0.0, batch_first=True)
        self.norm_e, self.norm_f = nn.LayerNorm(c.latent), nn.LayerNorm(c.latent)
        self.pool_e = nn.Linear(self.eeg.n_steps * c.latent, c.latent)  # keeps the time course
        self.head = nn.Linear(2 * c.latent, c.n_classes)

    def embed(self, eeg, fmri, have_eeg=True, have_fmri=True):
        te, tf = self.eeg(eeg), self.fmri(fmri)
        if not have_eeg:
            te = torch.zeros_like(te)
        if not have_fmri:
            tf = torch.zeros_like(tf)
        ae = self.e_from_f(te, tf, tf, need_weights=False)[0] if have_fmri else 0.0
        af = self.f_from_e(tf, te, te, need_weights=False)[0] if have_eeg else 0.0
        he, hf = self.norm_e(te + ae), self.norm_f(tf + af)
        return torch.cat([self.pool_e(he.flatten(1)), hf.mean(dim=1)], dim=1)

    def forward(self, eeg, fmri, have_eeg=True, have_fmri=True):
        return self.head(self.embed(eeg, fmri, have_eeg, have_fmri))


_BUILDERS = {"early": _Early, "late": _Late, "hybrid": _Hybrid, "eeg_only": _EEGOnly, "fmri_only": _FMRIOnly}


def build_model(cfg: ModelConfig) -> nn.Module:
    """A fresh model of ``cfg.kind`` (one of :data:`MODEL_KINDS`)."""
    if cfg.kind not in _BUILDERS:
        raise ValueError(f"unknown model kind {cfg.kind!r}; known: {MODEL_KINDS}")
    return _BUILDERS[cfg.kind](cfg)
