"""Joint ICA: normalise, concatenate, PCA over subjects, Infomax, ICASSO-like stability."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["JICAFit", "joint_matrix", "jica"]


@dataclass
class JICAFit:
    sources: np.ndarray  #: K x (px + py) joint components (centrotypes), unit variance
    loadings: np.ndarray  #: n x K
    stability: np.ndarray  #: K stability index (Iq)
    cluster_size: np.ndarray  #: K components of all runs in each cluster
    explained: np.ndarray  #: K fraction of the joint data's variance
    px: int
    n_runs: int

    @property
    def x(self) -> np.ndarray:
        return self.sources[:, : self.px]

    @property
    def y(self) -> np.ndarray:
        return self.sources[:, self.px:]


def joint_matrix(X: np.ndarray, Y: np.ndarray, where_x=None, where_y=None,
                 normalize: str = "modality") -> np.ndarray:
    """Centre each subject's features per modality, scale each modality, concatenate.

    Parameters
    ----------
    X, Y : ndarray
        Subjects x features (EEG, fMRI).
    normalize : {"modality", "subject"}
        ``"modality"`` (default): one scale factor per modality, the root mean square over
        all subjects and features (the Fusion ICA Toolbox's default normalisation), times
        the square root of the modality's number of features so that both modalities carry
        the same total variance. The subjects' relative amplitudes are kept, so the
        loadings measure how strongly each subject expresses a component.
        ``"subject"``: each subject's features are z-scored (one scale per subject and
        modality); this removes each subject's overall amplitude, which is what the
        loadings of a component with the same shape in every subject would measure: use
        it only when amplitudes are not comparable between subjects.
    """
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    if normalize not in ("modality", "subject"):
        raise InputError(None, f"normalize must be 'modality' or 'subject', got {normalize!r}")
    if X.shape[0] != Y.shape[0]:
        raise InputError(where_y, f"X has {X.shape[0]} subjects (rows) and Y {Y.shape[0]}: one row per "
                                  "subject in both tables, the same subjects in the same order")
    for D, what, where in ((X, "X", where_x), (Y, "Y", where_y)):
        if not np.all(np.isfinite(D)):
            r, c = np.argwhere(~np.isfinite(D))[0]
            raise InputError(where, f"{what} has a missing or non-finite value (subject row {r + 1}, feature "
                                    f"{c + 1}); impute it or drop the subject")
        if D.shape[1] < 2:
            raise InputError(where, f"{what} has {D.shape[1]} feature: joint ICA needs a time course / map")
    blocks = []
    for D, what, where in ((X, "X", where_x), (Y, "Y", where_y)):
        Dc = D - D.mean(axis=1, keepdims=True)
        sd = Dc.std(axis=1, keepdims=True)  # ddof 0
        flat = np.flatnonzero(sd[:, 0] <= 1e-12 * max(float(np.abs(D).max()), 1e-300))
        if flat.size:
            raise InputError(where, f"{what} of subject row {flat[0] + 1} is constant: it carries no "
                                    "component; drop that subject")
        scale = sd if normalize == "subject" else np.sqrt(np.mean(Dc**2))
        blocks.append(Dc / scale / np.sqrt(D.shape[1]))
    return np.hstack(blocks)


def _infomax(Z: np.ndarray, extended: bool, max_iter: int, seed: int) -> np.ndarray:
    """Unmixing matrix of whitened Z (K x f; features are the samples), random start."""
    from mne.preprocessing import infomax

    K = Z.shape[0]
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal((K, K)))
    W0 = Q * np.sign(np.diag(R))
    if K == 1:
        return np.ones((1, 1))
    W = infomax(Z.T, weights=W0, extended=extended, max_iter=max_iter, rng=np.random.default_rng(seed), verbose="error")
    return W


def jica(D: np.ndarray, n_components: int, n_runs: int = 10, extended: bool = False, max_iter: int = 500,
         seed: int = 0, progress=None, where=None, px: int = 0) -> JICAFit:
    """Joint ICA of ``D`` (subjects x joint features) with ICASSO-like clustering of ``n_runs`` runs."""
    n, f = D.shape
    K = int(n_components)
    if K > n:
        raise InputError(where, f"{n} subjects but {K} components: joint ICA finds at most one component "
                                f"per subject; set n_components <= {n} (typically well below)")
    U, s, Vt = np.linalg.svd(D, full_matrices=False)
    rank = int(np.sum(s > s[0] * max(n, f) * np.finfo(float).eps * 10))
    if rank < K:
        raise InputError(where, f"the subjects' data have rank {rank} (identical or proportional subjects?) "
                                f"but {K} components were asked; lower n_components to {rank}")
    # whitening over features: Z = sqrt(f-1) * Vt_K, so cov(Z) = I (rows centred? the joint rows are)
    Vk = Vt[:K]
    Z = Vk * np.sqrt(f - 1)
    Z = Z - Z.mean(axis=1, keepdims=True)
    runs = []
    rngs = np.random.SeedSequence(seed).generate_state(n_runs)
    for r in range(n_runs):
        W = _infomax(Z, extended, max_iter, int(rngs[r]))
        S = W @ Z
        S = S / S.std(axis=1, ddof=1, keepdims=True)
        runs.append(S)
        if progress is not None:
            progress((r + 1) / n_runs, f"ICA run {r + 1}/{n_runs}")
    allS = np.vstack(runs)  # (n_runs*K) x f
    C = np.abs(np.corrcoef(allS))
    if n_runs > 1:
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import squareform

        dist = np.clip(1.0 - C, 0.0, None)
        np.fill_diagonal(dist, 0.0)
        labels = fcluster(linkage(squareform(dist, checks=False), "average"), K, criterion="maxclust") - 1
    else:
        labels = np.arange(K)
    idx_all = np.arange(allS.shape[0])
    sources, stab, size = [], [], []
    for c in np.unique(labels):
        members = idx_all[labels == c]
        others = idx_all[labels != c]
        within = C[np.ix_(members, members)]
        centro = members[int(np.argmax(within.sum(axis=1)))]
        if n_runs > 1:
            m = len(members)
            intra = (within.sum() - m) / (m * (m - 1)) if m > 1 else 0.0  # a singleton: not reproduced
            extra = C[np.ix_(members, others)].mean() if others.size else 0.0
            stab.append(float(intra - extra))
        else:
            stab.append(np.nan)
        sources.append(allS[centro])
        size.append(len(members))
    S = np.array(sources)
    A = D @ np.linalg.pinv(S)  # loadings: D ~ A S
    # sign: a component's mean loading is positive; order: explained variance
    sign = np.sign(A.sum(axis=0))
    sign[sign == 0] = 1.0
    A, S = A * sign, S * sign[:, None]
    total = float((D**2).sum())
    expl = np.array([float((np.outer(A[:, k], S[k]) ** 2).sum()) / total for k in range(S.shape[0])])
    order = np.argsort(-expl)
    return JICAFit(S[order], A[:, order], np.array(stab)[order], np.array(size)[order], expl[order],
                   px=px, n_runs=n_runs)
