"""Step "cardiac": R-peaks (ECG, or the EEG's pulse as a fallback) and BCG removal by AAS or OBS."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..atomic import atomic_write_json, atomic_write_text
from ..errors import InputError
from ..progress import Progress
from .params import Param
from .spec import Figure, OutputFile, QCSpec, StepResult, StepSpec

TEACHING = (
    "Inside the scanner every heartbeat moves the head and the blood in the static field, so each "
    "electrode loop sees a pulse artifact (ballistocardiogram, BCG) of tens of microvolts about 0.2 s "
    "after the R wave, larger than the EEG. The R-peaks are found on the ECG (band-pass, Teager "
    "energy, an adaptive threshold, then a pass on the RR series that repairs missed, extra and "
    "duplicated beats); when the ECG is unusable they are taken from the pulse artifact in the EEG "
    "itself. Each channel's artifact is then estimated beat by beat: AAS subtracts the average of "
    "the neighbouring beats; OBS also fits the main ways beats differ (principal components) to each "
    "beat. The beat-locked average of the EEG should lose its pulse shape while the EEG stays."
)

PARAMS = (
    Param("method", "choice", "aas", "How the artifact of each beat is estimated: 'aas' subtracts "
          "the average of the neighbouring beats; 'obs' adds principal components fitted per beat "
          "(FMRIB's optimal basis set). The report compares both.", choices=("aas", "obs"),
          label="BCG method"),
    Param("bcg_window", "int", 21, "Beats averaged into each beat's template (sliding window); "
          "21-30 is typical: more beats leak less EEG, fewer follow drift faster.",
          unit="beats", minimum=3, maximum=201, label="window"),
    Param("n_components", "int", 3, "Principal components fitted per beat by OBS (FMRIB: 3).",
          minimum=0, maximum=10, label="OBS components"),
    Param("delay", "float", 0.21, "Delay of the artifact after the R-peak (s): where each beat's "
          "segment is centred; 'auto' measures it from the pulse-locked EEG.", unit="s",
          minimum=0.05, maximum=0.6, optional=True, none_label="auto", label="artifact delay"),
    Param("ecg", "str", None, "ECG channel; 'auto' takes the channel typed ECG (else one named "
          "ECG/EKG).", optional=True, none_label="auto", label="ECG channel"),
    Param("rpeak_source", "choice", "auto", "Where the heartbeats come from: 'ecg', 'eeg' (the pulse "
          "artifact itself) or 'auto' (the ECG when it is usable, else the EEG).",
          choices=("auto", "ecg", "eeg"), label="beats from"),
    Param("threshold", "float", 0.2, "Detector threshold: fraction of the local QRS energy a beat "
          "must exceed (lower finds weak beats, higher ignores noise).", minimum=0.02, maximum=0.9,
          label="QRS threshold"),
    Param("beat_edits", "str", None, "Beats corrected by hand (the R-peak editor writes this): "
          "'-T' removes the detected beat at T s, '+T' adds one, e.g. '-12.3456 +12.3522'; "
          "'off' uses the detected beats as they are.", optional=True, none_label="off",
          label="beat edits"),
    Param("compare", "bool", True, "Also run the other method for the side-by-side table and "
          "figure (doubles the time).", label="compare AAS/OBS"),
)

QC = (
    QCSpec("n_beats", "Heartbeats", fmt="d"),
    QCSpec("rpeak_source", "Beats from"),
    QCSpec("ecg_channel", "ECG channel"),
    QCSpec("hr_bpm", "Heart rate (median)", "bpm", ".1f", warn_below=40, warn_above=120),
    QCSpec("rr_sd_ms", "RR SD", "ms", ".1f"),
    QCSpec("implausible_pct", "Implausible RR intervals", "%", ".2f", warn_above=1.0,
           help="RR outside 30-200 bpm or 0.6-1.6 x the local median after the correction pass."),
    QCSpec("beats_fixed", "Beats repaired", fmt="d"),
    QCSpec("beats_added_by_hand", "Beats added by hand", fmt="d"),
    QCSpec("beats_removed_by_hand", "Beats removed by hand", fmt="d"),
    QCSpec("qrs_quality", "QRS similarity", "", ".3f", warn_below=0.8,
           help="Median correlation of each QRS with the median QRS (ECG) or pulse periodicity (EEG)."),
    QCSpec("bcg_lag_s", "R-peak to BCG peak", "s", ".3f"),
    QCSpec("pulse_rms_before_uv", "Pulse-locked RMS before", "µV", ".2f"),
    QCSpec("pulse_rms_after_uv", "Pulse-locked RMS after", "µV", ".2f", warn_above=3.0,
           help="RMS of the beat-locked average (0-0.7 s after R), median over channels."),
    QCSpec("pulse_reduction_db", "Pulse-locked reduction", "dB", ".1f", warn_below=10.0),
    QCSpec("ecg_corr_before", "Correlation with ECG before", "", ".3f"),
    QCSpec("ecg_corr_after", "Correlation with ECG after", "", ".3f", warn_above=0.2),
    QCSpec("nrmse", "NRMSE vs truth", "", ".3f", warn_above=0.5),
    QCSpec("rpeak_f1", "R-peak F1 vs truth (±10 ms)", "", ".4f", warn_below=0.99),
)

#: channel types the BCG is removed from
CORRECTED_TYPES = ("eeg", "eog")


@dataclass
class CardiacResult:
    """What the step found, for views and scorers (not serialised)."""

    rpeaks: Any  # RPeaks (times relative to the first sample of the EEG)
    bcg: Any  # BCGResult of the chosen method
    picks: np.ndarray
    before: Any  # the EEG before (mne Raw)
    after: Any  # the cleaned EEG
    ecg_channel: str | None
    compared: dict[str, Any] = field(default_factory=dict)  # method -> {"artifact", "qc", "seconds"}
    messages: list[str] = field(default_factory=list)
    detected: Any = None  # the detector's beats before hand edits (s)
    edits: Any = None  # the BeatEdits applied


def find_ecg_channel(raw: Any, name: str | None = None) -> str | None:
    """The ECG channel: ``name`` if given (must exist), else the one typed ECG, else named ECG/EKG."""
    if name:
        if name not in raw.ch_names:
            raise InputError(None, f"no channel {name!r} in the EEG (channels: {', '.join(raw.ch_names[:8])}...)")
        return name
    types = raw.get_channel_types()
    for n, t in zip(raw.ch_names, types):
        if t == "ecg":
            return n
    for n in raw.ch_names:
        if any(k in n.upper() for k in ("ECG", "EKG")):
            return n
    return None


def find_rpeaks(raw: Any, params: dict[str, Any], picks: np.ndarray) -> tuple[Any, str | None, list[str]]:
    """R-peaks of the current EEG following the step's parameters (see :data:`PARAMS`).

    Returns ``(RPeaks, ecg_channel, messages)``; raises :class:`InputError` when neither the
    ECG nor the EEG gives usable beats.
    """
    from ..cardiac.eegbeats import beats_from_eeg
    from ..cardiac.rpeaks import DetectorParams, detect_rpeaks, ecg_problem

    sf = float(raw.info["sfreq"])
    source = params["rpeak_source"]
    ch = find_ecg_channel(raw, params.get("ecg"))
    messages: list[str] = []
    why_not_ecg = None
    beats = None
    ecg = None
    if source in ("auto", "ecg"):
        if ch is None:
            why_not_ecg = "the EEG has no ECG channel (name one with --ecg)"
        else:
            ecg = raw.get_data(picks=[ch])[0]
            problem = ecg_problem(ecg)
            if problem:
                why_not_ecg = f"the ECG channel {ch} {problem}"
            else:
                try:
                    beats = detect_rpeaks(ecg, sf, DetectorParams(threshold=params["threshold"]))
                except InputError as exc:
                    why_not_ecg = f"ECG channel {ch}: {exc}"
                else:
                    rep = beats.report
                    if not 30.0 <= rep.get("hr_bpm", 0.0) <= 200.0:
                        why_not_ecg = (f"the heart rate of ECG channel {ch}, {rep.get('hr_bpm', 0.0):.0f} bpm, "
                                       "is outside 30-200 bpm")
                        beats = None
                    elif rep["implausible_pct"] > 5.0 or not rep.get("qrs_quality", 1.0) > 0.5:
                        why_not_ecg = (f"the beats of ECG channel {ch} are implausible "
                                       f"({rep['implausible_pct']:.1f} % of RR intervals, QRS similarity "
                                       f"{rep.get('qrs_quality', float('nan')):.2f})")
                        if source == "auto":
                            beats = None
        if why_not_ecg and source == "ecg":
            raise InputError(None, f"{why_not_ecg}; try --rpeak-source eeg")
    if beats is None:
        if why_not_ecg:
            messages.append(f"{why_not_ecg}: heartbeats taken from the pulse artifact of the EEG")
        try:
            ecg_beats = None
            if ecg is not None and not ecg_problem(ecg):
                try:
                    ecg_beats = detect_rpeaks(ecg, sf).times
                except InputError:
                    ecg_beats = None
            beats = beats_from_eeg(raw.get_data(picks=picks), sf,
                                   delay_s=params["delay"] if params["delay"] is not None else 0.21,
                                   ecg_rpeaks=ecg_beats)
        except InputError as exc:
            lead = f"{why_not_ecg}, and " if why_not_ecg else ""
            raise InputError(None, f"{lead}{exc}") from None
    hr = beats.report.get("hr_bpm", float("nan"))
    if not (30.0 <= hr <= 200.0):
        raise InputError(None, f"heart rate {hr:.0f} bpm from {len(beats.times)} beats is outside "
                               "30-200 bpm: the beats found are not heartbeats")
    return beats, ch, messages


def _edited(beats: Any, edits: Any, duration_s: float) -> Any:
    """``beats`` with the hand edits applied; report and flags recomputed (added beats unflagged)."""
    from dataclasses import replace

    from ..cardiac.edits import apply_edits
    from ..cardiac.rpeaks import rr_report

    try:
        times = apply_edits(beats.times, edits, duration_s)
    except InputError as exc:
        raise InputError(None, f"{exc}; clear the edits (--beat-edits off) or edit again") from None
    flags = None
    if beats.flags is not None and len(beats.flags) == len(beats.times):
        flagged = np.round(np.asarray(beats.times)[np.asarray(beats.flags, bool)], 5)
        flags = np.isin(np.round(times, 5), flagged)
    report = {**beats.report, **rr_report(times)}
    report["beats_edited"] = len(edits.added) + len(edits.removed)
    return replace(beats, times=times, flags=flags, report=report)


def _bcg_qc(data: np.ndarray, sf: float, rpeaks: np.ndarray, ecg: np.ndarray | None) -> dict[str, float]:
    """Pulse-locked RMS (µV, median over channels) and |correlation| with the ECG (median)."""
    from ..cardiac.qc import pulse_qc

    rms, corr = pulse_qc(data, sf, rpeaks, ecg)  # the beat epochs cut once for both
    out = {"pulse_rms_uv": float(np.median(rms)) * 1e6}
    if corr is not None:
        out["ecg_corr"] = float(np.median(corr))
    return out


def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
    """Find the R-peaks and remove the BCG from the study's current EEG."""
    import mne

    from ..cardiac.bcg import BCGParams, measure_delay, remove_bcg
    from ..cardiac.edits import BeatEdits
    before = study.eeg  # a re-run starts from the EEG before the previous run (the runner)
    sf = float(before.info["sfreq"])
    types = before.get_channel_types()
    picks = np.array([i for i, t in enumerate(types) if t in CORRECTED_TYPES], int)
    if len(picks) == 0:
        raise InputError(study.eeg_path, "no EEG channels to correct")
    progress(0.02, "finding R-peaks")
    beats, ch, messages = find_rpeaks(before, params, picks)
    detected = np.asarray(beats.times, float)
    edits = BeatEdits.from_text(params.get("beat_edits"))
    if edits:
        beats = _edited(beats, edits, before.n_times / sf)
        messages.append(f"beats edited by hand: {len(edits.added)} added, {len(edits.removed)} removed")
    rp = beats.times
    if len(rp) < params["bcg_window"]:
        raise InputError(study.eeg_path, f"{len(rp)} heartbeats found; the window of {params['bcg_window']} "
                                         "beats needs at least as many (record longer or lower --bcg-window)")
    progress(0.15, "removing the BCG")
    # the artifact is estimated on the input's own array (read only) when it is in memory; the
    # output's array is then written once, input minus artifact (no copy then subtraction)
    fused = bool(getattr(before, "preload", False))
    src = before if fused else before.copy().load_data()
    X = src._data
    # the EEG rows without another copy when they are contiguous (the usual layout)
    contiguous = bool(np.all(np.diff(picks) == 1))
    data = X[picks[0]:picks[-1] + 1] if contiguous else X[picks]
    ecg = np.array(X[src.ch_names.index(ch)]) if ch is not None else None
    bparams = BCGParams(method=params["method"], window=params["bcg_window"],
                        n_components=params["n_components"], delay_s=params["delay"])
    t0 = time.perf_counter()
    res = remove_bcg(data, sf, rp, bparams, progress=progress.sub(0.15, 0.6 if params["compare"] else 0.85))
    seconds = time.perf_counter() - t0
    compared: dict[str, Any] = {params["method"]: {"artifact": res.artifact, "seconds": seconds,
                                                   "explained": res.explained}}
    if params["compare"]:
        other = "obs" if params["method"] == "aas" else "aas"
        t1 = time.perf_counter()
        res2 = remove_bcg(data, sf, rp, BCGParams(method=other, window=params["bcg_window"],
                                                 n_components=params["n_components"],
                                                 delay_s=res.delay_s), progress=progress.sub(0.6, 0.85))
        compared[other] = {"artifact": res2.artifact, "seconds": time.perf_counter() - t1,
                           "explained": res2.explained}
    # QC on a ~250 Hz subsample (beat-locked averages do not need more)
    step = max(1, int(sf // 250))
    sub = np.ascontiguousarray(data[:, ::step])
    measured_lag = measure_delay(sub, sf / step, rp)
    q_before = _bcg_qc(sub, sf / step, rp, ecg[::step] if ecg is not None else None)
    for c in compared.values():
        c["qc"] = _bcg_qc(sub - c["artifact"][:, ::step], sf / step, rp, ecg[::step] if ecg is not None else None)
    q_after = compared[params["method"]]["qc"]
    out = _subtracted(src, picks, res.artifact, fused)
    # one annotation per R-peak (replacing those of an earlier run)
    ann = out.annotations
    old = [i for i, d in enumerate(ann.description) if d == "R-peak"]
    if old:
        ann.delete(old)
    # with a measurement date, onsets count from it (the first sample is first_time later)
    offset = out.first_time if ann.orig_time is not None else 0.0
    out.set_annotations(ann + mne.Annotations(rp + offset, np.zeros(len(rp)), ["R-peak"] * len(rp),
                                              orig_time=ann.orig_time))
    rep = beats.report
    qc: dict[str, Any] = {
        "n_beats": int(len(rp)),
        "rpeak_source": beats.source,
        "ecg_channel": ch or "",
        "hr_bpm": rep.get("hr_bpm"),
        "hr_min_bpm": rep.get("hr_min_bpm"),
        "hr_max_bpm": rep.get("hr_max_bpm"),
        "rr_sd_ms": rep.get("rr_sd_ms"),
        "implausible_pct": rep.get("implausible_pct"),
        "n_implausible": rep.get("n_implausible"),
        "beats_fixed": rep.get("beats_fixed"),
        "beats_inserted": int(np.count_nonzero(beats.flags)) if beats.flags is not None else 0,
        "beats_added_by_hand": len(edits.added),
        "beats_removed_by_hand": len(edits.removed),
        "polarity": int(beats.polarity),
        "qrs_quality": float(beats.quality),
        "bcg_lag_s": float(rep["bcg_lag_s"]) if np.isfinite(rep.get("bcg_lag_s", np.nan)) else measured_lag,
        "delay_s": float(res.delay_s),
        "method": params["method"],
        "pulse_rms_before_uv": q_before["pulse_rms_uv"],
        "pulse_rms_after_uv": q_after["pulse_rms_uv"],
        "pulse_reduction_db": float(20 * np.log10(q_before["pulse_rms_uv"] / max(q_after["pulse_rms_uv"], 1e-12))),
        "n_corrected_channels": int(len(picks)),
        "seconds_bcg": round(seconds, 3),
    }
    if ecg is not None:
        qc["ecg_corr_before"] = q_before["ecg_corr"]
        qc["ecg_corr_after"] = q_after["ecg_corr"]
    for m, c in compared.items():
        qc[f"pulse_rms_after_{m}_uv"] = c["qc"]["pulse_rms_uv"]
        if m == "obs":
            qc["obs_explained_var"] = float(np.median(c["explained"]))
    qc = {k: v for k, v in qc.items() if v is not None and not (isinstance(v, float) and not np.isfinite(v))}
    messages = list(messages)
    if qc.get("implausible_pct", 0) > 1.0:
        messages.append(f"{qc['implausible_pct']:.1f} % of the RR intervals are implausible: check the beats")
    details = CardiacResult(rpeaks=beats, bcg=res, picks=picks, before=before, after=out, ecg_channel=ch,
                            compared=compared, messages=messages, detected=detected, edits=edits)
    table = {m.upper(): (f"pulse-locked RMS {c['qc']['pulse_rms_uv']:.2f} µV"
                         + (f", |r| with ECG {c['qc']['ecg_corr']:.3f}" if "ecg_corr" in c["qc"] else "")
                         + f", {c['seconds']:.2f} s") for m, c in compared.items()}
    table["none"] = f"pulse-locked RMS {q_before['pulse_rms_uv']:.2f} µV"
    tsv = _events_tsv(rp, sf, beats)
    full = {**qc, "rpeak_report": {k: v for k, v in rep.items() if not isinstance(v, np.ndarray)}}
    return StepResult(
        qc=qc,
        provides={"eeg": out, "rpeaks": rp},
        files=[
            OutputFile("bcgclean", "eeg", ".fif", lambda path: _write(out, path), role="eeg"),
            OutputFile("rpeaks", "events", ".tsv", lambda path: atomic_write_text(path, tsv), role="rpeaks"),
            OutputFile("bcgclean", "qc", ".json", lambda path: atomic_write_json(path, _jsonable(full)), role="qc"),
        ],
        figures=[
            Figure("Beat-locked EEG before / after", lambda: _stack_figure(details),
                   "Every beat of the channel with the largest pulse artifact, before and after each method "
                   "(rows are beats, colour is µV); the mean below."),
            Figure("Heart rate and R-peaks", lambda: _hr_figure(details, sf),
                   "Heart rate per beat (implausible intervals in red) and the first 10 s of the ECG with "
                   "the R-peaks."),
        ],
        tables={"AAS vs OBS": table},
        details={"cardiac": details},
        messages=messages,
    )


def _subtracted(src: Any, picks: np.ndarray, artifact: np.ndarray, fused: bool) -> Any:
    """``src`` with ``artifact`` subtracted from the rows ``picks``, as a new Raw.

    ``fused``: ``src`` is the step's input and stays as it is; the copy's array is allocated
    empty and each row written once (input minus artifact, or the input row), which is one
    pass over the recording instead of a copy and then a subtraction. Otherwise ``src`` is
    already a copy and is corrected in place, row by row.
    """
    import copy

    from ..cardiac.bcg import anon_array

    X = src._data
    if not fused:
        for i, row in enumerate(picks):
            X[row] -= artifact[i]
        return src
    Y = anon_array(X.shape, X.dtype)  # no huge-page advice: see anon_array
    out = copy.deepcopy(src, {id(X): Y})  # everything of the Raw copied but its data
    which = np.full(X.shape[0], -1)
    which[picks] = np.arange(len(picks))
    for row in range(X.shape[0]):
        if which[row] >= 0:
            np.subtract(X[row], artifact[which[row]], out=Y[row])
        else:
            Y[row] = X[row]
    return out


def _write(raw: Any, path: Any) -> None:
    from ..gradient.export import write_raw

    write_raw(raw, path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _events_tsv(rp: np.ndarray, sf: float, beats: Any) -> str:
    """BIDS-like events table: onset (s from the first sample), sample, trial_type, how it was found."""
    flags = beats.flags if beats.flags is not None and len(beats.flags) == len(rp) else np.zeros(len(rp), bool)
    lines = ["onset\tduration\tsample\ttrial_type\tsource\tinserted"]
    for t, f in zip(rp, flags):
        lines.append(f"{t:.6f}\t0\t{int(round(t * sf))}\tR-peak\t{beats.source}\t{'yes' if f else 'no'}")
    return "\n".join(lines) + "\n"


def _stack_figure(d: CardiacResult) -> Any:
    from ..cardiac.figures import stack_figure

    return stack_figure(d)


def _hr_figure(d: CardiacResult, sf: float) -> Any:
    from ..cardiac.figures import hr_figure

    return hr_figure(d, sf)


SPEC = StepSpec(
    id="cardiac",
    title="Cardiac (BCG)",
    label="Cardiac",
    stage="cardiac",
    teaching=TEACHING,
    params=PARAMS,
    requires=("eeg",),
    provides=("eeg", "rpeaks"),
    run=run,
    qc=QC,
)
