"""The phantom: a physics-grounded simulated simultaneous EEG-fMRI study with ground truth.

``simulate_study(out_dir, PhantomConfig(...))`` writes a BIDS-named study in real file
formats (BrainVision EEG with scanner and stimulus markers, NIfTI BOLD with slice
timing, NIfTI T1, BIDS electrodes/coordsystem/events) and a ``ground_truth/`` folder
described by ``ground_truth/index.json``; :func:`load_truth` reads it back.
See DESIGN §5 and the module docstrings for the physics of each part.
"""

from .config import PhantomConfig
from .truth import GroundTruth, load_truth
from .writer import COMPONENTS, simulate_study

__all__ = ["PhantomConfig", "simulate_study", "load_truth", "GroundTruth", "COMPONENTS"]
