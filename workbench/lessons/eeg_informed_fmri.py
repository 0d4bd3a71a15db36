"""Lesson 7, EEG-informed fMRI: trial-by-trial EEG amplitude as a parametric modulator.

Runs the ``parametric-modulation`` fusion plugin (found by plugin discovery, run as a step
through the :class:`~workbench.engine.runner.Runner`) on the lesson phantom, whose visual
responses vary from trial to trial (log-normal amplitudes) in the EEG and the BOLD alike,
and scores the maps with the phantom's masks
(:mod:`workbench.engine.phantom.score_fusion`). The EEG given to the plugin is the
phantom's artifact-free EEG (the cleaning lessons show how close the pipeline gets).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

METHOD = "parametric-modulation"
#: the fusion lessons' phantom: 4 min of scanning (118 volumes, ~70 trials per condition) for a GLM;
#: 1 kHz is plenty for ERPs and keeps it quick to simulate (the EEG is the true artifact-free one)
FUSION_PHANTOM: dict[str, Any] = {"duration_s": 240.0, "sfreq": 1000.0}

PARAMS = (
    Param("feature", "choice", "erp", "The trial-by-trial modulator: 'erp' measures each trial's visual ERP in the "
          "EEG; 'true-amplitude' uses the phantom's true trial amplitudes (the best any EEG feature could do).",
          choices=("erp", "true-amplitude")),
    Param("tmin", "float", 0.14, "Start of the ERP window (s); the phantom's visual N1 peaks at 170 ms.",
          minimum=0.0, maximum=0.5, unit="s"),
    Param("tmax", "float", 0.20, "End of the ERP window (s).", minimum=0.02, maximum=0.8, unit="s"),
    Param("fdr_alpha", "float", 0.05, "False discovery rate of the voxel threshold.", minimum=0.001, maximum=0.2, label="FDR q"),
)


def plugin_reason_for(method: str, folder: str) -> str:
    """Why the fusion plugin ``method`` cannot run here ('' when it can)."""
    from ..plugin_api import discover

    for rec in discover():
        if rec.id == method:
            return "" if rec.ok else f"the {method} plugin is broken or disabled: {rec.error or 'disabled'}"
    return f"needs the {method} fusion plugin ({folder}), which is not installed"


def plugin_reason() -> str:
    """Why the parametric-modulation plugin cannot run here ('' when it can)."""
    return plugin_reason_for(METHOD, "plugins/parametric_modulation")


def clean_study(progress: Any) -> Any:
    """The lesson phantom's study with its EEG replaced by the true artifact-free EEG (markers kept)."""
    from .phantom import load_study

    study = load_study(FUSION_PHANTOM, progress=progress)
    raw = study.eeg.copy().load_data()
    raw._data[:] = np.asarray(study.truth.arrays["clean"], float)
    study.set_raw(raw)
    return study


