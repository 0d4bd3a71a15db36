"""The Cohort tab: the summary table, the command it runs, refusal without inputs."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("PyQt6")


def _doc():
    return {"schema": "workbench.cohort/1", "steps": ["sync", "gradient"],
            "counts": {"done": 1, "skipped": 1, "failed": 1},
            "subjects": [
                {"subject": "01", "status": "done", "seconds": 3.0, "message": "", "folder": "sub-01",
                 "steps": [{"id": "sync", "status": "done", "qc": {"drift_ppm": 20.4}, "message": ""},
                           {"id": "gradient", "status": "done", "qc": {"harmonic_reduction_db": 30.1}, "message": ""}]},
                {"subject": "02", "status": "failed", "seconds": 1.0, "message": "sub-02: EEG unreadable",
                 "folder": "sub-02", "steps": []},
                {"subject": "03", "status": "skipped", "seconds": 0.2, "message": "unchanged", "folder": "sub-03",
                 "steps": [{"id": "sync", "status": "done", "qc": {}, "message": ""}]}]}


def test_summary_table_and_command(qtbot, tmp_path):
    from workbench.gui.cohort import CohortTab

    tab = CohortTab(None)
    qtbot.addWidget(tab)
    (tmp_path / "cohort.json").write_text(json.dumps(_doc()))
    tab.out_edit.setText(str(tmp_path))
    tab.reload()
    t = tab.table
    assert t.rowCount() == 3 and t.columnCount() == 4
    assert t.item(0, 2).text().startswith("done") and "drift_ppm: 20.4" in t.item(0, 2).text()
    assert t.item(1, 1).text().startswith("failed") and "unreadable" in t.item(1, 1).toolTip()
    assert t.item(1, 2).text() == "-"
    assert "1 failed" in tab.status.text()
    tab.study_edit.setText("/data/study")
    tab.pipeline_edit.setText("/data/p.json")
    tab.workers.setValue(3)
    assert tab.command() == ["-m", "workbench", "batch", "/data/study", "--pipeline", "/data/p.json",
                             "--out", str(tmp_path), "--workers", "3"]


def test_start_refuses_without_inputs_and_names_a_bad_study(qtbot, tmp_path):
    from workbench.gui.cohort import CohortTab

    tab = CohortTab(None)
    qtbot.addWidget(tab)
    tab.start()
    assert "choose the study" in tab.status.text() and tab.process is None
    tab.study_edit.setText(str(tmp_path))
    tab.pipeline_edit.setText(str(tmp_path / "p.json"))
    tab.out_edit.setText(str(tmp_path / "out"))
    tab.start()
    assert "no sub-* folders" in tab.status.text() and tab.process is None


def test_cancelled_batch_summary_and_group_results(qtbot, tmp_path, monkeypatch):
    from PyQt6.QtGui import QDesktopServices

    from workbench.gui.cohort import CohortTab

    tab = CohortTab(None)
    qtbot.addWidget(tab)
    doc = _doc()
    doc["subjects"][1]["status"] = "cancelled"
    doc["counts"] = {"done": 1, "skipped": 1, "failed": 0, "cancelled": 1}
    doc["cancelled"] = True
    (tmp_path / "cohort.json").write_text(json.dumps(doc))
    tab.out_edit.setText(str(tmp_path))
    tab.reload()
    assert "1 cancelled" in tab.status.text() and tab.table.item(1, 1).text().startswith("cancelled")
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    tab.open_group()
    assert "no group results" in tab.status.text() and not opened
    (tmp_path / "group").mkdir()
    (tmp_path / "group" / "group.html").write_text("<html></html>")
    tab.open_group()
    assert opened == [str(tmp_path / "group" / "group.html")]
    tab.study_edit.setText("/s")
    tab.pipeline_edit.setText("/p.json")
    tab.group_chk.setChecked(True)
    assert tab.command()[-1] == "--group"


def test_start_runs_the_batch_process_and_shows_its_summary(qtbot, tmp_path):
    """A real `python -m workbench batch` started from the view; its subjects fail fast (no data)."""
    from workbench.gui.cohort import CohortTab

    for s in ("01", "02"):
        (tmp_path / "study" / f"sub-{s}").mkdir(parents=True)
    (tmp_path / "p.json").write_text(json.dumps({"steps": [{"id": "sync", "params": {}}]}))
    tab = CohortTab(None)
    qtbot.addWidget(tab)
    tab.study_edit.setText(str(tmp_path / "study"))
    tab.pipeline_edit.setText(str(tmp_path / "p.json"))
    tab.out_edit.setText(str(tmp_path / "out"))
    tab.workers.setValue(0)
    tab.start()
    assert tab.process is not None and not tab.start_btn.isEnabled() and tab.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: tab.process is None, timeout=240_000)
    assert tab.table.rowCount() == 2 and tab.table.item(0, 1).text().startswith("failed")
    assert "2 failed" in tab.status.text() and "finished with errors" in tab.status.text()
    assert tab.start_btn.isEnabled() and not tab.cancel_btn.isEnabled()


def test_intro_until_subjects_and_this_projects_steps(qtbot, tmp_path):
    """An empty Cohort tab says what to do (it was a blank white table); the subjects'
    rows replace the text. "This project" writes the open project's steps as they stand:
    failed runs left out, a step run again once with its last parameters, a step whose EEG
    a re-run dropped left out."""
    from types import SimpleNamespace

    from workbench.engine.project import Project
    from workbench.engine.runner import plan_from_json
    from workbench.engine.validate import load_json
    from workbench.gui.cohort import CohortTab

    session = SimpleNamespace(project=None)
    tab = CohortTab(session)
    qtbot.addWidget(tab)
    tab.show()
    assert tab.intro.isVisible() and "Start batch" in tab.intro.text()
    tab.use_open_project()
    assert "no project is open" in tab.status.text() and tab.pipeline_edit.text() == ""
    proj = Project(tmp_path / "proj")
    session.project = proj
    tab.use_open_project()
    assert "no step run yet" in tab.status.text()
    proj.record_step("sync", {"tr": 2.0})
    proj.record_step("gradient", {"window": 20})
    proj.record_step("notch", {}, status="failed")
    proj.record_step("cardiac", {})
    proj.record_step("gradient", {"window": 12})  # drops the cardiac version made from the first
    proj.record_step("coreg", {})
    tab.use_open_project()
    path = tmp_path / "proj" / "pipeline.json"
    assert tab.pipeline_edit.text() == str(path)
    plan = plan_from_json(load_json(path), path)
    assert plan == [("sync", {"tr": 2.0}), ("gradient", {"window": 12}), ("coreg", {})]
    (tmp_path / "cohort.json").write_text(json.dumps(_doc()))
    tab.out_edit.setText(str(tmp_path))
    tab.reload()
    assert not tab.intro.isVisible() and tab.table.rowCount() == 3
