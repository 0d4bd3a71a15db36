"""Step "gradient": gradient-artifact correction of the current EEG."""

from __future__ import annotations

from typing import Any

from ..atomic import atomic_write_json
from ..progress import Progress
from .params import Param
from .spec import Figure, OutputFile, QCSpec, StepResult, StepSpec

TEACHING = (
    "Every slice the scanner acquires induces a millivolt-sized artifact in the EEG, a hundred "
    "times the brain signal (Faraday's law: the switching gradient field induces a voltage in "
    "every loop the leads make). Because the scanner repeats itself exactly, the artifact of each "
    "volume is estimated by averaging the same slice slot of neighbouring volumes, aligned to a "
    "fraction of a sample, fitted in amplitude and subtracted. The bore is not perfectly steady: "
    "breathing moves the head and the leads, so each lead loop's coupling to the three gradient axes "
    "changes within a volume; what the templates miss is then fitted slice by slice with the three "
    "axes' waveforms and subtracted too. Below 40 Hz, where the EEG dominates, the templates average "
    "many volumes; the scanner table rings after each volume and that ringing's size wanders, so when "
    "it does its size is followed volume by volume. A heartbeat can repeat with the volumes too, so "
    "with an ECG the pulse artifact is estimated from the R-peaks and kept out of the templates. A 70 Hz low-pass removes what is left at high frequencies. The spectrum should lose its peaks at the slice-rate harmonics "
    "while the 1-40 Hz EEG power stays."
)

