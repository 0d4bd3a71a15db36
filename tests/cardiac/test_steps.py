"""The cardiac, notch and ica steps through the runner and `workbench clean`; bad input."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.engine.runner import Runner
from workbench.engine.steps import builtin_steps


def _fork(study):
    s = study.fork()
    s.results, s.derivatives = {}, {}
    return s


def test_cardiac_step_through_the_runner(gradient_corrected, tmp_path, artifacts_dir):
    study = _fork(gradient_corrected)
    report = mne.Report(title="cardiac test", verbose="error")
    runner = Runner(study, builtin_steps(), tmp_path, report=report)
    res = runner.run_step("cardiac")
    qc, tq = res.qc, res.truth_qc
    assert qc["rpeak_source"] == "ecg" and qc["ecg_channel"] == "ECG"
    assert "rpeak_f1" not in qc and tq["rpeak_f1"] >= 0.99  # scored after the step, by the runner
    assert tq["nrmse"] < 0.5 * tq["nrmse_before"]
    assert set(tq) >= {"nrmse_aas", "nrmse_obs"}  # both methods scored side by side
    assert qc["pulse_reduction_db"] > 15 and qc["ecg_corr_after"] < qc["ecg_corr_before"]
    assert 0.15 < qc["bcg_lag_s"] < 0.35
    # the study got the cleaned EEG and the R-peaks; one annotation per beat
    assert study.eeg is res.provides["eeg"] and len(study.rpeaks) == qc["n_beats"]
    ann = study.eeg.annotations
    assert int(np.sum(ann.description == "R-peak")) == qc["n_beats"]
    written = mne.io.read_raw_fif(res.written["eeg"], verbose="error")
    assert int(np.sum(written.annotations.description == "R-peak")) == qc["n_beats"]
    rows = res.written["rpeaks"].read_text().splitlines()
    assert rows[0].startswith("onset") and len(rows) == qc["n_beats"] + 1
    ours = [c for c in report._content if getattr(c, "section", None) == "Cardiac (BCG)"]
    assert len(ours) >= 4  # explanation, QC, figures, AAS-vs-OBS table
    report.save(artifacts_dir / "cardiac_report.html", overwrite=True, open_browser=False, verbose="error")


def test_cardiac_step_falls_back_to_the_eeg_without_an_ecg(gradient_corrected, tmp_path):
    study = _fork(gradient_corrected)
    raw = study.eeg.copy().drop_channels(["ECG"])
    study.provide("eeg", raw, "test")
    res = Runner(study, builtin_steps(), tmp_path, write_files=False).run_step("cardiac", {"compare": False})
    assert res.qc["rpeak_source"] == "eeg"
    assert any("pulse artifact of the EEG" in m for m in res.messages)
    assert res.truth_qc["nrmse"] < 0.6 * res.truth_qc["nrmse_before"]


def _bad(study, tmp_path, params):
    runner = Runner(study, builtin_steps(), tmp_path, write_files=False)
    with pytest.raises(InputError) as info:
        runner.run_step("cardiac", params)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_bad_input_is_refused_with_one_line(gradient_corrected, cardiac_truth, tmp_path):
    base = gradient_corrected.eeg
    # flat ECG when the ECG is required
    s = _fork(gradient_corrected)
    flat = base.copy().load_data()
    flat._data[flat.ch_names.index("ECG")] = 0.0
    s.provide("eeg", flat, "test")
    assert "flat" in _bad(s, tmp_path, {"rpeak_source": "ecg"})
    # saturated ECG
    s = _fork(gradient_corrected)
    sat = base.copy().load_data()
    i = sat.ch_names.index("ECG")
    sat._data[i] = np.clip(sat._data[i], None, np.percentile(sat._data[i], 80))
    s.provide("eeg", sat, "test")
    assert "saturated" in _bad(s, tmp_path, {"rpeak_source": "ecg"})
    # no ECG channel and no usable BCG (the clean EEG only)
    s = _fork(gradient_corrected)
    clean = mne.io.RawArray(np.asarray(cardiac_truth.arrays["clean"][:32], float),
                            mne.create_info(cardiac_truth.ch_names[:32], cardiac_truth.sfreq, "eeg"), verbose="error")
    s.provide("eeg", clean, "test")
    msg = _bad(s, tmp_path, {})
    assert "no ECG channel" in msg and "no usable pulse artifact" in msg
    # too few beats for the window
    s = _fork(gradient_corrected)
    assert "window" in _bad(s, tmp_path, {"bcg_window": 201})
    # heart rate outside 30-200 bpm (an "ECG" at 240 bpm)
    s = _fork(gradient_corrected)
    fast = base.copy().load_data()
    sf = fast.info["sfreq"]
    t = np.arange(fast.n_times) / sf
    fast._data[fast.ch_names.index("ECG")] = (1e-3 * np.exp(-0.5 * ((t % 0.25 - 0.1) / 0.01) ** 2)
                                              + 1e-6 * np.random.default_rng(0).standard_normal(len(t)))
    s.provide("eeg", fast, "test")
    assert "outside 30-200 bpm" in _bad(s, tmp_path, {"rpeak_source": "ecg"})


def test_notch_detects_the_mains_and_removes_it(tmp_path):
    from workbench.engine.study import Study

    sf, n = 500.0, 30000
    rng = np.random.default_rng(0)
    x = 1e-5 * rng.standard_normal((4, n))
    t = np.arange(n) / sf
    x += 2e-5 * np.sin(2 * np.pi * 60 * t) + 5e-6 * np.sin(2 * np.pi * 120 * t)
    study = Study()
    study.set_raw(mne.io.RawArray(x, mne.create_info(4, sf, "eeg"), verbose="error"))
    res = Runner(study, builtin_steps(), tmp_path, write_files=False).run_step("notch")
    assert res.qc["line_freq_hz"] == 60 and res.qc["line_detected"] and res.qc["n_harmonics"] == 4
    assert res.qc["line_peak_before_db"] > 20 and res.qc["line_peak_after_db"] < 3
    assert 0.97 < res.qc["power_kept_1_40"] < 1.03
    # no mains in the data: nothing filtered, said so
    study2 = Study()
    study2.set_raw(mne.io.RawArray(1e-5 * rng.standard_normal((4, n)), mne.create_info(4, sf, "eeg"), verbose="error"))
    res2 = Runner(study2, builtin_steps(), tmp_path, write_files=False).run_step("notch")
    assert res2.qc["n_harmonics"] == 0 and not res2.qc["line_detected"] and "nothing filtered" in res2.messages[0]


def test_ica_flags_the_blink_component_and_replays_the_users_choice(tmp_path):
    from workbench.engine.study import Study

    sf, n = 250.0, 250 * 60
    rng = np.random.default_rng(1)
    t = np.arange(n) / sf
    src = rng.laplace(size=(5, n))
    blink = np.zeros(n)
    for c in rng.uniform(1, 59, 25):
        blink += np.exp(-0.5 * ((t - c) / 0.08) ** 2)
    mix = rng.standard_normal((8, 5))
    eeg = 1e-5 * (mix @ src) + 1e-4 * np.outer(np.linspace(1, 0.1, 8), blink)
    eog = 2e-4 * blink + 1e-6 * rng.standard_normal(n)
    info = mne.create_info([f"E{i}" for i in range(8)] + ["EOG"], sf, ["eeg"] * 8 + ["eog"])
    study = Study()
    study.set_raw(mne.io.RawArray(np.vstack([eeg, eog]), info, verbose="error"))
    runner = Runner(study, builtin_steps(), tmp_path, write_files=False)
    res = runner.run_step("ica", {"n_components": 6, "ica_method": "fastica"})
    assert res.qc["n_excluded"] >= 1 and "EOG" in res.qc["excluded_why"]
    after = study.eeg.get_data(picks="eeg")
    r = abs(np.corrcoef(after[0], blink)[0, 1])
    assert r < 0.3  # the blinks are gone from the EEG
    # the user's choice replaces the detection and is what is recorded
    study.set_raw(study.raw)
    res2 = Runner(study, builtin_steps(), tmp_path, write_files=False).run_step(
        "ica", {"n_components": 6, "ica_method": "fastica", "exclude": "[]"})
    assert res2.qc["excluded"] == [] and res2.params["exclude"] == "[]"
    with pytest.raises(InputError, match="do not exist"):
        Runner(study, builtin_steps(), tmp_path, write_files=False).run_step(
            "ica", {"n_components": 6, "ica_method": "fastica", "exclude": "9"})


def test_clean_cli_writes_one_annotation_per_r_peak(cardiac_phantom, tmp_path):
    from workbench.cli.main import main

    eeg = next(cardiac_phantom.glob("sub-01/eeg/*_eeg.vhdr"))
    out = tmp_path / "clean_eeg.fif"
    qc = tmp_path / "qc.json"
    rc = main(["clean", str(eeg), str(out), "--steps", "gradient,cardiac,notch", "--ecg", "ECG",
               "--cardiac-method", "obs", "--json", str(qc)])
    assert rc == 0
    raw = mne.io.read_raw_fif(out, verbose="error")
    import json

    doc = json.loads(qc.read_text())
    n = int(np.sum(raw.annotations.description == "R-peak"))
    assert n == doc["cardiac"]["n_beats"] and n > 50
    assert doc["cardiac"]["params"]["method"] == "obs" and doc["cardiac"]["params"]["ecg"] == "ECG"