def _cluster_count(res: Any, key: str) -> int:
    z = np.asarray(res.maps[f"zthr_{key}"].dataobj, float)
    return int(np.count_nonzero(np.nan_to_num(z)))


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    import tempfile

    from ..engine.runner import Runner
    from ..plugin_api import all_steps

    reason = plugin_reason()
    if reason:
        from ..engine.errors import InputError

        raise InputError(None, reason)
    res = LessonResult(params)
    study = clean_study(progress.sub(0.0, 0.3))
    fparams: dict[str, Any] = {"condition": "visual", "tmin": params["tmin"], "tmax": params["tmax"],
                               "fdr_alpha": params["fdr_alpha"]}
    if params["feature"] == "true-amplitude":
        fparams.update(feature="events-column", events_column="amplitude")
    with tempfile.TemporaryDirectory() as tmp:
        out = Runner(study, all_steps(), tmp, write_files=False).run_step(METHOD, fparams, progress.sub(0.3, 0.95))
    fres = out.details["fusion"]
    tq = out.truth_qc
    n_main, n_mod = _cluster_count(fres, "main"), _cluster_count(fres, "modulator")
    z_main_task_only = float(tq.get("z_main_mean_in_lateral_occipital_task_only", np.nan))
    z_mod_task_only = float(tq.get("z_modulator_mean_in_lateral_occipital_task_only", np.nan))
    z_mod_visual = float(tq.get("z_modulator_mean_in_visual_cortex", np.nan))
    res.claim("voxels_main", f"The plain GLM (the average visual response) finds {n_main} voxels after FDR "
              f"q {params['fdr_alpha']:g}.", n_main, "voxels")
    res.claim("voxels_modulator", f"The EEG modulator finds {n_mod} voxels.", n_mod, "voxels")
    if "peak_distance_modulator_mm" in tq:
        res.claim("peak_mod_mm", f"The modulator's peak lies {tq['peak_distance_modulator_mm']:.0f} mm from the "
                  "visual source whose BOLD follows the EEG trial by trial.", tq["peak_distance_modulator_mm"], "mm")
    res.claim("z_task_only", f"In the region that responds to every visual trial *by the same amount* (no "
              f"trial-by-trial coupling), the main effect's mean z is {z_main_task_only:.1f} and the modulator's "
              f"{z_mod_task_only:.1f}: only the modulator tells the two regions apart.", z_mod_task_only)
    res.claim("z_mod_visual", f"Mean modulator z in the coupled visual source: {z_mod_visual:.1f}.", z_mod_visual)
    if "feature_vs_true_amplitude_r" in tq:
        res.claim("feature_r", f"The EEG feature correlates r = {tq['feature_vs_true_amplitude_r']:.2f} with the "
                  "phantom's true trial amplitudes.", tq["feature_vs_true_amplitude_r"])
    rows = []
    for src in study.truth.sources:
        name = src["name"]
        if f"z_main_mean_in_{name}" in tq:
            rows.append([name, src.get("role", ""), f"{tq[f'z_main_mean_in_{name}']:.2f}",
                         f"{tq[f'z_modulator_mean_in_{name}']:.2f}"])
    res.table = table(["region (truth)", "role", "mean z, main effect", "mean z, EEG modulator"], rows)
    res.answers = {
        "where": "the coupled visual source" if z_mod_visual > z_mod_task_only else "the task-only region",
        "main_task_only": "yes" if z_main_task_only > 2.0 else "no",
        "n_mod": float(n_mod),
    }
    z_main = np.asarray(fres.maps["z_main"].dataobj, float)
    z_mod = np.asarray(fres.maps["z_modulator"].dataobj, float)
    vis = next((s for s in study.truth.sources if s["name"] == "visual_cortex"), None)
    aff = fres.maps["z_main"].affine
    if vis is not None:
        ijk = np.linalg.solve(aff, np.r_[np.asarray(vis["pos_mri_m"]) * 1e3, 1.0])[:3]
        k = int(np.clip(round(ijk[2]), 0, z_main.shape[2] - 1))
    else:
        k = z_main.shape[2] // 2

    def draw(fig: Any) -> None:
        lim = max(np.nanmax(np.abs(z_main[:, :, k])), np.nanmax(np.abs(z_mod[:, :, k])), 3.0)
        for i, (z, title) in enumerate(((z_main, "main effect (plain GLM)"), (z_mod, "EEG modulator"))):
            ax = fig.add_subplot(1, 2, i + 1)
            im = ax.imshow(np.rot90(z[:, :, k]), cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(f"{title}, slice {k}")
            ax.set_axis_off()
        fig.colorbar(im, ax=fig.axes, shrink=0.8, label="z")

    res.figures = [LessonFigure("z maps through the visual source", draw,
                                "Unthresholded z of the two contrasts on the slice of the modulated visual source.",
                                (8, 3.6))]
    res.notes.append("EEG: the phantom's true artifact-free EEG; BOLD, events and anatomy as written by the phantom; "
                     "the plugin runs with its defaults otherwise (6 mm smoothing, AR(1), FDR + 5-voxel extent).")
    return res


LESSON = Lesson(
    id="eeg-informed-fmri",
    chapter=7,
    title="EEG-informed fMRI: trial-by-trial amplitude",
    summary="Why the EEG's trial-by-trial amplitude finds regions a plain GLM cannot tell apart.",
    text=(
        "A plain GLM asks where the BOLD goes up after every visual trial by the same amount. But brains vary: "
        "attention and arousal change each trial's response. The EEG measures that variation trial by trial, "
        "with millisecond precision.",
        "In EEG-informed fMRI each trial's EEG amplitude becomes a *parametric modulator*: a second regressor, "
        "the trial events scaled by the (mean-centred) EEG feature. It explains only what the average response "
        "cannot: which voxels go up *more* on trials where the EEG response was larger.",
        "The phantom has two visual regions. One follows the EEG's trial amplitudes; the other responds to every "
        "trial by the same amount. The plain GLM finds both. Only the modulator separates them. Try the phantom's "
        "true amplitudes as the modulator to see how much the EEG measurement loses.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("where", "Where is the modulator's effect strongest?",
                 choices=("the coupled visual source", "the task-only region"),
                 explain="The modulator follows the trial-by-trial EEG amplitude, which only the coupled source shares."),
        Question("main_task_only", "Does the plain GLM's main effect light up the task-only region (mean z above 2)?",
                 choices=("yes", "no"), explain="It responds to every visual trial: the average response sees it."),
        Question("n_mod", "How many voxels survive the threshold for the modulator?", kind="number", unit="voxels",
                 rel_tol=0.2, abs_tol=3.0, explain="Read it off the result."),
    ),
    engine=("plugin parametric-modulation (via workbench.plugin_api.all_steps)", "workbench.engine.runner.Runner",
            "workbench.engine.phantom.score_fusion"),
    plugins=('parametric-modulation',),
)
