"""Methods that read their own files (cca --x/--y ...) run from the Fusion tab too, with the
same numbers as `workbench fuse`; the chosen files are kept in the project and reopened."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt

pytestmark = pytest.mark.gui

SAS = [0.795608, 0.200556, 0.072570]  # SAS PROC CANCORR on Linnerud (ANCHORS.md)


@pytest.fixture(autouse=True)
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir()
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))


@pytest.fixture
def tables(tmp_path):
    from sklearn.datasets import load_linnerud

    d = load_linnerud()
    out = {}
    for name, data, cols in (("x", d.data, d.feature_names), ("y", d.target, d.target_names)):
        path = tmp_path / f"linnerud_{name}.tsv"
        lines = ["\t".join(cols)] + ["\t".join(repr(float(v)) for v in row) for row in data]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out[name] = path
    return out


def test_cca_from_files_in_the_gui_equals_the_cli(qtbot, window, tmp_path, tables):
    from gui_helpers import wait_task

    from workbench.cli.main import main
    from workbench.engine.project import Project
    from workbench.engine.study import Study

    proj = Project(tmp_path / "proj")
    proj.save()
    window.session.set_project(proj)
    tab = window.pages["Fusion"]
    window.show_tab("Fusion")
    tab.select_method("cca")
    assert tab.file_form is not None and {"x", "y"} <= set(tab.file_form.edits)
    tab.set_param("n_permutations", 99)
    # nothing chosen and no EEG/BOLD in the study: the method says what it needs, in one line
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    if tab.task is not None:
        wait_task(qtbot, window, tab.task)
        qtbot.waitUntil(lambda: bool(tab.last_error), timeout=30000)
    assert "x" in tab.status.text() and "\n" not in tab.status.text().strip() and tab.result is None
    # a path that is not a file is named
    tab.file_form.set_paths("x", [tmp_path / "nope.tsv"])
    tab.file_form.set_paths("y", [tables["y"]])
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert tab.task is None and "nope.tsv: file not found" in tab.status.text()
    tab.file_form.set_paths("x", [tables["x"]])
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert tab.task is not None
    wait_task(qtbot, window, tab.task)
    qtbot.waitUntil(lambda: tab.result is not None or bool(tab.last_error), timeout=60000)
    assert tab.last_error == "", tab.last_error
    gui_r = tab.result.qc["canonical_correlations"]
    assert np.allclose(gui_r, SAS, atol=1e-5)
    # the CLI on the same files and parameters gives the same numbers
    out = tmp_path / "cli"
    assert main(["fuse", "cca", "--x", str(tables["x"]), "--y", str(tables["y"]),
                 "--param", "n_permutations=99", "--out", str(out)]) == 0
    doc = json.loads((out / "result.json").read_text())
    assert np.allclose(doc["qc"]["canonical_correlations"], gui_r, atol=1e-12)
    assert np.allclose(doc["qc"]["p_values"], tab.result.qc["p_values"], atol=1e-12)
    # the files are kept in the project (and its provenance hashed them) ...
    proj.save()
    assert proj.method_files() == {"x": [tables["x"].absolute()], "y": [tables["y"].absolute()]}
    step = proj.last_step("cca")
    hashed = {Path(k).name: v for k, v in step.inputs.items()}
    assert len(hashed.get("linnerud_x.tsv", "")) == 64 and len(hashed.get("linnerud_y.tsv", "")) == 64
    # ... and a reopened project hands the method the same files
    study = Study.load(proj.root)
    assert study.extra_files["x"] == [tables["x"].absolute()]
