"""Haemodynamics: SPM's canonical HRF and derivatives, Glover's HRF, the Balloon-Windkessel model.

Qt-free; used by the phantom (BOLD generation), the fusion plugins (regressors) and the
teaching view.
"""

from .balloon import (
    BalloonParams,
    BalloonResult,
    balloon_hrf,
    balloon_steady_state,
    balloon_windkessel,
    linearised_system,
)
from .hrf import (
    glover_hrf,
    hrf_times,
    spm_canonical_basis,
    spm_dispersion_derivative,
    spm_hrf,
    spm_time_derivative,
)

__all__ = [
    "BalloonParams",
    "BalloonResult",
    "balloon_hrf",
    "balloon_steady_state",
    "balloon_windkessel",
    "linearised_system",
    "glover_hrf",
    "hrf_times",
    "spm_canonical_basis",
    "spm_dispersion_derivative",
    "spm_hrf",
    "spm_time_derivative",
]