PARAMS = (
    Param("window", "int", None, "Neighbouring volumes averaged per template. More volumes leak less "
          "EEG into the template but follow a drifting artifact less closely; typical 8-30. 'auto': "
          "20, or 8 below 2 kHz (an aliased artifact changes from volume to volume; on a real run 8 "
          "removed ~20 dB more than 30).",
          unit="volumes", minimum=1, maximum=500, optional=True, none_label="auto"),
    Param("align", "bool", True, "Re-align every volume to the template by sub-sample "
          "cross-correlation (the EEG and scanner clocks are not locked).", label="sub-sample alignment"),
    Param("amplitude_fit", "bool", True, "Fit the template's amplitude per channel and volume "
          "(least squares).", label="amplitude fit"),
    Param("wiener", "bool", True, "Weight the template per frequency by its reliability "
          "(Wiener), so frequencies where the EEG dominates are not subtracted.", label="Wiener weighting"),
    Param("window_lf", "int", 60, "Volumes averaged below 40 Hz, where the artifact is weak and the "
          "EEG leak dominates; 'same' uses the main window.", label="low-frequency window",
          unit="volumes", minimum=1, maximum=1000, optional=True, none_label="same"),
    Param("obs", "bool", False, "Optimal basis set: remove the main PCA components of the >70 Hz "
          "residual on EEG channels (useful without a low-pass).", label="OBS residual"),
    Param("anc", "bool", False, "Guarded adaptive noise cancellation of the >70 Hz residual "
          "(EEG channels; never worsens a block).", label="ANC residual"),
    Param("track", "bool", False, "Choose each volume's template neighbours by similarity (per "
          "channel, among the 60 volumes around it) so an artifact that drifts with breathing, "
          "coil heating or movement is followed (the phantom's artifact alone: 3-5 dB less left at "
          "5 kHz, about the same at 2.5 kHz; on the full drifting phantom study it left slightly more "
          "at the slice harmonics, so it is off by default); off: the nearest volumes in time.",
          label="track drifting artifact"),
    Param("motion_params", "str", None, "Realignment parameters of this fMRI run (SPM rp_*.txt, FSL "
          ".par, fMRIPrep confounds .tsv; one row per volume): at every head movement (framewise "
          "displacement above the threshold) the artifact's step is measured and the template "
          "neighbours across it are moved by it, so a movement is not averaged across. 'off': none.",
          label="head motion file", optional=True, none_label="off",
          browse="Realignment parameters (*.txt *.par *.tsv)"),
    Param("motion_fd_mm", "float", 0.5, "Framewise displacement (Power et al., 50 mm head radius) "
          "above which a volume counts as a head movement (with a head motion file).",
          label="movement threshold", unit="mm", minimum=0.01, maximum=100.0),
    Param("slice_axes", "int", 3, "After the templates, fit what is left of every slice with the "
          "gradient axes' waveforms (learnt from the recording, fitted above 150 Hz where the EEG is "
          "negligible) and subtract it: follows breathing, a drifting bore and head movements within "
          "a volume, which volume templates average away. 0: off; not run below 2 kHz (aliasing).",
          label="slice-wise axis fit", unit="waveforms", minimum=0, maximum=8),
    Param("lf_scale", "bool", True, "After the correction, follow the size of the artifact's "
          "low band (below 40 Hz: the scanner table and cables ringing after each volume) volume by "
          "volume (a scale per volume for each of its up to 3 parts across all EEG channels); the "
          "60-volume low-band templates leave its wander. Kept only when the scales wander slowly "
          "(3x their noise), otherwise nothing changes. Stimulus markers' share is left in the data; "
          "switch it off when stimuli are locked to the volumes in blocks but not marked (their "
          "evoked response would be taken for the ringing).", label="follow low-band size"),
    Param("cardiac_pass", "bool", True, "With an ECG channel: keep the pulse artifact (BCG) out of "
          "the gradient templates. A heartbeat whose harmonics sit near the volume lines (72 bpm at "
          "TR 2 s, 60, 75...) repeats with the volumes and is otherwise partly removed as gradient "
          "artifact (phantom, 1-40 Hz error: 0.18 -> 0.04 at 72 bpm; 0.70 -> 0.03 with a heart "
          "locked at 60 bpm). The BCG is estimated from the corrected ECG's R-peaks, alternating "
          "with the templates at ~250 Hz, taken out while the templates are made and put back for "
          "the cardiac step. Skipped without an ECG or with untrustworthy R-peaks (the QC says why).",
          label="keep pulse out (ECG)"),
    Param("keep_hz", "str", None, "Steady-state stimulation frequencies to keep (Hz, e.g. '7.5, 12': "
          "SSVEP, ASSR). A steady signal turns by a fixed angle from volume to volume, as the folded "
          "(aliased) artifact does when the EEG and scanner clocks drift, and the alias model takes "
          "it where the turns match (2.5 kHz, 20 ppm: a 10.05 Hz response 87 % removed); around these "
          "frequencies (1 Hz either side) it is not fitted. A frequency near a multiple of 1/TR repeats "
          "with the volumes and no template can keep it (the log says so).",
          label="frequencies to keep", unit="Hz", optional=True, none_label="none"),
    Param("lowpass", "float", 70.0, "Low-pass after subtraction; 'off' keeps the full band. "
          "Typical 70 Hz for EEG analyses below gamma.", unit="Hz", minimum=1.0, maximum=5000.0,
          optional=True, none_label="off"),
)

