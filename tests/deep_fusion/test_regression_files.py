"""deep-fusion's regression tasks from files: the targets file (one number per trial, or a
column chosen by name), bad targets refused in one line naming the file with nothing
written, `workbench fuse deep-fusion --task amplitude|roi-bold` writing R² and Pearson r
with intervals for every model, report figures for a regression result."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from workbench_deep_fusion.data import load_files, read_targets  # noqa: E402

from workbench.engine.errors import InputError  # noqa: E402


def test_targets_file_formats(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_text("0.5\n1.25\n-3e-2\n\n")
    name, y = read_targets(f)
    assert name == "target" and y.tolist() == [0.5, 1.25, -0.03]
    f.write_text("subject\tcondition\tamplitude\nsub-01\tvis\t1.5\nsub-01\tmot\t0.5\n")
    assert read_targets(f)[0] == "amplitude" and read_targets(f)[1].tolist() == [1.5, 0.5]
    f.write_text("amplitude\tv1_bold\n1\t0.01\n2\t0.02\n")
    assert read_targets(f, "v1_bold")[1].tolist() == [0.01, 0.02]
    c = tmp_path / "t.csv"
    c.write_text("amplitude,v1_bold\n1,0.01\n2,0.02\n")
    assert read_targets(c, "amplitude")[1].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("text, column, words", [
    ("amplitude\tv1_bold\n1\t2\n3\t4\n", None, "2 candidate target columns (amplitude, v1_bold); choose one"),
    ("amplitude\n1\nabc\n", None, "row 2: 'abc' in column 'amplitude' is not a number"),
    ("amplitude\n1\nn/a\n", None, "row 2 has no 'amplitude' value"),
    ("amplitude\n1\ninf\n", None, "row 2: 'amplitude' is infinite"),
    ("amplitude\n1\n2\n", "v1", "no column 'v1'"),
    ("", None, "empty"),
    ("1\t2\n3\t4\n", None, "no header"),
])
def test_bad_targets_one_line_naming_the_file(tmp_path, text, column, words):
    f = tmp_path / "TARGETS.tsv"
    f.write_text(text)
    with pytest.raises(InputError) as err:
        read_targets(f, column)
    msg = str(err.value)
    assert words in msg and "\n" not in msg and "TARGETS.tsv" in msg, msg


def _files(tmp_path, n=24, subjects=3, target=None):
    rng = np.random.default_rng(0)
    p = {"eeg": tmp_path / "EEG.npy", "fmri": tmp_path / "FMRI.npy", "targets": tmp_path / "TARGETS.tsv",
         "groups": tmp_path / "GROUPS.tsv"}
    np.save(p["eeg"], rng.standard_normal((n, 4, 10)).astype(np.float32))
    np.save(p["fmri"], rng.standard_normal((n, 5)).astype(np.float32))
    y = rng.standard_normal(n) if target is None else target
    p["targets"].write_text("amplitude\n" + "\n".join(map(str, y)) + "\n")
    p["groups"].write_text("\n".join(f"s{i % subjects}" for i in range(n)) + "\n")
    return p


@pytest.mark.parametrize("case, words", [
    ("constant", "is constant (2 in all 24 trials)"),
    ("short", "has 23 rows but the EEG has 24 trials"),
])
def test_bad_target_values_name_the_targets_file(tmp_path, case, words):
    y = np.full(24, 2.0) if case == "constant" else np.arange(23.0)
    p = _files(tmp_path, target=y)
    with pytest.raises(InputError) as err:
        load_files(p["eeg"], p["fmri"], None, p["groups"], "amplitude", p["targets"])
    msg = str(err.value)
    assert words in msg and "TARGETS.tsv" in msg and "\n" not in msg, msg


def test_roi_bold_needs_no_fmri_and_ignores_it(tmp_path):
    p = _files(tmp_path)
    d = load_files(p["eeg"], None, None, p["groups"], "roi-bold", p["targets"])
    assert d.fmri.shape == (24, 0) and d.regression and d.target_name == "amplitude"
    d = load_files(p["eeg"], p["fmri"], None, p["groups"], "roi-bold", p["targets"])
    assert d.fmri.shape == (24, 0)  # the fMRI is the target in roi-bold, never an input


def test_cli_amplitude_and_roi_bold_from_files(tmp_path, small_cohort, capsys, monkeypatch):
    import torch
    from workbench_deep_fusion.method import write_files

    from workbench.cli.main import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    d = small_cohort
    p = write_files(tmp_path / "in", d.eeg, d.fmri, d.labels, d.groups,
                    {"amplitude": d.amplitudes, "visual_cortex_bold": d.roi_bold})
    common = ["--groups", str(p["groups"]), "--targets", str(p["targets"]), "--param", "epochs=3",
              "--param", "patience=2", "--param", "n_folds=2", "--param", "n_bootstrap=200"]
    out = tmp_path / "amp"
    args = ["fuse", "deep-fusion", "--task", "amplitude", "--target", "amplitude", "--x", str(p["x"]),
            "--y", str(p["y"]), "--models", "late,fmri_only", *common, "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    doc = json.loads((out / "result.json").read_text())
    qc = doc["qc"]
    assert qc["task"] == "amplitude" and qc["metric"] == "r2" and qc["target"] == "amplitude"
    assert qc["device"] == "cpu"
    assert set(qc["scores"]) == {"late", "fmri_only", "linear", "mean"}
    for m, s in qc["scores"].items():
        b = s["both"]
        assert b["ci95"][0] <= b["ci95"][1] and -1 <= b["pearson_r_ci95"][0] <= b["pearson_r_ci95"][1] <= 1, m
        assert np.isfinite(b["r2"]) and np.isfinite(b["pearson_r"])
    assert qc["scores"]["late"]["without_eeg"] is not None and qc["scores"]["mean"]["without_eeg"] is None
    assert "beats_linear" in qc["scores"]["late"]["vs_linear"]
    assert any("linear baseline: R²" in m for m in doc["messages"])
    head = (out / "scores.tsv").read_text().splitlines()[0].split("\t")
    assert head[:4] == ["model", "r2", "ci95_low", "ci95_high"] and "pearson_r" in head
    capsys.readouterr()

    # roi-bold: the fMRI is the target, so --y is not needed; only the EEG models are trained
    out = tmp_path / "roi"
    args = ["fuse", "deep-fusion", "--task", "roi-bold", "--target", "visual_cortex_bold", "--x", str(p["x"]),
            *common, "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    qc = json.loads((out / "result.json").read_text())["qc"]
    assert set(qc["scores"]) == {"eeg_only", "linear", "mean"} and qc["inputs"].startswith("EEG only")
    assert qc["scores"]["eeg_only"]["without_fmri"] is None
    capsys.readouterr()

    # bad input through the CLI: one line naming the file, nothing written
    p["targets"].write_text("amplitude\tvisual_cortex_bold\n" + "1\t0.1\n" * (len(d.eeg) - 1) + "1\tx\n")
    out2 = tmp_path / "bad"
    assert main([*args[:-1], str(out2)]) != 0
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]
    assert "targets.tsv" in last and "is not a number" in last and "Traceback" not in err
    assert not out2.exists() or not (out2 / "result.json").exists()
    # a fusion model asked for in roi-bold, and cuda without CUDA: one line each, nothing written
    for extra, words in ((["--models", "late"], "cannot be trained for the task 'roi-bold'"),
                         (["--device", "cuda"], "no CUDA GPU")):
        assert main([*args[:-2], *extra, "--out", str(out2)]) != 0
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert words in last, last
        assert not (out2 / "result.json").exists()


def test_regression_report_figures_draw(small_cohort):
    from matplotlib.figure import Figure
    from workbench_deep_fusion.data import check_regression
    from workbench_deep_fusion.declaration import METHOD
    from workbench_deep_fusion.method import run_arrays

    d = small_cohort
    data = check_regression(d.eeg, d.fmri, d.roi_bold, d.groups, "roi-bold", target_name="visual_cortex_bold")
    params = METHOD.validate_params({"task": "roi-bold", "epochs": 2, "patience": 2, "n_folds": 2,
                                     "n_bootstrap": 100, "device": "cpu"})
    res = run_arrays(data, params)
    assert [r["model"] for r in res.tables["scores"]] == ["eeg_only", "linear", "mean"]
    assert set(res.tables["per_subject"][0]) == {"model", "subject", "r2"}
    for _, make, caption in res.figures:
        fig = make()
        assert isinstance(fig, Figure) and fig.axes and caption
    assert "R²" in res.figures[0][1]().axes[0].get_ylabel()


def test_regression_checkpoint_reproduces_the_out_of_fold_predictions(tmp_path, small_cohort):
    from workbench_deep_fusion import checkpoint
    from workbench_deep_fusion.cv import Standardizer, cross_validate
    from workbench_deep_fusion.data import check_regression
    from workbench_deep_fusion.train import TrainConfig, predict

    d = small_cohort
    data = check_regression(d.eeg, d.fmri, d.roi_bold, d.groups, "roi-bold", target_name="v1")
    res = cross_validate(data, ["eeg_only"], {"latent": 4}, TrainConfig(epochs=2, patience=2), n_folds=2,
                         checkpoint_dir=tmp_path)
    net, doc = checkpoint.load(tmp_path, "fold01_eeg_only")
    assert doc["task"] == "roi-bold" and doc["model"]["regression"] and doc["target"]["name"] == "v1"
    s = doc["standardizer"]
    std = Standardizer(*(np.asarray(s[k]) for k in ("eeg_mean", "eeg_sd", "fmri_mean", "fmri_sd")))
    test = np.isin(data.groups, doc["test_subjects"])
    e, f = std.apply(data.eeg[test], data.fmri[test])
    back = predict(net, e, f) * doc["target"]["sd"] + doc["target"]["mean"]
    assert np.allclose(back, res.proba["eeg_only"]["both"][test], rtol=1e-6, atol=1e-9)
