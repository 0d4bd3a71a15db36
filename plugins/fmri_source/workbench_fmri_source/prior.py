"""fMRI priors on top of MNE's minimum-norm inverse (the part MNE-Python does not have).

MNE-Python builds the forward model, the noise covariance, the whitener, the depth
weighting and the SVD of the whitened, weighted lead field (``make_inverse_operator`` /
``prepare_inverse_operator``), but its inverse code has no fMRI prior ("Apply fMRI
weighting (not done)"). Everything here starts from that prepared operator, so the
whitening and depth weighting are exactly MNE's:

* ``B = U^T W P``: data -> whitened coordinates along the eigenfields (``y = B x``),
* ``A = diag(s) V^T``: the whitened, depth-weighted, trace-normalised lead field in those
  coordinates (MNE's ``G~ = U diag(s) V^T``), one column per source orientation,
* ``sqrt(R)``: MNE's source standard deviations (depth prior x orientation prior x scale).

A source current is ``j = sqrt(R) * j~`` and MNE's minimum norm is the posterior mean
``j~ = A^T (A A^T + lambda2 I)^-1 y`` of ``y = A j~ + e``, ``e ~ N(0, I)``,
``j~ ~ N(0, I / lambda2)``. The fMRI variants change only the prior of ``j~``:

* ``weights``: prior variance ``c^2 w_k`` (MNE-C ``--fmri``: w = 1 inside the map,
  ``factor`` outside; a hard mask is w = 0 outside). ``c`` re-normalises the trace of
  ``A diag(w) A^T`` to MNE's, so ``lambda2 = 1/SNR^2`` keeps its meaning.
* ``soft``: prior covariance ``h0 I + sum_k h_k diag(m_k)`` (a whole-brain component and
  one component per connected cluster of the thresholded fMRI map, as SPM's
  fMRI-informed priors use one component per cluster), noise ``I`` (MNE's whitening),
  the hyperparameters ``h >= 0`` learned in each time window by maximising the marginal likelihood of
  the window's data (restricted/type-II maximum likelihood, as SPM's ``spm_reml`` does for
  its covariance components) with the fixed-point update
  ``h_i <- h_i sqrt(tr(P C_i P S) / tr(P C_i))``, ``P = Sigma_y^-1``, ``C_i = A Q_i A^T``,
  whose fixed points are the stationary points of the evidence (``tr(P C_i) = tr(P C_i P S)``)
  and which keeps every ``h_i`` positive (MacKay; Wipf & Nagarajan 2009). Where the map does
  not help explain the data, its ``h_k`` goes to ~0 and the solution is the whole-brain one;
  a cluster per component lets the data switch off one blob (a false positive) and keep
  another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["WhitenedModel", "model_from_inverse", "weighted_solution", "soft_fit", "soft_fit_pruned",
           "soft_solution", "log_evidence", "clusters", "windows"]


@dataclass
class WhitenedModel:
    """MNE's prepared inverse operator seen as a linear-Gaussian model (see module doc).

    Attributes
    ----------
    B : ndarray (n_comp, n_channels)
        Data -> whitened eigen-coordinates.
    A : ndarray (n_comp, n_src * 3)
        Whitened, weighted lead field in those coordinates.
    source_std : ndarray (n_src * 3,)
        MNE's ``sqrt(source_cov)``.
    lambda2 : float
    n_ori : int
        Columns per source: 3 (free or loose orientation), 1 (fixed normal to the cortex).
    """

    B: np.ndarray
    A: np.ndarray
    source_std: np.ndarray
    lambda2: float
    n_ori: int = 3

    @property
    def trace(self) -> float:
        return float(np.sum(self.A**2))

    def whiten(self, data: np.ndarray) -> np.ndarray:
        return self.B @ data


def model_from_inverse(inv: dict, lambda2: float) -> WhitenedModel:
    """The model of a *prepared* MNE inverse operator (``prepare_inverse_operator``)."""
    if inv.get("eigen_leads_weighted"):
        raise ValueError("inverse operators with weighted eigen leads are not supported")
    B = inv["eigen_fields"]["data"] @ (inv["whitener"] @ inv["proj"])
    A = inv["sing"][:, None] * inv["eigen_leads"]["data"].T
    n_ori = 1 if int(inv["source_ori"]) == 1 else 3  # FIFFV_MNE_FIXED_ORI
    return WhitenedModel(B, A, np.sqrt(inv["source_cov"]["data"]), float(lambda2), n_ori)


def model_and_data(inv: dict, evoked: Any, lambda2: float) -> tuple[WhitenedModel, np.ndarray]:
    """The whitened model of MNE's inverse operator ``inv`` (prepared here for the evoked's
    ``nave``) and the evoked data on the operator's channels, in its order."""
    import mne

    inv_p = mne.minimum_norm.prepare_inverse_operator(inv, evoked.nave, lambda2, "MNE", verbose="error")
    data = evoked.data[[evoked.ch_names.index(c) for c in inv_p["noise_cov"]["names"]]]
    return model_from_inverse(inv_p, lambda2), data