QC = (
    QCSpec("n_volumes", "Volumes corrected", fmt="d"),
    QCSpec("n_corrected_channels", "Channels corrected", fmt="d"),
    QCSpec("f_slice_hz", "Slice frequency", "Hz", ".3f"),
    QCSpec("harmonic_rms_before_uv", "Slice-harmonic RMS before", "µV", ".1f"),
    QCSpec("harmonic_rms_after_uv", "Slice-harmonic RMS after", "µV", ".2f", warn_above=5.0,
           help="RMS at the slice-frequency harmonics after correction; a few µV is typical."),
    QCSpec("harmonic_reduction_db", "Slice-harmonic reduction", "dB", ".1f", warn_below=10.0),
    QCSpec("harmonic_fmax_hz", "Harmonics scored up to", "Hz", ".0f"),
    QCSpec("comb_rms_before_uv", "Volume-comb RMS before", "µV", ".2f"),
    QCSpec("comb_rms_after_uv", "Volume-comb RMS after", "µV", ".2f"),
    QCSpec("comb_reduction_db", "Volume-comb reduction", "dB", ".1f"),
    QCSpec("skipped_channels", "Flat channels left as they are"),
    QCSpec("saturated_channels", "Channels clipping at the amplifier's range",
           help="A channel's extreme value (the amplifier's rail, e.g. ±16.4 mV) reached volume after "
                "volume during the gradients, in runs of samples or, at low rates, single samples: no "
                "template can restore clipped samples, so these channels keep a residue; check them "
                "and mark them bad if it is large."),
    QCSpec("tr_s", "TR", "s", ".4f"),
    QCSpec("n_slices", "Slices per volume", fmt="d"),
    QCSpec("n_slots", "Slice slots per volume", fmt="d"),
    QCSpec("multiband", "Multiband factor", fmt="d"),
    QCSpec("timing_source", "Slice timing from"),
    QCSpec("power_kept_1_40", "1-40 Hz power kept", "", ".3f",
           help="Ratio of the 1-40 Hz power after/before (outside the slice harmonics). The power "
                "before counts any artifact below 40 Hz too (a ringing scanner table, aliasing below "
                "2 kHz), so a low value is often artifact removed, not EEG lost: the next row, "
                "between the volume comb's lines, tells the two apart."),
    QCSpec("power_kept_1_40_off_comb", "1-40 Hz power kept between the volume lines", "", ".3f",
           warn_below=0.85, warn_above=1.15,
           help="The same ratio on the frequencies between the lines k/TR (1/(8 TR) either side left "
                "out), where nothing repeats with the volumes: what the correction removes there is "
                "not artifact. Near 1 means the brain signal was kept (0.99-1.02 on every simulated "
                "variant, with or without artifact below 40 Hz); a low value means EEG was lost, e.g. "
                "0.44-0.79 after a 20 Hz low-pass. Blind to EEG lost on the lines themselves (what "
                "the templates average in, about 1/window of it)."),
    QCSpec("window_volumes", "Template window used", "volumes", "d",
           help="Volumes averaged per template: the window asked for, or with 'auto' 20 (8 below "
                "2 kHz, where the aliased artifact changes from volume to volume)."),
    QCSpec("drift_refined_ppm", "Sampling-phase ramp fitted to the artifact", "ppm", ".1f",
           help="Below 2 kHz the artifact aliases and each volume's sub-sample phase must be known "
                "to ~0.1 sample; triggers on EEG samples fix the clock's drift only to about a "
                "sample over a short run. The drift change (within ±1 sample over the run) that "
                "leaves the smallest template residual, kept only when it lowers it (0: none kept). "
                "When the phase travels less than a sample over the run (a short run, a few ppm) "
                "this is the phase spread the alias model fits best, not a measure of the clock: "
                "read the clock's drift in Sync."),
    QCSpec("alias_orders", "Alias orders used", fmt="d",
           help="Orders of the model of the artifact folded in from above the Nyquist frequency "
                "(two from 2 kHz up, four below). Larger ones (4, 6, 8) are tried on the reference "
                "channels (from 900 Hz up) and used only when they lower the template residual below the low-pass, "
                "fitted on half the volumes and scored on the other half, by 20 % or more: an "
                "amplifier without an anti-alias filter lets the artifact fold in from many rates "
                "up."),
    QCSpec("max_shift_samples", "Largest re-alignment", "samples", ".2f"),
    QCSpec("alignment_kept", "Re-alignment kept (it lowered the residual)",
           help="The per-volume sub-sample re-alignment is kept only when it lowers the reference "
                "channels' residual; on an aliased artifact (1 kHz, weak anti-alias filter) it is dropped."),
    QCSpec("spatial_rank", "Artifact rank across channels (spatial pass)", fmt="d",
           help="Dimensions of the artifact's subspace across the EEG channels used to keep the "
                "EEG out of the templates' low band (about 3: one per gradient axis)."),
    QCSpec("slice_axes_explained_pct", "Residual above 150 Hz removed by the slice-wise axis fit", "%",
           ".1f", help="Share of what the templates left above 150 Hz that the per-slice fit of the "
                       "gradient axes' waveforms removed; large values mean the artifact changed within "
                       "volumes (breathing, a drifting bore, movement)."),
    QCSpec("slice_axes_kept", "Slice-wise axis fit kept (it removed more than chance)",
           help="Measured on the first channels: the fit is kept only when it removes more than 2 % "
                "(and three times chance) of what the templates left above 150 Hz and does not raise "
                "what is left below 150 Hz; otherwise nothing is changed."),
    QCSpec("lf_scale_kept", "Low-band size followed (it wandered more than chance)",
           help="A scale per volume for each of the low band's (up to 3) parts across all EEG "
                "channels, each used only when its scales change slowly from volume to volume "
                "(their spread at least 3x what their volume-to-volume noise gives); otherwise "
                "nothing is changed."),
    QCSpec("lf_scale_range_pct", "Low-band size range over the run (5-95 %)", "%", ".0f",
           help="How much the low band's largest followed part changed in size over the run "
                "(smoothed over 5 volumes; shown when followed)."),
    QCSpec("cardiac_pass_used", "Pulse artifact kept out of the templates (cardiac pass)",
           help="With an ECG channel the templates are made on the recording minus the pulse "
                "artifact, estimated from the corrected ECG's R-peaks in turns with the templates "
                "(at ~250 Hz) and added back afterwards. No: no ECG channel, fewer than 30 beats, "
                "untrustworthy R-peaks or switched off (the QC file's refinements say which, and "
                "how many rounds it took)."),
    QCSpec("artifact_size_range_pct", "Artifact size range over the run (5-95 %)", "%", ".1f",
           help="How much the artifact's size changed between volumes (breathing, heating, movement)."),
    QCSpec("artifact_shape_change_pct", "Artifact shape change (95th pct)", "%", ".1f",
           help="Part of a volume's artifact not explained by the run's mean shape; large values "
                "mean a fixed template cannot follow it (tracking helps)."),
    QCSpec("neighbour_reach_volumes", "Tracked neighbours' mean distance", "volumes", ".1f"),
    QCSpec("motion_segments", "Motion segments (head movements + 1)", fmt="d",
           help="With a head motion file: the run is cut at every volume whose framewise "
                "displacement exceeds the threshold; templates are not averaged across a cut."),
    QCSpec("motion_volumes_moved", "Volumes with a head movement", fmt="d"),
    QCSpec("motion_kept", "Motion segments kept (they lowered the residual)",
           help="The movements' steps are used only when they lower the reference channels' "
                "template residual; on a strongly aliased artifact (low sampling rate) they may not."),
    QCSpec("motion_fd_max_mm", "Largest framewise displacement", "mm", ".2f"),
    QCSpec("nrmse", "NRMSE vs truth", "", ".3f", warn_above=0.3),
    QCSpec("nrmse_median_channel", "NRMSE vs truth (median channel)", "", ".3f"),
    QCSpec("correlation", "Correlation with truth", "", ".3f", warn_below=0.9),
)

