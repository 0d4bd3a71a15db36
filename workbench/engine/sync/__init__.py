"""Scanner synchronisation: trigger validation/repair, clock fit, acquisition timeline.

Typical use::

    from workbench.engine.sync import synchronise
    res = synchronise(raw, tr=2.0)          # finds the triggers, repairs, fits the clock
    res.fit.drift_ppm, res.train.n_missing, res.acquisition.slot_offsets
"""

from .acquisition import (
    Acquisition,
    detect_slots,
    evenly_spaced,
    from_sidecar,
    from_slice_triggers,
    read_bold_sidecar,
)
from .clock import ClockFit, fit_clock, realign_to_scanner
from .sync import SyncResult, synchronise
from .triggers import TriggerTrain, repair_triggers

__all__ = [
    "Acquisition",
    "ClockFit",
    "SyncResult",
    "TriggerTrain",
    "detect_slots",
    "evenly_spaced",
    "fit_clock",
    "from_sidecar",
    "from_slice_triggers",
    "read_bold_sidecar",
    "realign_to_scanner",
    "repair_triggers",
    "synchronise",
]
