"""The fusion plugin API (Qt-free): declare a method, discover plugins, run them.

A plugin is a distribution declaring an entry point in the group ``workbench.fusion``
(or a folder with a ``workbench-plugin.toml`` manifest in the user plugin folder) that
points to a light :class:`FusionMethod` declaration. See ``plugins/template`` for a
copyable example and :func:`workbench.testing.check_fusion_method` for the contract suite.
"""

from .declaration import (
    INPUT_KINDS,
    OUTPUT_KINDS,
    PARAM_TYPES,
    DeclarationError,
    FileInput,
    FusionMethod,
    OutputSpec,
    Param,
    params_from_strings,
)
from .discovery import (
    ENTRY_POINT_GROUP,
    MANIFEST,
    PluginRecord,
    discover,
    get_method,
    user_plugin_dirs,
)
from .inputs import example_folder, inputs_from_path, inputs_from_session, read_events
from .result import RESULT_SCHEMA, FusionInputs, FusionResult
from .run import PluginError, resolve_method, run_method
from .settings import disabled_plugins, set_plugin_enabled, settings_path
from .steps import all_steps, fusion_step, inputs_from_study

__all__ = [
    "INPUT_KINDS",
    "OUTPUT_KINDS",
    "PARAM_TYPES",
    "DeclarationError",
    "FusionMethod",
    "FileInput",
    "OutputSpec",
    "Param",
    "params_from_strings",
    "ENTRY_POINT_GROUP",
    "MANIFEST",
    "PluginRecord",
    "discover",
    "get_method",
    "user_plugin_dirs",
    "example_folder",
    "inputs_from_path",
    "inputs_from_session",
    "all_steps",
    "fusion_step",
    "inputs_from_study",
    "read_events",
    "RESULT_SCHEMA",
    "FusionInputs",
    "FusionResult",
    "PluginError",
    "resolve_method",
    "run_method",
    "disabled_plugins",
    "set_plugin_enabled",
    "settings_path",
]
