"""The contract suite on the first-party and template plugins, and on methods that break it."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.errors import Cancelled
from workbench.plugin_api import FusionMethod, FusionResult, OutputSpec, Param
from workbench.testing import check_fusion_method

REPO = Path(__file__).resolve().parents[2]


def test_parametric_modulation_passes_the_contract_suite():
    report = check_fusion_method("parametric-modulation")
    assert report.ok
    names = [n for n, _, _ in report.checks]
    assert "cancellation is honoured" in names and "deterministic" in names


def test_template_passes_the_contract_suite(tmp_path, monkeypatch):
    import shutil
    import sys

    shutil.copytree(REPO / "plugins" / "template", tmp_path / "user_plugins" / "template")
    report = check_fusion_method("template-correlation")
    assert report.ok, str(report)
    for name in list(sys.modules):
        if name.startswith("workbench_template_plugin"):
            del sys.modules[name]


EXPL = "A deliberately faulty method used to prove that the contract suite catches faults."


def _faulty(kind: str) -> FusionMethod:
    import nibabel as nib
    import numpy as np

    def run(inputs, params, progress):
        progress(0.0, "start")
        data = np.asarray(inputs.bold.dataobj)
        if kind == "mutates":
            inputs.bold_meta["RepetitionTime"] = 99.0
        value = float(np.random.default_rng().random()) if kind == "random" else 1.0
        if kind == "ignores-cancel":  # reports as it goes but swallows the cancellation
            for f in (0.25, 0.5, 0.75):
                try:
                    progress(f, "working")
                except Cancelled:
                    pass
        elif kind != "no-cancel":  # no-cancel: reports only at its start and end
            progress(0.5, "half")
        progress(1.0, "end")
        img = nib.Nifti1Image(np.full(data.shape[:3], value, np.float32), inputs.bold.affine)
        return FusionResult(method="faulty", maps={"z": img})

    return FusionMethod(
        "faulty",
        "Faulty",
        EXPL,
        ("bold",),
        (Param("k", "int", 1, "k", minimum=0),),
        (OutputSpec("z", "map"),),
        run,
        example="workbench.testing.synthetic:example_inputs",
    )


@pytest.mark.parametrize(
    ("kind", "failed_check"),
    [
        ("mutates", "inputs are not modified"),
        ("random", "deterministic"),
        ("no-cancel", "cancellation is honoured"),
        ("ignores-cancel", "cancellation is honoured"),
    ],
)
def test_contract_suite_catches_faults(kind, failed_check):
    report = check_fusion_method(_faulty(kind), raise_on_fail=False)
    assert not report.ok
    assert failed_check in [n for n, _ in report.failures()]
    with pytest.raises(AssertionError, match=failed_check):
        check_fusion_method(_faulty(kind))


def test_a_well_behaved_method_passes_every_check():
    """The faulty method without a fault passes: each parametrized case fails for its fault only."""
    report = check_fusion_method(_faulty("none"), raise_on_fail=False)
    assert report.ok, str(report)
