"""Lesson 2, the temporal handshake: two clocks that drift apart, and the α/β fit.

The scanner and the EEG amplifier each keep their own time. The phantom's clock model
(:mod:`workbench.engine.phantom.clock`, ``t_EEG = alpha * t_MRI + beta``) produces the
volume triggers as the EEG records them (sample-quantised, jittered); the sync engine
(:func:`~workbench.engine.sync.repair_triggers`, :func:`~workbench.engine.sync.fit_clock`)
fits α and β; both are scored against the phantom's exact clock.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.phantom.clock import make_timeline, make_triggers
from ..engine.phantom.config import PhantomConfig
from ..engine.steps.params import Param
from ..engine.sync import fit_clock, repair_triggers
from .base import Lesson, LessonFigure, LessonResult, Question, table

DURATIONS_MIN = (1.0, 5.0, 10.0, 20.0, 30.0, 60.0)

PARAMS = (
    Param("drift_ppm", "float", 10.0, "How much faster the EEG clock runs than the scanner's (parts per million); "
          "amplifier crystals are typically within ±10-50 ppm.", minimum=-200.0, maximum=200.0, unit="ppm", label="drift"),
    Param("duration_min", "float", 20.0, "Length of the scan (minutes).", minimum=1.0, maximum=90.0, unit="min", label="scan length"),
    Param("tr", "float", 2.0, "Repetition time: one volume trigger per TR (s).", minimum=0.5, maximum=5.0, unit="s", label="TR"),
    Param("sfreq", "float", 5000.0, "EEG sampling rate (Hz): triggers are registered on the next sample.",
          minimum=500.0, maximum=20000.0, unit="Hz", label="EEG rate"),
    Param("jitter_us", "float", 20.0, "Random latency of each recorded trigger (µs, SD).", minimum=0.0,
          maximum=2000.0, unit="µs", label="trigger jitter"),
    Param("seed", "int", 0, "Seed of the simulated session.", minimum=0),
)


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    res = LessonResult(params)
    drift, sfreq, tr = params["drift_ppm"], params["sfreq"], params["tr"]
    scan_s = params["duration_min"] * 60.0
    cfg = PhantomConfig(duration_s=scan_s + 3.0 + tr, sfreq=sfreq, tr=tr, slices=max(1, min(30, int(tr / 0.02))),
                        drift_ppm=drift, trigger_jitter_s=params["jitter_us"] * 1e-6, seed=params["seed"])
    rng = np.random.default_rng([params["seed"], 4])
    tl = make_timeline(cfg, rng)
    trig = make_triggers(cfg, tl, np.random.default_rng([params["seed"], 5]))
    progress(0.3, "triggers recorded")
    train = repair_triggers(trig.recorded_eeg, period=tr * cfg.alpha)
    fit = fit_clock(train, tr=tr)
    progress(0.7, "clock fitted")

    t_mri = trig.true_mri
    true_eeg = trig.true_eeg
    first_only = trig.recorded_eeg[0] + (t_mri - t_mri[0])  # align the first trigger, assume equal clocks
    err_first = (first_only - true_eeg) * 1e3  # ms
    err_fit = (fit.eeg_time(t_mri) - true_eeg) * 1e6  # µs
    run_s = float(t_mri[-1] - t_mri[0])
    mismatch_ms = float(abs(err_first[-1]))
    sample_us = 1e6 / sfreq
    res.claim("mismatch_ms", f"{drift:g} ppm over {run_s / 60:.1f} min: aligning only the first trigger leaves the "
              f"clocks {mismatch_ms:.2f} ms apart at the last volume.", mismatch_ms, "ms")
    res.claim("mismatch_samples", f"That is {mismatch_ms * 1e-3 * sfreq:.1f} EEG samples at {sfreq:g} Hz.",
              mismatch_ms * 1e-3 * sfreq, "samples")
    if drift != 0:
        t_one = 1.0 / (abs(drift) * 1e-6 * sfreq)
        res.claim("one_sample_s", f"The clocks drift one sample apart every {t_one:.1f} s: a gradient template "
                  "averaged over longer than that is smeared unless the drift is corrected.", t_one, "s")
    res.claim("fitted_ppm", f"The α/β fit to {fit.n_used} triggers measures {fit.drift_ppm:.2f} ppm "
              f"(truth {drift:g} ppm; 95 % CI {fit.drift_ppm_ci[0]:.2f} to {fit.drift_ppm_ci[1]:.2f}).",
              fit.drift_ppm, "ppm")
    max_fit = float(np.abs(err_fit).max())
    res.claim("fit_error_us", f"After the fit, the largest error in any volume's EEG time is {max_fit:.1f} µs "
              f"({max_fit / sample_us:.2f} samples).", max_fit, "µs")
    rows = []
    for d in DURATIONS_MIN:
        t_end = d * 60.0
        m = float(abs((tl.to_eeg(t_end) - tl.to_eeg(0.0)) - t_end)) * 1e3
        rows.append([f"{d:g}", f"{m:.2f}", f"{m * 1e-3 * sfreq:.1f}"])
    res.table = table(["scan (min)", "first-trigger-only mismatch (ms)", f"samples at {sfreq:g} Hz"], rows)
    res.answers = {"mismatch": mismatch_ms, "fitted": float(fit.drift_ppm),
                   "subsample": "yes" if max_fit < sample_us else "no"}

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(121)
        ax.plot(t_mri / 60, err_first, label="first trigger only")
        ax.plot(t_mri / 60, err_fit * 1e-3, label="α/β fit")
        ax.set_xlabel("scanner time (min)")
        ax.set_ylabel("EEG time error (ms)")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
        ax2 = fig.add_subplot(122)
        ax2.plot(t_mri / 60, err_fit, ".", ms=2)
        ax2.axhline(sample_us / 2, color="0.5", ls=":", lw=1)
        ax2.axhline(-sample_us / 2, color="0.5", ls=":", lw=1, label="± half a sample")
        ax2.set_xlabel("scanner time (min)")
        ax2.set_ylabel("error after fit (µs)")
        ax2.legend(fontsize="small")
        ax2.grid(alpha=0.3)

    res.figures = [LessonFigure("Timing error of every volume, against the true clock", draw,
                                "Left: the error grows linearly without a drift fit. Right: what the fit leaves "
                                "(trigger quantisation and jitter).", (8, 3.5))]
    res.notes.append(f"{len(t_mri)} volume triggers simulated by the phantom's clock model; "
                     f"jitter {params['jitter_us']:g} µs SD.")
    return res


LESSON = Lesson(
    id="drift",
    chapter=2,
    title="The temporal handshake: clock drift",
    summary="Two clocks drift apart; what aligning only the first trigger leaves; the α/β fit.",
    text=(
        "The scanner and the EEG amplifier are two instruments with two clocks. Even good crystals differ "
        "by a few parts per million (ppm): one microsecond per second for every ppm.",
        "If we align the two recordings on the first volume trigger and assume the clocks agree, the error "
        "grows linearly through the run. Ten ppm sounds tiny, but over a 20-minute scan it adds up to about "
        "twelve milliseconds, which is sixty samples at 5 kHz and more than a whole slice of some sequences.",
        "The fix is to fit a straight line through *every* trigger: t_EEG = α·t_MRI + β. The slope α carries "
        "the drift, the offset β the start. A robust fit (Tukey weights) ignores a spurious trigger. After it, "
        "the EEG can be resampled onto the scanner's time base, or the artifact template placed at the "
        "fitted times with sub-sample precision.",
        "Change the drift and the scan length: the first-trigger error scales with both; the fit's error does not.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("mismatch", "With these settings, how many milliseconds apart are the clocks at the last volume if "
                 "only the first trigger is aligned?", kind="number", unit="ms", rel_tol=0.1, abs_tol=0.05,
                 explain="drift (ppm) × 1e-6 × run length (s): 10 ppm × 1200 s = 12 ms."),
        Question("fitted", "What drift does the α/β fit measure?", kind="number", unit="ppm", rel_tol=0.1,
                 abs_tol=0.5, explain="The slope of EEG time against scanner time, minus one, in millionths."),
        Question("subsample", "After the fit, is every volume's EEG time right to within one sample?",
                 choices=("yes", "no"), explain="Hundreds of triggers average out the sample quantisation of each."),
    ),
    engine=("workbench.engine.phantom.clock", "workbench.engine.sync.repair_triggers",
            "workbench.engine.sync.fit_clock"),
)
