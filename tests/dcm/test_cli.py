"""``workbench fuse dcm`` from files: result.json as the issue specifies, figures, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from workbench_dcm.method import write_tables
from workbench_dcm.simulate import block_events, random_truth, simulate

from workbench.cli.main import main

from .conftest import three_models


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dcm")
    ms = three_models()
    r = np.random.default_rng(21)
    m = ms["mod-V5"]
    th = random_truth(m, r)
    ev = block_events(m.inputs, 130 * 2.0, r)
    sim = simulate(m, th, 2.0, 130, ev, snr=2.0, seed=21, eeg_rate=20.0)
    write_tables(folder, m.regions, sim.bold, ev, sim.eeg, sim.eeg_times)
    for k in ("mod-V5", "no-mod"):
        ms[k].save(folder / f"{k}.json")
    sub2 = folder / "sub2"  # a second subject: other connection strengths, the same design
    sub2.mkdir()
    sim2 = simulate(m, random_truth(m, r), 2.0, 130, ev, snr=2.0, seed=22)
    write_tables(sub2, m.regions, sim2.bold, ev)
    return folder


def _run(folder, out, *extra):
    return main(["fuse", "dcm", "--bold", str(folder / "rois.tsv"), "--inputs", str(folder / "inputs.tsv"),
                 "--tr", "2", "--out", str(out), *extra])


def test_fuse_dcm_writes_the_models_document(files, tmp_path, capsys):
    out = tmp_path / "out"
    rc = _run(files, out, "--model", str(files / "mod-V5.json"), "--model", str(files / "no-mod.json"))
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((out / "result.json").read_text())
    names = [m["name"] for m in doc["models"]]
    assert names == ["mod-V5", "no-mod"]
    probs = [m["posterior_probability"] for m in doc["models"]]
    assert abs(sum(probs) - 1) < 1e-9 and probs[0] > 0.95  # the true model wins
    m = doc["models"][0]
    for key in ("F", "explained_variance", "A", "B", "C", "hemodynamic"):
        assert key in m
    assert np.array(m["A"]["mean"]).shape == (3, 3) and np.array(m["A"]["var"]).shape == (3, 3)
    assert np.array(m["A"]["var"])[0, 1] == 0  # outside the mask: fixed
    assert set(m["B"]) == {"attention"} and np.array(m["B"]["attention"]["mean"]).shape == (3, 3)
    assert np.array(m["C"]["mean"]).shape == (3, 2)
    assert set(m["hemodynamic"]) >= {"transit", "decay", "epsilon"}
    assert m["converged"] and 0.5 < m["explained_variance"] <= 1
    assert doc["params"]["tr"] == 2.0
    assert (out / "parameters.tsv").is_file() and (out / "models.tsv").is_file()


def test_fuse_dcm_joint_eeg(files, tmp_path, capsys):
    out = tmp_path / "joint"
    rc = _run(files, out, "--model", str(files / "mod-V5.json"), "--eeg", str(files / "eeg.tsv"))
    assert rc == 0, capsys.readouterr().err
    m = json.loads((out / "result.json").read_text())["models"][0]
    assert len(m["eeg"]["gain"]) == 3 and all(g > 0 for g in m["eeg"]["gain"])
    assert m["integrator"] == "bilinear" and m["converged"]


def test_fuse_dcm_group_random_effects(files, tmp_path, capsys):
    out = tmp_path / "group"
    rc = main(["fuse", "dcm", "--bold", str(files / "rois.tsv"), "--bold", str(files / "sub2" / "rois.tsv"),
               "--inputs", str(files / "inputs.tsv"), "--tr", "2", "--model", str(files / "mod-V5.json"),
               "--model", str(files / "no-mod.json"), "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((out / "result.json").read_text())
    assert len(doc["subjects"]) == 2 and all(len(s["models"]) == 2 for s in doc["subjects"])
    m = {x["name"]: x for x in doc["models"]}
    assert abs(m["mod-V5"]["F"] - sum(s["models"][0]["F"] for s in doc["subjects"])) < 1e-6
    # both subjects decisive for the true model: alpha = [3, 1], expected 3/4, xp = P(Beta(3,1) > 1/2) = 7/8
    assert abs(m["mod-V5"]["rfx_expected_frequency"] - 0.75) < 1e-3
    assert abs(m["mod-V5"]["exceedance_probability"] - 0.875) < 0.01
    assert np.array(m["mod-V5"]["A"]["mean"]).shape == (3, 3)


def test_report_figures_draw(files):
    import matplotlib

    matplotlib.use("Agg")
    from workbench_dcm.method import run

    from workbench.engine.progress import as_progress
    from workbench.plugin_api import FusionInputs

    inputs = FusionInputs(files={"bold": [files / "rois.tsv"], "inputs": [files / "inputs.tsv"],
                                 "model": [files / "mod-V5.json", files / "no-mod.json"]})
    # 6 iterations: enough to draw, and the non-converged path says so with its F trace
    res = run(inputs, {"tr": 2.0, "hpf": 128.0, "max_iter": 6, "eeg_rate": None, "seed": 0}, as_progress(None))
    assert any("did NOT converge in 6 iterations (last free energies:" in m for m in res.messages)
    assert res.qc["all_converged"] is False
    titles = [t for t, _, _ in res.figures]
    assert any("network" in t for t in titles) and any("comparison" in t for t in titles)
    for _, make, _ in res.figures:
        fig = make()
        assert fig.axes


def _bad(files, tmp_path, capsys, model_doc=None, rows=None, inputs_text=None, extra=()):
    folder = tmp_path / "bad"
    folder.mkdir(exist_ok=True)
    rois = files / "rois.tsv"
    if rows is not None:
        lines = (files / "rois.tsv").read_text().splitlines()
        rois = folder / "rois.tsv"
        rois.write_text("\n".join(lines[: rows + 1]) + "\n")
    inputs = files / "inputs.tsv"
    if inputs_text is not None:
        inputs = folder / "inputs.tsv"
        inputs.write_text(inputs_text)
    model = files / "mod-V5.json"
    if model_doc is not None:
        model = folder / "model.json"
        model.write_text(json.dumps(model_doc))
    out = tmp_path / "out"
    rc = main(["fuse", "dcm", "--bold", str(rois), "--inputs", str(inputs), "--tr", "2", "--model", str(model),
               "--out", str(out), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert not (out / "result.json").exists()
    return err[-1]


def test_bad_input_is_one_line(files, tmp_path, capsys):
    good = json.loads((files / "mod-V5.json").read_text())
    msg = _bad(files, tmp_path, capsys, model_doc={**good, "a": [[1, 0], [1, 1]]})
    assert "'a' has shape 2x2" in msg and "model.json" in msg
    msg = _bad(files, tmp_path, capsys, model_doc={**good, "regions": ["V1", "V5", "FEF"]})
    assert "FEF" in msg and "ROIS.tsv" in msg
    msg = _bad(files, tmp_path, capsys, inputs_text="onset\tduration\tname\n10\t5\tphotic\n900\t10\tattention\n")
    assert "outside the scan" in msg and "inputs.tsv" in msg
    msg = _bad(files, tmp_path, capsys, rows=12)
    assert "only 12 volumes" in msg
    msg = _bad(files, tmp_path, capsys, model_doc={**good, "c": [[2, 0], [0, 0], [0, 0]]})
    assert "only 0 and 1" in msg
    msg = _bad(files, tmp_path, capsys, extra=("--eeg", str(files / "rois.tsv")))
    assert "time" in msg and "--eeg-rate" in msg


def test_dcm_passes_the_plugin_contract_suite():
    from workbench.testing import check_fusion_method

    report = check_fusion_method("dcm", params={"max_iter": 12})
    assert report.ok, [c for c in report.checks if not c[1]]
    names = [n for n, _, _ in report.checks]
    assert "cancellation is honoured" in names and "deterministic" in names