def weighted_solution(model: WhitenedModel, weights: np.ndarray, data: np.ndarray,
                      noise_norm: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Currents (n_src*3, n_times) with prior variance ``c^2 * weights`` (c: trace kept).

    ``weights`` all ones gives MNE's own minimum norm (``apply_inverse(method="MNE")``).
    With ``noise_norm``, also each row's noise sensitivity ``||K_r||`` (whitened noise),
    MNE's dSPM normaliser (all-ones weights give MNE's own dSPM).
    """
    w = np.asarray(weights, float)
    Aw = model.A * np.sqrt(w)[None, :]
    tw = float(np.sum(Aw**2))
    if tw <= 0:
        raise ValueError("the prior leaves no source with variance")
    c = np.sqrt(model.trace / tw)
    Aw *= c
    y = model.whiten(data)
    gram = Aw @ Aw.T + model.lambda2 * np.eye(Aw.shape[0])
    Kt = c * np.sqrt(w)[:, None] * np.linalg.solve(gram, Aw).T  # gram symmetric
    j = model.source_std[:, None] * (Kt @ y)
    if noise_norm:
        return j, model.source_std * np.linalg.norm(Kt, axis=1)
    return j


def _sigma(Gs: np.ndarray, h: np.ndarray) -> np.ndarray:
    return np.eye(Gs.shape[1]) + np.tensordot(h, Gs, axes=1)


def log_evidence(S: np.ndarray, Gs: np.ndarray | list[np.ndarray], h: np.ndarray) -> float:
    """Log marginal likelihood per sample of whitened data with second moment ``S``."""
    sig = _sigma(np.asarray(Gs), np.asarray(h, float))
    _, logdet = np.linalg.slogdet(sig)
    n = sig.shape[0]
    return float(-0.5 * (logdet + np.trace(np.linalg.solve(sig, S)) + n * np.log(2 * np.pi)))


def soft_fit(Y: np.ndarray, Gs: np.ndarray | list[np.ndarray], h_init: np.ndarray | list[float],
             max_iter: int = 300, tol: float = 1e-6) -> dict:
    """Learn the component variances ``h`` from whitened data ``Y`` (n_comp, T).

    ``Gs[i] = A Q_i A^T`` for the prior components ``Q_i`` (whole brain, fMRI clusters,
    local patches); a component started at 0 stays off (the model without it).

    Returns
    -------
    dict
        ``h`` (array), ``evidence`` (log marginal likelihood per sample at the optimum),
        ``iterations``, ``trace`` (evidence after each iteration: never decreasing).
    """
    Gs = np.asarray(Gs, float)
    K, n, _ = Gs.shape
    flat = Gs.reshape(K, n * n)
    T = Y.shape[1]
    S = (Y @ Y.T) / max(T, 1)
    h = np.asarray(h_init, float).copy()
    active = h > 0
    floor = 1e-12 * max(float(h.max()), 1.0)
    trace = [log_evidence(S, Gs, h)]
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        Pm = np.linalg.inv(_sigma(Gs, h))
        PSP = Pm @ S @ Pm
        num = flat @ PSP.ravel()  # tr(P S P G_i), G_i symmetric
        den = flat @ Pm.ravel()  # tr(P G_i)
        ok = active & (den > 0)
        new = h.copy()
        new[ok] = np.maximum(h[ok] * np.sqrt(np.maximum(num[ok], 0.0) / den[ok]), floor)
        change = float(np.max(np.abs(new - h)[active] / np.maximum(h[active], floor))) if active.any() else 0.0
        h = new
        trace.append(log_evidence(S, Gs, h))
        if change < tol or abs(trace[-1] - trace[-2]) < tol * 1e-3:
            break
    return {"h": h, "evidence": trace[-1], "iterations": it, "trace": trace}


def soft_fit_pruned(Y: np.ndarray, Gs: np.ndarray, h_init: np.ndarray, candidates: list[int],
                    min_log_bf: float, sample_weight: float = 1.0) -> dict:
    """:func:`soft_fit`, then switch off every candidate component the data do not need.

    The fixed point alone keeps a small positive variance on a component that explains a
    little noise; with few samples (a 50 ms window) a focal component (one fMRI cluster of
    one or two sources) then gets as much variance per source as a real one, and the
    posterior mean peaks there. Here each candidate must earn its place by Bayesian model
    comparison: the log Bayes factor of the model with it against the model without it
    (both refitted), ``sample_weight * T * (evidence_with - evidence_without)``, must reach
    ``min_log_bf`` (3: "strong" evidence, Kass & Raftery 1995); the weakest candidate is
    removed and the rest refitted until every remaining one passes (backward elimination).
    ``sample_weight`` scales the window's sample count to its effective number of
    independent samples (low-passed data are correlated: ``2 * lowpass / sfreq``).

    Returns
    -------
    dict
        :func:`soft_fit`'s keys plus ``log_bf`` (per candidate; ``-inf`` when removed).
    """
    h0 = np.asarray(h_init, float).copy()
    active = {k for k in candidates if h0[k] > 0}
    T = Y.shape[1] * float(sample_weight)
    log_bf = {k: -np.inf for k in candidates}
    while True:
        h = h0.copy()
        for k in candidates:
            if k not in active:
                h[k] = 0.0
        fit = soft_fit(Y, Gs, h)
        if not active:
            break
        for k in active:
            alt = h.copy()
            alt[k] = 0.0
            log_bf[k] = T * (fit["evidence"] - soft_fit(Y, Gs, alt)["evidence"])
        worst = min(active, key=lambda k: log_bf[k])
        if log_bf[worst] >= min_log_bf:
            break
        active.discard(worst)
        log_bf[worst] = -np.inf
    fit["log_bf"] = log_bf
    return fit


def patches(pos: np.ndarray, grid_ijk: np.ndarray, spacing_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Local, non-fMRI prior components (as SPM's multiple sparse priors): one smooth patch
    centred on every other grid point in each direction, Gaussian weights (sigma = one grid
    step) over the sources within two steps. Returns ``(source indices, weights)``."""
    from scipy.spatial import cKDTree

    centres = np.flatnonzero(np.all(grid_ijk % 2 == 0, axis=1))
    tree = cKDTree(pos)
    out = []
    for c in centres:
        idx = np.asarray(tree.query_ball_point(pos[c], 2.0 * spacing_m * 1.001), int)
        d = np.linalg.norm(pos[idx] - pos[c], axis=1)
        out.append((idx, np.exp(-0.5 * (d / spacing_m) ** 2)))
    return out


