"""The phantom: a physics-grounded simulated simultaneous EEG-fMRI study with ground truth.

``simulate_study(out_dir, PhantomConfig(...))`` writes a BIDS-named study in real file
formats (BrainVision EEG with scanner and stimulus markers, NIfTI BOLD with slice
timing, NIfTI T1, BIDS electrodes/coordsystem/events) and a ``ground_truth/`` folder
described by ``ground_truth/index.json``; :func:`load_truth` reads it back.
See DESIGN §5 and the module docstrings for the physics of each part.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PhantomConfig", "simulate_study", "load_truth", "GroundTruth", "COMPONENTS"]

#: names -> the submodule that defines them; imported on first use, so that `workbench --help`
#: and code needing only the configuration do not import the simulators (scipy.signal...)
_LAZY = {"PhantomConfig": "config", "GroundTruth": "truth", "load_truth": "truth",
         "COMPONENTS": "writer", "simulate_study": "writer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
