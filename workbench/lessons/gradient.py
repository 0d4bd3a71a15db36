"""Lesson 3, Faraday's law: the gradient artifact, and what averaged artifact subtraction needs.

The phantom's gradient artifact is the EMF ``-dG/dt · M`` of every electrode's lead loop
(:mod:`workbench.engine.phantom.gradient`); the lesson checks that on the recording, then
corrects a few channels of the phantom's recording with the engine's slot-matched AAS
(:func:`workbench.engine.gradient.remove_gradient`, what the ``gradient`` step runs) for
several template windows, with and without sub-sample alignment, scored against the
phantom's gradient-free truth (:func:`workbench.engine.phantom.scoring.score_gradient`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

#: channels corrected in the experiment (a few, so each correction takes a second or two)
CHANNELS = ("Fp1", "F8", "T7", "Cz", "Pz", "O1")
WINDOWS = (2, 5, 10, 20, 40)

PARAMS = (
    Param("window", "int", 20, "Volumes averaged into each template (same slice slot, neighbouring volumes); "
          "typical 10-30.", minimum=1, maximum=40, unit="volumes"),
    Param("align", "bool", True, "Re-align every volume to its template with sub-sample precision before "
          "subtracting.", label="sub-sample alignment"),
    Param("sweep", "bool", True, "Also run the windows 2, 5, 10, 20, 40 (aligned) for the table.", label="sweep windows"),
)


def _faraday(truth: Any, study_cfg: dict[str, Any], names: list[str]) -> tuple[np.ndarray, np.ndarray, Any]:
    """Per-channel artifact RMS: measured (truth) and predicted by ``dG/dt · M`` (relative)."""
    from ..engine.phantom.gradient import epi_waveform

    period = (study_cfg["tr"] - study_cfg.get("dead_time_s", 0.0)) / (study_cfg["slices"] // study_cfg.get("multiband", 1))
    wf = epi_waveform(period)
    tau = np.arange(0.0, wf.duration, 2e-6)
    dg = np.gradient(wf.at(tau), tau, axis=1)  # T/m/s, (3, n)
    moments = np.load(truth.path(truth.meta["loop_moments"]))  # (n_ch, 3) m³
    idx = [truth.ch_names.index(n) for n in names]
    predicted = np.sqrt(((moments[idx] @ dg) ** 2).mean(1))
    grad = truth.arrays["gradient"]
    s0 = int(truth.triggers["recorded_sample"][0])
    s1 = min(s0 + int(4 * study_cfg["tr"] * truth.sfreq), grad.shape[1])
    measured = np.sqrt((np.asarray(grad[idx, s0:s1], float) ** 2).mean(1))
    return measured, predicted, wf


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    from ..engine.gradient import GradientParams, remove_gradient
    from ..engine.phantom.scoring import score_gradient
    from ..engine.sync import synchronise
    from .phantom import BASE, load_study

    res = LessonResult(params)
    study = load_study(progress=progress.sub(0.0, 0.3))
    truth = study.truth
    raw = study.eeg.copy().pick(list(CHANNELS)).load_data()
    sync = synchronise(raw, tr=BASE["tr"], duration_s=raw.n_times / raw.info["sfreq"])
    progress(0.35, "synchronised")

    eeg_names = [n for n, t in zip(truth.ch_names, truth.meta["ch_types"]) if t == "eeg"]
    measured, predicted, wf = _faraday(truth, BASE, eeg_names)
    r_faraday = float(np.corrcoef(measured, predicted)[0, 1])
    peak_mv = float(np.abs(np.asarray(truth.arrays["gradient"][: len(eeg_names)], float)).max() * 1e3)
    eeg_uv = float(np.std(np.asarray(truth.arrays["clean"][: len(eeg_names)], float)) * 1e6)
    res.claim("faraday_r", f"Across the {len(eeg_names)} EEG channels, the artifact's size follows dG/dt × the lead "
              f"loop's gradient moment (Faraday's law): r = {r_faraday:.3f}.", r_faraday)
    res.claim("artifact_peak_mv", f"The artifact peaks at {peak_mv:.1f} mV, against an EEG of {eeg_uv:.0f} µV RMS "
              f"(~{peak_mv * 1e3 / eeg_uv:.0f} times larger).", peak_mv, "mV")

    def correct(window: int, align: bool) -> dict[str, Any]:
        r = remove_gradient(raw, params=GradientParams(window=window, align=align), sync=sync)
        q = score_gradient(r, truth)
        return {"nrmse": float(q["nrmse"]), "r": float(q["correlation"]), "result": r}

    main = correct(params["window"], params["align"])
    progress(0.5, "corrected")
    res.claim("nrmse", f"Window {params['window']} volumes, alignment {'on' if params['align'] else 'off'}: the "
              f"corrected EEG differs from the true gradient-free EEG by NRMSE {main['nrmse']:.3f} "
              f"(r = {main['r']:.3f}).", main["nrmse"])
    answers: dict[str, Any] = {"nrmse": main["nrmse"]}
    w, a = params["window"], params["align"]
    grid: dict[tuple[int, bool], float] = {(w, a): main["nrmse"]}
    todo = [(20, True), (20, False), (2, True)]
    if params["sweep"]:
        todo += [(x, True) for x in WINDOWS]
    todo = [k for k in dict.fromkeys(todo) if k not in grid]
    for k, key in enumerate(todo):
        grid[key] = correct(*key)["nrmse"]
        progress(0.5 + 0.45 * (k + 1) / len(todo), f"window {key[0]}, align {key[1]}")
    res.claim("nrmse_w2", f"With only 2 volumes per template: NRMSE {grid[(2, True)]:.3f}.", grid[(2, True)])
    res.claim("nrmse_w20", f"With 20 volumes: NRMSE {grid[(20, True)]:.3f}.", grid[(20, True)])
    res.claim("nrmse_w20_noalign", f"At window 20 without sub-sample alignment: NRMSE {grid[(20, False)]:.3f} "
              f"({(grid[(20, False)] / grid[(20, True)] - 1) * 100:.0f} % more error).", grid[(20, False)])
    answers["window_more"] = "lower" if grid[(20, True)] < grid[(2, True)] else "higher"
    answers["align"] = "yes" if grid[(20, True)] < grid[(20, False)] else "no"
    rows = [[x, "on" if al else "off", f"{v:.3f}"] for (x, al), v in sorted(grid.items(), key=lambda kv: (kv[0][0], not kv[0][1]))]
    res.table = table(["window (volumes)", "alignment", "NRMSE vs truth"], rows)
    res.answers = answers

    sf = float(raw.info["sfreq"])
    ch = CHANNELS.index("Cz")
    s0 = int(truth.triggers["recorded_sample"][5])
    span = slice(s0, s0 + int(0.25 * sf))
    t_ms = np.arange(span.stop - span.start) / sf * 1e3
    rec = raw.get_data(picks=[ch])[0, span] * 1e6
    cor = main["result"].raw.get_data(picks=[ch])[0, span] * 1e6
    true_free = score_truth(truth, "Cz", span)

    def draw_faraday(fig: Any) -> None:
        tau = np.arange(0.0, wf.duration, 2e-6)
        g = wf.at(tau)
        ax = fig.add_subplot(131)
        for k, lab in enumerate(("Gx read", "Gy phase", "Gz slice")):
            ax.plot(tau * 1e3, g[k] * 1e3, lw=0.8, label=lab)
        ax.set_xlabel("time in one slice (ms)")
        ax.set_ylabel("gradient (mT/m)")
        ax.legend(fontsize="x-small")
        ax.set_title("EPI gradients G(t)")
        ax2 = fig.add_subplot(132)
        ax2.plot(tau * 1e3, np.gradient(g[0], tau) * 1e-3, lw=0.6)
        ax2.set_xlabel("time in one slice (ms)")
        ax2.set_ylabel("dGx/dt (T/m/s ×1000)")
        ax2.set_title("its rate of change")
        ax3 = fig.add_subplot(133)
        ax3.plot(predicted / predicted.max(), measured / measured.max(), "o")
        ax3.plot([0, 1], [0, 1], color="0.6", lw=0.8)
        ax3.set_xlabel("predicted: |dG/dt · M| (rel.)")
        ax3.set_ylabel("measured artifact RMS (rel.)")
        ax3.set_title(f"all channels: r = {r_faraday:.3f}", fontsize="medium")

    def draw_correction(fig: Any) -> None:
        ax = fig.add_subplot(121)
        ax.plot(t_ms, rec / 1e3, lw=0.6)
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("Cz recorded (mV)")
        ax.set_title("recorded")
        ax2 = fig.add_subplot(122)
        ax2.plot(t_ms, true_free, color="k", lw=1.2, label="truth (no gradient)")
        ax2.plot(t_ms, cor, color="C1", lw=0.8, label="corrected")
        ax2.set_xlabel("time (ms)")
        ax2.set_ylabel("Cz (µV)")
        ax2.set_title(f"after AAS (window {params['window']})")
        ax2.legend(fontsize="small")

    res.figures = [
        LessonFigure("Faraday's law: the artifact is dG/dt through each lead loop", draw_faraday,
                     "The EEG sees the rate of change of the gradients, scaled by each wire loop's geometry.", (10, 3.3)),
        LessonFigure("A quarter second of Cz, before and after the correction", draw_correction,
                     "The corrected trace (orange) against the phantom's gradient-free truth (black; low-passed "
                     "at 70 Hz like the output).", (9, 3.3)),
    ]
    res.notes.append(f"Channels corrected: {', '.join(CHANNELS)} (a subset, for speed; the step corrects all). "
                     "Multiband slot matching is not part of this experiment (the phantom here is single-band).")
    return res


def score_truth(truth: Any, name: str, span: slice) -> np.ndarray:
    """The true gradient-free trace of one channel (µV), low-passed at 70 Hz like the corrected output."""
    import mne

    from ..engine.phantom.scoring import TruthEEG

    x = TruthEEG(truth).get_data([name])[0]
    x = mne.filter.filter_data(x, truth.sfreq, None, 70.0, verbose=False)
    return x[span] * 1e6


LESSON = Lesson(
    id="gradient",
    chapter=3,
    title="Faraday's law: the gradient artifact",
    summary="The artifact is dG/dt through each lead loop; AAS window and sub-sample alignment vs residual.",
    text=(
        "Every EPI slice switches magnetic field gradients on and off within microseconds. By Faraday's law a "
        "changing flux through a wire loop induces a voltage: EMF = -dΦ/dt. Each EEG electrode, its lead and the "
        "reference lead form such a loop, so each channel records -dG/dt · M, where M is the loop's gradient "
        "moment (its area and position in the field). The result is millivolts, a thousand times the EEG.",
        "Because the same gradients repeat every slice, the artifact repeats too. *Averaged artifact "
        "subtraction* (AAS) averages the artifact over neighbouring volumes at the same slice slot and subtracts "
        "that template. The EEG is not time-locked to the scanner, so it averages away: with a window of N "
        "volumes, about 1/√N of it leaks into the template and is subtracted with it.",
        "A long window averages better but follows a changing artifact (head motion, breathing) less closely. "
        "And the EEG clock is not the scanner's: each slice falls at a different sub-sample phase, so without "
        "*sub-sample alignment* the template is smeared and the steep edges are left behind.",
        "Change the window and switch alignment off: the table scores each against the phantom's true "
        "gradient-free EEG.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("window_more", "Going from 2 to 20 volumes per template, does the error against the truth get "
                 "lower or higher?", choices=("lower", "higher"),
                 explain="With 2 volumes the template still contains half of the EEG's power, which is subtracted with it."),
        Question("align", "At window 20, does sub-sample alignment lower the error?", choices=("yes", "no"),
                 explain="Slices fall at different sub-sample phases of the EEG clock; aligning sharpens the template."),
        Question("nrmse", "What NRMSE does your setting leave (against the true gradient-free EEG)?", kind="number",
                 rel_tol=0.1, abs_tol=0.01, explain="Read it off the result: the phantom knows the true EEG."),
    ),
    engine=("workbench.engine.sync.synchronise", "workbench.engine.gradient.remove_gradient",
            "workbench.engine.phantom.scoring.score_gradient", "workbench.engine.phantom.gradient"),
)
