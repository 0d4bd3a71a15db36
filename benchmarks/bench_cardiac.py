"""Cardiac stage: this workbench vs MNE, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_cardiac.py [--write] [--big-minutes 10]`` (not part of
pytest; ~10 minutes on 2 busy cores). ``--write`` writes ``benchmarks/bench_cardiac_results.md``.

1. R-peaks on the phantom's ECG (120 s, 32 ch at 2.5 kHz, TR 1.5 s, 20 slices): after the
   gradient step (gradient residue on the ECG) and as recorded (the full gradient artifact),
   ours (``detect_rpeaks``) vs MNE's ``find_ecg_events``: F1 within ±10 ms of the true
   R-peaks, time.
2. BCG removal on the gradient-corrected phantom EEG: ours (AAS, OBS) vs MNE's
   ``apply_pca_obs`` given the same R-peaks (ours), and MNE given MNE's own
   ``find_ecg_events``: NRMSE vs the BCG-free truth (clean EEG + blinks + drifts, both
   0.5-40 Hz) and time.
3. The whole ``cardiac`` step (through the runner, no files) on 64 EEG channels at 5 kHz for
   ``--big-minutes`` minutes (a synthetic recording built from the phantom's own ECG and BCG
   models, white EEG): time with and without the AAS/OBS comparison.

``--part big`` runs part 3 alone (printed, not written).

``--part ica,notch`` runs instead (``--write``: ``bench_cardiac_ica_notch_results.md``):

4. ICA fit time, Picard (``ortho=False, extended=True``) vs MNE's extended Infomax, through the
   ``ica`` step on the same gradient- and BCG-corrected phantom EEG (60 s, 32 ch), with 20
   components and with PCA to 99.9 % of the variance; how alike the two decompositions are
   (median over Infomax components of the best |r| with a Picard component).
5. Line-frequency detection of the ``notch`` step on ten phantoms (30 s, 2.5 kHz) after the
   gradient step: 50 or 60 Hz mains with 1-5 harmonics, or none (the phantom's mains
   subtracted with its truth before the correction), TR 1.0-2.5 s, 16-36 slices.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MNE_DONTWRITE_HOME", "true")
HERE = Path(__file__).resolve().parent


def _nrmse(x: np.ndarray, target_f: np.ndarray, sos: Any) -> float:
    from scipy import signal

    a = signal.sosfiltfilt(sos, x, axis=-1)
    return float(np.sqrt(((a - target_f) ** 2).sum() / (target_f ** 2).sum()))


def phantom_part(work: Path) -> dict[str, Any]:
    import mne
    from scipy import signal

    from workbench.engine.cardiac.bcg import BCGParams, remove_bcg
    from workbench.engine.cardiac.qc import match_beats
    from workbench.engine.cardiac.rpeaks import detect_rpeaks
    from workbench.engine.phantom import PhantomConfig, load_truth, simulate_study
    from workbench.engine.runner import Runner
    from workbench.engine.steps import builtin_steps
    from workbench.engine.study import Study

    cfg = PhantomConfig(duration_s=120, n_eeg=32, sfreq=2500, tr=1.5, slices=20, seed=5, n_head_points=30)
    simulate_study(work / "study", cfg)
    truth = load_truth(work / "study")
    study = Study.load(work / "study")
    runner = Runner(study, builtin_steps(), work / "out", write_files=False)
    runner.run_step("sync")
    runner.run_step("gradient")
    raw = study.eeg.copy().load_data()
    sf = float(raw.info["sfreq"])
    true = truth.rpeaks[(truth.rpeaks >= 0) & (truth.rpeaks <= raw.times[-1])]
    out: dict[str, Any] = {"config": cfg, "n_true_beats": int(len(true))}

    # 1. detectors
    det = {}
    i_ecg = truth.ch_names.index("ECG")
    for label, ecg in (("after gradient step", raw.get_data(picks=["ECG"])[0]),
                       ("as recorded (full gradient)", truth.recorded()[i_ecg])):
        t0 = time.perf_counter()
        ours = detect_rpeaks(ecg, sf).times
        t_ours = time.perf_counter() - t0
        r1 = mne.io.RawArray(ecg[None], mne.create_info(["ECG"], sf, ["ecg"]), verbose="error")
        t0 = time.perf_counter()
        ev, _, _ = mne.preprocessing.find_ecg_events(r1, ch_name="ECG", verbose="error")
        t_mne = time.perf_counter() - t0
        theirs = (ev[:, 0] - r1.first_samp) / sf
        det[label] = {"ours": match_beats(ours, true, 0.01), "ours_s": t_ours,
                      "mne": match_beats(theirs, true, 0.01), "mne_s": t_mne,
                      "mne_50ms": match_beats(theirs, true, 0.05)}
    out["detectors"] = det

    # 2. BCG removal on the gradient-corrected EEG
    picks = mne.pick_types(raw.info, eeg=True)
    names = [raw.ch_names[i] for i in picks]
    rows = [truth.ch_names.index(n) for n in names]
    target = sum(np.asarray(truth.arrays[k][rows], float) for k in ("clean", "blink", "drift"))
    sos = signal.butter(3, [0.5, 40.0], "bandpass", fs=sf, output="sos")
    target_f = signal.sosfiltfilt(sos, target, axis=-1)
    x = raw.get_data(picks=picks)
    rp = detect_rpeaks(raw.get_data(picks=["ECG"])[0], sf).times
    bcg: dict[str, Any] = {"none": {"nrmse": _nrmse(x, target_f, sos), "seconds": 0.0}}
    for method in ("aas", "obs"):
        t0 = time.perf_counter()
        art = remove_bcg(x, sf, rp, BCGParams(method=method)).artifact
        bcg[f"ours {method.upper()} (our R-peaks)"] = {"seconds": time.perf_counter() - t0,
                                                      "nrmse": _nrmse(x - art, target_f, sos)}
    eeg_raw = mne.io.RawArray(x, mne.create_info(names, sf, "eeg"), verbose="error")
    t0 = time.perf_counter()
    y = mne.preprocessing.apply_pca_obs(eeg_raw, picks=names, qrs_times=rp[rp < eeg_raw.times[-1]], verbose="error")
    bcg["MNE apply_pca_obs (our R-peaks)"] = {"seconds": time.perf_counter() - t0,
                                              "nrmse": _nrmse(y.get_data(), target_f, sos)}
    t0 = time.perf_counter()
    ev, _, _ = mne.preprocessing.find_ecg_events(raw, ch_name="ECG", verbose="error")
    q = (ev[:, 0] - raw.first_samp) / sf
    y = mne.preprocessing.apply_pca_obs(eeg_raw, picks=names, qrs_times=q[(q > 0) & (q < eeg_raw.times[-1])],
                                        verbose="error")
    bcg["MNE apply_pca_obs (MNE find_ecg_events)"] = {"seconds": time.perf_counter() - t0,
                                                      "nrmse": _nrmse(y.get_data(), target_f, sos)}
    out["bcg"] = bcg
    return out


def big_part(minutes: float) -> dict[str, Any]:
    """The cardiac step on 64 ch x 5 kHz x ``minutes`` (synthetic, phantom ECG/BCG models)."""
    import mne

    from workbench.engine.phantom.cardiac import bcg_basis, ecg_waveform
    from workbench.engine.runner import Runner
    from workbench.engine.steps import builtin_steps
    from workbench.engine.study import Study

    sf, n_ch = 5000.0, 64
    n = int(minutes * 60 * sf)
    rng = np.random.default_rng(0)
    r = np.cumsum(0.92 + 0.05 * rng.standard_normal(int(minutes * 60 / 0.8)))
    r = r[r < n / sf - 1]
    data = np.empty((n_ch + 1, n), np.float64)
    data[:n_ch] = 1e-5 * rng.standard_normal((n_ch, n))
    omega = np.zeros((2, n))
    ecg = 2e-6 * rng.standard_normal(n)
    tau = np.arange(int(-0.35 * sf), int(0.8 * sf)) / sf
    wave_b = bcg_basis(tau - 0.21)
    for ri in r:
        k = int(round(ri * sf)) + int(-0.35 * sf)
        sl = slice(max(k, 0), min(k + len(tau), n))
        off = sl.start - k
        m = sl.stop - sl.start
        amp = np.exp(rng.normal(0, 0.12, 2))[:, None]
        omega[:, sl] += amp * wave_b[:, off:off + m]
        ecg[sl] += ecg_waveform(tau[off:off + m], 0.92)
    coupling = 8e-5 * rng.standard_normal((n_ch, 2))
    data[:n_ch] += coupling @ omega
    data[n_ch] = ecg
    del omega
    info = mne.create_info([f"E{i}" for i in range(n_ch)] + ["ECG"], sf, ["eeg"] * n_ch + ["ecg"])
    raw = mne.io.RawArray(data, info, verbose="error")
    out: dict[str, Any] = {"n_beats_true": int(len(r)), "gb": data.nbytes / 1e9}
    for compare in (False, True):
        study = Study()
        study.set_raw(raw)
        t0 = time.perf_counter()
        res = Runner(study, builtin_steps(), tempfile.gettempdir(), write_files=False).run_step(
            "cardiac", {"compare": compare})
        out[f"seconds_compare_{compare}"] = time.perf_counter() - t0
        out[f"bcg_seconds_compare_{compare}"] = res.qc["seconds_bcg"]
        out["n_beats"] = res.qc["n_beats"]
        out["pulse_reduction_db"] = res.qc["pulse_reduction_db"]
        del study, res
    return out


def render(ph: dict[str, Any], big: dict[str, Any] | None, load: str) -> str:
    cfg = ph["config"]
    lines = ["# Cardiac benchmark: this workbench vs MNE", "",
             "Produced by `benchmarks/bench_cardiac.py --write`. "
             f"Machine: 2 cores shared with other jobs (load average at the end: {load}); times are wall "
             "clock in one process and grow with the load.", "",
             f"Phantom: {cfg.duration_s:.0f} s, {cfg.n_eeg} EEG channels at {cfg.sfreq:g} Hz, TR {cfg.tr} s, "
             f"{cfg.slices} slices, seed {cfg.seed}; {ph['n_true_beats']} true R-peaks.", "",
             "## R-peaks: F1 within ±10 ms of the true R-peaks", "",
             "| ECG | ours F1 | ours time | MNE `find_ecg_events` F1 (±10 ms / ±50 ms) | MNE time |",
             "|---|---|---|---|---|"]
    for label, d in ph["detectors"].items():
        lines.append(f"| {label} | {d['ours']['f1']:.4f} (error {d['ours']['mean_abs_error_ms']:.2f} ms) | "
                     f"{d['ours_s']:.2f} s | {d['mne']['f1']:.4f} / {d['mne_50ms']['f1']:.4f} | {d['mne_s']:.2f} s |")
    lines += ["", "## BCG removal: NRMSE vs the BCG-free truth (0.5-40 Hz), gradient-corrected EEG", "",
              "| method | NRMSE | time |", "|---|---|---|"]
    for label, d in ph["bcg"].items():
        lines.append(f"| {label} | {d['nrmse']:.3f} | {d['seconds']:.2f} s |")
    if big is not None:
        lines += ["", "## The cardiac step on 64 channels x 5 kHz", "",
                  f"Synthetic recording ({big['gb']:.2f} GB float64), {big['n_beats']} beats found of "
                  f"{big['n_beats_true']}; pulse-locked reduction {big['pulse_reduction_db']:.1f} dB.", "",
                  "| step run | total | BCG estimation |", "|---|---|---|",
                  f"| AAS only | {big['seconds_compare_False']:.1f} s | {big['bcg_seconds_compare_False']:.1f} s |",
                  f"| AAS + OBS comparison (default) | {big['seconds_compare_True']:.1f} s | "
                  f"{big['bcg_seconds_compare_True']:.1f} s |"]
    return "\n".join(lines) + "\n"


def ica_part(work: Path) -> dict[str, Any]:
    from workbench.engine.phantom import PhantomConfig, simulate_study
    from workbench.engine.runner import Runner
    from workbench.engine.steps import builtin_steps
    from workbench.engine.study import Study

    simulate_study(work / "ica", PhantomConfig(duration_s=60, n_eeg=32, sfreq=2500, tr=1.5, slices=20, seed=3,
                                               n_head_points=30))
    study = Study.load(work / "ica")
    runner = Runner(study, builtin_steps(), work / "out", write_files=False)
    for step in ("sync", "gradient", "cardiac"):
        runner.run_step(step, {"compare": False} if step == "cardiac" else None)
    out: dict[str, Any] = {}
    for label, n in (("20 components", 20), ("PCA 99.9 %", None)):
        row: dict[str, Any] = {}
        sources = {}
        for method in ("picard", "infomax"):
            fork = study.fork()
            t0 = time.perf_counter()
            res = Runner(fork, builtin_steps(), work / "out", write_files=False).run_step(
                "ica", {"ica_method": method, "n_components": n})
            row[method] = {"fit_s": res.qc["seconds_fit"], "step_s": time.perf_counter() - t0,
                           "n": res.qc["n_components"], "excluded": res.qc["excluded"]}
            sources[method] = res.details["sources"]
        a, b = sources["infomax"], sources["picard"]
        r = np.abs(np.corrcoef(a, b)[: len(a), len(a):])
        row["match_median_r"] = float(np.median(r.max(axis=1)))
        row["match_min_r"] = float(r.max(axis=1).min())
        out[label] = row
        print(label, row, flush=True)
    return out


NOTCH_CASES = [  # (mains Hz, harmonics, TR, slices, mains removed, seed)
    (50.0, 3, 1.5, 20, False, 5), (60.0, 3, 1.5, 20, False, 5), (50.0, 3, 1.5, 20, True, 5),
    (60.0, 1, 2.0, 25, False, 5), (50.0, 5, 2.0, 32, False, 5), (60.0, 3, 2.0, 30, True, 5),
    (50.0, 3, 2.5, 36, False, 11), (60.0, 2, 1.0, 16, False, 12), (50.0, 3, 1.2, 24, True, 13),
    (60.0, 3, 2.2, 33, False, 14),
]


def notch_part(work: Path) -> list[dict[str, Any]]:
    from workbench.engine.phantom import PhantomConfig, load_truth, simulate_study
    from workbench.engine.runner import Runner
    from workbench.engine.steps import builtin_steps
    from workbench.engine.steps.notch import line_peaks
    from workbench.engine.study import Study

    rows = []
    for lf, nh, tr, sl, strip, seed in NOTCH_CASES:
        folder = work / f"notch_{lf:g}_{nh}_{tr}_{sl}_{seed}"
        if not folder.exists():
            simulate_study(folder, PhantomConfig(duration_s=30, n_eeg=32, sfreq=2500, tr=tr, slices=sl, seed=seed,
                                                 n_head_points=30, line_freq=lf, line_harmonics=nh))
        study = Study.load(folder)
        if strip:  # the same phantom without mains: its truth's line component subtracted
            truth = load_truth(folder)
            raw = study.eeg.copy().load_data()
            raw._data[[raw.ch_names.index(c) for c in truth.ch_names]] -= np.asarray(truth.arrays["line"])[:, :raw.n_times]
            study.set_raw(raw)
        runner = Runner(study, builtin_steps(), work / "out", write_files=False)
        runner.run_step("sync")
        runner.run_step("gradient")
        in_scan = line_peaks(study.eeg.get_data(picks="eeg"), float(study.eeg.info["sfreq"]))
        res = runner.run_step("notch")
        want = None if strip else lf
        got = res.qc.get("line_freq_hz") if res.qc["line_detected"] else None
        rows.append({"case": f"{'none' if strip else f'{lf:g} Hz x{nh}'}, TR {tr} s, {sl} slices, seed {seed}",
                     "want": want, "got": got, "ok": want == got, "in_scan_db": in_scan,
                     "message": res.messages[0] if res.messages else ""})
        print(rows[-1], flush=True)
    return rows


def render_ica_notch(ica: dict[str, Any] | None, notch: list[dict[str, Any]] | None, load: str) -> str:
    lines = ["# ICA and line-noise benchmark", "",
             "Produced by `benchmarks/bench_cardiac.py --part ica,notch --write`. "
             f"Machine: 2 cores shared with other jobs (load average at the end: {load}); wall-clock times "
             "grow with the load, the ratio is what to read.", ""]
    if ica:
        lines += ["## ICA fit: Picard vs extended Infomax (the ica step, same data)", "",
                  "Phantom 60 s, 32 EEG channels, after sync, gradient and cardiac (AAS); fitted on a 1 Hz "
                  "high-passed copy at 250 Hz.", "",
                  "| components | Picard fit | Infomax fit | Infomax / Picard | components alike (median / min best r) |",
                  "|---|---|---|---|---|"]
        for label, row in ica.items():
            p, i = row["picard"], row["infomax"]
            lines.append(f"| {label} ({p['n']}) | {p['fit_s']:.1f} s | {i['fit_s']:.1f} s | "
                         f"{i['fit_s'] / max(p['fit_s'], 1e-9):.1f}x | {row['match_median_r']:.3f} / "
                         f"{row['match_min_r']:.3f} |")
    if notch:
        ok = sum(r["ok"] for r in notch)
        lines += ["", "## Line frequency detected after the gradient step", "",
                  f"{ok} of {len(notch)} right. 'in scan' is the peak over its neighbours during the scan, "
                  "where residue lines of the correction sit too; the step decides on the EEG recorded "
                  "without scanning when there is enough of it (here the 2 s lead-in and 1 s lead-out).", "",
                  "| phantom | mains | detected | in scan 50 / 60 Hz (dB) | message |", "|---|---|---|---|---|"]
        for r in notch:
            pk = r["in_scan_db"]
            lines.append(f"| {r['case']} | {r['want'] or 'none'} | {r['got'] or 'none'} | "
                         f"{pk.get(50.0, float('nan')):.1f} / {pk.get(60.0, float('nan')):.1f} | {r['message']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--big-minutes", type=float, default=10.0, help="0 skips the 64-channel run")
    ap.add_argument("--part", default="", help="'ica', 'notch' or 'ica,notch' instead of parts 1-3; "
                    "'big' runs part 3 alone")
    args = ap.parse_args()
    if args.part == "big":  # only the 64-channel step run (part 3), printed, not written
        big = big_part(args.big_minutes)
        print({**big, "load": ", ".join(f"{v:.1f}" for v in os.getloadavg())})
        return
    if args.part:
        parts = set(args.part.split(","))
        with tempfile.TemporaryDirectory() as tmp:
            ica = ica_part(Path(tmp)) if "ica" in parts else None
            notch = notch_part(Path(tmp)) if "notch" in parts else None
        text = render_ica_notch(ica, notch, ", ".join(f"{v:.1f}" for v in os.getloadavg()))
        print(text)
        if args.write:
            (HERE / "bench_cardiac_ica_notch_results.md").write_text(text, encoding="utf-8")
        return
    with tempfile.TemporaryDirectory() as tmp:
        ph = phantom_part(Path(tmp))
    big = big_part(args.big_minutes) if args.big_minutes > 0 else None
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    text = render(ph, big, load)
    print(text)
    if args.write:
        (HERE / "bench_cardiac_results.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
