"""The stage contract (issue 8, DESIGN §2b), end to end on a small phantom.

- every declaration is valid and its defaults validate;
- the same step with the same parameters gives identical QC and provenance through the
  runner, the CLI (`workbench clean`, `workbench fuse`) and a replay (`workbench run`);
- fusion after the gradient step uses the cleaned EEG;
- replay reports vanished QC keys and changed parameters;
- a plan is refused as a whole; cancellation leaves nothing behind;
- truth enters only through the phantom's scorers, after a step.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import shutil
from pathlib import Path

import numpy as np
import pytest

from workbench.cli.main import main
from workbench.engine.errors import Cancelled, InputError
from workbench.engine.progress import CancelToken, Progress
from workbench.engine.project import Project
from workbench.engine.runner import Runner, compare_qc, replay_project
from workbench.engine.steps import builtin_steps
from workbench.engine.study import Study
from workbench.plugin_api import all_steps, inputs_from_study

#: non-default values, so that parameters demonstrably travel through every entry point
SYNC = {"tr": 2.0}
GRAD = {"window": 12, "lowpass": None, "wiener": False}
PM = {"condition": "visual", "tmin": 0.14, "tmax": 0.2, "noise_model": "ols", "slice_timing": "reference"}
CLI_GRAD = ["--window", "12", "--lowpass", "off", "--no-wiener"]


@pytest.fixture(autouse=True)
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir(exist_ok=True)
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))


@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory) -> Path:
    """30 s, 1 kHz, 32 channels, TR 2 s, 10 slices: every step runs in seconds (read-only)."""
    from workbench.engine.phantom import PhantomConfig, simulate_study

    out = tmp_path_factory.mktemp("contract_phantom") / "study"
    simulate_study(out, PhantomConfig(duration_s=30.0, sfreq=1000.0, n_eeg=32, tr=2.0, slices=10, seed=5))
    return out


def _project_for(study: Study, root: Path) -> Project:
    """A project on the phantom study, as the demo makes one (inputs, study folder, truth)."""
    proj = Project(root, name="contract")
    for kind in ("eeg", "bold", "anat", "events", "dig"):
        proj.add_input(study.files[kind], kind)
    proj.settings["study_dir"] = str(study.root.resolve())
    proj.settings["subject"] = study.subject
    proj.settings["truth_dir"] = str((study.root / "ground_truth").resolve())
    study.project = proj
    return proj


@pytest.fixture(scope="module")
def runner_run(phantom_dir, tmp_path_factory):
    """(a) sync, gradient, parametric modulation through Runner.run_step on Study.load(...)."""
    root = tmp_path_factory.mktemp("contract_runs")
    study = Study.load(phantom_dir)
    n_vol = int(study.bold.shape[3])
    sync = {**SYNC, "n_volumes": n_vol}
    proj = _project_for(study, root / "a")
    runner = Runner(study, all_steps(), root / "a" / "derivatives", project=proj)
    res = {"sync": runner.run_step("sync", sync), "gradient": runner.run_step("gradient", GRAD)}
    proj.save()
    shutil.copytree(root / "a", root / "b")  # the project as it was before fusion (for the CLI's fuse)
    after_gradient = inputs_from_study(study)
    res["parametric-modulation"] = runner.run_step("parametric-modulation", PM)
    proj.save()
    return {"root": root, "study": study, "project": proj, "results": res, "sync": sync,
            "fusion_inputs": after_gradient}


# ------------------------------------------------------------------ declarations
def test_every_builtin_spec_passes_check_and_every_default_validates():
    specs = builtin_steps()
    ids = list(specs)
    assert {"sync", "gradient", "coreg"} <= set(ids)
    assert ids.index("sync") < ids.index("gradient") < ids.index("coreg")  # pipeline order
    for spec in [*specs.values(), *all_steps().values()]:
        if not spec.available:
            continue
        spec.check()
        for p in spec.params:
            assert p.coerce(p.default) == p.default, (spec.id, p.name)
        assert spec.validate({}) == spec.defaults(), spec.id
        assert spec.validate(None) == spec.defaults(), spec.id


# ------------------------------------------------------------------ one run, three entry points
def test_cli_clean_gives_the_runners_qc_and_params(runner_run, phantom_dir, tmp_path):
    study, proj = runner_run["study"], runner_run["project"]
    qc_file = tmp_path / "qc.json"
    rc = main(["clean", str(study.files["eeg"]), str(tmp_path / "clean_eeg.fif"), "--steps", "sync,gradient",
               "--slice-timing", str(study.files["bold_json"]), "--tr", "2",
               "--n-volumes", str(runner_run["sync"]["n_volumes"]), *CLI_GRAD, "--json", str(qc_file)])
    assert rc == 0
    doc = json.loads(qc_file.read_text())
    for step in ("sync", "gradient"):
        res = runner_run["results"][step]
        rec = proj.last_step(step)
        assert res.qc, step
        assert compare_qc(res.qc, doc[step]) == [], step  # every QC key, same value
        assert doc[step]["params"] == rec.params == res.params, step
        # the project recorded the step's own QC unchanged (plus truth scores and timing)
        assert compare_qc(res.qc, rec.qc) == [], step
    assert proj.last_step("gradient").params["lowpass"] is None and proj.last_step("gradient").params["window"] == 12
    # the cleaned EEG written by the CLI equals the runner's, sample for sample
    import mne

    cli_raw = mne.io.read_raw_fif(tmp_path / "clean_eeg.fif", preload=True, verbose="error")
    ours = runner_run["results"]["gradient"].provides["eeg"].get_data()
    np.testing.assert_allclose(cli_raw.get_data(), ours, rtol=1e-6, atol=1e-12)


def test_cli_fuse_on_the_project_gives_the_runners_record(runner_run):
    root, proj = runner_run["root"], runner_run["project"]
    args = ["fuse", "parametric-modulation", "--project", str(root / "b")]
    for k, v in PM.items():
        args += ["--param", f"{k}={v}"]
    assert main(args) == 0
    cli = Project.load(root / "b").last_step("parametric-modulation")
    ours = proj.last_step("parametric-modulation")
    assert cli.params == ours.params
    assert compare_qc(ours.qc, cli.qc) == [] and compare_qc(cli.qc, ours.qc) == []
    assert "peak_z_main" in ours.qc and "z_main_mean_in_visual_cortex" in ours.qc  # own QC and truth QC
    assert cli.inputs == ours.inputs  # same files, same hashes (the cleaned EEG included)
    assert cli.outputs == ours.outputs


def test_workbench_run_replays_every_step_with_the_same_record(runner_run, tmp_path, capsys):
    proj = runner_run["project"]
    out = tmp_path / "replay"
    rc = main(["run", str(proj.root), "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "all recorded QC values and parameters reproduced" in text
    again = Project.load(out)
    # the replay's project records the study's input files (opening it finds the BOLD)
    assert {(i.kind, i.sha256) for i in proj.inputs} <= {(i.kind, i.sha256) for i in again.inputs}
    assert {"eeg", "bold"} <= {i.kind for i in again.inputs}
    for step in ("sync", "gradient", "parametric-modulation"):
        ours, rep = proj.last_step(step), again.last_step(step)
        assert rep is not None, step
        assert rep.params == ours.params, step
        assert compare_qc(ours.qc, rep.qc) == [] and compare_qc(rep.qc, ours.qc) == [], step
        # the recordings are the same files with the same hashes
        assert {k: v for k, v in rep.inputs.items() if not k.startswith("derivatives/")} == \
            {k: v for k, v in ours.inputs.items() if not k.startswith("derivatives/")}, step
        assert sorted(rep.inputs) == sorted(ours.inputs), step


# ------------------------------------------------------------------ fusion sees the pipeline's EEG
def test_fusion_after_the_gradient_step_uses_the_cleaned_eeg(runner_run):
    study, proj = runner_run["study"], runner_run["project"]
    inp = runner_run["fusion_inputs"]
    cleaned = runner_run["results"]["gradient"].provides["eeg"]
    assert inp.eeg is cleaned and inp.eeg is not study.raw
    assert inp.sources["eeg"].endswith("_desc-gradclean_eeg.fif")
    raw_eeg = study.raw.get_data(picks="eeg", start=10000, stop=12000)  # while scanning
    assert not np.allclose(inp.eeg.get_data(picks="eeg", start=10000, stop=12000), raw_eeg)
    # provenance: the fusion step read the derivative, not the raw recording
    rec = proj.last_step("parametric-modulation")
    eeg_inputs = [k for k in rec.inputs if k.endswith(("_eeg.fif", ".vhdr", ".eeg", ".vmrk"))]
    assert eeg_inputs == ["derivatives/sub-01_task-phantom_desc-gradclean_eeg.fif"], rec.inputs
    result = json.loads((proj.root / "derivatives" / "fusion" / "parametric-modulation" / "result.json").read_text())
    assert result["inputs"]["eeg"].endswith("_desc-gradclean_eeg.fif")


# ------------------------------------------------------------------ replay comparison
def test_compare_qc_reports_a_vanished_key_and_a_changed_value():
    assert compare_qc({"a": 1}, {}) == [("a", 1, "<missing>")]
    assert compare_qc({"window": 20}, {"window": 12}) == [("window", 20, 12)]
    assert compare_qc({"a": 1.0, "seconds": 3.0}, {"a": 1.0, "seconds": 9.0}) == []
    assert compare_qc({"a": [1, 2]}, {"a": (1, 2)}) == []


def test_replay_reports_a_vanished_qc_key_and_a_changed_parameter(runner_run, tmp_path):
    src = tmp_path / "edited"
    shutil.copytree(runner_run["project"].root, src)
    doc = json.loads((src / "project.json").read_text())
    doc["steps"] = [s for s in doc["steps"] if s["name"] in ("sync", "gradient")]
    sync = next(s for s in doc["steps"] if s["name"] == "sync")
    grad = next(s for s in doc["steps"] if s["name"] == "gradient")
    sync["qc"]["trigger_quality_index"] = 0.5  # a QC number the replay no longer produces
    grad["params"]["lowpass"] = "off"  # recorded as text; the replay records None
    (src / "project.json").write_text(json.dumps(doc))
    _, outcomes, diffs = replay_project(src, tmp_path / "replay", all_steps())
    assert [o.status for o in outcomes] == ["done", "done"]
    assert ("sync", "trigger_quality_index", 0.5, "<missing>") in diffs
    assert ("gradient", "param lowpass", "off", None) in diffs
    assert len(diffs) == 2, diffs


def test_replay_of_a_step_run_twice_compares_each_run_with_its_own_record(runner_run, tmp_path):
    """A project where the gradient step was re-run with another window replays both runs;
    each is compared with its own record (not the last one of that name), so nothing differs,
    and the second run says it replaced the first (the runner's re-run rule)."""
    src = tmp_path / "rerun"
    shutil.copytree(runner_run["project"].root, src)
    doc = json.loads((src / "project.json").read_text())
    sync = next(s for s in doc["steps"] if s["name"] == "sync")
    grad = next(s for s in doc["steps"] if s["name"] == "gradient")
    other = json.loads(json.dumps(grad))
    other["params"]["window"] = grad["params"]["window"] + 4
    if "window_volumes" in other["qc"]:  # the made-up record's QC says its own window
        other["qc"]["window_volumes"] = other["params"]["window"]
    doc["steps"] = [sync, other, grad]
    (src / "project.json").write_text(json.dumps(doc))
    new, outcomes, diffs = replay_project(src, tmp_path / "replay", all_steps())
    assert [o.status for o in outcomes] == ["done", "done", "done"]
    assert diffs == [], diffs
    assert [(s.name, s.params.get("window")) for s in new.steps] == \
        [("sync", None), ("gradient", other["params"]["window"]), ("gradient", grad["params"]["window"])]
    assert "replaces the previous gradient run" in new.steps[-1].message
    assert "replaces" not in new.steps[1].message


# ------------------------------------------------------------------ plans are refused whole
@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([("sync", {}), ("gradient", {}), ("no-such-step", {})], "unknown step 'no-such-step'"),
        ([("sync", {}), ("gradient", {"window": 0})], "'window'"),
        ([("sync", {}), ("gradient", {"windw": 3})], "no parameter 'windw'"),
        ([("sync", {}), ("gradient", [("window", 12)])], "mapping"),
        ([("sync", {}), ("coreg", {})], "needs dig"),
        ([("gradient", {})], "needs sync"),
    ],
    ids=["unknown-step", "bad-value", "unknown-param", "params-as-list", "missing-dig", "missing-sync"],
)
def test_plan_is_refused_as_a_whole(phantom_dir, tmp_path, plan, message):
    study = Study.load(phantom_dir)
    study.dig = None  # a study without a digitisation: coreg cannot run
    proj = Project(tmp_path / "p")
    study.project = proj
    out = tmp_path / "p" / "derivatives"
    runner = Runner(study, all_steps(), out, project=proj)
    with pytest.raises(InputError, match=message):
        runner.plan(plan)
    with pytest.raises(InputError, match=message):
        runner.run(plan)
    assert not out.exists()
    assert proj.steps == [] and study.results == {} and study.history == [] and study.sync is None


