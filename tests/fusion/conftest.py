"""Isolate plugin settings and the user plugin folder from the real user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir()
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))
    yield


@pytest.fixture(scope="session")
def phantom_study(tmp_path_factory):
    """A 10-minute phantom study (500 Hz, 32 channels, 20 slices, TR 2 s), made once."""
    from workbench.engine.phantom import PhantomConfig, simulate_study

    out = tmp_path_factory.mktemp("fusion_phantom") / "study"
    simulate_study(
        out,
        PhantomConfig(duration_s=600, sfreq=500, n_eeg=32, tr=2.0, slices=20, n_subjects=1, seed=3),
    )
    return out


@pytest.fixture(scope="session")
def synthetic():
    """The small synthetic study of workbench.testing (seconds to make)."""
    from workbench.testing.synthetic import small_study

    return small_study(seed=1)
