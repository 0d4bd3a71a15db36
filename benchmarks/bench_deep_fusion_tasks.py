"""deep-fusion regression tasks on the simulated 8-subject cohort, against its truth:
``amplitude`` (the trial's amplitude from EEG + fMRI: early/late/hybrid/unimodal networks,
ridge, the mean predictor) and ``roi-bold`` (the visual-cortex ROI's BOLD response per trial
from the EEG alone: the EEG network, ridge on the EEG, the mean predictor), several seeds,
plus a shuffled-target control; and the time to train all models.

    nice .venv/bin/python benchmarks/bench_deep_fusion_tasks.py [--seeds 0,1,2] [--out F.json] [--quick]

Same cohort and CV as bench_deep_fusion.py (8 subjects x 60 trials, EEG 32 ch 0-0.8 s at 50 Hz,
24 fMRI features, 4 leave-subjects-out folds of 2 subjects, early stopping on 2 training subjects,
max 30 epochs, patience 6). Scores: R² and Pearson r over the held-out trials of all folds, [95 %
interval: bootstrap over subjects]. The truth gives a ceiling for roi-bold: the R² of a linear fit
of the target on the part of the ROI's BOLD caused by the trial itself (amplitude x HRF); the rest
is overlap from neighbouring trials (rapid design, ISI 2-4 s) and BOLD noise.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SFREQ = 50.0
N_TRIALS = 60
AMP_MODELS = ["early", "late", "hybrid", "eeg_only", "fmri_only", "linear", "mean"]
ROI_MODELS = ["eeg_only", "linear", "mean"]


def run_task(d, task: str, y: np.ndarray, seed: int, epochs: int, patience: int,
             modality_dropout: float = 0.0) -> dict:
    from workbench_deep_fusion.cv import cross_validate, score_models
    from workbench_deep_fusion.data import check_regression
    from workbench_deep_fusion.train import TrainConfig

    data = check_regression(d.eeg, d.fmri, y, d.groups, task)
    t0, c0 = time.perf_counter(), time.process_time()
    res = cross_validate(data, train_cfg=TrainConfig(epochs=epochs, patience=patience, seed=seed,
                                                     modality_dropout=modality_dropout), n_folds=4)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sc = score_models(res, data.y, data.groups, 2000, seed)
    return {"task": task, "seed": seed, "cv_s": wall, "cv_cpu_s": cpu, "seconds": res.seconds,
            "scores": {m: {c: (None if v is None else {"r2": v["r2"], "ci": v["ci95"], "r": v["pearson_r"],
                                                       "r_ci": v["pearson_r_ci95"]})
                           for c, v in s.items() if c in ("both", "without_fmri", "without_eeg")}
                       | ({"vs_linear": s["vs_linear"]} if "vs_linear" in s else {})
                       for m, s in sc.items()},
            "best_epochs": {m: [f["models"][m].get("best_epoch") for f in res.folds]
                            for m in res.models if m not in ("linear", "mean")}}


def _fmt(s: dict | None, key: str = "r2", ci: str = "ci") -> str:
    if s is None:
        return "-"
    return f"{s[key]:.2f} [{s[ci][0]:.2f}, {s[ci][1]:.2f}]"


def tables(results: list[dict]) -> str:
    lines = []
    for task, models, title in (("amplitude", AMP_MODELS, "amplitude from EEG + fMRI"),
                                ("roi-bold", ROI_MODELS, "visual-cortex BOLD from the EEG alone"),
                                ("roi-bold-shuffled", ROI_MODELS, "roi-bold, target shuffled across trials")):
        rows = sorted((r for r in results if r["task"] == task), key=lambda r: r["seed"])
        if not rows:
            continue
        lines.append(f"\n### {task}: {title} (R² [95 % interval], both modalities at test)\n")
        extra = " | ceiling (truth) |" if task == "roi-bold" else " |"
        lines.append("| seed | " + " | ".join(models) + extra)
        lines.append("|---" * (len(models) + 1 + (task == "roi-bold")) + "|")
        for r in rows:
            cells = [_fmt(r["scores"][m]["both"]) for m in models]
            ceil = f" {r['r2_ceiling']:.2f} |" if task == "roi-bold" else ""
            lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |" + ceil)
        lines.append("| mean over seeds | " + " | ".join(
            f"{np.mean([r['scores'][m]['both']['r2'] for r in rows]):.2f}" for m in models) + " |"
            + (f" {np.mean([r['r2_ceiling'] for r in rows]):.2f} |" if task == "roi-bold" else ""))
        lines.append("\nPearson r [95 % interval]:\n")
        lines.append("| seed | " + " | ".join(m for m in models if m != "mean") + " |")
        lines.append("|---" * len(models) + "|")
        for r in rows:
            lines.append(f"| {r['seed']} | " + " | ".join(_fmt(r["scores"][m]["both"], "r", "r_ci")
                                                      for m in models if m != "mean") + " |")
        if task == "amplitude":
            lines.append("\nA modality missing at test time (R², mean over seeds):\n")
            lines.append("| model | both | fMRI missing | EEG missing |")
            lines.append("|---|---|---|---|")
            for m in models:
                vals = []
                for c in ("both", "without_fmri", "without_eeg"):
                    v = [r["scores"][m][c]["r2"] for r in rows if r["scores"][m][c] is not None]
                    vals.append(f"{np.mean(v):.2f}" if v else "-")
                lines.append(f"| {m} | " + " | ".join(vals) + " |")
        lines.append("\nbeats the linear (ridge) baseline (paired subject bootstrap, difference interval above 0):\n")
        for r in rows:
            vs = {m: r["scores"][m]["vs_linear"] for m in models if "vs_linear" in r["scores"][m]}
            lines.append(f"- seed {r['seed']}: " + ", ".join(
                f"{m} {v['difference']:+.2f} [{v['ci95'][0]:+.2f}, {v['ci95'][1]:+.2f}]"
                + (" beats" if v["beats_linear"] else "") for m, v in vs.items()))
    lines.append("\n### time to train all models (4 folds, s)\n")
    lines.append("| task | seed | cv wall | cv CPU | per model (wall) |")
    lines.append("|---|---|---|---|---|")
    for r in results:
        lines.append(f"| {r['task']} | {r['seed']} | {r['cv_s']:.0f} | {r['cv_cpu_s']:.0f} | "
                     + ", ".join(f"{m} {v:.0f}" for m, v in r["seconds"].items()) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--quick", action="store_true", help="4 subjects x 30 trials, 5 epochs (a smoke run)")
    ap.add_argument("--out", type=Path, default=Path("bench_deep_fusion_tasks.json"))
    ap.add_argument("--tables-only", action="store_true")
    ap.add_argument("--isi", default="2,4", help="inter-stimulus interval range (s) of the simulated design; "
                    "'8,12' = a slow event-related design with little BOLD overlap between trials")
    ap.add_argument("--tasks", default="roi-bold,amplitude,roi-bold-shuffled")
    ap.add_argument("--modality-dropout", type=float, default=0.0,
                    help="train the fusion networks with a modality removed from this fraction of mini-batches")
    a = ap.parse_args()
    results = json.loads(a.out.read_text()) if a.out.exists() else []
    if not a.tables_only:
        from workbench_deep_fusion.simulate import simulate

        n_sub, n_tr, epochs, patience = (4, 30, 5, 2) if a.quick else (8, N_TRIALS, 30, 6)
        isi = tuple(float(v) for v in a.isi.split(","))
        wanted = set(a.tasks.split(","))
        for seed in [int(s) for s in a.seeds.split(",")]:
            done = {r["task"] for r in results if r["seed"] == seed}
            if wanted <= done:
                continue
            t0 = time.perf_counter()
            d = simulate(n_subjects=n_sub, n_trials=n_tr, n_heads=2, seed=seed, sfreq=SFREQ, isi_s=isi)
            t_sim = time.perf_counter() - t0
            jobs = [("roi-bold", d.roi_bold), ("amplitude", d.amplitudes),
                    ("roi-bold-shuffled", np.random.default_rng(seed + 99).permutation(d.roi_bold))]
            for name, y in jobs:
                if name in done or name not in wanted:
                    continue
                r = run_task(d, "roi-bold" if name.startswith("roi") else name, y, seed, epochs, patience,
                             a.modality_dropout)
                r.update(task=name, simulate_s=t_sim, r2_ceiling=d.truth["roi_bold_r2_own"],
                         n_subjects=n_sub, n_trials=n_tr, isi_s=list(isi), modality_dropout=a.modality_dropout)
                results.append(r)
                a.out.write_text(json.dumps(results, indent=1))
                print(f"seed {seed} {name}: cv {r['cv_s']:.0f} s (CPU {r['cv_cpu_s']:.0f} s); "
                      + ", ".join(f"{m} {v['both']['r2']:.2f}" for m, v in r["scores"].items()), flush=True)
    print(tables(results))


if __name__ == "__main__":
    main()
