"""Leave-subjects-out cross-validation of every model, and its scores with intervals.

Folds hold out whole subjects: a subject's trials are never in the training and the test
set of the same fold. Inside a fold, early stopping (networks) and the choice of ``C``
(linear baseline) use *validation subjects* taken from the training subjects (when only
one training subject is left, a stratified part of its trials). Standardisation
(per EEG channel, per fMRI feature) is fitted on the training subjects only.

Scores are balanced accuracies over the held-out trials of all folds, with a 95 %
interval from a cluster bootstrap over subjects (subjects resampled with replacement,
their trials kept together): trials of one subject are not independent, so resampling
trials would give intervals that are too narrow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.progress import Progress, as_progress

from .data import TrialData

__all__ = ["ALL_MODELS", "CONDITIONS", "subject_folds", "validation_split", "Standardizer", "CVResult",
           "cross_validate", "balanced_accuracy", "score_models"]

ALL_MODELS = ("early", "late", "hybrid", "eeg_only", "fmri_only", "linear")
#: test conditions: both modalities, fMRI missing, EEG missing
CONDITIONS = ("both", "without_fmri", "without_eeg")


def subject_folds(groups: np.ndarray, n_folds: int = 0) -> list[list[str]]:
    """Test subjects of each fold (``n_folds`` 0 or >= subjects: leave one subject out)."""
    subjects = sorted(set(np.asarray(groups).astype(str).tolist()))
    k = len(subjects) if n_folds <= 0 or n_folds >= len(subjects) else n_folds
    return [subjects[i::k] for i in range(k)]


def validation_split(train_idx: np.ndarray, groups: np.ndarray, y: np.ndarray, val_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Split training trials into fit and validation trials (by subject when possible).

    Returns ``(fit_idx, val_idx, how)``; ``how`` says which split was used.
    """
    rng = np.random.default_rng(seed)
    subs = sorted(set(groups[train_idx].tolist()))
    if len(subs) >= 2:
        n_val = min(len(subs) - 1, max(1, int(round(val_fraction * len(subs)))))
        val_subs = set(np.asarray(subs)[rng.permutation(len(subs))[:n_val]].tolist())
        is_val = np.isin(groups[train_idx], list(val_subs))
        return train_idx[~is_val], train_idx[is_val], "subjects " + ", ".join(sorted(val_subs))
    val = []
    for c in np.unique(y[train_idx]):
        idx = train_idx[y[train_idx] == c]
        idx = idx[rng.permutation(len(idx))]
        val.extend(idx[: max(1, int(round(val_fraction * len(idx))))].tolist())
    is_val = np.isin(train_idx, val)
    return train_idx[~is_val], train_idx[is_val], f"{is_val.sum()} trials of the one training subject"


@dataclass
class Standardizer:
    """Per-channel EEG and per-feature fMRI z-scoring, fitted on training trials."""

    eeg_mean: np.ndarray
    eeg_sd: np.ndarray
    fmri_mean: np.ndarray
    fmri_sd: np.ndarray

    @classmethod
    def fit(cls, eeg: np.ndarray, fmri: np.ndarray) -> Standardizer:
        me, se = eeg.mean(axis=(0, 2)), eeg.std(axis=(0, 2))
        mf, sf = fmri.mean(axis=0), fmri.std(axis=0)
        se[se == 0], sf[sf == 0] = 1.0, 1.0
        return cls(me, se, mf, sf)

    def apply(self, eeg: np.ndarray, fmri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = (eeg - self.eeg_mean[None, :, None]) / self.eeg_sd[None, :, None]
        f = (fmri - self.fmri_mean) / self.fmri_sd
        return e.astype(np.float32), f.astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: np.asarray(v, float).tolist() for k, v in self.__dict__.items()}


@dataclass
class CVResult:
    """Out-of-fold predictions of every model under every test condition."""

    models: list[str]
    n_classes: int
    proba: dict[str, dict[str, np.ndarray | None]]  #: model -> condition -> trials x classes
    fold: np.ndarray  #: fold index of each trial (as a test trial)
    folds: list[dict[str, Any]] = field(default_factory=list)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  #: fold-1 model latent of every trial
    embed_test: np.ndarray | None = None  #: trials held out in fold 1
    seconds: dict[str, float] = field(default_factory=dict)


