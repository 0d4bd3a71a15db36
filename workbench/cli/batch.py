"""``workbench batch STUDY --pipeline PIPELINE.json --out DIR [--workers N | --scheduler ADDRESS]``.

Runs a recorded pipeline (the JSON ``workbench run`` replays) on every subject of a BIDS
study, each subject one task of a ``dask.distributed`` cluster: a ``LocalCluster`` on this
machine by default, or an existing scheduler (a lab server, a Slurm cluster started with
dask-jobqueue) with ``--scheduler``. Every subject runs exactly as ``workbench run`` runs
it alone, into ``DIR/sub-<label>/`` (``project.json``, ``derivatives/``, ``report.html``);
the cohort's summary goes to ``DIR/cohort.json`` and ``DIR/cohort.html``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

NAME = "batch"
HELP = "run a pipeline on every subject of a BIDS study (Dask: local workers or a cluster)"
DESCRIPTION = (
    "Run PIPELINE.json ({\"steps\": [{\"id\": ..., \"params\": {...}}, ...]}, as `workbench run` "
    "replays it; its \"study\"/\"subject\" keys are ignored) on every subject of STUDY. Each "
    "subject is one dask.distributed task (a LocalCluster of --workers processes by default, "
    "or the cluster at --scheduler ADDRESS; --workers 0 runs the subjects one after the other "
    "in this process, without Dask). Results are identical to running each subject alone. A "
    "failed subject is reported and the others finish; a re-run skips subjects whose steps, "
    "parameters and input files (sha256) are unchanged (--force runs them again). Writes "
    "DIR/sub-<label>/ per subject and DIR/cohort.json + DIR/cohort.html. Exit status 1 when a "
    "subject failed. With --scheduler, the workers must see STUDY and DIR at the same paths (a "
    "shared file system) and have the workbench and its plugins installed."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", type=Path, metavar="STUDY", help="BIDS study folder (sub-* folders)")
    p.add_argument("--pipeline", type=Path, required=True, metavar="PIPELINE.json",
                   help="recorded pipeline: steps and parameters (see `workbench steps`), or a project "
                        "folder: its steps as they stand (failed runs and dropped steps left out)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="cohort output folder")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local Dask worker processes (default: min(subjects, CPUs)); 0 = serial, no Dask")
    g.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler (tcp://host:8786)")
    p.add_argument("--threads", action="store_true",
                   help="local workers are threads of one process instead of processes")
    p.add_argument("--memory-limit", default="auto", metavar="BYTES",
                   help="memory limit per local worker (Dask syntax: '4GB'; default: RAM / workers)")
    p.add_argument("--subjects", metavar="A,B", help="only these subject labels (default: all)")
    p.add_argument("--force", action="store_true", help="run every subject even when unchanged")
    p.add_argument("--group", action="store_true",
                   help="then group fusion across subjects: each subject's ERP (cleaned EEG) and "
                        "parametric-modulation beta map -> joint ICA, PCA-CCA, and CCA of the ERP amplitude "
                        "with the mean beta in the group ROI, into DIR/group/ (group.html); needs "
                        "parametric-modulation in the pipeline")
    p.add_argument("--group-channel", default="auto", metavar="NAME",
                   help="ERP channel of the group features (default auto: the most consistent one)")
    p.add_argument("--group-marker", default="Stimulus/S  1", metavar="MARKER",
                   help="EEG marker the group ERP is locked to")


def _load_plan(path: Path, catalog: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The pipeline's steps, each known and with valid parameters (checked before anything runs)."""
    from ..engine.errors import InputError
    from ..engine.runner import plan_from_json
    from ..engine.validate import load_json

    if path.is_dir():  # a project: its steps as they stand, as the GUI's "This project"
        from ..engine.project import PROJECT_FILE, Project
        from ..engine.runner import pipeline_from_records

        if not (path / PROJECT_FILE).is_file():
            raise InputError(path, f"a folder given as --pipeline must be a project (no {PROJECT_FILE} in it)")
        doc = {"steps": pipeline_from_records(Project.load(path).steps, catalog)}
    else:
        doc = load_json(path, what="pipeline JSON")
    if not isinstance(doc, dict):
        raise InputError(path, 'a pipeline file needs {"steps": [...]}')
    steps = plan_from_json(doc, path)
    if not steps:
        raise InputError(path, "the pipeline has no steps")
    out = []
    for i, (sid, params) in enumerate(steps):
        spec = catalog.get(sid)
        if spec is None:
            known = ", ".join(sorted(catalog))
            raise InputError(path, f"step {i + 1}: unknown step {sid!r}; steps that exist: {known}")
        if not spec.available:
            raise InputError(path, f"step {sid!r} is not available: {spec.unavailable_reason}")
        try:
            spec.validate(params)
        except InputError as exc:
            raise InputError(path, f"step {sid!r}: {exc.problem}") from None
        out.append((sid, params))
    return out


