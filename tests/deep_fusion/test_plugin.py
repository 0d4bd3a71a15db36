"""deep-fusion as a plugin: listed as unavailable with the reason when PyTorch is missing
(everything else keeps working), the fusion contract suite, `workbench fuse deep-fusion`
from files writing every model's score with its interval, report figures."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

pytest.importorskip("workbench_deep_fusion")


@pytest.fixture()
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir()
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))


def test_without_torch_listed_unavailable_and_the_rest_works(monkeypatch, _isolated_plugins, capsys):
    real = importlib.util.find_spec

    def no_torch(name, *a, **k):
        return None if name == "torch" or name.startswith("torch.") else real(name, *a, **k)

    monkeypatch.setattr(importlib.util, "find_spec", no_torch)
    monkeypatch.delitem(sys.modules, "workbench_deep_fusion.declaration", raising=False)
    from workbench.cli.main import main
    from workbench.plugin_api import all_steps, discover

    recs = {r.id: r for r in discover()}
    assert recs["deep-fusion"].status == "broken"
    assert "PyTorch" in recs["deep-fusion"].error and "\n" not in recs["deep-fusion"].error
    assert recs["cca"].ok  # other plugins unaffected
    steps = all_steps()
    assert not steps["deep-fusion"].available and "PyTorch" in steps["deep-fusion"].unavailable_reason
    assert steps["cca"].available and steps["gradient"].available
    capsys.readouterr()
    rc = main(["fuse", "deep-fusion", "--param", "epochs=3"])
    err = capsys.readouterr().err
    assert rc != 0 and "not available" in err and "PyTorch" in err
    # with the method's own file options too: the reason, not argparse's "unrecognized arguments"
    rc = main(["fuse", "deep-fusion", "--x", "EEG.npy", "--y", "FMRI.npy", "--out", "o"])
    err = capsys.readouterr().err
    assert rc != 0 and "not available" in err and "PyTorch" in err and "unrecognized" not in err
    assert len(err.strip().splitlines()) == 1
    assert main(["steps"]) == 0


def test_declared_with_torch(_isolated_plugins):
    pytest.importorskip("torch")
    from workbench.plugin_api import discover

    rec = {r.id: r for r in discover()}["deep-fusion"]
    assert rec.ok, rec.error
    assert [f.name for f in rec.method.file_inputs] == ["x", "y", "labels", "groups", "targets"]


def test_contract():
    pytest.importorskip("torch")
    from workbench_deep_fusion.declaration import METHOD

    from workbench.testing import check_fusion_method

    check_fusion_method(METHOD, params={"models": "fmri_only", "epochs": 3, "patience": 2, "n_bootstrap": 100,
                                        "n_folds": 2})


def test_cli_from_files_writes_each_models_score_with_interval(tmp_path, small_cohort, capsys):
    pytest.importorskip("torch")
    from workbench_deep_fusion.method import write_files

    from workbench.cli.main import main

    d = small_cohort
    p = write_files(tmp_path / "in", d.eeg, d.fmri, d.labels, d.groups)
    out = tmp_path / "out"
    ckpt = tmp_path / "ckpt"
    args = ["fuse", "deep-fusion", "--x", str(p["x"]), "--y", str(p["y"]), "--labels", str(p["labels"]),
            "--groups", str(p["groups"]), "--out", str(out), "--param", "epochs=3", "--param", "patience=2",
            "--param", "n_folds=2", "--param", "n_bootstrap=200", "--param", f"checkpoint_dir={ckpt}"]
    assert main(args) == 0, capsys.readouterr().err
    capsys.readouterr()
    doc = json.loads((out / "result.json").read_text())
    scores = doc["qc"]["scores"]
    assert set(scores) == {"early", "late", "hybrid", "eeg_only", "fmri_only", "linear"}
    for m, s in scores.items():
        acc, (lo, hi) = s["both"]["balanced_accuracy"], s["both"]["ci95"]
        assert 0 <= lo <= acc <= hi <= 1, m
    assert scores["eeg_only"]["without_eeg"] is None
    assert "vs_linear" in scores["early"]
    assert any("linear baseline" in msg for msg in doc["messages"])
    rows = (out / "scores.tsv").read_text().splitlines()
    assert rows[0].startswith("model\tbalanced_accuracy\tci95_low\tci95_high") and len(rows) == 7
    assert len(list(ckpt.glob("fold*_hybrid.pt"))) == 2 and len(list(ckpt.glob("*.json"))) == 10
    # bad input through the CLI: one line naming the file, non-zero exit, nothing written
    np.save(p["y"], d.fmri[:-1])
    out2 = tmp_path / "out2"
    assert main([*args[:11], str(out2)]) != 0
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]  # progress lines come before it
    assert "FMRI.npy" in last and "has 191 trials but the EEG has 192" in last and "Traceback" not in err
    assert not (out2 / "result.json").exists()


def test_report_figures_draw(small_data):
    pytest.importorskip("torch")
    from matplotlib.figure import Figure
    from workbench_deep_fusion.declaration import METHOD
    from workbench_deep_fusion.method import run_arrays

    params = METHOD.validate_params({"models": "hybrid", "epochs": 2, "patience": 2, "n_folds": 2,
                                     "n_bootstrap": 100})
    res = run_arrays(small_data, params)
    titles = [t for t, _, _ in res.figures]
    assert titles == ["Deep fusion: cross-validated scores", "Deep fusion: latent space (PCA)"]
    for _, make, caption in res.figures:
        fig = make()
        assert isinstance(fig, Figure) and fig.axes and caption
    lat = res.figures[1][1]()
    assert len(lat.axes) == 2  # one model (hybrid): by condition, by subject
    assert {r["model"] for r in res.tables["scores"]} == {"hybrid", "linear"}
