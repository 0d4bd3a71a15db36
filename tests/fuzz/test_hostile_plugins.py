"""Issue 16 class 8: a hostile or broken plugin never takes the process down."""

from __future__ import annotations

import importlib.machinery
import logging
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from workbench.plugin_api import (
    FusionInputs,
    FusionMethod,
    FusionResult,
    OutputSpec,
    discover,
    run_method,
)
from workbench.plugin_api.run import PluginError

EXPLANATION = "A method written only to test that a misbehaving plugin is isolated and reported in one line."


def _folder_plugin(root: Path, pid: str, module: str, body: str, extra: dict[str, str] | None = None) -> Path:
    d = root / pid
    d.mkdir(parents=True)
    (d / "workbench-plugin.toml").write_text(f'[plugin]\nid = "{pid}"\ndeclaration = "{module}:METHOD"\n')
    (d / f"{module}.py").write_text(body)
    for rel, text in (extra or {}).items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    return d


def _forget(*names: str) -> None:
    for n in names:
        sys.modules.pop(n, None)


def test_sys_exit_in_a_declaration_is_that_plugins_failure(tmp_path):
    _folder_plugin(tmp_path, "exits", "wb_fuzz_exits_decl", "import sys\nsys.exit(0)\n")
    try:
        records = {r.id: r for r in discover([tmp_path])}
    finally:
        _forget("wb_fuzz_exits_decl")
    assert records["exits"].status == "broken"
    assert "sys.exit" in records["exits"].error and "\n" not in records["exits"].error
    assert records["parametric-modulation"].ok  # the others keep working


def test_a_plugin_folder_never_shadows_installed_libraries(tmp_path):
    d = _folder_plugin(tmp_path, "shadow", "wb_fuzz_shadow_decl", "raise RuntimeError('declaration')\n",
                       {"nilearn/__init__.py": "raise ImportError('shadowed nilearn')\n"})
    try:
        discover([tmp_path])
    finally:
        _forget("wb_fuzz_shadow_decl")
    spec = importlib.machinery.PathFinder.find_spec("nilearn", sys.path)
    assert spec is not None and not str(spec.origin).startswith(str(d))
    assert str(d.resolve()) not in sys.path[:1]


def _image() -> nib.Nifti1Image:
    return nib.Nifti1Image(np.ones((3, 3, 3), np.float32), np.eye(4))


def _method(run) -> FusionMethod:
    return FusionMethod("hostile", "Hostile", EXPLANATION, (), (), (OutputSpec("z", "map"),), run)


def test_sys_exit_in_run_is_a_plugin_error_logged_in_one_line(caplog):
    def run(inputs, params, progress):
        sys.exit(3)

    caplog.set_level(logging.DEBUG, logger="workbench.plugin_api.run")
    with pytest.raises(PluginError, match=r"sys\.exit\(3\)") as info:
        run_method(_method(run), FusionInputs())
    assert "\n" not in str(info.value)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0].getMessage() and "Traceback" not in errors[0].getMessage()
    assert any("Traceback" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def test_nan_maps_never_become_a_result():
    def run(inputs, params, progress):
        data = np.ones((3, 3, 3), np.float32)
        data[0, 0, 0] = np.nan
        return FusionResult(method="hostile", maps={"z": nib.Nifti1Image(data, np.eye(4))})

    with pytest.raises(PluginError, match="NaN/inf"):
        run_method(_method(run), FusionInputs())


def test_contract_catches_a_plugin_that_appends_to_its_input_file(tmp_path):
    from workbench.testing import check_fusion_method

    events = tmp_path / "sub-01_task-x_events.tsv"
    events.write_text("onset\tduration\ttrial_type\n1.0\t0.5\tgo\n")

    def run(inputs, params, progress):
        progress(0.5, "half")
        with open(inputs.sources["events"], "a") as fh:
            fh.write("9.0\t0.5\tgo\n")
        progress(1.0, "done")
        return FusionResult(method="hostile", maps={"z": _image()})

    report = check_fusion_method(_method(run), FusionInputs(sources={"events": str(events)}), raise_on_fail=False)
    failed = dict(report.failures())
    assert "inputs are not modified" in failed, str(report)
    assert events.name in failed["inputs are not modified"]
