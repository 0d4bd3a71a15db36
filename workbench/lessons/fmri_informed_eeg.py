"""Lesson 8, fMRI-informed EEG: the fMRI map as a hard mask or a soft prior for source imaging.

Runs the ``fmri-source`` fusion plugin (plugin discovery, as a step through the
:class:`~workbench.engine.runner.Runner`) on the fusion lessons' phantom with its true
artifact-free EEG and the true head->MRI transform (the coreg lesson's subject), and
scores every inverse variant's peak against the true source positions
(:mod:`workbench.engine.phantom.scoring`): the visual source the fMRI sees, and the
temporal source the fMRI cannot see (no BOLD coupling).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

METHOD = "fmri-source"
VISIBLE = "visual_cortex"
INVISIBLE = "temporal_fmri_invisible"
VARIANTS = ("none", "dspm", "weighted", "hard", "soft", "soft_dspm")

PARAMS = (
    Param("spacing", "float", 10.0, "Grid of the volume source space (mm); finer is slower.", minimum=5.0,
          maximum=15.0, unit="mm"),
    Param("threshold", "float", 3.1, "z threshold that makes the fMRI map into active regions (the mask / the "
          "prior's clusters).", minimum=1.0, maximum=8.0),
    Param("factor", "float", 0.1, "Weight of sources outside the fMRI map in the 'weighted' variant (MNE-C's "
          "fMRI weighting; 0.1 is its usual value).", minimum=0.0, maximum=1.0),
)


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    import tempfile

    import mne

    from ..engine.errors import InputError
    from ..engine.runner import Runner
    from ..plugin_api import all_steps
    from .eeg_informed_fmri import clean_study, plugin_reason_for

    reason = plugin_reason_for(METHOD, "plugins/fmri_source")
    if reason:
        raise InputError(None, reason)
    res = LessonResult(params)
    study = clean_study(progress.sub(0.0, 0.2))
    study.set_trans(mne.read_trans(study.truth.trans_path, verbose="error"))
    fparams = {"condition": "visual", "times": "0.17,0.25", "spacing": params["spacing"],
               "threshold": params["threshold"], "factor": params["factor"]}
    with tempfile.TemporaryDirectory() as tmp:
        out = Runner(study, all_steps(), tmp, write_files=False).run_step(METHOD, fparams, progress.sub(0.2, 0.95))
    tq = out.truth_qc
    variants = [v for v in VARIANTS if f"loc_error_mm_{VISIBLE}_{v}" in tq]
    if not variants:
        raise InputError(None, "the fmri-source result has no variant scores for the visual source")

    def err(src: str, v: str) -> float:
        return float(tq.get(f"loc_error_mm_{src}_{v}", np.nan))

    rows = [[v, f"{err(VISIBLE, v):.0f}", f"{err(INVISIBLE, v):.0f}",
             f"{tq.get(f'dispersion_mm_{VISIBLE}_{v}', np.nan):.0f}"] for v in variants]
    res.table = table(["variant", f"peak error, {VISIBLE} (mm)", f"peak error, {INVISIBLE} (mm)",
                       f"spread, {VISIBLE} (mm)"], rows)
    res.claim("vis_none", f"Without the fMRI (minimum norm): the visual source's peak is {err(VISIBLE, 'none'):.0f} mm "
              "from the truth.", err(VISIBLE, "none"), "mm")
    for v, label in (("hard", "Hard fMRI mask"), ("soft", "Soft fMRI prior")):
        if v in variants:
            res.claim(f"vis_{v}", f"{label}: {err(VISIBLE, v):.0f} mm for the visual source the fMRI sees, "
                      f"{err(INVISIBLE, v):.0f} mm for the temporal source it cannot see.", err(VISIBLE, v), "mm")
    best_inv = min(variants, key=lambda v: err(INVISIBLE, v))
    res.claim("inv_best", f"For the fMRI-invisible source the closest peak is {best_inv}'s, {err(INVISIBLE, best_inv):.0f} mm "
              f"away; {', '.join(f'{v} {err(INVISIBLE, v):.0f} mm' for v in variants if v != best_inv)}.",
              err(INVISIBLE, best_inv), "mm")
    res.answers = {
        "visible": "yes" if err(VISIBLE, "hard") <= err(VISIBLE, "none") else "no",
        "invisible": "hard mask" if err(INVISIBLE, "hard") > err(INVISIBLE, "soft") else "soft prior",
        "none_error": err(VISIBLE, "none"),
    }

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(111)
        x = np.arange(len(variants))
        ax.bar(x - 0.2, [err(VISIBLE, v) for v in variants], 0.4, label="visual (fMRI sees it)")
        ax.bar(x + 0.2, [err(INVISIBLE, v) for v in variants], 0.4, label="temporal (fMRI-invisible)")
        ax.set_xticks(x, variants)
        ax.set_ylabel("peak localisation error (mm)")
        ax.legend(fontsize="small")
        ax.grid(axis="y", alpha=0.3)

    res.figures = [LessonFigure("Where each inverse puts the two sources", draw,
                                "Distance from each variant's peak to the true source, at its peak latency.", (7, 3.8))]
    res.notes.append("EEG: the phantom's true artifact-free EEG; head->MRI transform: the phantom's true one; "
                     "the fMRI map is the plugin's own GLM of the phantom's BOLD.")
    return res


LESSON = Lesson(
    id="fmri-informed-eeg",
    chapter=8,
    title="fMRI-informed EEG: hard mask vs soft prior",
    summary="The fMRI map constrains EEG source imaging; what happens to a source the fMRI cannot see.",
    text=(
        "EEG source imaging is ill-posed: infinitely many source patterns explain the same scalp field. The "
        "minimum-norm answer is blurred and pulled towards the surface. The fMRI says where the brain was "
        "active, with millimetre precision, so why not use it?",
        "A *hard mask* allows sources only where the fMRI is active. A *weighted* inverse favours them. A *soft "
        "prior* treats each fMRI cluster as one more covariance component and lets the EEG decide how much "
        "weight it gets, window by window.",
        "But neural activity and BOLD are not the same thing. The phantom has a temporal source that the EEG "
        "sees clearly but that has no BOLD response at all. Compare where each variant puts it.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("visible", "For the visual source the fMRI sees, is the hard mask at least as accurate as no fMRI?",
                 choices=("yes", "no"), explain="Where fMRI and EEG agree, the constraint removes the blur."),
        Question("invisible", "For the fMRI-invisible source, which does worse?", choices=("hard mask", "soft prior"),
                 explain="The mask has no source there to put the activity in; the soft prior keeps the whole brain."),
        Question("none_error", "How far from the true visual source (mm) is the minimum-norm peak, without the fMRI?",
                 kind="number", unit="mm", rel_tol=0.15, abs_tol=3.0,
                 explain="Minimum norm blurs and pulls towards the surface; read it off the table."),
    ),
    engine=("plugin fmri-source (via workbench.plugin_api.all_steps)", "workbench.engine.runner.Runner",
            "workbench.engine.phantom.scoring"),
    plugins=('fmri-source',),
)
