"""Cohort benchmark: 8 phantom subjects, serial vs 2 local Dask workers, then group fusion.

1. ``workbench simulate`` an 8-subject phantom (shared component with subject loadings);
2. ``workbench batch`` the pipeline sync -> gradient -> cardiac -> parametric-modulation (visual) serially
   (``--workers 0``) and on a 2-process ``LocalCluster``; wall time of each, per-subject
   seconds, and whether every QC number, every cleaned-EEG sample and every beta-map voxel
   is identical between the two;
3. group features from the batch (visual ERP at the auto channel, main-effect beta maps on
   sub-01's grid) -> ``workbench fuse jica`` and ``workbench fuse cca`` from the tables;
   the shared component's recovery against the phantom's truth.

Usage: ``python benchmarks/bench_cohort.py [--subjects 8] [--duration 120] [--work DIR]
[--write]`` (``--write`` rewrites ``benchmarks/bench_cohort_results.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PIPELINE = {"steps": [
    {"id": "sync", "params": {}},
    {"id": "gradient", "params": {}},
    {"id": "cardiac", "params": {}},
    {"id": "parametric-modulation", "params": {"condition": "visual"}},
]}


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def _batch(study: Path, pipe: Path, out: Path, workers: int) -> dict:
    from workbench.cli.main import main

    if out.exists():
        shutil.rmtree(out)
    load0, cpu0, t0 = _load(), _cpu(), time.perf_counter()
    rc = main(["batch", str(study), "--pipeline", str(pipe), "--out", str(out), "--workers", str(workers)])
    wall = time.perf_counter() - t0
    doc = json.loads((out / "cohort.json").read_text())
    return {"rc": rc, "wall": wall, "cpu_this_process": _cpu() - cpu0, "load_before": load0,
            "load_after": _load(), "doc": doc,
            "per_subject": {r["subject"]: r["seconds"] for r in doc["subjects"]},
            "peak_rss_mb": {r["subject"]: r.get("peak_rss_mb") for r in doc["subjects"]},
            "worker_pid": {r["subject"]: r.get("pid") for r in doc["subjects"]}}


def _identical(a: Path, b: Path, subjects: list[str]) -> dict:
    import mne
    import nibabel as nib

    out = {"qc": True, "eeg": True, "maps": True, "n_qc_values": 0}
    for s in subjects:
        pa = json.loads((a / f"sub-{s}" / "project.json").read_text())
        pb = json.loads((b / f"sub-{s}" / "project.json").read_text())
        for x, y in zip(pa["steps"], pb["steps"]):
            qx = {k: v for k, v in x["qc"].items() if k != "seconds"}
            qy = {k: v for k, v in y["qc"].items() if k != "seconds"}
            out["qc"] &= qx == qy and x["params"] == y["params"]
            out["n_qc_values"] += len(qx)
        fa = sorted((a / f"sub-{s}" / "derivatives").glob("*clean*_eeg.fif"))[-1]
        fb = sorted((b / f"sub-{s}" / "derivatives").glob("*clean*_eeg.fif"))[-1]
        da = mne.io.read_raw_fif(fa, preload=True, verbose="error").get_data()
        db = mne.io.read_raw_fif(fb, preload=True, verbose="error").get_data()
        out["eeg"] &= bool(np.array_equal(da, db))
        for m in ("beta_main", "z_main", "beta_modulator"):
            ma = np.asanyarray(nib.load(a / f"sub-{s}/derivatives/fusion/parametric-modulation/{m}.nii.gz").dataobj)
            mb = np.asanyarray(nib.load(b / f"sub-{s}/derivatives/fusion/parametric-modulation/{m}.nii.gz").dataobj)
            out["maps"] &= bool(np.array_equal(ma, mb))
    return out


def _science(study: Path, cohort: Path, work: Path, channel: str = "Oz") -> dict:
    from workbench.cli.main import main
    from workbench.engine.cohort import group_features, write_group_tables
    from workbench.engine.phantom.cohort import group_truth, score_components

    feats = group_features(cohort, channel=channel)
    files = write_group_tables(feats, work / "group")
    truth = group_truth(study, feats["subjects"], feats["channel"], feats["times"], feats["mask"], feats["affine"])
    res: dict = {"channel": feats["channel"], "n_voxels": int(feats["mask"].sum()),
                 "n_times": len(feats["times"]), "subjects": feats["subjects"],
                 # references: how close the plain group means come to the truth (ceiling of the
                 # map score: the truth is the binary mask of the source, the data a smooth blob)
                 "r_group_mean_erp": float(np.corrcoef(feats["X"].mean(0), truth["erp"])[0, 1]),
                 "r_group_mean_map": float(np.corrcoef(feats["Y"].mean(0), truth["map"])[0, 1])}
    from workbench_jica.declaration import METHOD as JICA
    from workbench_jica.method import jica_arrays

    res["jica_by_k"] = {}
    for norm in ("modality", "subject"):
        for k in (1, 2, 3, 4):
            fit = jica_arrays(feats["X"], feats["Y"], JICA.validate_params({"n_components": k, "n_runs": 10,
                                                                            "normalize": norm}))
            res["jica_by_k"][f"{norm}-K{k}"] = {**score_components(truth, fit.x, fit.y, fit.loadings),
                                                "stability": [float(v) for v in fit.stability]}
    jdir = work / "jica"
    shutil.rmtree(jdir, ignore_errors=True)
    t0 = time.perf_counter()
    rc = main(["fuse", "jica", "--x", str(files["x"]), "--y", str(files["y"]), "--y-mask", str(files["y_mask"]),
               "--x-times", str(files["x_times"]), "--param", "n_components=3", "--param", "n_runs=10",
               "--out", str(jdir)])
    res["jica_seconds"] = time.perf_counter() - t0
    doc = json.loads((jdir / "result.json").read_text())
    m = doc["matrices"]
    sc = score_components(truth, np.asarray(m["components_x"]["values"]), np.asarray(m["components_y"]["values"]),
                          np.asarray(m["loadings"]["values"]))
    res["jica"] = {"rc": rc, **sc, "stability": doc["qc"]["stability"],
                   "explained": doc["qc"]["explained_variance"]}
    # CCA across subjects: ERP time points x voxels. Ridge alone (n subjects << features) fits
    # any data perfectly; PCA-CCA keeps 1-2 principal components per block (maps not
    # standardised voxel-wise: that would weigh noise voxels like active ones)
    res["cca"] = {}
    for name, extra in (("ridge0.5", ["reg_x=0.5", "reg_y=0.5", "n_components=2"]),
                        ("pca1", ["pca_x=1", "pca_y=1", "standardize=false"]),
                        ("pca2", ["pca_x=2", "pca_y=2", "standardize=false"])):
        cdir = work / f"cca-{name}"
        shutil.rmtree(cdir, ignore_errors=True)
        argv = ["fuse", "cca", "--x", str(files["x"]), "--y", str(files["y"]), "--param", "n_permutations=2000"]
        for e in extra:
            argv += ["--param", e]
        rc = main(argv + ["--out", str(cdir)])
        cd = json.loads((cdir / "result.json").read_text())
        var = np.asarray(cd["matrices"]["variates"]["values"])
        res["cca"][name] = {"rc": rc, "r": cd["qc"]["canonical_correlations"], "p": cd["qc"]["p_values"],
                            "r_U1_loadings": float(np.corrcoef(var[:, 0], truth["loadings"])[0, 1]),
                            "r_V1_loadings": float(np.corrcoef(var[:, 1], truth["loadings"])[0, 1])}
    # the simplest shared-variance check: the ERP amplitude and the map amplitude across subjects
    erp_amp = feats["X"] @ truth["erp"] / (truth["erp"] @ truth["erp"])
    map_amp = feats["Y"] @ truth["map"] / (truth["map"] @ truth["map"])
    res["amplitudes"] = {"r_erp_map": float(np.corrcoef(erp_amp, map_amp)[0, 1]),
                         "r_erp_loading": float(np.corrcoef(erp_amp, truth["loadings"])[0, 1]),
                         "r_map_loading": float(np.corrcoef(map_amp, truth["loadings"])[0, 1])}
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_cohort"))
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--science-only", action="store_true", help="group fusion on an existing serial run")
    ap.add_argument("--channel", default="Oz", help="ERP channel of the group features ('auto' allowed)")
    a = ap.parse_args(argv)
    from workbench.engine.phantom import PhantomConfig, simulate_study

    work = a.work
    work.mkdir(parents=True, exist_ok=True)
    study = work / "study"
    cfg = PhantomConfig(duration_s=a.duration, n_subjects=a.subjects, seed=12)
    results: dict = {"config": {"subjects": a.subjects, "duration_s": a.duration, "cpus": os.cpu_count()}}
    t0 = time.perf_counter()
    if not (study / "ground_truth" / "index.json").is_file():
        simulate_study(study, cfg, overwrite=True)
    results["simulate_seconds"] = time.perf_counter() - t0
    pipe = work / "pipeline.json"
    pipe.write_text(json.dumps({"study": str(study), **PIPELINE}))
    labels = [f"{i + 1:02d}" for i in range(a.subjects)]
    if a.science_only:
        old = json.loads((work / "results.json").read_text()) if (work / "results.json").is_file() else {}
        old["science"] = _science(study, work / "serial", work, a.channel)
        _dump(work, old)
        print(json.dumps(old["science"], indent=1, default=float))
        return 0
    print("serial...", file=sys.stderr)
    results["serial"] = _batch(study, pipe, work / "serial", 0)
    _dump(work, results)
    print("science...", file=sys.stderr)
    try:
        results["science"] = _science(study, work / "serial", work, a.channel)
    except Exception as exc:  # keep the timing part going; the science can be re-run alone
        import traceback

        traceback.print_exc()
        results["science"] = {"error": f"{type(exc).__name__}: {exc}"}
    _dump(work, results)
    if not a.skip_dask:
        print("dask 2 workers...", file=sys.stderr)
        results["dask2"] = _batch(study, pipe, work / "dask2", 2)
        results["identical"] = _identical(work / "serial", work / "dask2", labels)
        _dump(work, results)
    print(json.dumps(_slim(results), indent=1))
    if a.write:
        (HERE / "bench_cohort_results.json").write_text(json.dumps(_slim(results), indent=1) + "\n")
    return 0


def _slim(results: dict) -> dict:
    out = json.loads(json.dumps(results, default=float))
    for k in ("serial", "dask2"):
        if k in out:
            out[k].pop("doc", None)
    return out


def _dump(work: Path, results: dict) -> None:
    (work / "results.json").write_text(json.dumps(_slim(results), indent=1, default=float))


if __name__ == "__main__":
    sys.exit(main())
