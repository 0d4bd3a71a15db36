"""Lesson 4, the ballistocardiogram: v×B from pulse-driven head motion; AAS vs OBS; R-peak errors.

Starts from the phantom's recording with the gradient artifact and mains taken out
exactly (:class:`~workbench.engine.phantom.scoring.TruthEEG`, "as if the gradient lesson's
correction were perfect"), finds the R-peaks with the engine's detector
(:func:`~workbench.engine.cardiac.detect_rpeaks`), removes the BCG with
:func:`~workbench.engine.cardiac.remove_bcg` (AAS and OBS, what the ``cardiac`` step runs),
and scores how much of the true BCG is left. R-peak errors are made by shifting each
detected beat at random by the chosen amount.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

JITTERS_MS = (0.0, 5.0, 10.0, 20.0, 40.0)
#: channels corrected (a subset across the head, so the experiment's ten corrections take seconds)
CHANNELS = ("Fp1", "F3", "C3", "Cz", "P3", "Pz", "O1", "T8")
BAND = (0.5, 30.0)

PARAMS = (
    Param("method", "choice", "aas", "How the pulse artifact is estimated: 'aas' averages the neighbouring beats, "
          "'obs' fits a mean and principal components to every beat.", choices=("aas", "obs")),
    Param("window", "int", 21, "Beats in the sliding template (AAS) or used for the components (OBS).",
          minimum=5, maximum=61, unit="beats"),
    Param("rpeak_error_ms", "float", 0.0, "Random error added to every R-peak time (SD, ms): what a poor in-scanner "
          "ECG does to the beat times.", minimum=0.0, maximum=100.0, unit="ms", label="R-peak error"),
    Param("seed", "int", 0, "Seed of the R-peak errors.", minimum=0),
)


def _bandpass(x: np.ndarray, sfreq: float) -> np.ndarray:
    import mne

    return mne.filter.filter_data(x, sfreq, BAND[0], BAND[1], verbose=False)


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    from ..engine.cardiac import BCGParams, detect_rpeaks, match_beats, remove_bcg
    from ..engine.phantom.scoring import TruthEEG
    from .phantom import load_study

    res = LessonResult(params)
    study = load_study(progress=progress.sub(0.0, 0.3))
    truth = study.truth
    sf = float(truth.sfreq)
    eeg_names = [n for n in CHANNELS if n in truth.ch_names]
    ecg_name = truth.ch_names[truth.meta["ch_types"].index("ecg")]
    free = TruthEEG(truth)
    data = free.get_data(eeg_names)
    ecg = free.get_data([ecg_name])[0]
    idx = [truth.ch_names.index(n) for n in eeg_names]
    bcg_true = np.asarray(truth.arrays["bcg"][idx], float)
    target = data - bcg_true  # what a perfect BCG correction leaves
    bcg_bp = _bandpass(bcg_true, sf)
    bcg_rms = float(np.sqrt((bcg_bp ** 2).mean()))
    progress(0.35, "data ready")

    beats = detect_rpeaks(ecg, sf)
    true_r = np.asarray(truth.rpeaks, float)
    f1 = float(match_beats(beats.times, true_r, tol_s=0.01)["f1"])
    progress(0.45, "R-peaks")

    def left_pct(method: str, jitter_ms: float) -> tuple[float, np.ndarray]:
        rng = np.random.default_rng([params["seed"], int(jitter_ms * 10)])
        r = np.sort(beats.times + rng.normal(0.0, jitter_ms * 1e-3, len(beats.times)))
        art = remove_bcg(data, sf, r, BCGParams(method=method, window=params["window"])).artifact
        resid = _bandpass(data - art - target, sf)
        return float(np.sqrt((resid ** 2).mean()) / bcg_rms * 100), art

    main_left, main_art = left_pct(params["method"], params["rpeak_error_ms"])
    other = "obs" if params["method"] == "aas" else "aas"
    other_left, _ = left_pct(other, params["rpeak_error_ms"])
    progress(0.6, "corrected")
    grid = {(params["method"], params["rpeak_error_ms"]): main_left, (other, params["rpeak_error_ms"]): other_left}
    todo = [(meth, j) for j in JITTERS_MS for meth in ("aas", "obs") if (meth, j) not in grid]
    for k, (meth, j) in enumerate(todo):
        grid[(meth, j)] = left_pct(meth, j)[0]
        progress(0.6 + 0.35 * (k + 1) / len(todo), f"{meth}, R-peak error {j:g} ms")

    bcg_peak = float(np.abs(bcg_bp).max() * 1e6)
    eeg_rms = float(np.sqrt((_bandpass(np.asarray(truth.arrays["clean"][idx], float), sf) ** 2).mean()) * 1e6)
    res.claim("bcg_uv", f"The BCG reaches {bcg_peak:.0f} µV ({BAND[0]:g}-{BAND[1]:g} Hz), against an EEG of "
              f"{eeg_rms:.0f} µV RMS: the head rocks with every heartbeat in the 3 T field, and moving conductors "
              "in a field induce a voltage (v × B).", bcg_peak, "µV")
    res.claim("rpeak_f1", f"The engine's detector finds the R-peaks with F1 {f1:.3f} (±10 ms of the truth).", f1)
    res.claim("left_main", f"{params['method'].upper()} with {params['rpeak_error_ms']:g} ms R-peak error leaves "
              f"{main_left:.1f} % of the BCG.", main_left, "%")
    res.claim("left_other", f"{other.upper()} on the same beats leaves {other_left:.1f} %.", other_left, "%")
    res.claim("left_aas_20ms", f"AAS with 20 ms R-peak error leaves {grid[('aas', 20.0)]:.1f} % "
              f"(exact beats: {grid[('aas', 0.0)]:.1f} %).", grid[("aas", 20.0)], "%")
    res.table = table(["R-peak error (ms)", "BCG left, AAS (%)", "BCG left, OBS (%)"],
                      [[f"{j:g}", f"{grid[('aas', j)]:.1f}", f"{grid[('obs', j)]:.1f}"] for j in JITTERS_MS])
    res.answers = {
        "better": "AAS" if grid[("aas", params["rpeak_error_ms"])] < grid[("obs", params["rpeak_error_ms"])] else "OBS",
        "jitter": "more" if grid[("aas", 20.0)] > grid[("aas", 0.0)] else "less",
        "left": main_left,
    }

    ch = eeg_names.index("Pz") if "Pz" in eeg_names else 0
    s0 = int(true_r[len(true_r) // 2] * sf) - int(0.5 * sf)
    span = slice(max(s0, 0), max(s0, 0) + int(3 * sf))
    t = np.arange(span.stop - span.start) / sf
    before = _bandpass(data[ch:ch + 1], sf)[0, span] * 1e6
    after = _bandpass(data[ch:ch + 1] - main_art[ch:ch + 1], sf)[0, span] * 1e6
    goal = _bandpass(target[ch:ch + 1], sf)[0, span] * 1e6
    rs = true_r[(true_r * sf >= span.start) & (true_r * sf < span.stop)] - span.start / sf

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(211)
        ax.plot(t, before, lw=0.8, label="after gradient removal")
        for r in rs:
            ax.axvline(r, color="r", lw=0.6, ls=":")
        ax.set_ylabel(f"{eeg_names[ch]} (µV)")
        ax.legend(fontsize="small", loc="upper right")
        ax2 = fig.add_subplot(212, sharex=ax)
        ax2.plot(t, goal, color="k", lw=1.2, label="truth (no BCG)")
        ax2.plot(t, after, color="C1", lw=0.8, label=f"{params['method'].upper()} corrected")
        ax2.set_xlabel("time (s); dotted: true R-peaks")
        ax2.set_ylabel("µV")
        ax2.legend(fontsize="small", loc="upper right")

    def draw_jitter(fig: Any) -> None:
        ax = fig.add_subplot(111)
        for meth in ("aas", "obs"):
            ax.plot(JITTERS_MS, [grid[(meth, j)] for j in JITTERS_MS], "o-", label=meth.upper())
        ax.set_xlabel("R-peak error (ms SD)")
        ax.set_ylabel("BCG left (%)")
        ax.grid(alpha=0.3)
        ax.legend()

    res.figures = [
        LessonFigure("Three seconds of Pz: the pulse artifact, and after its removal", draw,
                     "Top: the recording without the gradient artifact; bottom: corrected vs the true BCG-free EEG.",
                     (8, 4.5)),
        LessonFigure("What R-peak errors do", draw_jitter, "The template is averaged at the beat times: errors "
                     "smear it, and the artifact's steep parts are left behind.", (6, 3.5)),
    ]
    res.notes.append("Input: the phantom's recording minus its true gradient artifact and mains (exact), so only "
                     "the BCG problem is left. 'BCG left' is the RMS of the corrected minus the true BCG-free EEG "
                     f"over the RMS of the true BCG, {BAND[0]:g}-{BAND[1]:g} Hz, over {', '.join(eeg_names)} (a subset, for speed).")
    return res


LESSON = Lesson(
    id="bcg",
    chapter=4,
    title="The ballistocardiogram",
    summary="v×B from pulse-driven head motion; AAS vs OBS; what R-peak errors do.",
    text=(
        "Inside the scanner every heartbeat moves the head a little: the pulse rocks it and the scalp arteries "
        "expand. A conductor moving in a magnetic field has a voltage induced in it (v × B), so the EEG picks up "
        "a *ballistocardiogram* (BCG): tens of microvolts, a quarter of a second after each R-peak of the ECG, "
        "with a different shape on every channel.",
        "It is locked to the heartbeat, not to the scanner, so we need the beat times: R-peaks from the ECG, "
        "which inside the scanner is itself distorted. *AAS* subtracts the average of the neighbouring beats. "
        "*OBS* (optimal basis set) fits each beat with the mean and a few principal components of the beats, "
        "which follows beat-to-beat changes but can also fit some EEG.",
        "Both place the template at the R-peaks. An error in the R-peak times smears the template and leaves "
        "the artifact's steep parts in the EEG. Add R-peak errors and compare AAS with OBS.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("better", "With your R-peak error, which method leaves less of the BCG?", choices=("AAS", "OBS"),
                 explain="It depends on the data: AAS's average is robust when beats look alike; OBS's components "
                         "follow beat-to-beat changes (and part of a timing error) but can also fit some EEG."),
        Question("jitter", "Does a 20 ms R-peak error leave more or less BCG than exact beats (AAS)?",
                 choices=("more", "less"), explain="Misplaced beats average into a smeared template."),
        Question("left", "How much of the BCG (in %) does your setting leave?", kind="number", unit="%",
                 rel_tol=0.15, abs_tol=1.0, explain="Read it off: the phantom knows the true BCG."),
    ),
    engine=("workbench.engine.cardiac.detect_rpeaks", "workbench.engine.cardiac.remove_bcg",
            "workbench.engine.phantom.scoring.TruthEEG"),
)