def run(args: argparse.Namespace) -> int:
    from ..engine.cohort import study_subjects, write_cohort_summary
    from ..engine.errors import InputError
    from ..plugin_api import all_steps

    study = args.study.resolve()
    labels = study_subjects(study)
    if args.subjects:
        want = [s.strip().removeprefix("sub-") for s in args.subjects.split(",") if s.strip()]
        unknown = [s for s in want if s not in labels]
        if unknown:
            raise InputError(study, f"no subject {unknown[0]!r}; subjects: {', '.join(labels)}")
        labels = want
    catalog = all_steps()
    steps = _load_plan(args.pipeline, catalog)
    out = args.out.resolve()
    if out == study or study in out.parents and not out.is_relative_to(study / "derivatives"):
        raise InputError(out, "write the cohort outside the study (or under its derivatives/ folder)")
    out.mkdir(parents=True, exist_ok=True)
    name = args.pipeline.stem
    t0 = time.perf_counter()
    previous = _sigterm_as_interrupt()  # the GUI's Cancel terminates this process: summarise, close the cluster
    try:
        if args.workers == 0 and not args.scheduler:
            where = "serial (this process)"
            records, cancelled = _serial(study, labels, steps, out, args.force, name)
        else:
            records, where, cancelled = _dask(study, labels, steps, out, args, name)
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)
    meta = {"study": str(study), "pipeline": str(args.pipeline.resolve()), "steps": [s for s, _ in steps],
            "executor": where, "wall_seconds": round(time.perf_counter() - t0, 3)}
    if cancelled:
        meta["cancelled"] = True
    cj, ch = write_cohort_summary(out, records, meta)
    for r in sorted(records, key=lambda r: r["subject"]):
        msg = f" - {r['message']}" if r["message"] else ""
        rss = f", worker peak {r['peak_rss_mb']:.0f} MB" if r.get("peak_rss_mb") else ""
        print(f"sub-{r['subject']}: {r['status']} ({r['seconds']:.1f} s{rss}){msg}")
    n_failed = sum(r["status"] == "failed" for r in records)
    if cancelled:
        n_done = sum(r["status"] in ("done", "skipped") for r in records)
        print(f"cancelled after {meta['wall_seconds']:.1f} s: {n_done} of {len(records)} subject(s) finished; "
              f"summary of those: {cj}, {ch} (run the same command again to finish; finished subjects "
              "are skipped)")
        return 130
    print(f"{len(records)} subject(s) in {meta['wall_seconds']:.1f} s on {where}; "
          f"{n_failed} failed; summary: {cj}, {ch}")
    if getattr(args, "group", False):
        if n_failed:
            raise InputError(out, f"{n_failed} subject(s) failed: group fusion needs every subject; fix them "
                                  "or leave them out with --subjects")
        page = group_fusion(out, args.group_channel, args.group_marker)
        print(f"group results: {page}")
    return 1 if n_failed else 0


def group_fusion(out: Path, channel: str = "auto", marker: str = "Stimulus/S  1") -> Path:
    """Group features from the cohort folder -> joint ICA and PCA-CCA -> ``OUT/group/group.html``."""
    from ..engine.atomic import atomic_write_text
    from ..engine.cohort import group_features, write_group_tables
    from ..engine.errors import InputError
    from .main import main

    folder = out / "group"
    feats = group_features(out, marker=marker, channel=channel)
    files = write_group_tables(feats, folder)
    common = ["--x", str(files["x"]), "--y", str(files["y"]), "--y-mask", str(files["y_mask"])]
    k = 2 if len(feats["subjects"]) >= 4 else 1
    runs = {
        "jica": ["fuse", "jica", *common, "--x-times", str(files["x_times"]), "--param", f"n_components={k}",
                 "--param", "n_runs=10"],
        "cca": ["fuse", "cca", *common, "--param", "pca_x=1", "--param", "pca_y=1", "--param",
                "standardize=false", "--param", "n_permutations=2000"],
        # one number per subject and modality (ERP amplitude x mean beta in the group ROI): on the
        # 8-subject phantom p 0.09 where the voxel maps' PCA-CCA gave 0.98 (benchmarks/bench_cohort_power.py)
        "cca_roi": ["fuse", "cca", "--x", str(files["x_amp"]), "--y", str(files["y_roi"]), "--param",
                    "n_permutations=5000"],
    }
    for name, argv in runs.items():
        if main([*argv, "--out", str(folder / name)]) != 0:
            raise InputError(folder / name, f"group {name} failed (see the message above)")
    page = folder / "group.html"
    atomic_write_text(page, _group_html(folder, feats))
    return page


