"""Leave-subjects-out cross-validation of every model, and its scores with intervals.

Folds hold out whole subjects: a subject's trials are never in the training and the test
set of the same fold. Inside a fold, early stopping (networks) and the choice of ``C``
(linear baseline) use *validation subjects* taken from the training subjects (when only
one training subject is left, a stratified part of its trials). Standardisation
(per EEG channel, per fMRI feature) is fitted on the training subjects only.

Scores are balanced accuracies (task ``condition``) or R² and Pearson r (tasks
``amplitude`` and ``roi-bold``; the target standardised on the training subjects of each
fold, predictions mapped back) over the held-out trials of all folds, with a 95 %
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

__all__ = ["ALL_MODELS", "CONDITIONS", "TASK_MODELS", "subject_folds", "validation_split", "Standardizer",
           "CVResult", "cross_validate", "balanced_accuracy", "r2_score", "pearson_r", "score_models", "metric_of"]

ALL_MODELS = ("early", "late", "hybrid", "eeg_only", "fmri_only", "linear")
#: models each task can train (``mean``: the trivial predictor of the regression tasks;
#: ``roi-bold`` has no fMRI input, so only the EEG network, ridge on the EEG and the mean)
TASK_MODELS = {"condition": ALL_MODELS, "amplitude": (*ALL_MODELS, "mean"),
               "roi-bold": ("eeg_only", "linear", "mean")}
#: models always trained beside the ones chosen
_ALWAYS = {"condition": ("linear",), "amplitude": ("linear", "mean"), "roi-bold": ("linear", "mean")}


def metric_of(task: str) -> str:
    """The score of a task: ``balanced_accuracy`` or ``r2``."""
    return "balanced_accuracy" if task == "condition" else "r2"
#: test conditions: both modalities, fMRI missing, EEG missing
CONDITIONS = ("both", "without_fmri", "without_eeg")


def subject_folds(groups: np.ndarray, n_folds: int = 0) -> list[list[str]]:
    """Test subjects of each fold (``n_folds`` 0 or >= subjects: leave one subject out)."""
    subjects = sorted(set(np.asarray(groups).astype(str).tolist()))
    k = len(subjects) if n_folds <= 0 or n_folds >= len(subjects) else n_folds
    return [subjects[i::k] for i in range(k)]


def validation_split(train_idx: np.ndarray, groups: np.ndarray, y: np.ndarray, val_fraction: float,
                     seed: int, stratify: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    """Split training trials into fit and validation trials (by subject when possible).

    With one training subject, a part of its trials, stratified by class when
    ``stratify`` (classification), else drawn at random (regression).
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
    if not stratify:
        k = max(1, int(round(val_fraction * len(train_idx))))
        val = train_idx[rng.permutation(len(train_idx))[:k]].tolist()
    for c in (np.unique(y[train_idx]) if stratify else ()):
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
    n_classes: int  #: 0 for a regression task
    #: model -> condition -> trials x classes (probabilities), or trials (predicted target, regression)
    proba: dict[str, dict[str, np.ndarray | None]]
    fold: np.ndarray  #: fold index of each trial (as a test trial)
    folds: list[dict[str, Any]] = field(default_factory=list)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  #: fold-1 model latent of every trial
    embed_test: np.ndarray | None = None  #: trials held out in fold 1
    seconds: dict[str, float] = field(default_factory=dict)
    task: str = "condition"
    device: str = "cpu"

    @property
    def regression(self) -> bool:
        return self.task != "condition"


def _applicable(model: str, cond: str, task: str = "condition") -> bool:
    if task == "roi-bold" or model == "mean":  # the EEG is the only input / no input at all
        return cond == "both"
    return not ((model == "eeg_only" and cond == "without_eeg") or (model == "fmri_only" and cond == "without_fmri"))


def choose_models(task: str, models: list[str] | tuple[str, ...]) -> list[str]:
    """The task's models among ``models`` in canonical order, its baselines always included.

    Raises
    ------
    ValueError
        A model the task cannot train (e.g. ``late`` for ``roi-bold``).
    """
    known = TASK_MODELS[task]
    unknown = [m for m in models if m not in known]
    if unknown:
        raise ValueError(f"model {unknown[0]!r} is not available for the task {task!r}; choose among "
                         f"{', '.join(known)}")
    return [m for m in known if m in models or m in _ALWAYS[task]]


