"""The method's result: a :class:`~workbench.plugin_api.FusionResult` whose ``result.json``
also has a top-level ``peaks`` entry, readable without parsing tables.

The generic result schema keeps method numbers under ``qc``; a lab scripting against
``result.json`` wants each variant's peak position, amplitude and distance to the fMRI map
in one place, so :meth:`SourceResult.summary` adds::

    "peaks_frame": "mri: FreeSurfer surface RAS (MNE's 'mri' frame), metres",
    "peaks": {variant: {"0.170": {"position_m": [x, y, z], "amplitude": a,
                                   "amplitude_unit": "A·m" | "dSPM" | ...,
                                   "in_fmri_map": bool, "distance_to_fmri_mm": d,
                                   "dispersion_mm": s}}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.plugin_api import FusionResult

__all__ = ["SourceResult", "PEAKS_FRAME", "UNITS"]

PEAKS_FRAME = "mri: FreeSurfer surface RAS (MNE's 'mri' frame, the T1's vox2ras-tkr), metres"

#: unit of each variant's amplitude
UNITS = {"none": "A·m", "weighted": "A·m", "soft": "A·m", "hard": "A·m", "dspm": "dSPM (unitless)",
         "sloreta": "sLORETA (unitless)", "weighted_dspm": "dSPM (unitless)", "soft_dspm": "dSPM (unitless)",
         "hard_dspm": "dSPM (unitless)"}


@dataclass
class SourceResult(FusionResult):
    """A fusion result with ``peaks`` (see module doc) at the top of ``result.json``.

    Attributes
    ----------
    peaks : dict
        ``{variant: {time key: {position_m, amplitude, amplitude_unit, in_fmri_map,
        distance_to_fmri_mm, dispersion_mm}}}``; positions in :data:`PEAKS_FRAME`.
    """

    peaks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The generic document plus ``peaks_frame`` and ``peaks`` (plain Python values:
        the method builds them from floats, bools and lists only)."""
        doc = super().summary()
        doc["peaks_frame"] = PEAKS_FRAME
        doc["peaks"] = self.peaks
        return doc
