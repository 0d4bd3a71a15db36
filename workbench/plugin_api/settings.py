"""Which plugins the user disabled (a small JSON file in the user config folder).

``WORKBENCH_PLUGIN_SETTINGS`` overrides the file location (used by tests and by lab
set-ups sharing one configuration).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from workbench.engine.atomic import atomic_write_json

__all__ = ["settings_path", "disabled_plugins", "set_plugin_enabled"]


def settings_path() -> Path:
    env = os.environ.get("WORKBENCH_PLUGIN_SETTINGS")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("eegfmri-workbench")) / "plugins.json"


def disabled_plugins() -> set[str]:
    """Ids of disabled plugins (an unreadable settings file disables nothing)."""
    path = settings_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {str(x) for x in doc.get("disabled", [])}
    except (OSError, ValueError, AttributeError):
        return set()


def set_plugin_enabled(plugin_id: str, enabled: bool) -> None:
    """Enable or disable a plugin by id (written atomically)."""
    disabled = disabled_plugins()
    if enabled:
        disabled.discard(plugin_id)
    else:
        disabled.add(plugin_id)
    atomic_write_json(settings_path(), {"disabled": sorted(disabled)})
