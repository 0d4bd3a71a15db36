"""Run deep fusion from files (``workbench fuse deep-fusion --x EEG.npy --y FMRI.npy ...``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError
from workbench.plugin_api import FusionInputs, FusionResult
from workbench.plugin_api.tables import one_file

from .cv import ALL_MODELS, CONDITIONS, cross_validate, score_models
from .data import TrialData, load_files

__all__ = ["run", "run_arrays", "example_inputs", "parse_models"]

VERSION = "0.1.0"
_COND_TEXT = {"both": "both modalities", "without_fmri": "fMRI missing at test", "without_eeg": "EEG missing at test"}


def parse_models(text: str) -> list[str]:
    """``"all"`` or a comma-separated list; the linear baseline is always included."""
    text = (text or "all").strip().lower()
    if text == "all":
        return list(ALL_MODELS)
    names = [t.strip().replace("-", "_") for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in ALL_MODELS]
    if bad:
        raise InputError(None, f"parameter 'models': unknown model {bad[0]!r}; choose among {', '.join(ALL_MODELS)} "
                               "or 'all'")
    return [m for m in ALL_MODELS if m in names or m == "linear"]


def run_arrays(data: TrialData, params: dict[str, Any], progress=None) -> FusionResult:
    """Cross-validate every model on checked trials and build the result."""
    from .train import TrainConfig

    models = parse_models(params.get("models", "all"))
    tcfg = TrainConfig(epochs=params["epochs"], patience=params["patience"], batch_size=params["batch_size"],
                       lr=params["learning_rate"], weight_decay=params["weight_decay"],
                       modality_dropout=params["modality_dropout"], seed=params["seed"], threads=params["threads"])
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
    chance = 1.0 / len(data.classes)
    out = FusionResult(method="deep-fusion", method_version=VERSION)
    rows, per_sub = [], []
    for m in res.models:
        row: dict[str, Any] = {"model": m}
        for c in CONDITIONS:
            s = scores[m][c]
            pre = "" if c == "both" else f"{c}_"
            row[f"{pre}balanced_accuracy"] = s["balanced_accuracy"] if s else None
            row[f"{pre}ci95_low"] = s["ci95"][0] if s else None
            row[f"{pre}ci95_high"] = s["ci95"][1] if s else None
        vl = scores[m].get("vs_linear")
        row["difference_to_linear"] = vl["difference"] if vl else None
        row["difference_ci95_low"] = vl["ci95"][0] if vl else None
        row["difference_ci95_high"] = vl["ci95"][1] if vl else None
        row["beats_linear"] = vl["beats_linear"] if vl else None
        rows.append(row)
        for s, v in scores[m]["both"]["per_subject"].items():
            per_sub.append({"model": m, "subject": s, "balanced_accuracy": v})
    out.tables["scores"] = rows
    out.tables["per_subject"] = per_sub
    out.tables["folds"] = [{"fold": f["fold"], "test_subjects": " ".join(f["test_subjects"]),
                            "validation": f["validation"], "n_fit": f["n_fit"], "n_val": f["n_val"],
                            "n_test": f["n_test"],
                            **{f"best_epoch_{m}": v.get("best_epoch") for m, v in f["models"].items() if m != "linear"},
                            **({"linear_C": f["models"]["linear"]["C"]} if "linear" in f["models"] else {})}
                           for f in res.folds]
    out.qc = {
        "n_trials": int(len(data.y)),
        "n_subjects": n_sub,
        "n_folds": len(res.folds),
        "n_classes": len(data.classes),
        "classes": list(data.classes),
        "chance": chance,
        "score": "balanced accuracy over the held-out trials of all leave-subjects-out folds",
        "interval": f"95 % percentile interval of a bootstrap over subjects ({params['n_bootstrap']} resamples)",
        "scores": {m: {c: ({"balanced_accuracy": s["balanced_accuracy"], "ci95": s["ci95"]} if s else None)
                       for c, s in ((c, scores[m][c]) for c in CONDITIONS)}
                   | ({"vs_linear": scores[m]["vs_linear"]} if "vs_linear" in scores[m] else {})
                   for m in res.models},
    }
    for m in res.models:
        out.qc[f"balanced_accuracy_{m}"] = scores[m]["both"]["balanced_accuracy"]
    lin = scores["linear"]["both"]["balanced_accuracy"]
    for m in res.models:
        vl = scores[m].get("vs_linear")
        if vl is None:
            continue
        acc = scores[m]["both"]["balanced_accuracy"]
        d_lo, d_hi = vl["ci95"]
        if not vl["beats_linear"]:
            out.messages.append(
                f"{m.replace('_', ' ')} does not beat the linear baseline: balanced accuracy {acc:.3f} vs "
                f"{lin:.3f} (difference {vl['difference']:+.3f}, 95 % interval {d_lo:+.3f} to {d_hi:+.3f})")
        else:
            out.messages.append(f"{m.replace('_', ' ')} beats the linear baseline: {acc:.3f} vs {lin:.3f} "
                                f"(difference {vl['difference']:+.3f}, 95 % interval {d_lo:+.3f} to {d_hi:+.3f})")
    for m in res.models:
        s = scores[m]["both"]
        if s["ci95"][0] <= chance:
            out.messages.append(f"{m.replace('_', ' ')}: not above chance ({s['balanced_accuracy']:.3f}, interval "
                                f"{s['ci95'][0]:.3f}-{s['ci95'][1]:.3f} includes {chance:.3f})")
    if warn:
        out.messages.append(warn)
    # timings go into the messages, not the QC: QC must be identical between identical runs
    out.messages.append("training time (all folds): " + ", ".join(f"{m} {v:.1f} s" for m, v in res.seconds.items()))
    if ckpt:
        out.messages.append(f"networks of every fold saved in {ckpt} (state dict .pt + JSON config)")
    from .figures import latent_figure, scores_figure

    labels = np.asarray(data.classes)[data.y]
    out.figures.append(("Deep fusion: cross-validated scores", lambda: scores_figure(scores, chance),
                        "Balanced accuracy over held-out subjects; bars: 95 % intervals from a bootstrap over "
                        "subjects; dashed: chance. A missing modality is removed at test time only."))
    if res.embeddings:
        emb = dict(res.embeddings)
        held = res.embed_test
        out.figures.append(("Deep fusion: latent space (PCA)", lambda: latent_figure(emb, labels, data.groups, held),
                            "Latent of every trial under the networks of fold 1, projected on its first two "
                            "principal components; outlined points are fold 1's held-out subject(s). Subjects "
                            "that separate in the right column mean the latent codes the subject, not only "
                            "the condition."))
    if progress is not None:
        progress(1.0, "done")
    return out


def run(inputs: FusionInputs, params: dict[str, Any], progress) -> FusionResult:
    """The method's entry point (files given as ``--x --y --labels --groups``)."""
    progress(0.0, "reading the trials")
    px = one_file(inputs, "x", "deep-fusion", "EEG epochs, trials x channels x times .npy")
    py = one_file(inputs, "y", "deep-fusion", "fMRI features, trials x features .npy")
    pl = one_file(inputs, "labels", "deep-fusion", "one condition label per trial")
    pg = one_file(inputs, "groups", "deep-fusion", "one subject label per trial")
    data = load_files(px, py, pl, pg)
    parse_models(params.get("models", "all"))  # a bad list fails before training
    progress(0.02, f"{len(data.y)} trials, {len(data.subjects)} subjects, EEG {data.eeg.shape[1]} x "
                   f"{data.eeg.shape[2]}, fMRI {data.fmri.shape[1]} features")
    out = run_arrays(data, params, progress.sub(0.03, 1.0))
    return out