# ------------------------------------------------------------------ cancellation
def _cancelling(when) -> Progress:
    token = CancelToken()

    def cb(fraction: float, message: str) -> None:
        if when(fraction, message):
            token.cancel()

    return Progress(cb, token)


@pytest.mark.parametrize(
    "when",
    [
        lambda f, m: 0.3 < f < 0.8,  # inside the correction
        lambda f, m: "writing" in m,  # while the derivatives are being written
    ],
    ids=["mid-correction", "while-writing"],
)
def test_cancelled_step_leaves_no_file_and_is_recorded(phantom_dir, tmp_path, when):
    study = Study.load(phantom_dir)
    proj = Project(tmp_path / "p")
    study.project = proj
    out = tmp_path / "p" / "derivatives"
    runner = Runner(study, builtin_steps(), out, project=proj)
    runner.run_step("sync")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(Cancelled):
        runner.run_step("gradient", GRAD, _cancelling(when))
    assert sorted(p.name for p in out.iterdir()) == before  # no derivative, no .gradient-* folder
    assert not list(out.glob(".gradient-*")) and not list(out.glob("*gradclean*"))
    assert [(s.name, s.status) for s in proj.steps] == [("sync", "done"), ("gradient", "cancelled")]
    assert study.history == [] and "gradient" not in study.results  # the study is unchanged


