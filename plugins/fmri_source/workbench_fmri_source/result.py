"""The method's result: a :class:`~workbench.plugin_api.FusionResult` whose ``result.json``
also has a top-level ``peaks`` entry, readable without parsing tables.

The generic result schema keeps method numbers under ``qc``; a lab scripting against
``result.json`` wants each variant's peak position, amplitude and distance to the fMRI map
in one place, so :meth:`SourceResult.summary` adds::

    "peaks_frame": "mri: FreeSurfer surface RAS (MNE's 'mri' frame), metres",
    "peaks": {variant: {"0.170": {"position_m": [x, y, z], "amplitude": a,
                                   "amplitude_unit": "A·m" | "dSPM" | ...,
                                   "in_fmri_map": bool, "distance_to_fmri_mm": d,
                                   "dispersion_mm": s}}},
    "source_space": {"kind": "surface" | "volume", "reason": "...",
                     "orientation": "fixed" | "loose" | "free", "n_sources": n},
    "source_estimate": {"file": "source_estimate.npz", "format": ...}

and :meth:`SourceResult.save` writes the whole estimate over time (:mod:`.saved`) beside
it, so :meth:`SourceResult.load` gives back a result the Sources view can show (``live``)
after the project is reopened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
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
    source_space: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The generic document plus ``peaks_frame`` and ``peaks`` (plain Python values:
        the method builds them from floats, bools and lists only)."""
        doc = super().summary()
        doc["peaks_frame"] = PEAKS_FRAME
        doc["peaks"] = self.peaks
        if self.source_space:
            doc["source_space"] = self.source_space
        return doc

    def save(self, out_dir: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
        """:meth:`FusionResult.save` plus ``source_estimate.npz`` (when ``live`` has the
        estimate), named in ``result.json`` under ``source_estimate``. The estimate is
        written first (atomically); ``result.json`` comes last, so a folder with a
        ``result.json`` that names the estimate has it."""
        from workbench.engine.atomic import atomic_path
        from workbench.plugin_api.source_estimate import FILENAME, FORMAT, write_source_estimate

        if not self.live.get("source_estimate"):
            return super().save(out_dir, extra)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / FILENAME) as tmp:
            write_source_estimate(tmp, self.live)
        extra = {**(extra or {}), "source_estimate": {"file": FILENAME, "format": FORMAT}}
        try:
            return super().save(out, extra)
        except BaseException:
            (out / FILENAME).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, out_dir: str | os.PathLike) -> SourceResult:
        """Read a result written by :meth:`save`: the generic parts, ``peaks`` and, when
        saved, the source estimate as ``live`` (what the Sources view shows)."""
        import json

        from workbench.plugin_api.source_estimate import read_source_estimate

        res = super().load(out_dir)
        folder = Path(out_dir)
        path = folder / "result.json" if folder.is_dir() else folder
        doc = json.loads(path.read_text(encoding="utf-8"))
        res.peaks = doc.get("peaks", {})
        res.source_space = doc.get("source_space", {})
        est = doc.get("source_estimate")
        if est:
            res.live = read_source_estimate(path.parent / est["file"])
        return res
