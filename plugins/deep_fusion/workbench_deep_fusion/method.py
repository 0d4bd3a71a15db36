"""Run deep fusion from files (``workbench fuse deep-fusion --x EEG.npy --y FMRI.npy ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError
from workbench.plugin_api import FusionInputs, FusionResult, example_folder
from workbench.plugin_api.tables import one_file

from .cv import (
    ALL_MODELS,
    CONDITIONS,
    TASK_MODELS,
    choose_models,
    cross_validate,
    metric_of,
    score_models,
)
from .data import TrialData, load_files

__all__ = ["run", "run_arrays", "example_inputs", "parse_models"]

VERSION = "0.2.0"
_COND_TEXT = {"both": "both modalities", "without_fmri": "fMRI missing at test", "without_eeg": "EEG missing at test"}


def parse_models(text: str, task: str = "condition") -> list[str]:
    """``"all"`` or a comma-separated list; the task's baselines are always included.

    Raises
    ------
    InputError
        An unknown model, or one the task cannot train (``late`` for ``roi-bold``).
    """
    known = TASK_MODELS[task]
    text = (text or "all").strip().lower()
    if text == "all":
        return list(known)
    names = [t.strip().replace("-", "_") for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in ALL_MODELS]
    if bad:
        raise InputError(None, f"parameter 'models': unknown model {bad[0]!r}; choose among {', '.join(ALL_MODELS)} "
                               "or 'all'")
    bad = [n for n in names if n not in known]
    if bad:
        raise InputError(None, f"parameter 'models': {bad[0]!r} cannot be trained for the task {task!r} (the EEG is "
                               f"its only input); choose among {', '.join(m for m in known if m != 'mean')}")
    return choose_models(task, names)


def _name(m: str) -> str:
    return {"mean": "the mean predictor"}.get(m, m.replace("_", " "))


def run_arrays(data: TrialData, params: dict[str, Any], progress=None) -> FusionResult:
    """Cross-validate every model on checked trials and build the result.

    ``data.task`` says what is predicted (:data:`~workbench_deep_fusion.data.TASKS`);
    ``params`` are the declared parameters (``device`` resolved here).
    """
    from .train import TrainConfig, resolve_device

    task = data.task
    models = parse_models(params.get("models", "all"), task)
    device = resolve_device(params.get("device", "auto"))
    tcfg = TrainConfig(epochs=params["epochs"], patience=params["patience"], batch_size=params["batch_size"],
                       lr=params["learning_rate"], weight_decay=params["weight_decay"],
                       modality_dropout=params["modality_dropout"], seed=params["seed"], threads=params["threads"],
                       device=device)
    mkw = {"latent": params["latent"], "dropout": params["dropout"]}
    ckpt = params.get("checkpoint_dir") or None
    n_sub = len(data.subjects)
    if n_sub < 3:
        warn = (f"only {n_sub} subjects: early stopping uses part of the one training subject's trials, not "
                "held-out subjects")
    else:
        warn = None
    res = cross_validate(data, models, mkw, tcfg, params["n_folds"], params["val_fraction"],
                         progress.sub(0.0, 0.93) if progress is not None else None, ckpt)
    if progress is not None:
        progress(0.94, "bootstrap intervals")
    scores = score_models(res, data.y, data.groups, params["n_bootstrap"], params["seed"])
    reg = data.regression
    key = metric_of(task)
    label = "R²" if reg else "balanced accuracy"
    chance = 0.0 if reg else 1.0 / len(data.classes)
    out = FusionResult(method="deep-fusion", method_version=VERSION)
    rows, per_sub = [], []
    for m in res.models:
        row: dict[str, Any] = {"model": m}
        for c in CONDITIONS:
            s = scores[m][c]
            pre = "" if c == "both" else f"{c}_"
            row[f"{pre}{key}"] = s[key] if s else None
            row[f"{pre}ci95_low"] = s["ci95"][0] if s else None
            row[f"{pre}ci95_high"] = s["ci95"][1] if s else None
            if reg:
                row[f"{pre}pearson_r"] = s["pearson_r"] if s else None
                row[f"{pre}pearson_r_ci95_low"] = s["pearson_r_ci95"][0] if s else None
                row[f"{pre}pearson_r_ci95_high"] = s["pearson_r_ci95"][1] if s else None
        vl = scores[m].get("vs_linear")
        row["difference_to_linear"] = vl["difference"] if vl else None
        row["difference_ci95_low"] = vl["ci95"][0] if vl else None
        row["difference_ci95_high"] = vl["ci95"][1] if vl else None
        row["beats_linear"] = vl["beats_linear"] if vl else None
        rows.append(row)
        for s, v in scores[m]["both"]["per_subject"].items():
            per_sub.append({"model": m, "subject": s, key: v})
    out.tables["scores"] = rows
    out.tables["per_subject"] = per_sub
    out.tables["folds"] = [{"fold": f["fold"], "test_subjects": " ".join(f["test_subjects"]),
                            "validation": f["validation"], "n_fit": f["n_fit"], "n_val": f["n_val"],
                            "n_test": f["n_test"],
                            **{f"best_epoch_{m}": v.get("best_epoch") for m, v in f["models"].items()
                               if m not in ("linear", "mean")},
                            **({"linear_C": f["models"]["linear"]["C"]} if "C" in f["models"].get("linear", {}) else {}),
                            **({"linear_alpha": f["models"]["linear"]["alpha"]}
                               if "alpha" in f["models"].get("linear", {}) else {})}
                           for f in res.folds]
    fields = (key, "pearson_r") if reg else (key,)
    out.qc = {
        "task": task,
        "metric": key,
        "n_trials": int(len(data.y)),
        "n_subjects": n_sub,
        "n_folds": len(res.folds),
        "device": device,
        "score": (f"{label} over the held-out trials of all leave-subjects-out folds"
                  + (f" (target {data.target_name!r})" if reg else "")),
        "interval": f"95 % percentile interval of a bootstrap over subjects ({params['n_bootstrap']} resamples)",
        "scores": {m: {c: ({**{f: s[f] for f in fields}, "ci95": s["ci95"],
                            **({"pearson_r_ci95": s["pearson_r_ci95"]} if reg else {})} if s else None)
                       for c, s in ((c, scores[m][c]) for c in CONDITIONS)}
                   | ({"vs_linear": scores[m]["vs_linear"]} if "vs_linear" in scores[m] else {})
                   for m in res.models},
    }
    if reg:
        out.qc["target"] = data.target_name
        out.qc["inputs"] = "EEG only (the fMRI is the target)" if task == "roi-bold" else "EEG and fMRI"
    else:
        out.qc.update(n_classes=len(data.classes), classes=list(data.classes), chance=chance)
    for m in res.models:
        out.qc[f"{key}_{m}"] = scores[m]["both"][key]
    lin = scores["linear"]["both"][key]
    for m in res.models:
        vl = scores[m].get("vs_linear")
        if vl is None:
            continue
        acc = scores[m]["both"][key]
        d_lo, d_hi = vl["ci95"]
        verb = "beats" if vl["beats_linear"] else "does not beat"
        out.messages.append(
            f"{_name(m)} {verb} the linear baseline: {label} {acc:.3f} vs {lin:.3f} "
            f"(difference {vl['difference']:+.3f}, 95 % interval {d_lo:+.3f} to {d_hi:+.3f})")
    for m in res.models:
        s = scores[m]["both"]
        if m == "mean":
            continue
        lo, hi = s["ci95"]
        if lo <= chance:
            where = "includes" if hi >= chance else "lies below"
            if reg:
                out.messages.append(f"{_name(m)}: not better than predicting the training mean (R² {s[key]:.3f}, "
                                    f"interval {lo:.3f} to {hi:.3f} {where} 0)")
            else:
                out.messages.append(f"{_name(m)}: not above chance ({s[key]:.3f}, interval "
                                    f"{lo:.3f}-{hi:.3f} {where} {chance:.3f})")
    if warn:
        out.messages.append(warn)
    # timings go into the messages, not the QC: QC must be identical between identical runs
    out.messages.append(f"training time (all folds, on {device}): "
                        + ", ".join(f"{m} {v:.1f} s" for m, v in res.seconds.items()))
    if ckpt:
        out.messages.append(f"networks of every fold saved in {ckpt} (state dict .pt + JSON config)")
    from .figures import latent_figure, scores_figure

    colour = data.y if reg else np.asarray(data.classes)[data.y]
    what = f"R² of the target {data.target_name!r}" if reg else "Balanced accuracy"
    out.figures.append(("Deep fusion: cross-validated scores", lambda: scores_figure(scores, chance, key),
                        f"{what} over held-out subjects; bars: 95 % intervals from a bootstrap over "
                        f"subjects; dashed: {'0 (the mean predictor)' if reg else 'chance'}. A missing "
                        "modality is removed at test time only."))
    if res.embeddings:
        emb = dict(res.embeddings)
        held = res.embed_test
        out.figures.append(("Deep fusion: latent space (PCA)", lambda: latent_figure(emb, colour, data.groups, held),
                            "Latent of every trial under the networks of fold 1, projected on its first two "
                            f"principal components, coloured by {'the target' if reg else 'condition'} and by "
                            "subject; outlined points are fold 1's held-out subject(s). Subjects "
                            "that separate in the right column mean the latent codes the subject, not only "
                            f"the {'target' if reg else 'condition'}."))
    if progress is not None:
        progress(1.0, "done")
    return out


def run(inputs: FusionInputs, params: dict[str, Any], progress) -> FusionResult:
    """The method's entry point (files given as ``--x --y --labels|--targets --groups``)."""
    progress(0.0, "reading the trials")
    task = params.get("task", "condition")
    px = one_file(inputs, "x", "deep-fusion", "EEG epochs, trials x channels x times .npy")
    pg = one_file(inputs, "groups", "deep-fusion", "one subject label per trial")
    notes = []
    if task == "condition":
        py = one_file(inputs, "y", "deep-fusion", "fMRI features, trials x features .npy")
        pl = one_file(inputs, "labels", "deep-fusion", "one condition label per trial")
        pt = None
    else:
        pt = one_file(inputs, "targets", "deep-fusion", f"the number to predict per trial (task {task})")
        pl = None
        if task == "amplitude":
            py = one_file(inputs, "y", "deep-fusion", "fMRI features, trials x features .npy")
        else:
            py = one_file(inputs, "y", "deep-fusion", "", required=False)
            if py is not None:
                notes.append(f"{py.name} (--y) not used: in the roi-bold task the fMRI is the target (--targets), "
                             "not an input")
    parse_models(params.get("models", "all"), task)  # a bad list fails before anything is read
    from .train import resolve_device

    resolve_device(params.get("device", "auto"))  # cuda without CUDA fails before anything is read
    data = load_files(px, py, pl, pg, task, pt, params.get("target"))
    progress(0.02, f"{len(data.y)} trials, {len(data.subjects)} subjects, EEG {data.eeg.shape[1]} x "
                   f"{data.eeg.shape[2]}" + (f", fMRI {data.fmri.shape[1]} features" if data.fmri.shape[1] else "")
                   + (f", target {data.target_name!r}" if data.regression else ""))
    out = run_arrays(data, params, progress.sub(0.03, 1.0))
    out.messages.extend(notes)
    return out