def test_cancelled_plan_stops_and_records_the_step(phantom_dir, tmp_path):
    study = Study.load(phantom_dir)
    proj = Project(tmp_path / "p")
    study.project = proj
    out = tmp_path / "p" / "derivatives"
    runner = Runner(study, builtin_steps(), out, project=proj)
    with pytest.raises(Cancelled):
        runner.run([("sync", {}), ("gradient", GRAD)], _cancelling(lambda f, m: f > 0.7))
    assert [(s.name, s.status) for s in proj.steps] == [("sync", "done"), ("gradient", "cancelled")]
    assert not list(out.glob(".*")) and not list(out.glob("*gradclean*"))


# ------------------------------------------------------------------ truth stays out of production code
#: public signatures that may name the truth, and why
_TRUTH_ALLOWED = {
    # the study carries the phantom's truth only so the runner can score after a step
    "workbench.engine.study.Study.__init__",
    "workbench.engine.study.Study.set_truth",
    "workbench.engine.session.Session.set_truth",
    # where the runner stores the scores (an output, not an input)
    "workbench.engine.steps.spec.StepResult.__init__",
    # NRMSE/correlation against a reference array; called by phantom.scoring only
    "workbench.engine.gradient.qc.truth_qc",
}


def _public_callables(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj
        elif inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                fn = member.__func__ if isinstance(member, classmethod | staticmethod) else member
                if isinstance(fn, property):
                    continue
                if inspect.isfunction(fn):
                    yield f"{module.__name__}.{name}.{attr}", fn


def test_no_production_signature_takes_the_truth():
    import workbench.engine
    import workbench.plugin_api

    offenders, seen = [], 0
    for pkg in (workbench.engine, workbench.plugin_api):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.startswith("workbench.engine.phantom"):
                continue  # the phantom owns the truth and its scorers
            module = importlib.import_module(info.name)
            for qualname, fn in _public_callables(module):
                seen += 1
                try:
                    params = inspect.signature(fn).parameters
                except (TypeError, ValueError):
                    continue
                named = [p for p in params if p == "truth" or p.startswith("truth_") or p.endswith("_truth")]
                if named and qualname not in _TRUTH_ALLOWED:
                    offenders.append(f"{qualname}({', '.join(named)})")
    assert seen > 200  # the walk did reach the engine
    assert not offenders, offenders


def test_truth_qc_only_when_the_study_has_truth(phantom_dir, tmp_path):
    runs = {}
    for label, keep_truth in (("with", True), ("without", False)):
        study = Study.load(phantom_dir)
        assert study.truth is not None
        if not keep_truth:
            study.truth = None
        proj = Project(tmp_path / label)
        study.project = proj
        runner = Runner(study, builtin_steps(), tmp_path / label / "derivatives", project=proj)
        runs[label] = (runner.run_step("sync"), runner.run_step("gradient"), proj)
    s_with, g_with, p_with = runs["with"]
    s_wo, g_wo, p_wo = runs["without"]
    assert "nrmse" in g_with.truth_qc and "nrmse" in p_with.last_step("gradient").qc
    assert "drift_error_ppm" in p_with.last_step("sync").qc
    assert g_wo.truth_qc == {} and s_wo.truth_qc == {}
    assert not {"nrmse", "correlation", "nrmse_median_channel"} & set(p_wo.last_step("gradient").qc)
    assert not {"drift_error_ppm", "drift_ppm_true", "beta_error_us"} & set(p_wo.last_step("sync").qc)
    # the step's own numbers do not depend on whether the truth is there
    assert compare_qc(g_with.qc, g_wo.qc) == [] and compare_qc(g_wo.qc, g_with.qc) == []
