"""Sync + gradient on the phantom against its ground truth; pipeline steps; the clean CLI."""

from __future__ import annotations

import json
from pathlib import Path

import mne
import numpy as np
import pytest

from workbench.cli.main import main
from workbench.engine.gradient import GradientParams, remove_gradient
from workbench.engine.io.eeg import read_eeg
from workbench.engine.phantom.scoring import TruthEEG, score_gradient
from workbench.engine.phantom.truth import load_truth
from workbench.engine.project import Project
from workbench.engine.report import new_report
from workbench.engine.runner import Runner
from workbench.engine.steps import builtin_steps
from workbench.engine.study import Study


def _files(study: Path) -> tuple[Path, Path]:
    return next(study.glob("sub-01/eeg/*_eeg.vhdr")), next(study.glob("sub-01/func/*_bold.json"))


def test_phantom_truth_is_recovered(phantom_study: Path) -> None:
    gt = load_truth(phantom_study)
    vhdr, side = _files(phantom_study)
    raw = read_eeg(vhdr, preload=True)
    meta = json.loads(side.read_text())
    res = remove_gradient(raw, sidecar=meta)
    tq = score_gradient(res, gt)  # scored after the correction, which never sees the truth
    s = res.qc["sync"]
    # triggers: 2 missing filled, 1 spurious dropped; drift within its interval
    assert s["n_missing"] == 2 and s["n_extra"] == 1 and s["n_triggers"] == gt.config.n_volumes
    lo, hi = s["drift_ppm_ci"]
    assert lo <= gt.drift_ppm <= hi
    # the fitted volume onsets are within a fraction of a sample of the truth
    err = (res.sync.volume_onsets() - gt.triggers["true_eeg"]) * raw.info["sfreq"]
    assert np.ptp(err) < 0.5
    # correction: vs the recording without its gradient artifact (BCG etc. still in)
    assert tq["nrmse"] < 0.35 and tq["correlation"] > 0.93
    assert res.qc["harmonic_reduction_db"] > 15
    assert 0.85 < res.qc["power_kept_1_40"] < 1.1


def test_alias_model_and_alignment_matter_on_the_phantom(phantom_study: Path) -> None:
    gt = load_truth(phantom_study)
    vhdr, side = _files(phantom_study)
    raw = read_eeg(vhdr, preload=True)
    meta = json.loads(side.read_text())
    truth = TruthEEG(gt)
    full = score_gradient(remove_gradient(raw, sidecar=meta), truth)["nrmse"]
    from workbench.engine.gradient import correct as corr

    plain = GradientParams()
    orig = plain.aas

    def no_alias(sfreq: float = 0.0):  # the same correction without the alias model
        a = orig(sfreq)
        a.alias_orders = 0
        return a

    plain.aas = no_alias  # type: ignore[method-assign]
    without = score_gradient(corr.remove_gradient(raw, sidecar=meta, params=plain), truth)["nrmse"]
    assert full < 0.5 * without


def test_pipeline_steps_write_derivatives_record_and_report(
    phantom_study: Path, tmp_path: Path
) -> None:
    study = Study.load(phantom_study)
    report = new_report("test")
    project = Project(tmp_path / "proj")
    runner = Runner(study, builtin_steps(), tmp_path / "proj" / "derivatives", project=project, report=report)
    raw_in = study.eeg
    r_sync = runner.run_step("sync")
    q_sync = {**r_sync.qc, **r_sync.truth_qc}
    assert abs(q_sync["drift_error_ppm"]) < 10 and q_sync["n_expected"] == 17
    r_grad = runner.run_step("gradient")
    q = {**r_grad.qc, **r_grad.truth_qc}
    assert q["nrmse"] < 0.35
    # the current EEG is the cleaned one; the recording as loaded is kept unchanged
    assert study.eeg is not raw_in and study.raw is raw_in and r_grad.details["before"] is raw_in
    assert [v.step for v in study.history] == ["gradient"]
    names = sorted(p.name for p in (tmp_path / "proj" / "derivatives").iterdir())
    assert "sub-01_task-phantom_desc-gradclean_eeg.fif" in names
    assert "sub-01_task-phantom_desc-sync_qc.json" in names
    assert [s.name for s in project.steps] == ["sync", "gradient"]
    assert project.steps[1].qc["harmonic_reduction_db"] == pytest.approx(q["harmonic_reduction_db"])
    assert project.steps[1].qc["nrmse"] == pytest.approx(q["nrmse"])
    html = report._render_toc() if hasattr(report, "_render_toc") else ""
    titles = [getattr(c, "name", getattr(c, "title", "")) for c in report._content]
    assert any("Spectrum" in t for t in titles) and any("Template" in t for t in titles), (
        titles,
        html,
    )
    cleaned = mne.io.read_raw_fif(
        tmp_path / "proj" / "derivatives" / "sub-01_task-phantom_desc-gradclean_eeg.fif",
        verbose="error",
    )
    assert cleaned.n_times == raw_in.n_times and cleaned.ch_names == raw_in.ch_names