def write_files(folder: Path, eeg: np.ndarray, fmri: np.ndarray, labels: Any, groups: Any,
                targets: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write a dataset as the method's input files (``EEG.npy``, ``FMRI.npy``, TSVs).

    ``targets``: column name -> one number per trial, written as ``targets.tsv`` (key
    ``"targets"`` of the returned paths).
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"x": folder / "EEG.npy", "y": folder / "FMRI.npy", "labels": folder / "labels.tsv",
             "groups": folder / "groups.tsv"}
    np.save(paths["x"], np.asarray(eeg, np.float32))
    np.save(paths["y"], np.asarray(fmri, np.float32))
    paths["labels"].write_text("label\n" + "\n".join(map(str, labels)) + "\n", encoding="utf-8")
    paths["groups"].write_text("subject\n" + "\n".join(map(str, groups)) + "\n", encoding="utf-8")
    if targets:
        paths["targets"] = folder / "targets.tsv"
        cols = {k: np.asarray(v, np.float64) for k, v in targets.items()}
        lines = ["\t".join(cols)] + ["\t".join(repr(float(v[i])) for v in cols.values()) for i in range(len(eeg))]
        paths["targets"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def example_inputs() -> FusionInputs:
    """A small simulated cohort (4 subjects x 24 trials, EEG at 50 Hz) as the four input files."""
    from .simulate import simulate

    d = simulate(n_subjects=4, n_trials=24, n_heads=1, seed=0, sfreq=50.0)
    folder = Path(example_folder("workbench-deep-fusion-example-"))
    paths = write_files(folder, d.eeg, d.fmri, d.labels, d.groups,
                        {"amplitude": d.amplitudes, f"{d.truth['target_roi']}_bold": d.roi_bold})
    return FusionInputs(files={k: [v] for k, v in paths.items()}, sources={k: str(v) for k, v in paths.items()})
