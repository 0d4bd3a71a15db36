"""Lesson 5, cleanup: the notch and ICA, and what over-cleaning takes from the brain.

Starts from the phantom's EEG with its gradient and BCG artifacts taken out exactly
(clean EEG + mains + blinks + slow drifts, from the phantom's truth components), runs the
``notch`` and ``ica`` steps through the :class:`~workbench.engine.runner.Runner` (the same
declarations the pipeline runs), then removes more and more components beyond those the
step flagged, scoring each against the phantom's true clean EEG and its true visual ERP.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

BAND = (1.0, 40.0)
ERP_CHANNEL = "Oz"
ERP_WINDOW = (0.12, 0.22)  # s: the phantom's visual N1 peaks at 170 ms
#: the phantom's 2.5 kHz is decimated to this rate (enough for 50 Hz mains and 3 harmonics), so the
#: experiment's ICA, filters and six re-mixes take seconds
RATE = 500.0

PARAMS = (
    Param("extra", "int", 3, "Components removed beyond those the ICA step flagged (the largest remaining ones "
          "first): over-cleaning.", minimum=0, maximum=20, unit="components", label="extra removed"),
    Param("z_threshold", "float", 3.0, "The ICA step's detection threshold (robust z-score of the EOG correlation); "
          "lower flags more components.", minimum=1.0, maximum=10.0, label="detection z"),
    Param("components", "int", 12, "Components the ICA estimates (fewer: a faster fit; the ICA step's own "
          "default keeps 99 % of the variance).", minimum=4, maximum=30),
    Param("notch", "bool", True, "Run the line-noise notch before the ICA."),
)


def _decimate(x: np.ndarray, factor: int) -> np.ndarray:
    from scipy.signal import decimate

    return decimate(np.asarray(x, float), factor, ftype="fir", zero_phase=True, axis=-1) if factor > 1 else np.asarray(x, float)


def _recording(truth: Any, factor: int) -> Any:
    """The phantom's EEG (+EOG, ECG) without its gradient and BCG artifacts, as an mne Raw at the lesson's rate."""
    import mne

    arrays = truth.arrays
    data = sum(_decimate(arrays[k], factor) for k in ("clean", "line", "blink", "drift"))
    info = mne.create_info(list(truth.ch_names), float(truth.sfreq) / factor, list(truth.meta["ch_types"]))
    return mne.io.RawArray(data, info, verbose="error")


def _band(x: np.ndarray, sf: float) -> np.ndarray:
    import mne

    return mne.filter.filter_data(x, sf, BAND[0], BAND[1], verbose=False)


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    import tempfile

    from ..engine.runner import Runner
    from ..engine.steps import builtin_steps
    from ..engine.study import Study
    from .phantom import load_study

    res = LessonResult(params)
    truth = load_study(progress=progress.sub(0.0, 0.25)).truth
    factor = max(int(round(float(truth.sfreq) / RATE)), 1)
    sf = float(truth.sfreq) / factor
    study = Study()
    study.set_raw(_recording(truth, factor))
    eeg_idx = [i for i, t in enumerate(truth.meta["ch_types"]) if t == "eeg"]
    eeg_names = [truth.ch_names[i] for i in eeg_idx]
    clean = _decimate(truth.arrays["clean"][eeg_idx], factor)
    blink = _decimate(truth.arrays["blink"][eeg_idx], factor)
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(study, builtin_steps(), tmp, write_files=False, score=False)
        notch_qc: dict[str, Any] = {}
        if params["notch"]:
            notch_qc = runner.run_step("notch", progress=progress.sub(0.25, 0.35)).qc
        ica_res = runner.run_step("ica", {"z_threshold": params["z_threshold"],
                                                 "n_components": params["components"]}, progress=progress.sub(0.35, 0.75))
    progress(0.8, "ICA done")
    ica = ica_res.details["ica"]
    before = ica_res.details["before"]
    flagged = list(ica_res.details["excluded"])
    order = [int(i) for i in np.argsort(ica_res.details["component_variance"])[::-1] if int(i) not in flagged]

    clean_b = _band(clean, sf)
    blink_b = _band(blink, sf)
    onsets = np.asarray(truth.events["onset_sample"])[np.asarray(truth.events["condition"]) == "visual"] // factor
    erp_ch = eeg_names.index(ERP_CHANNEL)
    w0, w1 = int(ERP_WINDOW[0] * sf), int(ERP_WINDOW[1] * sf)

    def erp(x: np.ndarray) -> float:
        ok = onsets[(onsets + w1) < x.shape[1]]
        return float(np.abs(np.mean([x[erp_ch, o + w0:o + w1] for o in ok], axis=0)).max())

    erp_true = erp(clean_b)

    def score(exclude: list[int]) -> dict[str, float]:
        out = before.copy().load_data()
        ica.exclude = list(exclude)
        ica.apply(out, verbose="error")
        x = _band(out.get_data(picks=eeg_names), sf)
        # what is left of the blinks: the part of the residual that is blink-shaped
        resid = x - clean_b
        blink_left = float(np.clip((resid * blink_b).sum() / max((blink_b ** 2).sum(), 1e-300), 0, None) * 100)
        brain_err = float(np.sqrt(((x - clean_b - (resid * blink_b).sum() / max((blink_b ** 2).sum(), 1e-300)
                                    * blink_b) ** 2).sum() / (clean_b ** 2).sum()) * 100)
        return {"blink_left": blink_left, "brain_r": float(np.corrcoef(x.ravel(), clean_b.ravel())[0, 1]),
                "brain_err": brain_err, "erp_kept": erp(x) / erp_true * 100}

    raw_b = _band(before.get_data(picks=eeg_names), sf)
    blink_before = float((raw_b - clean_b).ravel() @ blink_b.ravel() / max((blink_b ** 2).sum(), 1e-300) * 100)
    rows = []
    results = {}
    steps = sorted({0, 1, 2, params["extra"], 5, 10} & set(range(len(order) + 1)))
    for k, n in enumerate(steps):
        results[n] = score(flagged + order[:n])
        r = results[n]
        rows.append([len(flagged) + n, f"{r['blink_left']:.1f}", f"{r['brain_r']:.3f}", f"{r['erp_kept']:.0f}"])
        progress(0.8 + 0.18 * (k + 1) / len(steps), f"{n} extra components removed")
    ica.exclude = list(flagged)
    base, over = results[0], results[params["extra"]]
    if notch_qc.get("line_freq_hz"):
        res.claim("line_db", f"The notch found mains at {notch_qc['line_freq_hz']:g} Hz, "
                  f"{notch_qc['line_peak_before_db']:.1f} dB above its neighbours; after it: "
                  f"{notch_qc['line_peak_after_db']:.1f} dB.", notch_qc["line_peak_before_db"], "dB")
    res.claim("n_flagged", f"The ICA step flagged {len(flagged)} of {int(ica.n_components_)} components "
              f"({ica_res.qc.get('excluded_why', '')}).", len(flagged))
    res.claim("blink_left", f"Removing them leaves {base['blink_left']:.1f} % of the blinks; brain signal "
              f"kept: r = {base['brain_r']:.3f} with the true EEG, visual ERP at {ERP_CHANNEL} "
              f"{base['erp_kept']:.0f} % of its true size.", base["blink_left"], "%")
    res.claim("erp_over", f"Removing {params['extra']} more components: ERP {over['erp_kept']:.0f} % of its true size, "
              f"r = {over['brain_r']:.3f}: what is removed beyond the artifacts is brain.", over["erp_kept"], "%")
    res.table = table(["components removed", "blinks left (%)", "r with true EEG", f"ERP kept at {ERP_CHANNEL} (%)"],
                      rows)
    res.answers = {
        "over": "lower" if over["brain_r"] < base["brain_r"] else "higher",
        "erp": over["erp_kept"],
        "blink": "yes" if base["blink_left"] < 0.5 * max(blink_before, 1e-9) else "no",
    }
    t = np.arange(int(1.0 * sf)) / sf
    b_on = np.asarray(truth.meta.get("blink_onsets") or [10.0])
    s0 = max(int((b_on[len(b_on) // 2] - 0.3) * sf), 0)
    fp1 = eeg_names.index("Fp1")
    x_before = raw_b[fp1, s0:s0 + len(t)] * 1e6
    x_true = clean_b[fp1, s0:s0 + len(t)] * 1e6

    def cleaned(exclude: list[int]) -> np.ndarray:
        out = before.copy().load_data()
        ica.exclude = list(exclude)
        ica.apply(out, verbose="error")
        ica.exclude = list(flagged)
        return _band(out.get_data(picks=[eeg_names[fp1]]), sf)[0, s0:s0 + len(t)] * 1e6

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(111)
        ax.plot(t, x_before, color="0.6", lw=0.8, label="before ICA (blink)")
        ax.plot(t, x_true, color="k", lw=1.4, label="true clean EEG")
        ax.plot(t, cleaned(flagged), color="C0", lw=0.9, label=f"flagged removed ({len(flagged)})")
        ax.plot(t, cleaned(flagged + order[:params["extra"]]), color="C3", lw=0.9,
                label=f"+{params['extra']} more removed")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("Fp1 (µV)")
        ax.legend(fontsize="small")

    def draw_sweep(fig: Any) -> None:
        ax = fig.add_subplot(111)
        n = [len(flagged) + s for s in steps]
        ax.plot(n, [results[s]["erp_kept"] for s in steps], "o-", label=f"ERP kept at {ERP_CHANNEL} (%)")
        ax.plot(n, [results[s]["brain_r"] * 100 for s in steps], "s-", label="r with true EEG (×100)")
        ax.set_xlabel("components removed")
        ax.set_ylabel("%")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")

    res.figures = [
        LessonFigure("A blink at Fp1, and what ICA leaves", draw,
                     f"{BAND[0]:g}-{BAND[1]:g} Hz. Black is the truth the phantom knows.", (8, 3.5)),
        LessonFigure("Over-cleaning", draw_sweep, "Each extra component removed takes brain signal with it.", (6, 3.5)),
    ]
    res.notes.append("Input: the phantom's clean EEG + mains + blinks + slow drifts (gradient and BCG taken out "
                     "exactly). Steps run through the Runner: " + ("notch, " if params["notch"] else "") + "ica.")
    return res


LESSON = Lesson(
    id="cleanup",
    chapter=5,
    title="Cleanup: notch, ICA, and over-cleaning",
    summary="Line noise and ICA, and what removing too much takes from the brain signal.",
    text=(
        "After the gradient and the pulse artifact, smaller things remain: mains hum at 50 or 60 Hz and its "
        "harmonics, blinks and eye movements, slow drifts. A *notch filter* removes the mains lines and barely "
        "touches the EEG band.",
        "*Independent component analysis* (ICA) unmixes the channels into sources with independent time courses. "
        "A blink lands in one or two components with a frontal map that follow the EOG channel; removing them and "
        "mixing the rest back cleans every channel without cutting data.",
        "But every component also carries some brain. The more components are removed, the cleaner the EEG "
        "*looks*, and the more of the brain's signal, including the responses we want to study, goes with them. "
        "Only a phantom can show how much: remove more components and watch the true visual ERP shrink.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("blink", "Do the components the ICA step flagged remove at least half of the blinks?",
                 choices=("yes", "no"), explain="Blinks are large, frontal and follow the EOG channel: easy for ICA."),
        Question("over", "Removing the extra components, does the agreement with the true EEG get lower or higher?",
                 choices=("lower", "higher"), explain="Those components were mostly brain."),
        Question("erp", "How much of the true visual ERP (in %) is left with your extra components removed?",
                 kind="number", unit="%", rel_tol=0.1, abs_tol=3.0, explain="Read it off: the phantom knows the ERP."),
    ),
    engine=("workbench.engine.runner.Runner", "steps notch and ica (MNE ICA, Picard)"),
)
