"""Online (real-time) gradient and BCG correction for EEG-fMRI neurofeedback.

Causal versions of the offline corrections, fed sample chunks as an amplifier sends
them, Qt-free and LSL-free at the core (:mod:`.lsl` is the transport)::

    from workbench.engine.online import OnlinePipeline, OnlineParams
    pipe = OnlinePipeline(ch_names, ch_types, sfreq, OnlineParams(window=20))
    pipe.add_markers(marker_times, marker_names)       # scanner volume triggers
    res = pipe.process(chunk, timestamps)              # -> cleaned chunk + flag row
    res.data, res.flags, res.compute_s, res.messages
"""

from . import flags
from .pipeline import FLAG_CHANNEL, ChunkResult, OnlineParams, OnlinePipeline
from .replay import ReplayResult, replay_array, replay_raw

__all__ = [
    "FLAG_CHANNEL",
    "ChunkResult",
    "OnlineParams",
    "OnlinePipeline",
    "ReplayResult",
    "flags",
    "replay_array",
    "replay_raw",
]
