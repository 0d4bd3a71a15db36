"""Per-sample flags of the online correction (a bit field, 0 = fully corrected).

The cleaned stream carries them as an extra channel (``ONLINE_FLAG``) so a
neurofeedback consumer can drop or down-weight samples that were passed through
uncorrected, and the recorded file keeps them.
"""

from __future__ import annotations

import numpy as np

#: not inside a volume announced by a scanner marker: no gradient subtraction
NO_VOLUME = 1
#: inside a volume but fewer past volumes than needed for a template (first volumes)
GRADIENT_LEARNING = 2
#: samples after a gap in the stream (stop and resume), until the next volume marker
GAP = 4
#: the stream's sample rate does not match its header: passed through uncorrected
RATE_MISMATCH = 8
#: the TR changed: templates restart (passed through until enough new volumes)
TR_CHANGED = 16
#: a volume is due by the TR rhythm but its marker has not arrived, and the template
#: placed at the predicted onset did not match the data: passed through uncorrected
MARKER_LATE = 32
#: no BCG template yet (too few R-peaks detected so far)
BCG_LEARNING = 64
#: corrected from the onset the TR rhythm predicts, without a volume marker (late or
#: missing; the data confirmed the artifact there): corrected, said for the record
PREDICTED = 128
#: inside a volume, but the data stopped matching its template (the artifact is not
#: there: the scanner stopped): passed through uncorrected
ARTIFACT_ENDED = 256
#: the BCG is not corrected at all: the stream has no ECG channel to find R-peaks in
#: (not "learning": no template will come; before, such samples said "BCG template
#: learning" for the whole run, which read as "wait")
BCG_OFF = 512

NAMES = {
    NO_VOLUME: "no volume marker",
    GRADIENT_LEARNING: "gradient template learning",
    GAP: "after a stream gap",
    RATE_MISMATCH: "sample rate mismatch",
    TR_CHANGED: "TR changed",
    MARKER_LATE: "volume marker late",
    BCG_LEARNING: "BCG template learning",
    PREDICTED: "volume predicted, not marked",
    ARTIFACT_ENDED: "gradient artifact ended",
    BCG_OFF: "BCG not corrected (no ECG channel)",
}

#: flags that mean the gradient artifact was *not* removed from a sample
GRADIENT_UNCORRECTED = GRADIENT_LEARNING | GAP | RATE_MISMATCH | TR_CHANGED | MARKER_LATE | ARTIFACT_ENDED
#: flags that only say how a sample was corrected (it was)
INFORMATIONAL = PREDICTED


def describe(flag: int) -> str:
    """Human-readable names of the bits set in ``flag`` ("corrected" for 0)."""
    flag = int(flag)
    if flag == 0:
        return "corrected"
    return ", ".join(name for bit, name in NAMES.items() if flag & bit)


def counts(flags: np.ndarray) -> dict[str, int]:
    """How many samples carry each flag (JSON-ready, by name)."""
    f = np.asarray(flags, np.int64)
    out = {"corrected": int(np.count_nonzero(f == 0))}
    for bit, name in NAMES.items():
        out[name] = int(np.count_nonzero(f & bit))
    return out