_SCALARS = (
    "n_volumes", "n_corrected_channels", "skipped_channels", "saturated_channels", "f_slice_hz", "harmonic_fmax_hz",
    "harmonic_rms_before_uv", "harmonic_rms_after_uv", "harmonic_reduction_db", "comb_rms_before_uv",
    "comb_rms_after_uv", "comb_reduction_db", "power_kept_1_40", "power_kept_1_40_off_comb", "window_volumes", "drift_refined_ppm", "alias_orders", "max_shift_samples", "alignment_kept", "spatial_rank",
    "slice_axes_explained_pct", "slice_axes_kept", "lf_scale_kept", "lf_scale_range_pct",
    "cardiac_pass_used", "artifact_size_range_pct", "artifact_shape_change_pct", "neighbour_reach_volumes",
    "motion_segments", "motion_volumes_moved", "motion_fd_max_mm", "motion_kept",
)


def gradient_params(params: dict[str, Any]) -> Any:
    """The engine's :class:`GradientParams` from the step's declared parameter values."""
    from ..gradient import GradientParams
    from ..gradient.correct import parse_keep_hz

    return GradientParams(keep_hz=parse_keep_hz(params.get("keep_hz")), **{k: params[k] for k in (
        "window", "align", "amplitude_fit", "wiener", "window_lf", "obs", "anc", "lowpass", "track",
        "motion_params", "motion_fd_mm", "slice_axes", "lf_scale", "cardiac_pass") if k in params})


