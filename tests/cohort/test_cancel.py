"""A batch stopped by the user (Ctrl-C, SIGTERM from the GUI's Cancel) still writes cohort.json
with the subjects finished so far; a re-run finishes the others."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from workbench.cli.main import main


def _study(tmp_path, n=3):
    for i in range(n):
        (tmp_path / "study" / f"sub-{i + 1:02d}").mkdir(parents=True)
    pipe = tmp_path / "pipeline.json"
    pipe.write_text(json.dumps({"steps": [{"id": "sync", "params": {}}]}))
    return tmp_path / "study", pipe


def _done(label, seconds=0.1):
    return {"subject": label, "status": "done", "steps": [{"id": "sync", "status": "done", "qc": {},
                                                           "message": ""}],
            "message": "", "seconds": seconds, "folder": f"sub-{label}", "peak_rss_mb": 1.0}


def test_ctrl_c_in_a_serial_batch_keeps_the_finished_subjects(tmp_path, monkeypatch, capsys):
    import workbench.cohort_tasks as tasks

    study, pipe = _study(tmp_path)
    ran = []

    def fake(study_dir, label, steps, out_dir, force=False, name="p"):
        ran.append(label)
        if label == "02":
            raise KeyboardInterrupt  # Ctrl-C while sub-02 runs
        return _done(label)

    monkeypatch.setattr(tasks, "subject_task", fake)
    out = tmp_path / "cohort"
    rc = main(["batch", str(study), "--pipeline", str(pipe), "--out", str(out), "--workers", "0"])
    assert rc == 130 and ran == ["01", "02"]
    doc = json.loads((out / "cohort.json").read_text())
    assert doc["cancelled"] is True
    assert [(r["subject"], r["status"]) for r in doc["subjects"]] == [
        ("01", "done"), ("02", "cancelled"), ("03", "cancelled")]
    assert doc["counts"] == {"done": 1, "skipped": 0, "failed": 0, "cancelled": 2}
    assert "2 cancelled" in (out / "cohort.html").read_text()
    assert "cancelled after" in capsys.readouterr().out
    assert not list(out.glob("*.tmp*"))  # atomic: no half-written summary left


def test_sigterm_during_a_dask_batch_writes_the_summary(tmp_path, monkeypatch):
    """The GUI's Cancel sends SIGTERM: the finished subject is kept, the others are cancelled."""
    pytest.importorskip("distributed")
    import workbench.cohort_tasks as tasks

    study, pipe = _study(tmp_path)

    def fake(study_dir, label, steps, out_dir, force=False, name="p"):
        if label != "01":
            time.sleep(1.5)  # the client has seen sub-01 finish by now
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
        return _done(label)

    monkeypatch.setattr(tasks, "subject_task", fake)
    out = tmp_path / "cohort"
    old = signal.getsignal(signal.SIGTERM)
    rc = main(["batch", str(study), "--pipeline", str(pipe), "--out", str(out), "--workers", "1", "--threads"])
    assert signal.getsignal(signal.SIGTERM) == old  # the handler is restored
    assert rc == 130
    doc = json.loads((out / "cohort.json").read_text())
    st = {r["subject"]: r["status"] for r in doc["subjects"]}
    assert st["01"] == "done" and "cancelled" in st.values() and doc["cancelled"] is True


def test_a_subject_saved_but_not_collected_when_cancelled_counts_as_done(tmp_path):
    import time as _time

    from workbench.engine.cohort import finished_record
    from workbench.engine.project import Project

    t0 = _time.time() - 1.0
    folder = tmp_path / "sub-01"
    proj = Project(folder, name="p")
    proj.save()
    assert finished_record(tmp_path, "01", t0) is None  # no steps recorded: not a finished run
    assert finished_record(tmp_path, "02", t0) is None  # never started
    data = json.loads((folder / "project.json").read_text())
    data["steps"] = [{"name": "sync", "status": "done", "params": {}, "qc": {"n": 3}, "message": ""}]
    (folder / "project.json").write_text(json.dumps(data))
    rec = finished_record(tmp_path, "01", t0)
    assert rec is not None and rec["status"] == "done" and rec["steps"][0]["id"] == "sync"
    assert finished_record(tmp_path, "01", _time.time() + 10) is None  # older than this batch: not ours
