"""Inverting one DCM on region BOLD (and optionally region EEG): data preparation and fit.

* BOLD is scaled as SPM12's ``spm_dcm_estimate`` does (so that its range is at most 4,
  values read as percent signal change), and the confounds (constant plus a discrete cosine
  set with a 128 s cut-off, SPM's high-pass) are projected out of data and predictions.
* The joint EEG-fMRI observation model is in :mod:`.joint_eeg`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

from .integrate import Design, integrate, predict
from .joint_eeg import EegData, EegModel
from .model import DcmModel
from .priors import Layout, layout
from .vl import Posterior, invert

__all__ = ["DcmFit", "fit_dcm", "confounds"]


def confounds(n_scans: int, tr: float, cutoff: float = 128.0) -> np.ndarray:
    """Constant plus discrete cosines below ``1/cutoff`` Hz (SPM's ``spm_filter`` set)."""
    k = int(np.fix(2 * n_scans * tr / cutoff)) if cutoff > 0 else 0
    t = np.arange(n_scans)
    cols = [np.ones(n_scans) / np.sqrt(n_scans)]
    cols += [np.sqrt(2.0 / n_scans) * np.cos(np.pi * (2 * t + 1) * j / (2 * n_scans)) for j in range(1, k + 1)]
    return np.stack(cols, 1)


@dataclass
class DcmFit:
    """One inverted model.

    Attributes
    ----------
    model : DcmModel
    layout : Layout
    posterior : Posterior
    observed, predicted : ndarray (n_scans, n)
        Confound-removed, scaled BOLD (percent) and the model's prediction.
    scale : float
        Factor the BOLD was multiplied by (SPM's range-4 scaling).
    explained_variance : float
        SPM's ``PSS / (PSS + RSS)`` over all regions (percent / 100).
    eeg : dict | None
        Observed and predicted EEG and the gains (joint inversion).
    """

    model: DcmModel
    layout: Layout
    posterior: Posterior
    design: Design
    observed: np.ndarray
    predicted: np.ndarray
    scale: float
    explained_variance: float
    explained_per_region: list[float]
    eeg: dict[str, Any] | None = None
    extra_names: list[str] = field(default_factory=list)
    integrator: str = "bilinear"

    @property
    def F(self) -> float:
        return self.posterior.F


def fit_dcm(model: DcmModel, bold: np.ndarray, design: Design, *, hpf: float = 128.0,
            eeg: EegData | None = None, max_iter: int = 128, integrator: str = "bilinear",
            progress=None) -> DcmFit:
    """Invert ``model`` on ``bold`` (n_scans x n regions, in the model's region order).

    ``integrator``: ``"bilinear"`` (SPM12's ``spm_int``) or ``"nonlinear"`` (local
    linearisation of the exact equations at every step, see :mod:`.integrate`).

    Raises
    ------
    InputError
        When the data cannot be used (constant region, too few volumes).
    """
    ns, n = bold.shape
    if n != model.n:
        raise InputError(None, f"model {model.name!r} has {model.n} regions but {n} BOLD series were given")
    X0 = confounds(ns, design.tr, hpf)
    R = np.eye(ns) - X0 @ np.linalg.pinv(X0)
    y = bold - bold.mean(axis=0)
    span = float(y.max() - y.min())
    scale = 4.0 / max(span, 4.0)
    y = R @ (y * scale)
    for r in range(n):
        if np.std(y[:, r]) < 1e-12:
            raise InputError(None, f"region {model.regions[r]!r} has no signal left after removing the "
                                   "confounds (constant series)")
    lay = layout(model)
    pE, pV = lay.pE.copy(), lay.pV.copy()
    obs = [y.T.ravel()]  # region-major
    groups = [np.repeat(np.arange(n), ns)]
    dof = [np.full(n, float(ns - X0.shape[1]))]
    emodel = None
    if eeg is not None:
        emodel = EegModel(eeg, design, n)
        pE = np.concatenate([pE, emodel.pE])
        pV = np.concatenate([pV, emodel.pV])
        obs.append(emodel.y)
        groups.append(n + emodel.groups)
        dof.append(emodel.dof)
    yv = np.concatenate(obs)
    gv = np.concatenate(groups)
    dofv = np.concatenate(dof)
    size = lay.size

    def g(batch: np.ndarray) -> np.ndarray:
        if emodel is None:
            yb = predict(batch, lay, design, integrator=integrator)
        elif integrator == "bilinear":
            yb, X = predict(batch, lay, emodel.design, with_states=True)  # also records the EEG windows
        else:
            # the neuronal layer is linear, so the bilinear scheme gives its states at the EEG
            # windows exactly; the nonlinear haemodynamics then keep their half-TR steps
            yb = predict(batch, lay, design, integrator=integrator)
            X = integrate(batch, lay, emodel.design)
        out = np.einsum("st,btr->brs", R, yb).reshape(batch.shape[0], -1)
        if emodel is not None:
            out = np.concatenate([out, emodel.predict(X, batch[:, size:])], axis=1)
        bad = ~np.all(np.isfinite(out), axis=1) | (np.abs(out).max(axis=1) > 1e6)
        out[bad] = np.nan
        return out

    try:
        post = invert(yv, gv, dofv, g, pE, pV, max_iter=max_iter, progress=progress)
    except FloatingPointError:
        raise InputError(model.source or None, f"model {model.name!r} is unstable at its prior means") from None
    pred = post.prediction[: n * ns].reshape(n, ns).T
    rss = ((y - pred) ** 2).sum(axis=0)
    pss = (pred ** 2).sum(axis=0)
    ev = float(pss.sum() / (pss.sum() + rss.sum()))
    per = [float(pss[r] / (pss[r] + rss[r])) for r in range(n)]
    fit = DcmFit(model, lay, post, design, y, pred, scale, ev, per, integrator=integrator)
    if emodel is not None:
        fit.eeg = emodel.summary(post, size, model.regions)
    return fit
