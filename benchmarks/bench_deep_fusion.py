"""deep-fusion trade-off on the simulated multi-subject phantom: score vs timing mismatch,
a modality missing at test time and training-set size, for early/late/hybrid fusion, the
unimodal networks and the linear baseline; and the time to train all of them.

    nice .venv/bin/python benchmarks/bench_deep_fusion.py [--quick] [--out results.json]

EEG at 50 Hz, 8 subjects. Every condition is a fresh cohort (same seed, so only the varied factor changes), scored by
leave-subjects-out CV (4 folds of 2 subjects), balanced accuracy with a 95 % interval from a
bootstrap over subjects. Results are appended to the JSON file as each condition finishes and
printed as Markdown tables at the end. Chance is 0.5.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SFREQ = 50.0  #: EEG epochs at 50 Hz (0-0.8 s: 40 samples), enough for evoked responses below 20 Hz
N_TRIALS = 60  #: trials per subject of the full-size conditions


def run_condition(n_subjects: int, n_trials: int, mismatch: float, folds: int, epochs: int, patience: int,
                  seed: int, modality_dropout: float = 0.0, eeg_noise: float = 1.0, fmri_noise: float = 1.0,
                  isi: tuple[float, float] = (2.0, 4.0)) -> dict:
    from workbench_deep_fusion.cv import cross_validate, score_models
    from workbench_deep_fusion.data import check_trials
    from workbench_deep_fusion.simulate import simulate
    from workbench_deep_fusion.train import TrainConfig

    t0 = time.perf_counter()
    d = simulate(n_subjects=n_subjects, n_trials=n_trials, mismatch_s=mismatch, n_heads=2, seed=seed, sfreq=SFREQ,
                 eeg_noise=eeg_noise, fmri_noise=fmri_noise, isi_s=isi)
    t_sim = time.perf_counter() - t0
    data = check_trials(d.eeg, d.fmri, d.labels, d.groups)
    t0, c0 = time.perf_counter(), time.process_time()
    res = cross_validate(data, train_cfg=TrainConfig(epochs=epochs, patience=patience, seed=seed,
                                                     modality_dropout=modality_dropout), n_folds=folds)
    t_cv, cpu_cv = time.perf_counter() - t0, time.process_time() - c0
    sc = score_models(res, data.y, data.groups, 2000, seed)
    out = {"n_subjects": n_subjects, "n_trials": n_trials, "mismatch_s": mismatch, "folds": folds,
           "modality_dropout": modality_dropout, "simulate_s": t_sim, "cv_s": t_cv, "cv_cpu_s": cpu_cv, "seconds": res.seconds,
           "scores": {m: {c: (None if v is None else {"acc": v["balanced_accuracy"], "ci": v["ci95"]})
                          for c, v in s.items() if c in ("both", "without_fmri", "without_eeg")}
                      | ({"vs_linear": s["vs_linear"]} if "vs_linear" in s else {})
                      for m, s in sc.items()},
           "best_epochs": {m: [f["models"][m].get("best_epoch") for f in res.folds] for m in res.models if m != "linear"}}
    return out


def _fmt(s: dict | None) -> str:
    if s is None:
        return "-"
    return f"{s['acc']:.2f} [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]"


def tables(results: list[dict]) -> str:
    models = ["early", "late", "hybrid", "eeg_only", "fmri_only", "linear"]
    lines = []
    base = [r for r in results if r["n_trials"] == max(x["n_trials"] for x in results) and r["modality_dropout"] == 0]
    lines.append("### (a) score vs EEG-fMRI timing mismatch (both modalities at test)\n")
    lines.append("| mismatch (s) | " + " | ".join(models) + " |")
    lines.append("|---" * (len(models) + 1) + "|")
    for r in sorted(base, key=lambda r: r["mismatch_s"]):
        lines.append(f"| {r['mismatch_s']:.2f} | " + " | ".join(_fmt(r["scores"][m]["both"]) for m in models) + " |")
    zero = [r for r in base if r["mismatch_s"] == 0]
    for r in [*zero, *[x for x in results if x["modality_dropout"] > 0]]:
        lines.append(f"\n### (b) a modality missing at test time (mismatch 0, {r['n_trials']} trials/subject, "
                     f"modality dropout {r['modality_dropout']})\n")
        lines.append("| model | both | fMRI missing | EEG missing |")
        lines.append("|---|---|---|---|")
        for m in models:
            s = r["scores"][m]
            lines.append(f"| {m} | {_fmt(s['both'])} | {_fmt(s['without_fmri'])} | {_fmt(s['without_eeg'])} |")
    size = [r for r in results if r["mismatch_s"] == 0 and r["modality_dropout"] == 0]
    lines.append("\n### (c) score vs training-set size (mismatch 0; 6 training subjects per fold x trials/subject)\n")
    lines.append("| trials/subject | " + " | ".join(models) + " |")
    lines.append("|---" * (len(models) + 1) + "|")
    for r in sorted(size, key=lambda r: r["n_trials"]):
        lines.append(f"| {r['n_trials']} | " + " | ".join(_fmt(r["scores"][m]["both"]) for m in models) + " |")
    lines.append("\n### time to train (all folds, s)\n")
    lines.append("| condition | cv wall | cv CPU | " + " | ".join(models) + " |")
    lines.append("|---" * (len(models) + 3) + "|")
    for r in results:
        lines.append(f"| {r['n_subjects']} subj x {r['n_trials']} trials, mismatch {r['mismatch_s']}, "
                     f"dropout {r['modality_dropout']} | {r['cv_s']:.0f} | {r.get('cv_cpu_s', float('nan')):.0f} | "
                     + " | ".join(f"{r['seconds'][m]:.0f}" for m in models) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer conditions and epochs (a smoke run)")
    ap.add_argument("--out", type=Path, default=Path("bench_deep_fusion_results.json"))
    ap.add_argument("--tables-only", action="store_true", help="print the tables of an existing --out file")
    ap.add_argument("--seed", type=int, default=0, help="cohort and training seed")
    ap.add_argument("--eeg-noise", type=float, default=1.0, help="EEG noise scale of the cohort (1 = default)")
    ap.add_argument("--fmri-noise", type=float, default=1.0, help="BOLD noise scale of the cohort (1 = default)")
    ap.add_argument("--isi", default="2,4", help="inter-stimulus interval range (s); '8,12' = slow design, "
                    "little BOLD overlap between trials, so stronger fMRI trial features")
    ap.add_argument("--conditions", default="",
                    help="only these conditions, TRIALS:MISMATCH:DROPOUT comma-separated (e.g. 80:1.0:0,40:0:0), "
                         "to split a run over processes; merge the JSON lists to print one table")
    a = ap.parse_args()
    results = json.loads(a.out.read_text()) if a.out.exists() else []
    if not a.tables_only:
        epochs, patience = (8, 3) if a.quick else (30, 6)
        # most informative first, so a run cut short still gives every curve's ends
        n = N_TRIALS
        conds = [(8, n, 0.0, 0.0), (8, n, 2.0, 0.0), (8, 20, 0.0, 0.0)]
        if not a.quick:
            conds += [(8, n, 0.5, 0.0), (8, 40, 0.0, 0.0), (8, n, 1.0, 0.0), (8, n, 0.25, 0.0),
                      (8, n, 0.0, 0.3)]
        if a.conditions:
            conds = [(8, int(t), float(m), float(d)) for t, m, d in (c.split(":") for c in a.conditions.split(","))]
        done = {(r["n_subjects"], r["n_trials"], r["mismatch_s"], r["modality_dropout"]) for r in results}
        for n_sub, n_tr, mm, md in conds:
            if (n_sub, n_tr, mm, md) in done:
                continue
            isi = tuple(float(v) for v in a.isi.split(","))
            r = run_condition(n_sub, n_tr, mm, 4, epochs, patience, seed=a.seed, modality_dropout=md,
                              eeg_noise=a.eeg_noise, fmri_noise=a.fmri_noise, isi=isi)
            r["seed"], r["eeg_noise"], r["fmri_noise"], r["isi_s"] = a.seed, a.eeg_noise, a.fmri_noise, list(isi)
            results.append(r)
            a.out.write_text(json.dumps(results, indent=1))
            print(f"{n_sub} x {n_tr}, mismatch {mm}, dropout {md}: cv {r['cv_s']:.0f} s; "
                  + ", ".join(f"{m} {v['both']['acc']:.2f}" for m, v in r["scores"].items()), flush=True)
    print(tables(results))
    if results:
        print(f"\nchance 0.5; intervals: 95 % bootstrap over subjects; {np.mean([r['cv_s'] for r in results]):.0f} s "
              "per condition on average")


if __name__ == "__main__":
    main()
