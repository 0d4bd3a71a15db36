"""Isolate plugin settings and the user plugin folder from the real user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_plugins(tmp_path, monkeypatch):
    (tmp_path / "user_plugins").mkdir()
    monkeypatch.setenv("WORKBENCH_PLUGIN_PATH", str(tmp_path / "user_plugins"))
    monkeypatch.setenv("WORKBENCH_PLUGIN_SETTINGS", str(tmp_path / "plugin-settings.json"))
    yield
