"""``workbench batch``: identical numbers to single-subject runs, failures isolated, re-runs skipped."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from workbench.cli.main import main

PIPE = {"steps": [{"id": "sync", "params": {}}, {"id": "gradient", "params": {"window": 8}}]}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from workbench.engine.phantom import PhantomConfig, simulate_study

    root = tmp_path_factory.mktemp("cohort") / "study"
    simulate_study(root, PhantomConfig(duration_s=30, sfreq=500, n_eeg=32, tr=2.0, slices=10,
                                       n_subjects=3, seed=2))
    return root


def _pipeline(tmp_path, study, steps=PIPE):
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps({"study": str(study), **steps}))
    return path


def _cohort(out):
    return json.loads((out / "cohort.json").read_text())


def _gradclean(folder):
    import mne

    f = next((folder / "derivatives").glob("*desc-gradclean_eeg.fif"))
    return mne.io.read_raw_fif(f, preload=True, verbose="error").get_data()


def test_two_dask_workers_give_the_numbers_of_single_runs(tmp_path, study):
    pipe = _pipeline(tmp_path, study)
    out = tmp_path / "cohort"
    assert main(["batch", str(study), "--pipeline", str(pipe), "--out", str(out), "--workers", "2"]) == 0
    doc = _cohort(out)
    assert doc["counts"] == {"done": 3, "skipped": 0, "failed": 0}
    assert "LocalCluster, 2 process" in doc["executor"]
    assert (out / "cohort.html").read_text().count("sub-0") >= 3
    for label in ("03",):
        # the same subject alone, through `workbench run PIPELINE.json` (subject chosen in the file)
        single = tmp_path / f"single-{label}.json"
        single.write_text(json.dumps({"study": str(study), "subject": label, **PIPE}))
        assert main(["run", str(single), "--out", str(tmp_path / f"alone-{label}")]) == 0
        alone = json.loads((tmp_path / f"alone-{label}" / "project.json").read_text())
        assert {"eeg", "bold"} <= {i["kind"] for i in alone["inputs"]}  # opening it finds the BOLD
        batch = json.loads((out / f"sub-{label}" / "project.json").read_text())
        for a, b in zip(alone["steps"], batch["steps"]):
            assert a["name"] == b["name"] and a["params"] == b["params"] and a["inputs"] == b["inputs"]
            qa = {k: v for k, v in a["qc"].items() if k != "seconds"}
            qb = {k: v for k, v in b["qc"].items() if k != "seconds"}
            assert qa == qb  # exactly, not approximately
        assert np.array_equal(_gradclean(tmp_path / f"alone-{label}"), _gradclean(out / f"sub-{label}"))
        assert (out / f"sub-{label}" / "report.html").is_file()
    # subjects differ from each other (the comparison above is not comparing one subject with itself)
    q = [json.dumps(s["steps"][1]["qc"], sort_keys=True) for s in doc["subjects"]]
    assert len(set(q)) == 3


def test_failed_subject_reported_others_finish_then_rerun_skips_unchanged(tmp_path, study):
    local = tmp_path / "study"
    shutil.copytree(study, local, ignore=shutil.ignore_patterns("ground_truth"))
    eeg = next((local / "sub-02" / "eeg").glob("*.vhdr"))
    good = eeg.read_bytes()
    eeg.write_bytes(good.replace(b"DataFile=", b"DataFile=missing_", 1))
    pipe = _pipeline(tmp_path, local)
    out = tmp_path / "cohort"
    rc = main(["batch", str(local), "--pipeline", str(pipe), "--out", str(out), "--workers", "0"])
    assert rc == 1
    doc = _cohort(out)
    status = {r["subject"]: r for r in doc["subjects"]}
    assert status["02"]["status"] == "failed" and status["02"]["message"]
    assert "\n" not in status["02"]["message"]
    assert status["01"]["status"] == "done" and status["03"]["status"] == "done"
    # fixed input: only sub-02 runs again, the others are unchanged and skipped
    eeg.write_bytes(good)
    assert main(["batch", str(local), "--pipeline", str(pipe), "--out", str(out), "--workers", "0"]) == 0
    st = {r["subject"]: r["status"] for r in _cohort(out)["subjects"]}
    assert st == {"01": "skipped", "02": "done", "03": "skipped"}
    # a changed input file (events) re-runs that subject only
    ev = next((local / "sub-03" / "eeg").glob("*.vmrk"))
    ev.write_bytes(ev.read_bytes() + b"\n")
    main(["batch", str(local), "--pipeline", str(pipe), "--out", str(out), "--workers", "0"])
    st = {r["subject"]: r["status"] for r in _cohort(out)["subjects"]}
    assert st == {"01": "skipped", "02": "skipped", "03": "done"}
    # a changed parameter re-runs every subject
    changed = {"steps": [{"id": "sync", "params": {}}, {"id": "gradient", "params": {"window": 9}}]}
    main(["batch", str(local), "--pipeline", str(_pipeline(tmp_path, local, changed)), "--out", str(out),
          "--workers", "0", "--subjects", "01"])
    assert [r["status"] for r in _cohort(out)["subjects"]] == ["done"]


def test_bad_pipeline_fails_before_anything_runs(tmp_path, study, capsys):
    pipe = tmp_path / "p.json"
    pipe.write_text(json.dumps({"steps": [{"id": "sync"}, {"id": "gradient", "params": {"window": -3}}]}))
    assert main(["batch", str(study), "--pipeline", str(pipe), "--out", str(tmp_path / "o")]) != 0
    assert not (tmp_path / "o" / "cohort.json").exists()
    pipe.write_text(json.dumps({"steps": [{"id": "no-such-step"}]}))
    assert main(["batch", str(study), "--pipeline", str(pipe), "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err
    assert "no-such-step" in err


def test_a_project_folder_as_the_pipeline(tmp_path, study, capsys):
    """``--pipeline PROJECT``: the project's steps as they stand (the GUI's "This project")."""
    from workbench.engine.project import Project

    proj = Project(tmp_path / "proj")
    proj.record_step("sync", {})
    proj.record_step("gradient", {"window": 8}, status="failed")
    proj.save()
    out = tmp_path / "cohort"
    assert main(["batch", str(study), "--pipeline", str(proj.root), "--out", str(out), "--workers", "0",
                 "--subjects", "01"]) == 0
    (rec,) = _cohort(out)["subjects"]
    assert rec["status"] == "done" and [s["id"] for s in rec["steps"]] == ["sync"]
    (tmp_path / "empty").mkdir()
    assert main(["batch", str(study), "--pipeline", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) != 0
    assert "must be a project" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_existing_scheduler_address(tmp_path, study):
    from distributed import LocalCluster

    pipe = _pipeline(tmp_path, study, {"steps": [{"id": "sync", "params": {}}]})
    out = tmp_path / "cohort"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        rc = main(["batch", str(study), "--pipeline", str(pipe), "--out", str(out), "--scheduler",
                   cluster.scheduler_address, "--subjects", "sub-01"])
    assert rc == 0
    doc = _cohort(out)
    assert doc["executor"] == f"Dask scheduler {cluster.scheduler_address}"
    assert [r["status"] for r in doc["subjects"]] == ["done"]
    assert main(["batch", str(study), "--pipeline", str(pipe), "--out", str(out), "--scheduler",
                 "nowhere://x", "--subjects", "01"]) != 0  # not a scheduler: one-line error


def test_local_workers_keep_this_process_blas_threading(monkeypatch):
    """Dask's nanny would force OMP_NUM_THREADS=1 in workers: a GLM's QC then differed in the last bit
    from the same subject run alone (measured in benchmarks/bench_cohort.py); workers inherit ours."""
    import os

    from distributed import Client

    from workbench.cli.batch import local_cluster

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with local_cluster(1) as cluster, Client(cluster) as client:
        env = client.run(lambda: (os.environ.get("OMP_NUM_THREADS"), os.environ.get("OPENBLAS_NUM_THREADS")))
    assert list(env.values()) == [(None, None)]