def compact_qc(qc: dict[str, Any]) -> dict[str, Any]:
    """The scalar QC of a correction (for the project file and the report table)."""
    out = {k: qc[k] for k in _SCALARS if k in qc}
    s = qc.get("sync", {})
    for k in ("tr_s", "n_slices", "n_slots", "multiband", "timing_source"):
        if k in s:
            out[k] = s[k]
    return out


def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
    """Correct the gradient artifact of the study's current EEG on its scanner timeline.

    A recording that is not loaded in memory (opened from a file) is read once as float32
    and corrected in place (:func:`~workbench.engine.gradient.stream.remove_gradient_lean`):
    memory stays about 1.3x a float32 file however long the run, for the GUI, ``clean``
    and replay alike (the same path, so the same numbers).
    """
    from ..gradient import remove_gradient
    from ..gradient.stream import remove_gradient_lean

    before = study.eeg
    lean = not getattr(before, "preload", True)
    fn = remove_gradient_lean if lean else remove_gradient
    res = fn(before, params=gradient_params(params), sync=study.sync,
             sidecar=study.bold_meta, source=study.eeg_path, progress=progress)
    qc = compact_qc(res.qc)
    messages = []
    if qc.get("skipped_channels"):
        messages.append(f"flat channels left as they are: {', '.join(qc['skipped_channels'])}")
    locked = res.qc.get("keep_locked_hz", [])
    if locked:
        messages.append(f"frequencies to keep that repeat with the volumes (near a multiple of 1/TR), "
                        f"taken by the templates whatever is kept: {', '.join(f'{f:g} Hz' for f in locked)}")
    sat = res.qc.get("saturated_pct", {})
    if sat:
        shown = ", ".join(f"{n} ({v:.2g} % of samples)" for n, v in list(sat.items())[:8])
        more = f" and {len(sat) - 8} more" if len(sat) > 8 else ""
        messages.append(f"channels clip at the amplifier's range during the gradients: {shown}{more}; "
                        "clipped samples cannot be restored, so check them and mark them bad if the "
                        "residue is large")
    det = res.qc.get("sync", {}).get("slot_detection", {})
    if det.get("note"):
        messages.append(det["note"])
    sf = float(before.info["sfreq"])
    if sf < 2000:
        messages.append(f"the EEG is sampled at {sf:g} Hz: below ~2 kHz the artifact is aliased and "
                        "average subtraction removes much less of it; check the harmonic reduction")
    cp = res.qc.get("refinements", {}).get("cardiac_pass", {})
    if cp.get("used"):
        messages.append(f"pulse artifact kept out of the templates: {cp['beats']} R-peaks on the ECG "
                        f"({cp['hr_bpm']:.0f} bpm), {cp['rounds']} rounds")
    elif cp.get("reason") not in (None, "off", "no ECG channel", "no EEG channels"):
        messages.append(f"pulse artifact not kept out of the templates: {cp['reason']}")
    ao = res.qc.get("refinements", {}).get("alias_orders", {})
    if ao.get("kept"):
        messages.append(f"{ao['orders']} alias orders used (the data asked for more than the default): the "
                        "artifact folds in from far above the Nyquist frequency (no anti-alias filter?), at "
                        "lines between the volume lines too, so the power kept between them is not scored")
    kept, kept_off = res.qc.get("power_kept_1_40"), res.qc.get("power_kept_1_40_off_comb")
    if kept is not None and kept_off is not None and kept < 0.7 and 0.85 <= kept_off <= 1.15:
        messages.append(f"1-40 Hz power kept is {kept:.2f}, but {kept_off:.2f} between the volume lines: "
                        "what was removed below 40 Hz repeated with the volumes (artifact: a ringing "
                        "scanner table, aliasing), not EEG")
    full = dict(res.qc)
    cleaned = res.raw
    pc = res.qc.get("per_channel", {})
    n_ch = len(pc.get("names", []))

    def _row(b: float | None, a: float | None, d: float | None, k: float, ko: float | None) -> str:
        head = f"{b:.1f} → {a:.2f} µV ({d:.1f} dB)" if b is not None else "no slice harmonic in the scored band"
        tail = f" ({ko:.2f} between the volume lines)" if ko is not None else ""
        return f"{head}, 1-40 Hz power kept {k:.2f}{tail}"

    rows = {n: _row(b, a, d, k, ko)
            for n, b, a, d, k, ko in zip(pc.get("names", []), pc.get("harmonic_before_uv", []),
                                         pc.get("harmonic_after_uv", []), pc.get("reduction_db", []),
                                         pc.get("power_kept_1_40", []),
                                         pc.get("power_kept_1_40_off_comb", [None] * n_ch))}
    return StepResult(
        qc=qc,
        provides={"eeg": cleaned},
        files=[
            OutputFile("gradclean", "eeg", ".fif", lambda path: write_eeg_derivative(cleaned, path), role="eeg"),
            OutputFile("gradclean", "qc", ".json", lambda path: atomic_write_json(path, full), role="qc"),
        ],
        figures=[
            Figure("Spectrum before / after", lambda: _psd_figure(before, res),
                   "EEG channels over up to 60 s of scanning; slice-rate harmonics marked."),
            Figure("Template and aligned epochs", lambda: _template_figure(before, res),
                   "One slice slot of the channel with most artifact: the epochs averaged into "
                   "the template and the template itself."),
            Figure("Artifact over the run", lambda: _evolution_figure(res),
                   "Per volume (median over channels): the artifact's size relative to the run's "
                   "mean and the part of its shape that differs from the mean shape; with tracking, "
                   "how far (in volumes) the chosen neighbours lie."),
        ],
        tables={"Per-channel slice-harmonic residual": rows},
        details={"gradient": res, "before": before},
        messages=messages,
    )


