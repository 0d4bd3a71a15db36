"""Lesson 10a, dynamic causal modelling: comparing models of the phantom's regions by free energy.

Extracts the BOLD of three of the phantom's regions (its true masks as ROIs), writes the
task inputs, and lets the ``dcm`` fusion plugin (plugin discovery,
:func:`~workbench.plugin_api.run_method`) fit and compare three models: inputs driving
the right regions, inputs swapped, and the right inputs plus a connection the phantom
does not have. The phantom's truth: each region is driven by its own condition and no
region drives another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

REGIONS = ("visual_cortex", "lateral_occipital_task_only", "motor_cortex")
INPUTS = ("visual", "motor")
A_NONE = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
MODELS = {
    "right inputs": {"a": A_NONE, "c": [[1, 0], [1, 0], [0, 1]]},
    "swapped inputs": {"a": A_NONE, "c": [[0, 1], [0, 1], [1, 0]]},
    "right inputs + V1->LO": {"a": [[1, 0, 0], [1, 1, 0], [0, 0, 1]], "c": [[1, 0], [1, 0], [0, 1]]},
}

PARAMS = (
    Param("max_iter", "int", 64, "Largest number of variational Laplace iterations per model.", minimum=8,
          maximum=256),
    Param("connected", "bool", True, "Also fit the model with a visual -> lateral-occipital connection the phantom "
          "does not have (free energy's penalty for needless complexity)."),
)


def roi_tables(study: Any, folder: Path) -> dict[str, Path]:
    """``rois.tsv`` (mean % signal change per true region and volume), ``inputs.tsv`` and the model files."""
    truth = study.truth
    bold = np.asarray(study.bold.dataobj, np.float32)
    cols = []
    for name in REGIONS:
        m = np.asarray(truth.load(f"masks/{name}").dataobj) > 0
        ts = bold[m].mean(0)
        cols.append((ts / ts.mean() - 1.0) * 100)
    rows = np.column_stack(cols)
    (folder / "rois.tsv").write_text("\t".join(REGIONS) + "\n" + "\n".join(
        "\t".join(f"{v:.6g}" for v in r) for r in rows) + "\n", encoding="utf-8")
    ev = truth.events
    lines = ["onset\tduration\tname"] + [f"{o:.4f}\t1.0\t{c}" for o, c in zip(ev["onset_mri"], ev["condition"])]
    (folder / "inputs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = {"bold": folder / "rois.tsv", "inputs": folder / "inputs.tsv"}
    for name, spec in MODELS.items():
        p = folder / (name.replace(" ", "_").replace(">", "").replace("+", "plus") + ".json")
        p.write_text(json.dumps({"name": name, "regions": list(REGIONS), "inputs": list(INPUTS), "a": spec["a"],
                                 "b": {}, "c": spec["c"]}), encoding="utf-8")
        files[name] = p
    return files


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    import tempfile

    from ..engine.errors import InputError
    from ..plugin_api import FusionInputs, run_method
    from .eeg_informed_fmri import clean_study, plugin_reason_for

    reason = plugin_reason_for("dcm", "plugins/dcm")
    if reason:
        raise InputError(None, reason)
    res = LessonResult(params)
    study = clean_study(progress.sub(0.0, 0.2))
    tr = float((study.bold_meta or {}).get("RepetitionTime", 2.0))
    names = [n for n in MODELS if params["connected"] or "+" not in n]
    with tempfile.TemporaryDirectory() as tmp:
        f = roi_tables(study, Path(tmp))
        inputs = FusionInputs(files={"bold": [f["bold"]], "inputs": [f["inputs"]], "model": [f[n] for n in names]},
                              bold_meta={"RepetitionTime": tr})
        out = run_method("dcm", inputs, {"tr": tr, "max_iter": params["max_iter"]}, progress.sub(0.2, 0.95))
    models = {row["model"]: row for row in out.tables["models"]}
    best = max(models, key=lambda n: models[n]["F"])
    res.table = table(["model", "free energy F", "F - best", "posterior probability", "variance explained (%)"],
                      [[n, f"{models[n]['F']:.1f}", f"{models[n]['F_minus_best']:.1f}",
                        f"{models[n]['posterior_probability']:.3f}",
                        f"{100 * models[n]['explained_variance']:.0f}"] for n in names])
    res.claim("best", f"Highest free energy: '{best}' (posterior probability "
              f"{models[best]['posterior_probability']:.3f}).", models[best]["posterior_probability"])
    res.claim("swapped", f"Swapping the inputs costs {-models['swapped inputs']['F_minus_best']:.1f} nats of free "
              "energy: the data say which condition drives which region.",
              -models["swapped inputs"]["F_minus_best"], "nats")
    if params["connected"]:
        d = models["right inputs + V1->LO"]["F"] - models["right inputs"]["F"]
        res.claim("connection", f"Adding the connection the phantom does not have changes F by {d:+.1f} nats.", d, "nats")
    res.claim("ev_right", f"The right model explains {100 * models['right inputs']['explained_variance']:.0f} % of "
              "the regions' BOLD variance.", 100 * models["right inputs"]["explained_variance"], "%")
    res.answers = {"best": best, "swapped_worse": "yes" if models["swapped inputs"]["F_minus_best"] < -3 else "no"}

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(111)
        F = [models[n]["F_minus_best"] for n in names]
        ax.barh(range(len(names)), F, color=["C2" if n == best else "C0" for n in names])
        for i, v in enumerate(F):
            ax.annotate(f"{v:.1f}" + (" (best)" if names[i] == best else ""), (v, i), xytext=(4, 0),
                        textcoords="offset points", va="center", ha="left")
        ax.set_xlim(min(F) * 1.15 - 5, max(20.0, -0.25 * min(F)))
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("free energy relative to the best model (nats)")
        ax.axvline(-3, color="0.5", ls=":", lw=1)
        ax.grid(axis="x", alpha=0.3)

    res.figures = [LessonFigure("Model comparison by free energy", draw,
                                "A difference of 3 nats is 'strong evidence' (posterior odds ~20:1).", (7, 3))]
    res.notes.append("ROIs: the phantom's true region masks; EEG not used (the plugin's joint EEG-fMRI mode needs "
                     "region EEG envelopes, not part of this lesson).")
    return res


LESSON = Lesson(
    id="dcm",
    chapter=10,
    title="Dynamic causal modelling: comparing models",
    summary="A DCM says which inputs drive which regions and how regions connect; free energy compares models.",
    text=(
        "Dynamic causal modelling writes down a *model* of how the data came about: neuronal states in a few "
        "regions, driven by the experiment's inputs (matrix C) and by each other (A), each passed through the "
        "Balloon-Windkessel haemodynamics of lesson 6 to give BOLD.",
        "Fitting gives a posterior for every parameter and the *free energy* F, an approximation of the model's "
        "evidence: how well it explains the data, minus a penalty for complexity. Models are compared by F, "
        "not by their fit alone: an extra connection must improve the fit by more than it costs.",
        "The phantom drives each region by its own condition, with no connections between regions. Compare the "
        "right model with one whose inputs are swapped and one with an extra connection. Watch what the evidence "
        "says about the connection: the two visual regions are neighbours, and anything they share that the "
        "inputs do not explain (spatially smooth physiological noise, the same trials) can be taken for one. "
        "Evidence ranks models of the data; it does not prove a wire exists.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("best", "Which model has the highest free energy?", choices=tuple(MODELS),
                 explain="Read it off. If the connection wins, it explains shared variance the phantom made without "
                         "any connection: a reminder that model evidence is relative to the models compared."),
        Question("swapped_worse", "Is the swapped model worse by more than 3 nats (strong evidence)?",
                 choices=("yes", "no"), explain="The visual and motor regions respond at different times."),
    ),
    engine=("plugin dcm (via workbench.plugin_api.run_method)",),
    plugins=('dcm',),
)