def soft_solution(model: WhitenedModel, prior: np.ndarray, data: np.ndarray,
                  noise_norm: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Posterior mean currents (n_src*n_ori, n_times) for the diagonal prior ``prior`` of ``j~``
    (and with ``noise_norm`` each row's noise sensitivity, the dSPM normaliser)."""
    y = model.whiten(data)
    sig = np.eye(model.A.shape[0]) + (model.A * prior[None, :]) @ model.A.T
    Kt = prior[:, None] * np.linalg.solve(sig, model.A).T
    j = model.source_std[:, None] * (Kt @ y)
    if noise_norm:
        return j, model.source_std * np.linalg.norm(Kt, axis=1)
    return j


def clusters(pos: np.ndarray, mask: np.ndarray, spacing_m: float) -> list[np.ndarray]:
    """Connected groups of map sources (grid neighbours, 26-connectivity), largest first."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    pairs = cKDTree(pos[idx]).query_pairs(spacing_m * 1.8, output_type="ndarray")
    n = idx.size
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else coo_matrix((n, n))
    _, lab = connected_components(g, directed=False)
    groups = [idx[lab == k] for k in range(lab.max() + 1)]
    return sorted(groups, key=len, reverse=True)


def windows(n_times: int, width: int) -> list[tuple[int, int, int, int]]:
    """Half-overlapping windows covering ``range(n_times)``.

    Returns ``(fit_start, fit_stop, assign_start, assign_stop)``: the samples each window
    learns from and the samples whose solution it gives (the middle half, so every sample
    is solved by the window centred nearest to it).
    """
    width = max(2, min(int(width), n_times))
    step = max(1, width // 2)
    starts = list(range(0, max(n_times - width, 0) + 1, step))
    if starts[-1] + width < n_times:
        starts.append(n_times - width)
    out = []
    for k, s in enumerate(starts):
        centre = s + width / 2
        lo = 0 if k == 0 else int(np.ceil((centre + starts[k - 1] + width / 2) / 2))
        hi = n_times if k == len(starts) - 1 else int(np.ceil((centre + starts[k + 1] + width / 2) / 2))
        out.append((s, s + width, lo, hi))
    return out