def _applicable(model: str, cond: str) -> bool:
    return not ((model == "eeg_only" and cond == "without_eeg") or (model == "fmri_only" and cond == "without_fmri"))


def cross_validate(data: TrialData, models: list[str] | tuple[str, ...] = ALL_MODELS,
                   model_kw: dict[str, Any] | None = None, train_cfg: Any = None, n_folds: int = 0,
                   val_fraction: float = 0.25, progress: Progress | None = None,
                   checkpoint_dir: str | Path | None = None) -> CVResult:
    """Train and test every model in every leave-subjects-out fold.

    Parameters
    ----------
    data : TrialData
    models : sequence of str
        Among :data:`ALL_MODELS`.
    model_kw : dict | None
        Extra :class:`~workbench_deep_fusion.models.ModelConfig` fields (latent, dropout...).
    train_cfg : TrainConfig | None
    n_folds : int
        0 = leave one subject out.
    val_fraction : float
        Fraction of the training subjects held out for early stopping.
    progress : Progress | None
        Progress and Cancel.
    checkpoint_dir : path | None
        When given, every fold's networks are saved there (state dict + JSON, see
        :mod:`~workbench_deep_fusion.checkpoint`).

    Returns
    -------
    CVResult
    """
    from . import checkpoint
    from .baselines import LinearBaseline
    from .models import ModelConfig, build_model
    from .train import TrainConfig, embed, predict, set_determinism, train_model

    progress = as_progress(progress)
    tcfg = train_cfg or TrainConfig()
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        raise ValueError(f"unknown model {unknown[0]!r}; known: {ALL_MODELS}")
    models = [m for m in ALL_MODELS if m in models]
    n, n_classes = len(data.y), len(data.classes)
    folds = subject_folds(data.groups, n_folds)
    res = CVResult(list(models), n_classes,
                   {m: {c: (np.full((n, n_classes), np.nan) if _applicable(m, c) else None) for c in CONDITIONS}
                    for m in models},
                   np.full(n, -1))
    res.seconds = {m: 0.0 for m in models}
    steps = len(folds) * len(models)
    for k, test_subs in enumerate(folds):
        test = np.flatnonzero(np.isin(data.groups, test_subs))
        train = np.flatnonzero(~np.isin(data.groups, test_subs))
        fit_idx, val_idx, how = validation_split(train, data.groups, data.y, val_fraction, tcfg.seed + 7919 * k)
        std = Standardizer.fit(data.eeg[fit_idx], data.fmri[fit_idx])
        parts = {}
        for name, idx in (("fit", fit_idx), ("val", val_idx), ("test", test)):
            e, f = std.apply(data.eeg[idx], data.fmri[idx])
            parts[name] = (e, f, data.y[idx])
        res.fold[test] = k
        info: dict[str, Any] = {"fold": k + 1, "test_subjects": list(test_subs), "validation": how,
                                "n_fit": int(len(fit_idx)), "n_val": int(len(val_idx)), "n_test": int(len(test)),
                                "models": {}}
        for j, m in enumerate(models):
            sub = progress.sub((k * len(models) + j) / steps, (k * len(models) + j + 1) / steps)
            sub(0.0, f"fold {k + 1}/{len(folds)} (test {', '.join(test_subs)}): {m}")
            t0 = time.perf_counter()
            if m == "linear":
                lin = LinearBaseline(n_classes, seed=tcfg.seed).fit(parts["fit"], parts["val"])
                for c in CONDITIONS:
                    res.proba[m][c][test] = lin.predict_proba(parts["test"][0], parts["test"][1],
                                                              c != "without_eeg", c != "without_fmri")
                info["models"][m] = lin.info()
            else:
                seed = tcfg.seed * 1000 + 10 * k + ALL_MODELS.index(m)
                set_determinism(seed, tcfg.threads)
                mcfg = ModelConfig(kind=m, n_channels=data.eeg.shape[1], n_times=data.eeg.shape[2],
                                   n_features=data.fmri.shape[1], n_classes=n_classes, **(model_kw or {}))
                net = build_model(mcfg)
                from dataclasses import replace

                hist = train_model(net, m, parts["fit"], parts["val"], replace(tcfg, seed=seed), sub)
                for c in CONDITIONS:
                    if res.proba[m][c] is not None:
                        res.proba[m][c][test] = predict(net, parts["test"][0], parts["test"][1],
                                                        c != "without_eeg", c != "without_fmri")
                info["models"][m] = {"best_epoch": hist["best_epoch"], "epochs_run": hist["epochs_run"],
                                     "val_loss": hist["val_loss"][hist["best_epoch"] - 1] if hist["best_epoch"] else None}
                if k == 0:
                    e_all, f_all = std.apply(data.eeg, data.fmri)
                    res.embeddings[m] = embed(net, e_all, f_all)
                    res.embed_test = np.isin(data.groups, test_subs)
                if checkpoint_dir is not None:
                    checkpoint.save(checkpoint_dir, f"fold{k + 1:02d}_{m}", net, mcfg,
                                    {"classes": data.classes, "standardizer": std.to_dict(),
                                     "test_subjects": list(test_subs), "train": replace(tcfg, seed=seed).to_dict(),
                                     "history": hist})
            res.seconds[m] += time.perf_counter() - t0
        res.folds.append(info)
    progress(1.0, "cross-validation done")
    return res


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Mean recall over the classes present in ``y`` (as scikit-learn's).

    Written out (not ``sklearn.metrics.balanced_accuracy_score``) because the bootstrap
    calls it thousands of times and scikit-learn's input checks dominate that time.
    """
    rec = [np.mean(pred[y == c] == c) for c in range(n_classes) if np.any(y == c)]
    return float(np.mean(rec))


def score_models(res: CVResult, y: np.ndarray, groups: np.ndarray, n_boot: int = 2000,
                 seed: int = 0) -> dict[str, dict[str, Any]]:
    """Balanced accuracy of each model and condition with a subject-bootstrap 95 % interval.

    Also, for each model, the paired bootstrap difference to the linear baseline (both
    modalities present) and whether its interval lies above zero.
    """
    groups = np.asarray(groups).astype(str)
    subs = sorted(set(groups.tolist()))
    by_sub = [np.flatnonzero(groups == s) for s in subs]
    rng = np.random.default_rng(seed)
    draws = [np.concatenate([by_sub[i] for i in rng.integers(0, len(subs), len(subs))]) for _ in range(n_boot)]
    preds = {(m, c): np.argmax(p, axis=1) for m, d in res.proba.items() for c, p in d.items() if p is not None}
    boot: dict[tuple[str, str], np.ndarray] = {}
    for key, pred in preds.items():
        boot[key] = np.array([balanced_accuracy(y[d], pred[d], res.n_classes) for d in draws])
    out: dict[str, dict[str, Any]] = {}
    for m in res.models:
        out[m] = {}
        for c in CONDITIONS:
            if (m, c) not in preds:
                out[m][c] = None
                continue
            pred = preds[(m, c)]
            lo, hi = np.percentile(boot[(m, c)], [2.5, 97.5])
            out[m][c] = {"balanced_accuracy": balanced_accuracy(y, pred, res.n_classes),
                         "ci95": [float(lo), float(hi)],
                         "per_subject": {s: balanced_accuracy(y[i], pred[i], res.n_classes) for s, i in zip(subs, by_sub)}}
    for m in res.models:
        if "linear" in res.models and m != "linear" and ("linear", "both") in boot and (m, "both") in boot:
            d = boot[(m, "both")] - boot[("linear", "both")]
            diff = out[m]["both"]["balanced_accuracy"] - out["linear"]["both"]["balanced_accuracy"]
            lo, hi = np.percentile(d, [2.5, 97.5])
            out[m]["vs_linear"] = {"difference": diff, "ci95": [float(lo), float(hi)], "beats_linear": bool(lo > 0)}
    return out
