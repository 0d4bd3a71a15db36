"""Lesson 10b, deep fusion: early vs late fusion when the EEG's timing is off.

Decodes each trial's condition (visual or motor) of the fusion lessons' phantom from its
EEG epoch (the true artifact-free EEG at 100 Hz) and its single-trial BOLD amplitudes
(:func:`~workbench.lessons.symmetric.single_trial_bold`), with the ``deep-fusion`` plugin
(plugin discovery, :func:`~workbench.plugin_api.run_method`): early fusion, late fusion,
each modality alone and the linear baseline. The timing mismatch shifts every EEG epoch by
a random error (as an unfitted clock drift or a bad trigger would), leaving the fMRI alone.
The phantom has one subject: its trials are dealt into four consecutive blocks, and the
plugin's leave-subjects-out cross-validation leaves one block out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

RATE = 100.0
EPOCH_S = 0.5
N_BLOCKS = 4
MODELS = ("early", "late", "eeg_only", "fmri_only", "linear")

PARAMS = (
    Param("mismatch_ms", "float", 100.0, "SD of the random timing error added to every EEG epoch (ms); 0 = aligned.",
          minimum=0.0, maximum=500.0, unit="ms", label="EEG timing error"),
    Param("epochs", "int", 30, "Maximum training epochs per network.", minimum=5, maximum=200),
    Param("seed", "int", 0, "Seed of the timing errors, network initialisation and bootstrap.", minimum=0),
)


def trial_data(study: Any, mismatch_ms: float, seed: int) -> dict[str, Any]:
    """EEG epochs (trials x channels x times), single-trial BOLD, labels and blocks."""
    import mne

    from .symmetric import single_trial_bold

    truth = study.truth
    sf = float(truth.sfreq)
    ev = truth.events
    cond = np.asarray(ev["condition"]).astype(str)
    on_mri = np.asarray(ev["onset_mri"], float)
    onsets = np.asarray(ev["onset_sample"], int)
    n_vol = study.bold.shape[3]
    tr = float((study.bold_meta or {}).get("RepetitionTime", 2.0))
    eeg_idx = [i for i, t in enumerate(truth.meta["ch_types"]) if t == "eeg"]
    step = int(round(sf / RATE))
    x = mne.filter.filter_data(np.asarray(truth.arrays["clean"][eeg_idx], float), sf, 1.0, 30.0, verbose=False)
    rng = np.random.default_rng([seed, 11])
    shift = np.rint(rng.normal(0.0, mismatch_ms * 1e-3, len(onsets)) * sf).astype(int) if mismatch_ms > 0 else 0
    start = onsets + shift
    n = int(EPOCH_S * sf)
    keep = (start >= 0) & (start + n < x.shape[1]) & (on_mri < (n_vol - 3) * tr)
    epochs = np.stack([x[:, s:s + n:step] for s in start[keep]])
    betas, _ = single_trial_bold(study, on_mri[keep], on_mri)
    labels = cond[keep]
    blocks = np.array([f"block{1 + k * N_BLOCKS // len(labels)}" for k in range(len(labels))])
    return {"eeg": epochs.astype(np.float32), "fmri": betas.astype(np.float32), "labels": labels, "groups": blocks}


def _scores(folder: Path, d: dict[str, Any], params: dict[str, Any], progress: Any) -> dict[str, dict[str, Any]]:
    from ..plugin_api import FusionInputs, run_method

    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "EEG.npy", d["eeg"])
    np.save(folder / "FMRI.npy", d["fmri"])
    (folder / "labels.tsv").write_text("label\n" + "\n".join(d["labels"]) + "\n", encoding="utf-8")
    (folder / "groups.tsv").write_text("subject\n" + "\n".join(d["groups"]) + "\n", encoding="utf-8")
    files = {k: [folder / f] for k, f in (("x", "EEG.npy"), ("y", "FMRI.npy"), ("labels", "labels.tsv"),
                                          ("groups", "groups.tsv"))}
    out = run_method("deep-fusion", FusionInputs(files=files),
                     {"models": ",".join(m for m in MODELS if m != "linear"), "epochs": params["epochs"],
                      "patience": 8, "n_bootstrap": 200, "threads": 1, "seed": params["seed"]}, progress)
    return {row["model"]: row for row in out.tables["scores"]}


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    import tempfile

    from ..engine.errors import InputError
    from .eeg_informed_fmri import clean_study, plugin_reason_for

    reason = plugin_reason_for("deep-fusion", "plugins/deep_fusion")
    if reason:
        raise InputError(None, reason)
    res = LessonResult(params)
    study = clean_study(progress.sub(0.0, 0.15))
    mis = params["mismatch_ms"]
    with tempfile.TemporaryDirectory() as tmp:
        d0 = trial_data(study, 0.0, params["seed"])
        progress(0.2, "trials")
        aligned = _scores(Path(tmp) / "aligned", d0, params, progress.sub(0.2, 0.55 if mis > 0 else 0.95))
        off = aligned
        if mis > 0:
            off = _scores(Path(tmp) / "mismatch", trial_data(study, mis, params["seed"]), params,
                          progress.sub(0.55, 0.95))

    def ba(s: dict[str, Any], m: str) -> float:
        v = s.get(m, {}).get("balanced_accuracy")
        return float(v) if v is not None else float("nan")

    models = [m for m in MODELS if m in aligned]
    res.table = table(["model", "balanced accuracy, aligned", f"balanced accuracy, {mis:g} ms mismatch"],
                      [[m, f"{ba(aligned, m):.2f}", f"{ba(off, m):.2f}"] for m in models])
    n_trials = len(d0["labels"])
    res.claim("early_aligned", f"Aligned ({n_trials} trials, leave-one-block-out): early fusion decodes the condition "
              f"with balanced accuracy {ba(aligned, 'early'):.2f}, late fusion {ba(aligned, 'late'):.2f}, the linear "
              f"baseline {ba(aligned, 'linear'):.2f} (chance 0.50).", ba(aligned, "early"))
    res.claim("early_mismatch", f"With {mis:g} ms of EEG timing error: early {ba(off, 'early'):.2f}, late "
              f"{ba(off, 'late'):.2f}, EEG alone {ba(off, 'eeg_only'):.2f}, fMRI alone {ba(off, 'fmri_only'):.2f}.",
              ba(off, "early"))
    drop_e = ba(aligned, "early") - ba(off, "early")
    drop_l = ba(aligned, "late") - ba(off, "late")
    res.claim("drop", f"The mismatch costs early fusion {drop_e:+.2f} and late fusion {drop_l:+.2f} of balanced "
              "accuracy.", drop_e)
    res.answers = {"robust": "late" if drop_l < drop_e else "early",
                   "eeg_hurt": "yes" if ba(off, "eeg_only") < ba(aligned, "eeg_only") - 0.05 else "no"}

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(111)
        xk = np.arange(len(models))
        ax.bar(xk - 0.2, [ba(aligned, m) for m in models], 0.4, label="aligned")
        ax.bar(xk + 0.2, [ba(off, m) for m in models], 0.4, label=f"{mis:g} ms mismatch")
        ax.axhline(0.5, color="0.5", ls=":", lw=1)
        ax.set_xticks(xk, models)
        ax.set_ylabel("balanced accuracy")
        ax.set_ylim(0, 1)
        ax.legend(fontsize="small")

    res.figures = [LessonFigure("Decoding the condition, with and without EEG timing errors", draw,
                                "Leave-one-block-out cross-validation; dotted: chance.", (7, 3.6))]
    res.notes.append(f"One phantom subject: trials dealt into {N_BLOCKS} consecutive blocks, used as the plugin's "
                     "'subjects' (leave-one-block-out). EEG: the true artifact-free EEG, 1-30 Hz, 0-0.5 s at 100 Hz; "
                     "fMRI: single-trial BOLD amplitudes (LSS) in the task localiser's voxels. Small data: "
                     "differences of a few hundredths are within the bootstrap intervals.")
    return res


LESSON = Lesson(
    id="deep-fusion",
    chapter=11,
    title="Deep fusion: early vs late under timing mismatch",
    summary="Early fusion needs aligned inputs; late fusion lets each modality work alone.",
    text=(
        "Deep-learning fusion decodes each trial from its EEG and fMRI with small neural networks. *Early* "
        "fusion stacks both inputs into one network, which must learn from them aligned trial by trial; *late* "
        "fusion trains one network per modality and adds their outputs, so each still predicts alone.",
        "What happens when one modality's timing is wrong? Shift every EEG epoch by a random error, as an "
        "unfitted clock drift (lesson 2) or a bad trigger would, and leave the fMRI as it is.",
        "The plugin always trains a linear baseline beside the networks: on a small data set a deep model has "
        "to earn its place.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("robust", "Which fusion loses less accuracy with the timing mismatch?", choices=("early", "late"),
                 explain="Late fusion's fMRI network does not see the EEG's errors; early fusion's one network does."),
        Question("eeg_hurt", "Does the EEG-only network lose more than 0.05 of balanced accuracy?", choices=("yes", "no"),
                 explain="The evoked response is time-locked: shifted epochs blur it."),
    ),
    engine=("plugin deep-fusion (via workbench.plugin_api.run_method)",),
    plugins=('deep-fusion',),
)
