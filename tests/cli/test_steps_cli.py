"""`workbench steps [--json]` prints the declarations; `workbench clean` options come from them."""

from __future__ import annotations

import json

import pytest

from workbench.cli.main import main
from workbench.engine.steps import PARAM_TYPES, STUDY_KEYS
from workbench.plugin_api import all_steps

EXPECTED = {
    "sync": (["eeg"], ["sync"]),
    "gradient": (["eeg", "sync"], ["eeg"]),
    "coreg": (["dig"], ["trans"]),
    "parametric-modulation": (["eeg", "bold", "events"], []),
}


@pytest.fixture(autouse=True)
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir()
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))


def _steps_json(capsys) -> dict:
    assert main(["steps", "--json"]) == 0
    return {s["id"]: s for s in json.loads(capsys.readouterr().out)["steps"]}


def test_steps_json_lists_the_stages_with_their_declared_parameters(capsys):
    steps = _steps_json(capsys)
    assert set(EXPECTED) <= set(steps), sorted(steps)
    for sid, (requires, provides) in EXPECTED.items():
        s = steps[sid]
        assert s["requires"] == requires and s["provides"] == provides, sid
        assert s["params"], f"{sid} declares no parameters"
        for p in s["params"]:
            assert {"name", "type", "default", "unit", "help"} <= set(p), (sid, p)
            assert p["type"] in PARAM_TYPES and p["help"].strip(), (sid, p["name"])
    for s in steps.values():
        assert set(s["requires"]) | set(s["provides"]) | set(s["optional"]) <= set(STUDY_KEYS), s["id"]


def test_steps_json_is_exactly_the_catalogue(capsys):
    steps = _steps_json(capsys)
    catalog = all_steps()
    assert list(steps) == list(catalog)  # every step, in pipeline order
    for sid, spec in catalog.items():
        printed = steps[sid]["params"]
        assert [p["name"] for p in printed] == [p.name for p in spec.params], sid
        for p, decl in zip(printed, spec.params):
            assert p["default"] == decl.default and p["unit"] == decl.unit and p["help"] == decl.help
            if spec.available:
                assert decl.coerce(p["default"]) == decl.default  # the printed default validates


def test_steps_text_lists_each_step_and_parameter(capsys):
    assert main(["steps"]) == 0
    text = capsys.readouterr().out
    for sid, spec in all_steps().items():
        assert sid in text
        for p in spec.params:
            assert p.name in text, (sid, p.name)
    assert "lowpass" in text and "default 70 Hz" in text


def test_clean_offers_every_declared_parameter_of_its_steps(capsys):
    with pytest.raises(SystemExit):
        main(["clean", "--help"])
    text = capsys.readouterr().out
    catalog = all_steps()
    for sid in ("sync", "gradient"):
        for p in catalog[sid].params:
            flag = p.name.replace("_", "-")
            assert f"--{flag}" in text or f"--{sid}-{flag}" in text, (sid, p.name)
    assert "--no-align" in text and "--slice-timing" in text


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--lowpass", "0"], "'lowpass' = 0.0 is below its minimum"),  # 'off' is how to switch it off
        (["--window", "0"], "'window' = 0 is below its minimum"),
        (["--window", "ten"], "'window' must be a int"),
        (["--tr", "-2"], "'tr' = -2.0 is below its minimum"),
    ],
)
def test_clean_values_are_validated_by_the_declaration_before_anything_runs(tmp_path, capsys, option, message):
    eeg = tmp_path / "rec.vhdr"
    eeg.write_text("not read: the plan is refused first\n")
    out = tmp_path / "out_eeg.fif"
    rc = main(["clean", str(eeg), str(out), "--steps", "sync,gradient", *option])
    err = capsys.readouterr().err
    assert rc == 1 and message in err, err
    assert not out.exists()