def write_files(folder: Path, eeg: np.ndarray, fmri: np.ndarray, labels: Any, groups: Any) -> dict[str, Path]:
    """Write a dataset as the method's four input files (``EEG.npy``, ``FMRI.npy``, TSVs)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"x": folder / "EEG.npy", "y": folder / "FMRI.npy", "labels": folder / "labels.tsv",
             "groups": folder / "groups.tsv"}
    np.save(paths["x"], np.asarray(eeg, np.float32))
    np.save(paths["y"], np.asarray(fmri, np.float32))
    paths["labels"].write_text("label\n" + "\n".join(map(str, labels)) + "\n", encoding="utf-8")
    paths["groups"].write_text("subject\n" + "\n".join(map(str, groups)) + "\n", encoding="utf-8")
    return paths


def example_inputs() -> FusionInputs:
    """A small simulated cohort (4 subjects x 24 trials, EEG at 50 Hz) as the four input files."""
    from .simulate import simulate

    d = simulate(n_subjects=4, n_trials=24, n_heads=1, seed=0, sfreq=50.0)
    folder = Path(tempfile.mkdtemp(prefix="workbench-deep-fusion-example-"))
    paths = write_files(folder, d.eeg, d.fmri, d.labels, d.groups)
    return FusionInputs(files={k: [v] for k, v in paths.items()}, sources={k: str(v) for k, v in paths.items()})