def cross_validate(data: TrialData, models: list[str] | tuple[str, ...] = ALL_MODELS,
                   model_kw: dict[str, Any] | None = None, train_cfg: Any = None, n_folds: int = 0,
                   val_fraction: float = 0.25, progress: Progress | None = None,
                   checkpoint_dir: str | Path | None = None) -> CVResult:
    """Train and test every model in every leave-subjects-out fold.

    Parameters
    ----------
    data : TrialData
    models : sequence of str
        Among the task's models (:data:`TASK_MODELS`; the task is ``data.task``). For a
        regression task, names it cannot train are left out (``roi-bold`` trains no
        fusion network); the baselines are always added.
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
    from .train import TrainConfig, deterministic

    progress = as_progress(progress)
    tcfg = train_cfg or TrainConfig()
    task = getattr(data, "task", "condition")
    models = choose_models(task, list(models) if task == "condition" else
                           [m for m in models if m in TASK_MODELS[task]] or list(TASK_MODELS[task]))
    reg = task != "condition"
    n, n_classes = len(data.y), (0 if reg else len(data.classes))
    folds = subject_folds(data.groups, n_folds)
    shape = (n,) if reg else (n, n_classes)
    res = CVResult(list(models), n_classes,
                   {m: {c: (np.full(shape, np.nan) if _applicable(m, c, task) else None) for c in CONDITIONS}
                    for m in models},
                   np.full(n, -1), task=task, device=tcfg.device)
    res.seconds = {m: 0.0 for m in models}
    with deterministic(tcfg.threads):
        _run_folds(data, res, folds, models, model_kw, tcfg, val_fraction, progress, checkpoint_dir)
    progress(1.0, "cross-validation done")
    return res


def _run_folds(data: TrialData, res: CVResult, folds: list[list[str]], models: list[str],
               model_kw: dict[str, Any] | None, tcfg: Any, val_fraction: float, progress: Progress,
               checkpoint_dir: str | Path | None) -> None:
    from dataclasses import replace

    from . import checkpoint
    from .baselines import LinearBaseline, MeanPredictor, RidgeBaseline
    from .models import ModelConfig, build_model
    from .train import embed, predict, set_determinism, train_model

    task, reg = res.task, res.regression
    n_classes = res.n_classes
    steps = len(folds) * len(models)
    for k, test_subs in enumerate(folds):
        test = np.flatnonzero(np.isin(data.groups, test_subs))
        train = np.flatnonzero(~np.isin(data.groups, test_subs))
        fit_idx, val_idx, how = validation_split(train, data.groups, data.y, val_fraction, tcfg.seed + 7919 * k,
                                                 stratify=not reg)
        std = Standardizer.fit(data.eeg[fit_idx], data.fmri[fit_idx])
        # regression: the target standardised on the fit trials (predictions mapped back below)
        y_mean, y_sd = (float(np.mean(data.y[fit_idx])), float(np.std(data.y[fit_idx])) or 1.0) if reg else (0.0, 1.0)
        parts = {}
        for name, idx in (("fit", fit_idx), ("val", val_idx), ("test", test)):
            e, f = std.apply(data.eeg[idx], data.fmri[idx])
            parts[name] = (e, f, ((data.y[idx] - y_mean) / y_sd).astype(np.float32) if reg else data.y[idx])
        res.fold[test] = k

        def _out(p: np.ndarray, y_sd: float = y_sd, y_mean: float = y_mean) -> np.ndarray:
            return p * y_sd + y_mean if reg else p

        info: dict[str, Any] = {"fold": k + 1, "test_subjects": list(test_subs), "validation": how,
                                "n_fit": int(len(fit_idx)), "n_val": int(len(val_idx)), "n_test": int(len(test)),
                                "models": {}}
        for j, m in enumerate(models):
            sub = progress.sub((k * len(models) + j) / steps, (k * len(models) + j + 1) / steps)
            sub(0.0, f"fold {k + 1}/{len(folds)} (test {', '.join(test_subs)}): {m}")
            t0 = time.perf_counter()
            if m in ("linear", "mean"):
                if m == "mean":
                    base = MeanPredictor().fit(parts["fit"], parts["val"])
                elif reg:
                    base = RidgeBaseline().fit(parts["fit"], parts["val"])
                else:
                    base = LinearBaseline(n_classes, seed=tcfg.seed).fit(parts["fit"], parts["val"])
                for c in CONDITIONS:
                    if res.proba[m][c] is not None:
                        e, f = parts["test"][0], parts["test"][1]
                        hv = (c != "without_eeg", c != "without_fmri")
                        res.proba[m][c][test] = _out(base.predict(e, f, *hv)) if reg else base.predict_proba(e, f, *hv)
                info["models"][m] = base.info()
            else:
                seed = tcfg.seed * 1000 + 10 * k + ALL_MODELS.index(m)
                set_determinism(seed, tcfg.threads, tcfg.device)
                mcfg = ModelConfig(kind=m, n_channels=data.eeg.shape[1], n_times=data.eeg.shape[2],
                                   n_features=data.fmri.shape[1], n_classes=1 if reg else n_classes,
                                   regression=reg, **(model_kw or {}))
                net = build_model(mcfg)
                hist = train_model(net, m, parts["fit"], parts["val"], replace(tcfg, seed=seed), sub)
                for c in CONDITIONS:
                    if res.proba[m][c] is not None:
                        res.proba[m][c][test] = _out(predict(net, parts["test"][0], parts["test"][1],
                                                             c != "without_eeg", c != "without_fmri"))
                info["models"][m] = {"best_epoch": hist["best_epoch"], "epochs_run": hist["epochs_run"],
                                     "val_loss": hist["val_loss"][hist["best_epoch"] - 1] if hist["best_epoch"] else None}
                if k == 0:
                    e_all, f_all = std.apply(data.eeg, data.fmri)
                    res.embeddings[m] = embed(net, e_all, f_all)
                    res.embed_test = np.isin(data.groups, test_subs)
                if checkpoint_dir is not None:
                    checkpoint.save(checkpoint_dir, f"fold{k + 1:02d}_{m}", net, mcfg,
                                    {"task": task, "classes": data.classes, "standardizer": std.to_dict(),
                                     **({"target": {"name": data.target_name, "mean": y_mean, "sd": y_sd}}
                                        if reg else {}),
                                     "test_subjects": list(test_subs), "train": replace(tcfg, seed=seed).to_dict(),
                                     "history": hist})
            res.seconds[m] += time.perf_counter() - t0
        res.folds.append(info)


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Mean recall over the classes present in ``y`` (as scikit-learn's).

    Written out (not ``sklearn.metrics.balanced_accuracy_score``) because the bootstrap
    calls it thousands of times and scikit-learn's input checks dominate that time.
    """
    rec = [np.mean(pred[y == c] == c) for c in range(n_classes) if np.any(y == c)]
    return float(np.mean(rec))


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination, ``1 - SSE / SS`` about the mean of ``y`` (as scikit-learn's).

    Written out for the same reason as :func:`balanced_accuracy`. A prediction no better
    than the mean of the trials scored gives 0 or below; a constant ``y`` gives NaN.
    """
    ss = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss if ss > 0 else float("nan")


def pearson_r(y: np.ndarray, pred: np.ndarray) -> float:
    """Pearson correlation of target and prediction (0 for a constant prediction)."""
    a, b = y - y.mean(), pred - pred.mean()
    den = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b)) / den if den > 0 else 0.0


def _ci(values: np.ndarray) -> list[float]:
    v = values[np.isfinite(values)]
    if not len(v):
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(v, [2.5, 97.5])
    return [float(lo), float(hi)]


def score_models(res: CVResult, y: np.ndarray, groups: np.ndarray, n_boot: int = 2000,
                 seed: int = 0) -> dict[str, dict[str, Any]]:
    """Score of each model and condition with a subject-bootstrap 95 % interval.

    Classification: ``balanced_accuracy``; regression: ``r2`` and ``pearson_r`` (each
    with its interval, ``ci95`` and ``pearson_r_ci95``). Also, for each model, the paired
    bootstrap difference of the main score to the linear baseline (both modalities
    present) and whether its interval lies above zero (``beats_linear``).
    """
    groups = np.asarray(groups).astype(str)
    y = np.asarray(y)
    subs = sorted(set(groups.tolist()))
    by_sub = [np.flatnonzero(groups == s) for s in subs]
    rng = np.random.default_rng(seed)
    draws = [np.concatenate([by_sub[i] for i in rng.integers(0, len(subs), len(subs))]) for _ in range(n_boot)]
    reg = res.regression
    key = "r2" if reg else "balanced_accuracy"
    if reg:
        preds = {(m, c): p for m, d in res.proba.items() for c, p in d.items() if p is not None}

        def main(yy: np.ndarray, pp: np.ndarray) -> float:
            return r2_score(yy, pp)
    else:
        preds = {(m, c): np.argmax(p, axis=1) for m, d in res.proba.items() for c, p in d.items() if p is not None}

        def main(yy: np.ndarray, pp: np.ndarray) -> float:
            return balanced_accuracy(yy, pp, res.n_classes)
    boot: dict[tuple[str, str], np.ndarray] = {}
    boot_r: dict[tuple[str, str], np.ndarray] = {}
    for k, pred in preds.items():
        boot[k] = np.array([main(y[d], pred[d]) for d in draws])
        if reg:
            boot_r[k] = np.array([pearson_r(y[d], pred[d]) for d in draws])
    out: dict[str, dict[str, Any]] = {}
    for m in res.models:
        out[m] = {}
        for c in CONDITIONS:
            if (m, c) not in preds:
                out[m][c] = None
                continue
            pred = preds[(m, c)]
            out[m][c] = {key: main(y, pred), "ci95": _ci(boot[(m, c)]),
                         "per_subject": {s: main(y[i], pred[i]) for s, i in zip(subs, by_sub)}}
            if reg:
                out[m][c]["pearson_r"] = pearson_r(y, pred)
                out[m][c]["pearson_r_ci95"] = _ci(boot_r[(m, c)])
    for m in res.models:
        if m in ("linear", "mean") or "linear" not in res.models:
            continue
        if ("linear", "both") in boot and (m, "both") in boot:
            d = boot[(m, "both")] - boot[("linear", "both")]
            diff = out[m]["both"][key] - out["linear"]["both"][key]
            lo, hi = _ci(d)
            out[m]["vs_linear"] = {"difference": diff, "ci95": [lo, hi], "beats_linear": bool(lo > 0)}
    return out