@pytest.mark.parametrize("ext", [".fif", ".vhdr", ".edf"])
def test_clean_cli_writes_every_channel_and_marker(
    phantom_study: Path, tmp_path: Path, ext: str
) -> None:
    vhdr, side = _files(phantom_study)
    out = tmp_path / f"clean_eeg{ext}"
    qc = tmp_path / "qc.json"
    rc = main(
        [
            "clean",
            str(vhdr),
            str(out),
            "--steps",
            "gradient",
            "--slice-timing",
            str(side),
            "--json",
            str(qc),
        ]
    )
    assert rc == 0
    src = read_eeg(vhdr)
    got = mne.io.read_raw(out, verbose="error")
    assert got.ch_names == src.ch_names and got.n_times == src.n_times
    assert got.info["sfreq"] == pytest.approx(src.info["sfreq"])
    assert len(got.annotations) >= len(src.annotations) - 1  # EDF may drop the 'New Segment'
    if ext == ".fif":
        assert got.get_channel_types() == src.get_channel_types()
    doc = json.loads(qc.read_text())
    assert doc["gradient"]["harmonic_reduction_db"] > 15


def test_clean_cli_unknown_step_and_nothing_written(
    phantom_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    vhdr, _ = _files(phantom_study)
    out = tmp_path / "x_eeg.fif"
    assert main(["clean", str(vhdr), str(out), "--steps", "gradient,bcg"]) == 1
    err = capsys.readouterr().err
    assert "'bcg'" in err and "gradient" in err
    assert main(["clean", str(vhdr), str(out), "--volume-trigger", "T1"]) == 1
    assert "Response/R128" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_obs_removes_high_frequency_residue_and_leaves_the_eeg_band(phantom_study: Path) -> None:
    gt = load_truth(phantom_study)
    vhdr, side = _files(phantom_study)
    raw = read_eeg(vhdr, preload=True)
    meta = json.loads(side.read_text())
    truth = TruthEEG(gt)
    plain = remove_gradient(raw, sidecar=meta, params=GradientParams(lowpass=None))
    obs = remove_gradient(raw, sidecar=meta, params=GradientParams(lowpass=None, obs=True))
    assert obs.qc["obs_rank_median"] >= 1
    assert score_gradient(obs, truth)["nrmse"] < 0.95 * score_gradient(plain, truth)["nrmse"]  # 17 volumes: rank 1 at most here
    # below 70 Hz OBS changes nothing (it only removes high-passed components)
    s0, s1 = plain.scan_span
    a = mne.filter.filter_data(
        plain.raw.get_data(picks="eeg", start=s0, stop=s1),
        raw.info["sfreq"],
        None,
        40.0,
        verbose=False,
    )
    b = mne.filter.filter_data(
        obs.raw.get_data(picks="eeg", start=s0, stop=s1),
        raw.info["sfreq"],
        None,
        40.0,
        verbose=False,
    )
    assert np.sqrt(np.mean((a - b) ** 2)) < 0.02 * np.sqrt(np.mean(a**2))


def test_sync_cli_out_puts_the_eeg_on_the_scanner_clock(
    phantom_study: Path, tmp_path: Path
) -> None:
    gt = load_truth(phantom_study)
    vhdr, side = _files(phantom_study)
    out = tmp_path / "synced_eeg.fif"
    qc = tmp_path / "sync.json"
    assert (
        main(
            [
                "sync",
                str(vhdr),
                "--slice-timing",
                str(side),
                "--n-volumes",
                "17",
                "--out",
                str(out),
                "--json",
                str(qc),
            ]
        )
        == 0
    )
    doc = json.loads(qc.read_text())
    assert doc["n_missing"] == 2 and doc["n_extra"] == 1 and doc["n_expected"] == 17
    lo, hi = doc["drift_ppm_ci"]
    assert lo <= gt.drift_ppm <= hi
    got = mne.io.read_raw_fif(out, verbose="error")
    src = read_eeg(vhdr)
    assert got.n_times == src.n_times
    assert got.info["sfreq"] == pytest.approx(src.info["sfreq"] * doc["alpha"], rel=1e-7)
