"""Lesson 9, symmetric fusion: CCA finds shared variance, jICA shared generative structure.

Builds trial-by-trial features from the fusion lessons' phantom (one row per visual trial:
the ERP at every channel and the ERP time course at Oz from its true artifact-free EEG;
each task voxel's single-trial BOLD amplitude) and runs the ``cca`` and ``jica`` fusion
plugins (plugin discovery, :func:`~workbench.plugin_api.run_method`) on them as tables.
Neither method is told which trials were strong: both are scored against the phantom's
true trial amplitudes and its visual-source mask.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

WINDOW = (0.14, 0.20)  # s, the visual N1
BASELINE = (-0.1, 0.0)
N_VOXELS = 300  #: voxels of the functional localiser

PARAMS = (
    Param("pca_x", "int", 2, "Principal components of the EEG table kept before CCA (PCA-CCA: with a few dozen "
          "trials, CCA on many features finds chance correlations).", minimum=1, maximum=30, label="PCs of EEG"),
    Param("pca_y", "int", 2, "Principal components of the voxel table kept before CCA.", minimum=1, maximum=30, label="PCs of BOLD"),
    Param("n_components", "int", 3, "Joint components jICA estimates.", minimum=2, maximum=8, label="jICA components"),
    Param("n_permutations", "int", 200, "Permutations for CCA's p-values.", minimum=0, maximum=5000, label="permutations"),
    Param("seed", "int", 0, "Seed of the permutations and ICA starts.", minimum=0),
)


def trial_features(study: Any) -> dict[str, Any]:
    """Per visual trial: ERP amplitude per channel, ERP time course at Oz, BOLD rise per brain voxel."""
    import mne


    truth = study.truth
    sf = float(truth.sfreq)
    ev = truth.events
    vis = np.asarray(ev["condition"]) == "visual"
    onsets = np.asarray(ev["onset_sample"])[vis]
    on_mri = np.asarray(ev["onset_mri"], float)[vis]
    amp = np.asarray(ev["amplitude"], float)[vis]
    eeg_idx = [i for i, t in enumerate(truth.meta["ch_types"]) if t == "eeg"]
    names = [truth.ch_names[i] for i in eeg_idx]
    x = mne.filter.filter_data(np.asarray(truth.arrays["clean"][eeg_idx], float), sf, 1.0, 30.0, verbose=False)
    bold = np.asarray(study.bold.dataobj, np.float32)
    tr = float(study.bold_meta.get("RepetitionTime", 2.0)) if study.bold_meta else 2.0
    n_vol = bold.shape[3]
    keep = (onsets + int(0.4 * sf) < x.shape[1]) & (onsets + int(BASELINE[0] * sf) >= 0) & (on_mri < (n_vol - 3) * tr)
    onsets, amp = onsets[keep], amp[keep]
    b0, b1 = (int(v * sf) for v in BASELINE)
    w0, w1 = (int(v * sf) for v in WINDOW)
    base = np.stack([x[:, o + b0:o + b1].mean(1) for o in onsets])
    erp_amp = np.stack([x[:, o + w0:o + w1].mean(1) for o in onsets]) - base
    oz = names.index("Oz")
    step = max(int(sf / 100), 1)
    erp_oz = np.stack([x[oz, o:o + int(0.4 * sf):step] - base[k, oz] for k, o in enumerate(onsets)])
    rise, brain = single_trial_bold(study, on_mri[keep], np.asarray(ev["onset_mri"], float)[vis])
    return {"erp_amp": erp_amp * 1e6, "channels": names, "erp_oz": erp_oz * 1e6,
            "erp_times": np.arange(erp_oz.shape[1]) * step / sf, "bold_rise": rise, "brain": brain,
            "affine": study.bold.affine, "amplitude": amp}


def single_trial_bold(study: Any, trial_onsets: np.ndarray, localiser_onsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each trial's BOLD amplitude (% of the mean) in the voxels that follow ``localiser_onsets`` best.

    Returns ``(betas (n_trials, n_voxels), voxel mask)``. The localiser is a plain correlation of each
    brain voxel's time course with the events convolved with SPM's HRF (it knows the task, not the
    trial amplitudes); single-trial amplitudes are "least squares separate" (Mumford et al. 2012):
    one small GLM per trial with that trial's regressor, one for all other events and a cosine drift
    basis. A few lines of least squares (nilearn/SPM fit whole-brain GLMs, not this per-trial loop).
    """
    from ..engine.hemo import spm_hrf

    ev = study.truth.events
    bold = np.asarray(study.bold.dataobj, np.float32)
    tr = float((study.bold_meta or {}).get("RepetitionTime", 2.0))
    n_vol = bold.shape[3]
    mean = bold.mean(3)
    brain = mean > 0.3 * np.percentile(mean, 99)
    dt = 0.1
    u = np.zeros(int(n_vol * tr / dt) + 1)
    t_vol = np.arange(n_vol) * tr
    hrf = spm_hrf(dt)

    def regressor(onset_list: np.ndarray) -> np.ndarray:
        uu = np.zeros(len(u))
        uu[np.clip(np.rint(np.asarray(onset_list, float) / dt).astype(int), 0, len(u) - 1)] = 1.0
        return np.convolve(uu, hrf)[: len(u)][np.rint(t_vol / dt).astype(int)]

    reg = regressor(localiser_onsets)
    vb = bold[brain] - bold[brain].mean(1, keepdims=True)
    rr = (vb @ (reg - reg.mean())) / (np.linalg.norm(vb, axis=1) * np.linalg.norm(reg - reg.mean()) + 1e-12)
    top = np.zeros(brain.shape, bool)
    idx = np.argwhere(brain)[np.argsort(rr)[::-1][:N_VOXELS]]
    top[tuple(idx.T)] = True
    vox = bold[top].astype(float)
    all_on = np.asarray(ev["onset_mri"], float)
    drift = np.column_stack([np.ones(n_vol)] + [np.cos(np.pi * k * (np.arange(n_vol) + 0.5) / n_vol)
                                                 for k in range(1, max(2, int(n_vol * tr / 128.0) + 1) + 1)])
    y = (vox / np.maximum(vox.mean(1, keepdims=True), 1e-9) * 100).T
    betas = np.empty((len(trial_onsets), vox.shape[0]))
    for k, on in enumerate(trial_onsets):
        others = np.delete(all_on, np.flatnonzero(np.isclose(all_on, on))[:1])
        X = np.column_stack([regressor(np.array([on])), regressor(others), drift])
        betas[k] = np.linalg.lstsq(X, y, rcond=None)[0][0]
    return betas, top


