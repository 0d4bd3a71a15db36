"""Shared simulated DCM data (small, seeded) and plugin-setting isolation."""

from __future__ import annotations

import numpy as np
import pytest
from workbench_dcm.model import DcmModel


@pytest.fixture(autouse=True)
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir(exist_ok=True)
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))
    yield


def three_models() -> dict[str, DcmModel]:
    R, U = ["V1", "V5", "SPC"], ["photic", "attention"]
    a = [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    c = [[1, 0], [0, 0], [0, 0]]
    return {
        "mod-V5": DcmModel.build("mod-V5", R, U, a, {"attention": [[0, 0, 0], [1, 0, 0], [0, 0, 0]]}, c),
        "mod-SPC": DcmModel.build("mod-SPC", R, U, a, {"attention": [[0, 0, 0], [0, 0, 0], [0, 1, 0]]}, c),
        "no-mod": DcmModel.build("no-mod", R, U, a, {}, c),
    }


@pytest.fixture
def models() -> dict[str, DcmModel]:
    return three_models()


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)
