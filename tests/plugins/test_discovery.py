"""Plugin discovery: entry points and user folder, broken plugins isolated, disabling."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.engine.errors import InputError
from workbench.engine.session import Session
from workbench.plugin_api import (
    discover,
    get_method,
    inputs_from_session,
    run_method,
    set_plugin_enabled,
)
from workbench.plugin_api.run import PluginError

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "plugins" / "template"


def _fake_distribution(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """What `pip install` leaves behind: a .dist-info with METADATA and entry_points.txt."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = ["[workbench.fusion]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def _forget(prefix: str) -> None:
    for name in list(sys.modules):
        if name == prefix or name.startswith(prefix + "."):
            del sys.modules[name]


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    _forget("workbench_template_plugin")
    _forget("broken_plugin_pkg")


def test_first_party_plugin_is_found_through_its_entry_point():
    records = {r.id: r for r in discover()}
    rec = records["parametric-modulation"]
    assert rec.ok, rec.error
    assert rec.source.startswith("entry point workbench.fusion in workbench-parametric-modulation")
    assert get_method("parametric-modulation").title.startswith("Parametric modulation")


def test_installed_template_is_discovered_without_importing_its_code(site):
    shutil.copytree(TEMPLATE / "workbench_template_plugin", site / "workbench_template_plugin")
    _fake_distribution(
        site,
        "workbench-template-plugin",
        {"template-correlation": "workbench_template_plugin.declaration:METHOD"},
    )
    _forget("workbench_template_plugin")
    records = {r.id: r for r in discover()}
    rec = records["template-correlation"]
    assert rec.ok, rec.error
    assert "workbench-template-plugin" in rec.source
    assert "workbench_template_plugin.declaration" in sys.modules
    assert "workbench_template_plugin.method" not in sys.modules  # heavy code stays unimported
    assert records["parametric-modulation"].ok


def test_template_dropped_in_the_user_folder_is_discovered(tmp_path):
    user = tmp_path / "user_plugins"
    shutil.copytree(TEMPLATE, user / "template")
    _forget("workbench_template_plugin")
    rec = {r.id: r for r in discover()}["template-correlation"]
    assert rec.ok, rec.error
    assert rec.source == f"folder {user / 'template'}"
    _forget("workbench_template_plugin")


def test_broken_plugins_are_listed_with_their_error_and_isolated(site, tmp_path):
    pkg = site / "broken_plugin_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "imports_missing.py").write_text("import no_such_module_for_workbench_tests\n")
    (pkg / "bad_declaration.py").write_text(
        "from workbench.plugin_api import FusionMethod, OutputSpec, Param\n"
        "METHOD = FusionMethod(id='bad-decl', title='Bad', explanation='too short',\n"
        "    inputs=('bold',), params=(), outputs=(OutputSpec('z', 'map'),), run='x:y')\n"
    )
    (pkg / "raises.py").write_text("raise RuntimeError('plugin exploded on import')\n")
    _fake_distribution(
        site,
        "broken-plugins",
        {
            "missing-import": "broken_plugin_pkg.imports_missing:METHOD",
            "bad-decl": "broken_plugin_pkg.bad_declaration:METHOD",
            "explodes": "broken_plugin_pkg.raises:METHOD",
        },
    )
    user = tmp_path / "user_plugins"
    (user / "bad_toml").mkdir()
    (user / "bad_toml" / "workbench-plugin.toml").write_text("[plugin\nid = 'x'\n")
    records = {r.id: r for r in discover()}
    assert records["parametric-modulation"].ok  # the others keep working
    assert "ModuleNotFoundError" in records["missing-import"].error
    assert "no_such_module_for_workbench_tests" in records["missing-import"].error
    assert "explanation" in records["bad-decl"].error
    assert "plugin exploded on import" in records["explodes"].error
    assert "TOML" in records["bad_toml"].error or "Expected" in records["bad_toml"].error
    for rid in ("missing-import", "bad-decl", "explodes", "bad_toml"):
        assert records[rid].status == "broken"
        assert "\n" not in records[rid].error
    with pytest.raises(InputError, match="cannot be loaded: ModuleNotFoundError"):
        get_method("missing-import")


def test_plugins_can_be_disabled_and_enabled():
    set_plugin_enabled("parametric-modulation", False)
    rec = {r.id: r for r in discover()}["parametric-modulation"]
    assert rec.status == "disabled" and rec.method is None
    with pytest.raises(InputError, match="disabled"):
        get_method("parametric-modulation")
    set_plugin_enabled("parametric-modulation", True)
    assert get_method("parametric-modulation").id == "parametric-modulation"


def test_duplicate_ids_keep_the_first(tmp_path):
    user = tmp_path / "user_plugins"
    shutil.copytree(TEMPLATE, user / "a_template")
    shutil.copytree(TEMPLATE, user / "b_template")
    _forget("workbench_template_plugin")
    recs = [r for r in discover() if r.id == "template-correlation"]
    assert [r.ok for r in recs] == [True, False]
    assert "duplicate id" in recs[1].error
    _forget("workbench_template_plugin")


def test_a_crashing_plugin_gives_a_one_line_plugin_error(site):
    from workbench.plugin_api import FusionMethod, FusionResult, OutputSpec

    def boom(inputs, params, progress):
        progress(0.1, "about to fail")
        raise ZeroDivisionError("division by zero\nwith a second line")

    def wrong(inputs, params, progress):
        return FusionResult(method="x", maps={"undeclared": None})

    explanation = "A method written only to test how failures of plugins are reported."
    for fn, pattern in ((boom, "failed: ZeroDivisionError"), (wrong, "undeclared output")):
        m = FusionMethod("crashy", "Crashy", explanation, (), (), (OutputSpec("z", "map"),), fn)
        with pytest.raises(PluginError, match=pattern) as info:
            run_method(m, inputs_from_session(Session()))
        assert "\n" not in str(info.value)


def test_cli_plugins_list_shows_broken_ones(site, tmp_path):
    (site / "broken_plugin_pkg").mkdir()
    (site / "broken_plugin_pkg" / "__init__.py").write_text("raise ImportError('nope')\n")
    _fake_distribution(site, "broken-cli", {"broken-cli": "broken_plugin_pkg:METHOD"})
    env_path = str(site)
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "plugins", "list"],
        capture_output=True,
        text=True,
        env={**_env(), "PYTHONPATH": env_path},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "parametric-modulation" in proc.stdout and " ok " in proc.stdout
    assert "broken-cli" in proc.stdout and "ImportError: nope" in proc.stdout


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items()}
