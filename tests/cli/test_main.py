"""The ``workbench`` entry point: help, errors, subcommand discovery."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.cli.main import build_parser, main


def test_every_subcommand_has_help_and_run():
    _, mods = build_parser()
    assert {"demo", "run"} <= set(mods)
    for name, mod in mods.items():
        assert mod.HELP and callable(mod.run), name


def test_run_on_missing_project_is_one_line_error(tmp_path, capsys):
    rc = main(["run", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err and "nope" in err and "not found" in err


def test_run_on_broken_project_json(tmp_path, capsys):
    (tmp_path / "project.json").write_text("{oops")
    rc = main(["run", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "broken JSON" in err and "\n" not in err
    assert not (tmp_path.parent / (tmp_path.name + "-replay")).exists()


def test_run_on_bad_pipeline_file(tmp_path, capsys):
    f = tmp_path / "pipe.json"
    f.write_text('{"steps": []}')
    rc = main(["run", str(f)])
    assert rc == 1 and '"study"' in capsys.readouterr().err


def test_module_entry_point_prints_version():
    out = subprocess.run([sys.executable, "-m", "workbench", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("workbench ")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["demo", "--help"]])
def test_help_exits_zero(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
