"""Gradient (imaging) artifact correction: slot-matched AAS with exact sub-sample alignment.

Typical use::

    from workbench.engine.gradient import remove_gradient, GradientParams
    res = remove_gradient(raw, params=GradientParams(window=20, lowpass=70), sidecar=bold_meta)
    res.raw, res.qc["harmonic_reduction_db"]
"""

from .aas import AASParams, AASResult, Schedule, correct_inplace, volume_template
from .correct import (
    CORRECTED_TYPES,
    GradientParams,
    GradientResult,
    build_schedule,
    remove_gradient,
)
from .qc import harmonics, psd, spectral_qc, truth_qc

__all__ = [
    "AASParams",
    "AASResult",
    "CORRECTED_TYPES",
    "GradientParams",
    "GradientResult",
    "Schedule",
    "build_schedule",
    "correct_inplace",
    "harmonics",
    "psd",
    "remove_gradient",
    "spectral_qc",
    "truth_qc",
    "volume_template",
]
