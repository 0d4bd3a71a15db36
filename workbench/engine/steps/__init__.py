"""Steps: the one declaration of every pipeline stage (DESIGN §2b).

Built-in stages each have a module here with a ``SPEC``; :func:`builtin_steps` lists
them in pipeline order. Fusion methods become steps through plugin discovery
(:func:`workbench.plugin_api.all_steps` adds them); the engine itself never discovers
plugins. Adding a stage means: an algorithm module, a ``SPEC`` here, tests.
"""

from __future__ import annotations

from .params import PARAM_TYPES, DeclarationError, Param
from .spec import STAGES, STUDY_KEYS, Figure, OutputFile, QCSpec, StepResult, StepSpec, format_value

__all__ = [
    "PARAM_TYPES", "DeclarationError", "Param", "STAGES", "STUDY_KEYS", "Figure", "OutputFile", "QCSpec",
    "StepResult", "StepSpec", "format_value", "builtin_steps", "sort_steps",
]

_BUILTIN_MODULES = ("sync", "gradient", "cardiac", "notch", "ica", "coreg")


def sort_steps(specs: list[StepSpec]) -> list[StepSpec]:
    """Steps in pipeline order (stage, then order, then id)."""
    def key(s: StepSpec) -> tuple[int, float, str]:
        return (STAGES.index(s.stage) if s.stage in STAGES else len(STAGES), s.order, s.id)

    return sorted(specs, key=key)


def builtin_steps() -> dict[str, StepSpec]:
    """The built-in steps by id, in pipeline order (each declaration checked)."""
    import importlib

    specs = []
    for name in _BUILTIN_MODULES:
        spec = importlib.import_module(f"{__name__}.{name}").SPEC
        spec.check()
        specs.append(spec)
    return {s.id: s for s in sort_steps(specs)}
