"""Running a cleanup step again replaces its previous run instead of stacking on it.

"Apply" in the Cardiac and ICA views re-runs the step with edited beats or other
excluded components. Run on the EEG the step itself made, the BCG would be removed twice
and the output would overwrite its own input. So when the current EEG was made by the
same step, that step starts from the version before it, and the replaced version leaves
the study's history once the new run has succeeded. A replay runs the recorded steps in
order, so it reproduces the same EEG.

(The runner treats every step alike and does not do this; the cleanup steps whose views
re-run them do it here. Used by the ``cardiac``, ``notch`` and ``ica`` steps.)
"""

from __future__ import annotations

from typing import Any

__all__ = ["input_eeg", "drop_replaced"]


def input_eeg(study: Any, step_id: str) -> Any:
    """The EEG a run of ``step_id`` starts from: the current one, or the one before the step's own."""
    hist = getattr(study, "history", None) or []
    if hist and hist[-1].step == step_id:
        return hist[-2].raw if len(hist) > 1 else study.raw
    return study.eeg


def drop_replaced(study: Any, step_id: str) -> bool:
    """Remove the step's previous version from the history (call once the new run succeeded)."""
    hist = getattr(study, "history", None) or []
    if hist and hist[-1].step == step_id:
        hist.pop()
        return True
    return False