def _write_tsv(path: Path, header: list[str], rows: np.ndarray, labels: list[str]) -> Path:
    lines = ["\t".join(["trial", *header])]
    lines += ["\t".join([lab, *(f"{v:.6g}" for v in row)]) for lab, row in zip(labels, rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    import tempfile

    import nibabel as nib

    from ..engine.errors import InputError
    from ..plugin_api import FusionInputs, run_method
    from .eeg_informed_fmri import clean_study, plugin_reason_for

    for m, folder in (("cca", "plugins/cca"), ("jica", "plugins/jica")):
        reason = plugin_reason_for(m, folder)
        if reason:
            raise InputError(None, reason)
    res = LessonResult(params)
    study = clean_study(progress.sub(0.0, 0.25))
    f = trial_features(study)
    progress(0.35, "trial features")
    truth_amp = f["amplitude"]
    vis_mask = np.asarray(study.truth.load("masks/visual_cortex").dataobj) > 0
    in_visual = vis_mask[f["brain"]]
    labels = [f"t{k + 1:03d}" for k in range(len(truth_amp))]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        xa = _write_tsv(d / "x_amp.tsv", f["channels"], f["erp_amp"], labels)
        xo = _write_tsv(d / "x_oz.tsv", [f"{t:.3f}" for t in f["erp_times"]], f["erp_oz"], labels)
        y = _write_tsv(d / "y.tsv", [f"v{i}" for i in range(f["bold_rise"].shape[1])], f["bold_rise"], labels)
        mask_path = d / "mask.nii.gz"
        nib.save(nib.Nifti1Image(f["brain"].astype(np.uint8), f["affine"]), mask_path)
        cca = run_method("cca", FusionInputs(files={"x": [xa], "y": [y], "y_mask": [mask_path]}),
                         {"pca_x": params["pca_x"], "pca_y": params["pca_y"], "n_permutations": params["n_permutations"],
                          "seed": params["seed"]}, progress.sub(0.35, 0.6))
        jica = run_method("jica", FusionInputs(files={"x": [xo], "y": [y]}),
                          {"n_components": params["n_components"], "n_runs": 5, "seed": params["seed"]},
                          progress.sub(0.6, 0.95))
    canon = cca.tables["canonical"]
    r1 = float(canon[0]["canonical_correlation"])
    p1 = canon[0].get("p_permutation")
    V = np.asarray(cca.matrices["variates"]["values"], float)
    u1, v1 = V[:, 0], V[:, 1]
    ru = float(abs(np.corrcoef(u1, truth_amp)[0, 1]))
    rv = float(abs(np.corrcoef(v1, truth_amp)[0, 1]))
    load_y = np.abs([row["mode1"] for row in cca.tables["loadings_y"]])
    vis_ratio = float(load_y[in_visual].mean() / max(load_y[~in_visual].mean(), 1e-12))
    L = np.asarray(jica.matrices["loadings"]["values"], float)
    rj = [abs(float(np.corrcoef(L[:, k], truth_amp)[0, 1])) for k in range(L.shape[1])]
    kbest = int(np.argmax(rj))
    cy = np.abs(np.asarray(jica.matrices["components_y"]["values"], float)[kbest])
    j_ratio = float(cy[in_visual].mean() / max(cy[~in_visual].mean(), 1e-12))
    res.claim("cca_r1", f"CCA mode 1: canonical correlation {r1:.2f} between {len(truth_amp)} trials' ERP "
              f"topographies and their single-trial BOLD amplitudes" + (f" (permutation p = {p1:.3g})." if p1 is not None else "."),
              r1)
    res.claim("cca_truth", f"Its EEG variate correlates |r| = {ru:.2f} and its fMRI variate |r| = {rv:.2f} with the "
              "phantom's true trial amplitudes, which neither table was given.", ru)
    res.claim("cca_visual", f"The BOLD loadings of mode 1 are {vis_ratio:.1f} times larger inside the true visual "
              "source than in the other localiser voxels.", vis_ratio)
    res.claim("jica_truth", f"jICA component {kbest + 1}'s trial loadings correlate |r| = {rj[kbest]:.2f} with the true "
              f"amplitudes; its map part is {j_ratio:.1f} times larger in the visual source.", rj[kbest])
    res.table = table(["", "measure", "value"], [
        ["CCA", "canonical correlation, mode 1", f"{r1:.3f}"],
        ["CCA", "|r| EEG variate vs true amplitude", f"{ru:.3f}"],
        ["CCA", "|r| fMRI variate vs true amplitude", f"{rv:.3f}"],
        ["CCA", "loading ratio visual / rest", f"{vis_ratio:.2f}"],
        *[["jICA", f"|r| loadings of component {k + 1} vs true amplitude", f"{v:.3f}"] for k, v in enumerate(rj)],
        ["jICA", f"map ratio visual / rest, component {kbest + 1}", f"{j_ratio:.2f}"],
    ])
    res.answers = {"cca_finds": "yes" if max(ru, rv) > 0.3 else "no", "r1": r1,
                   "where": "visual source" if vis_ratio > 1.0 else "elsewhere"}

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(121)
        ax.plot(u1, v1, "o", ms=4)
        ax.set_xlabel("EEG canonical variate U1")
        ax.set_ylabel("fMRI canonical variate V1")
        ax.set_title(f"CCA mode 1, r = {r1:.2f}")
        ax2 = fig.add_subplot(122)
        ax2.plot(truth_amp, u1 * np.sign(np.corrcoef(u1, truth_amp)[0, 1]), "o", ms=4, color="C1")
        ax2.set_xlabel("true trial amplitude (phantom)")
        ax2.set_ylabel("U1 (sign aligned)")
        ax2.set_title(f"|r| = {ru:.2f}")

    def draw_jica(fig: Any) -> None:
        cx = np.asarray(jica.matrices["components_x"]["values"], float)
        ax = fig.add_subplot(111)
        for k in range(cx.shape[0]):
            ax.plot(f["erp_times"] * 1e3, cx[k], lw=2 if k == kbest else 0.8,
                    label=f"component {k + 1} (|r| with amplitudes {rj[k]:.2f})")
        ax.set_xlabel("time after the visual stimulus (ms)")
        ax.set_ylabel("ERP part (standardised)")
        ax.legend(fontsize="small")

    res.figures = [
        LessonFigure("CCA: the shared trial-by-trial variation", draw,
                     "Each point is one visual trial.", (8, 3.5)),
        LessonFigure("jICA: the ERP part of each joint component", draw_jica,
                     "Components share one set of trial loadings between the ERP at Oz and the voxel map.", (7, 3.5)),
    ]
    res.notes.append(f"{len(truth_amp)} visual trials; X: ERP {WINDOW[0] * 1e3:.0f}-{WINDOW[1] * 1e3:.0f} ms at every "
                     f"channel (CCA) or the 0-400 ms ERP at Oz (jICA); Y: each trial's BOLD amplitude "
                     f"(least-squares-separate GLM) in the {f['bold_rise'].shape[1]} voxels that follow the visual "
                     "task best.")
    return res


LESSON = Lesson(
    id="symmetric",
    chapter=9,
    title="Symmetric fusion: CCA and joint ICA",
    summary="CCA finds variance the EEG and fMRI share; jICA finds components that generate both.",
    text=(
        "EEG-informed fMRI and fMRI-informed EEG use one modality to explain the other. *Symmetric* methods treat "
        "them as equals and look for what they have in common, observation by observation (here: trial by trial).",
        "*Canonical correlation analysis* (CCA) finds a weighted sum of the EEG features and one of the fMRI "
        "features that are as correlated as possible across trials. It finds shared *variance*, whatever produces it.",
        "*Joint ICA* assumes both modalities are made by the same few hidden sources, each with one loading per "
        "trial, and finds sources that are statistically independent: shared *generative structure*.",
        "Neither method is told which trials were strong. The phantom knows: its visual trials vary in amplitude, "
        "in the EEG and in the BOLD of the visual source alike.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("cca_finds", "Does CCA's first mode follow the true trial amplitudes (|r| above 0.3)?",
                 choices=("yes", "no"), explain="The amplitude is the variance the two modalities share."),
        Question("r1", "What is the first canonical correlation?", kind="number", rel_tol=0.05, abs_tol=0.02,
                 explain="Read it off: note how high it is even with a crude BOLD measure, and that CCA will find "
                         "some correlation in any data (hence the permutation test)."),
        Question("where", "Where are mode 1's BOLD loadings larger?", choices=("visual source", "elsewhere"),
                 explain="The voxels whose BOLD follows the trial amplitudes."),
    ),
    engine=("plugins cca and jica (via workbench.plugin_api.run_method)",),
    plugins=('cca', 'jica'),
)