def _group_html(folder: Path, feats: dict[str, Any]) -> str:
    """One page: jICA components (ERP part, subject loadings, stability), CCA r and p."""
    import base64
    import html
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    j = json.loads((folder / "jica" / "result.json").read_text(encoding="utf-8"))
    c = json.loads((folder / "cca" / "result.json").read_text(encoding="utf-8"))
    c_roi = json.loads((folder / "cca_roi" / "result.json").read_text(encoding="utf-8"))["qc"]
    comp_x = np.asarray(j["matrices"]["components_x"]["values"])
    load = np.asarray(j["matrices"]["loadings"]["values"])
    subs = j["matrices"]["loadings"]["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for k in range(comp_x.shape[0]):
        axes[0].plot(feats["times"], comp_x[k], label=f"C{k + 1}")
    axes[0].set(xlabel="time (s)", ylabel="ERP part (z)", title=f"joint ICA: ERP parts ({feats['channel']})")
    axes[0].legend()
    width = 0.8 / load.shape[1]
    for k in range(load.shape[1]):
        axes[1].bar(np.arange(len(subs)) + k * width, load[:, k], width, label=f"C{k + 1}")
    axes[1].set_xticks(np.arange(len(subs)), subs, rotation=60, fontsize=7)
    axes[1].set(title="subject loadings")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    png = base64.b64encode(buf.getvalue()).decode()
    e = html.escape
    stab = ", ".join(f"C{i + 1}: {v:.2f}" if v is not None else f"C{i + 1}: -"
                     for i, v in enumerate(j["qc"]["stability"]))
    cca = ", ".join(f"mode {i + 1}: r = {r:.3f}, p = {p:.4f}" if p is not None else f"mode {i + 1}: r = {r:.3f}"
                    for i, (r, p) in enumerate(zip(c["qc"]["canonical_correlations"], c["qc"]["p_values"])))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Group fusion</title>
<style>body{{font-family:sans-serif}}</style></head><body>
<h1>Group fusion: {len(subs)} subjects</h1>
<p>Features: the ERP at {e(feats['channel'])} ({len(feats['times'])} time points) and the
parametric-modulation main-effect beta map ({int(feats['mask'].sum())} voxels common to all subjects).
Tables: <a href="x.tsv">x.tsv</a>, <a href="y.tsv">y.tsv</a>.</p>
<h2>Joint ICA</h2><p>Stability (ICASSO-like index): {e(stab)}. Component 1's map part:
<a href="jica/component1_map.nii.gz">jica/component1_map.nii.gz</a>; all numbers:
<a href="jica/result.json">jica/result.json</a>.</p>
<img src="data:image/png;base64,{png}" alt="joint ICA components">
<h2>CCA (first principal component of each block)</h2><p>{e(cca)}
(max-statistic permutation test over subjects); <a href="cca/result.json">cca/result.json</a>.</p>
<h2>CCA on one number per subject (ERP amplitude x mean beta in the group ROI)</h2>
<p>r = {c_roi['r1']:.3f}, p = {_p(c_roi['p1'])} ({c_roi['n_permutations']} permutations of the subjects).
The ERP amplitude is each subject's ERP projected on the group-mean ERP, the ROI the
top 1 % of voxels of the group-mean beta map (<a href="roi_mask.nii.gz">roi_mask.nii.gz</a>);
neither uses the pairing, so the test is exact. For a shared component whose size varies
~50 % between subjects (the phantom's) this test has 30 % power with 8 subjects and 80 % with
about 22 (simulated: benchmarks/bench_cohort_power.py); <a href="cca_roi/result.json">cca_roi/result.json</a>.</p>
</body></html>
"""


def _p(p: Any) -> str:
    return "-" if p is None else f"{p:.4f}"


def _cancelled(label: str) -> dict[str, Any]:
    return {"subject": label, "status": "cancelled", "steps": [], "seconds": 0.0,
            "message": "cancelled by the user before it finished", "folder": f"sub-{label}"}


def _serial(study: Path, labels: list[str], steps: list, out: Path, force: bool,
            name: str) -> tuple[list[dict], bool]:
    """The subjects one after the other; Ctrl-C keeps the finished ones: ``(records, cancelled)``."""
    from ..cohort_tasks import subject_task

    records: list[dict] = []
    try:
        for i, label in enumerate(labels):
            print(f"[{i + 1}/{len(labels)}] sub-{label}: running", file=sys.stderr)
            rec = subject_task(str(study), label, steps, str(out), force, name)
            print(f"[{i + 1}/{len(labels)}] sub-{label}: {rec['status']} ({rec['seconds']:.1f} s)",
                  file=sys.stderr)
            records.append(rec)
    except KeyboardInterrupt:
        records += [_cancelled(label) for label in labels[len(records):]]
        return records, True
    return records, False


def _dask(study: Path, labels: list[str], steps: list, out: Path, args: argparse.Namespace,
          name: str) -> tuple[list[dict], str, bool]:
    """The subjects as Dask tasks: ``(records, executor, cancelled)``; Ctrl-C keeps the finished ones."""
    import os

    from ..engine.cohort import read_progress
    from ..engine.errors import InputError

    try:
        from distributed import Client
    except ImportError:
        raise InputError(None, "dask.distributed is not installed: run installer/bootstrap.sh, or "
                               "use --workers 0 to run the subjects serially") from None
    logging.getLogger("distributed").setLevel(logging.ERROR)  # worker start/stop chatter
    cluster = None
    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout="20s")
        except Exception as exc:  # noqa: BLE001 - unreachable, refused, unknown protocol
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(None, f"cannot reach the Dask scheduler at {args.scheduler} ({msg})") from None
        where = f"Dask scheduler {args.scheduler}"
    else:
        n = args.workers or min(len(labels), os.cpu_count() or 1)
        cluster = local_cluster(n, not args.threads, args.memory_limit)
        client = Client(cluster)
        where = f"Dask LocalCluster, {n} {'thread' if args.threads else 'process'} worker(s)"
    from ..cohort_tasks import subject_task

    cancelled = False
    started = time.time()
    run_id = uuid.uuid4().hex[:8]
    futures = {client.submit(subject_task, str(study), label, steps, str(out), args.force, name,
                             key=f"workbench-batch-{run_id}-sub-{label}", pure=False): label
               for label in labels}
    records: dict[str, dict] = {}
    shown: dict[str, str] = {}
    try:
        pending = set(futures)
        while pending:
            done = {f for f in pending if f.done()}
            pending -= done
            if not done:
                time.sleep(0.5)
            for fut in done:
                label = futures[fut]
                try:
                    records[label] = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker lost, a crash outside run_subject
                    records[label] = {"subject": label, "status": "failed", "steps": [], "seconds": 0.0,
                                      "message": f"{type(exc).__name__}: {exc}".replace("\n", " "),
                                      "folder": f"sub-{label}"}
                r = records[label]
                print(f"[{len(records)}/{len(labels)}] sub-{label}: {r['status']} ({r['seconds']:.1f} s)",
                      file=sys.stderr)
            for fut in pending:
                label = futures[fut]
                prog = read_progress(out, label)
                if prog:
                    line = f"sub-{label} [{100 * prog['fraction']:5.1f}%] {prog['message']}"
                    if shown.get(label) != line:
                        shown[label] = line
                        print(line, file=sys.stderr)
    except KeyboardInterrupt:
        cancelled = True
        for fut in futures:
            fut.cancel()
        from ..engine.cohort import finished_record

        for label in futures.values():
            if label not in records:  # done on a worker but not collected yet: keep it
                records[label] = finished_record(out, label, started) or _cancelled(label)
    finally:
        try:
            client.close()
            if cluster is not None:
                cluster.close()
        except KeyboardInterrupt:  # a second Ctrl-C while closing: the summary is still written
            cancelled = True
    return [records[label] for label in labels], where, cancelled


def _sigterm_as_interrupt() -> Any:
    """SIGTERM raises KeyboardInterrupt (so ``finally`` closes the cluster); returns the old handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, handler)
    return signal.SIG_DFL if old is None else old


def local_cluster(n_workers: int, processes: bool = True, memory_limit: str = "auto") -> Any:
    """A ``LocalCluster`` whose workers compute like this process does.

    Dask's nanny starts worker processes with ``OMP_NUM_THREADS=1`` (and the MKL/OpenBLAS
    equivalents); a subject run alone (``workbench run``) uses the machine's default BLAS
    threading, and a different thread count sums floating-point products in another order
    (measured: last-bit differences in a GLM's QC). The workers therefore inherit this
    process's environment instead, so a subject's numbers are bit-identical to running it
    alone on the same machine. Set ``OMP_NUM_THREADS`` before ``workbench batch`` to limit
    BLAS threads (it then applies to both).
    """
    import dask
    from distributed import LocalCluster

    keep = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
            if not k.endswith("_NUM_THREADS")}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": keep}):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                            memory_limit=memory_limit, dashboard_address=None, silence_logs=logging.ERROR)


def summary_json(out: Path) -> dict[str, Any]:
    """``DIR/cohort.json`` as a dict (for tests and the GUI)."""
    return json.loads((Path(out) / "cohort.json").read_text(encoding="utf-8"))
