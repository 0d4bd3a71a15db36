"""Pipeline steps: named, replayable engine calls recorded in a project's provenance.

Each stage module registers its step with :func:`register_step`; ``workbench run``
replays a project's recorded steps by name, and ``workbench demo --headless`` runs
every registered step on the phantom in pipeline order and adds its section to the
report. Step modules live in this package and are discovered automatically, so a
new stage only adds a module.
"""

from .registry import StepContext, StepSpec, available_steps, get_step, register_step

__all__ = ["StepContext", "StepSpec", "available_steps", "get_step", "register_step"]
