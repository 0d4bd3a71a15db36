"""The linear baseline trained beside the networks: scikit-learn's L2 logistic regression
(task ``condition``) or ridge regression (``RidgeCV``; tasks ``amplitude`` and ``roi-bold``),
and the trivial mean predictor of the regression tasks.

Features are the standardised EEG averaged in ``N_BINS`` consecutive time windows per
channel (the usual ERP-decoding features; every sample as a feature made the fit 10x
slower for no gain in a check on the simulated cohort) and the fMRI features side by side. The inverse regularisation ``C`` is chosen from a grid on the
same validation subjects the networks early-stop on, then the model is refitted on all
training subjects (fit + validation). A missing modality at test time is fed as zeros,
i.e. its training mean, exactly as for the early-fusion network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

__all__ = ["LinearBaseline", "RidgeBaseline", "MeanPredictor", "C_GRID", "ALPHA_GRID"]

C_GRID = (1e-3, 1e-2, 1e-1, 1.0)
ALPHA_GRID = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4)
N_BINS = 10


def _features(eeg: np.ndarray, fmri: np.ndarray, have_eeg: bool = True, have_fmri: bool = True) -> np.ndarray:
    t = eeg.shape[2]
    edges = np.linspace(0, t, min(N_BINS, t) + 1).round().astype(int)
    e = np.stack([eeg[:, :, a:b].mean(axis=2) for a, b in zip(edges[:-1], edges[1:])], axis=2)
    e = e.reshape(len(eeg), -1).astype(np.float64)
    f = fmri.astype(np.float64)
    if not have_eeg:
        e = np.zeros_like(e)
    if not have_fmri:
        f = np.zeros_like(f)
    return np.hstack([e, f])


class LinearBaseline:
    """L2 logistic regression on both modalities (inputs already standardised per fold)."""

    def __init__(self, n_classes: int, seed: int = 0) -> None:
        self.n_classes = n_classes
        self.seed = seed
        self.C: float | None = None
        self.model: LogisticRegression | None = None
        self.val_scores: dict[float, float] = {}

    def fit(self, fit: tuple[np.ndarray, np.ndarray, np.ndarray],
            val: tuple[np.ndarray, np.ndarray, np.ndarray]) -> LinearBaseline:
        """Choose C on ``val`` (log-loss), refit on ``fit`` + ``val``."""
        from sklearn.metrics import log_loss

        Xf, Xv = _features(fit[0], fit[1]), _features(val[0], val[1])
        labels = np.unique(np.concatenate([fit[2], val[2]]))
        best = None
        for C in C_GRID:
            m = LogisticRegression(C=C, max_iter=3000, random_state=self.seed).fit(Xf, fit[2])
            loss = log_loss(val[2], m.predict_proba(Xv), labels=labels)
            self.val_scores[C] = float(loss)
            if best is None or loss < best[0] - 1e-12:
                best = (loss, C)
        self.C = best[1]
        X = np.vstack([Xf, Xv])
        y = np.concatenate([fit[2], val[2]])
        self.model = LogisticRegression(C=self.C, max_iter=3000, random_state=self.seed).fit(X, y)
        return self

    def predict_proba(self, eeg: np.ndarray, fmri: np.ndarray, have_eeg: bool = True,
                      have_fmri: bool = True) -> np.ndarray:
        assert self.model is not None
        p = self.model.predict_proba(_features(eeg, fmri, have_eeg, have_fmri))
        out = np.zeros((len(p), self.n_classes))
        out[:, self.model.classes_] = p  # a class absent from the training subjects gets 0
        return out

    def info(self) -> dict[str, Any]:
        return {"C": self.C, "validation_log_loss": self.val_scores}


class RidgeBaseline:
    """Ridge regression on both modalities (``roi-bold``: the EEG only; inputs standardised).

    scikit-learn's ``RidgeCV`` with a predefined split, so ``alpha`` is chosen on the same
    validation subjects the networks early-stop on (not by leave-one-trial-out, which
    would let trials of one subject validate each other), then refitted on all training
    subjects.
    """

    def __init__(self) -> None:
        self.model: Any = None

    def fit(self, fit: tuple[np.ndarray, np.ndarray, np.ndarray],
            val: tuple[np.ndarray, np.ndarray, np.ndarray]) -> RidgeBaseline:
        from sklearn.linear_model import RidgeCV
        from sklearn.model_selection import PredefinedSplit

        X = np.vstack([_features(fit[0], fit[1]), _features(val[0], val[1])])
        y = np.concatenate([fit[2], val[2]]).astype(np.float64)
        split = PredefinedSplit(np.r_[np.full(len(fit[2]), -1), np.zeros(len(val[2]), int)])
        self.model = RidgeCV(alphas=ALPHA_GRID, cv=split).fit(X, y)
        return self

    def predict(self, eeg: np.ndarray, fmri: np.ndarray, have_eeg: bool = True, have_fmri: bool = True) -> np.ndarray:
        assert self.model is not None
        return np.asarray(self.model.predict(_features(eeg, fmri, have_eeg, have_fmri)), np.float64)

    def info(self) -> dict[str, Any]:
        return {"alpha": float(self.model.alpha_)}


class MeanPredictor:
    """Predicts every test trial as the mean target of the training trials (R² about 0)."""

    def __init__(self) -> None:
        self.mean = 0.0

    def fit(self, fit: tuple[np.ndarray, np.ndarray, np.ndarray],
            val: tuple[np.ndarray, np.ndarray, np.ndarray]) -> MeanPredictor:
        self.mean = float(np.mean(np.concatenate([fit[2], val[2]])))
        return self

    def predict(self, eeg: np.ndarray, fmri: np.ndarray, have_eeg: bool = True, have_fmri: bool = True) -> np.ndarray:
        return np.full(len(eeg), self.mean)

    def info(self) -> dict[str, Any]:
        return {"mean": self.mean}