def write_eeg_derivative(raw: Any, path: Any) -> None:
    """Write the cleaned EEG as a double-precision FIF.

    The file is the EEG the pipeline produced, bit for bit: a step that reads it later (a
    reopened project, ``workbench fuse --project``) gets the same numbers as a step run in
    the same session on the EEG in memory. (MNE's default single precision rounds the data
    to float32, so a fusion run from the project differed from the in-session one in the
    7th digit.)
    """
    from pathlib import Path

    from ..gradient.export import _check_finite

    _check_finite(raw, Path(path))
    raw.save(path, fmt="double", overwrite=True, verbose="error")


def _psd_figure(raw: Any, res: Any) -> Any:
    import mne

    from ..gradient.figures import psd_figure

    eeg = mne.pick_types(raw.info, eeg=True, exclude="bads")
    s0, s1 = res.scan_span
    s1 = min(s1, s0 + int(60 * raw.info["sfreq"]))
    f_slice = res.qc.get("f_slice_hz", 0.0)
    fmax = max(250.0, 3 * f_slice, 0.9 * res.params.lowpass if res.params.lowpass else 0.0)
    fmax = min(fmax, raw.info["sfreq"] / 2)
    return psd_figure(raw.get_data(picks=eeg, start=s0, stop=s1),
                      res.raw.get_data(picks=eeg, start=s0, stop=s1),
                      raw.info["sfreq"], f_slice, res.sync.fit.tr_s, fmax=fmax)


def _evolution_figure(res: Any) -> Any:
    from ..gradient.figures import evolution_figure

    return evolution_figure(res.qc.get("evolution", {}))


def _template_figure(raw: Any, res: Any) -> Any:
    import mne
    import numpy as np

    from ..gradient.figures import template_figure

    eeg = mne.pick_types(raw.info, eeg=True, exclude="bads")
    before = res.qc.get("per_channel", {}).get("harmonic_before_uv", [])
    scored = len(eeg) and len(before) == len(eeg) and None not in before
    ch = int(eeg[int(np.argmax(before))]) if scored else res.picks[0]
    return template_figure(raw.get_data(picks=[ch])[0], res.schedule, res.schedule.n_volumes // 2,
                           raw.info["sfreq"], res.schedule.slot_offsets, raw.ch_names[ch], res.params.aas())


SPEC = StepSpec(
    id="gradient",
    title="Gradient artifact",
    label="Gradient",
    stage="gradient",
    teaching=TEACHING,
    params=PARAMS,
    requires=("eeg", "sync"),
    optional=("bold",),
    provides=("eeg",),
    run=run,
    qc=QC,
)
