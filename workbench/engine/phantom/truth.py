"""Loading a phantom study's ground truth (``ground_truth/index.json``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .config import PhantomConfig

__all__ = ["GroundTruth", "load_truth"]


@dataclass
class GroundTruth:
    """The truth of one phantom subject (arrays are read-only memory maps).

    Attributes
    ----------
    study_dir : Path
    subject : str
    config : PhantomConfig
    sfreq : float
    ch_names, ch_types : list of str
    arrays : dict
        ``"clean"``, ``"gradient"``, ``"bcg"``, ``"line"``, ``"blink"``, ``"drift"`` ->
        float32 (n_channels, n_times) in V. Their sum is the recorded EEG.
    rpeaks : ndarray
        R-peak times (s, EEG clock).
    alpha, beta : float
        ``t_EEG = alpha * t_MRI + beta``.
    triggers : dict
        ``true_mri``, ``true_eeg`` (every volume), ``recorded_sample``,
        ``recorded_volume`` (-1 = spurious), ``missing_volumes``, ``slice_onsets_mri``...
    head_mri_t : ndarray (4, 4)
        True head -> MRI transform (m); also in ``trans_path`` as ``-trans.fif``.
    sources : list of dict
        Role sources (name, role, positions, coupling, mask path...).
    events : dict
        Trial onsets (both clocks), conditions and amplitudes.
    meta : dict
        The full index entry of the subject.
    """

    study_dir: Path
    subject: str
    config: PhantomConfig
    sfreq: float
    ch_names: list[str]
    ch_types: list[str]
    arrays: dict[str, np.ndarray]
    rpeaks: np.ndarray
    alpha: float
    beta: float
    triggers: dict[str, Any]
    head_mri_t: np.ndarray
    trans_path: Path
    sources: list[dict[str, Any]]
    events: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> np.ndarray:
        """True artifact-free EEG (V)."""
        return self.arrays["clean"]

    @property
    def drift_ppm(self) -> float:
        return (self.alpha - 1.0) * 1e6

    def path(self, rel: str) -> Path:
        """Absolute path of a file named in the index (relative to ``ground_truth/``)."""
        return self.study_dir / "ground_truth" / rel

    def recorded(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Sum of all components = the recorded EEG (float64, V) for samples [start, stop)."""
        out = None
        for a in self.arrays.values():
            part = np.asarray(a[:, start:stop], dtype=np.float64)
            out = part if out is None else out + part
        return out

    def artifacts(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Sum of the artifact components only (float64, V)."""
        out = None
        for k, a in self.arrays.items():
            if k == "clean":
                continue
            part = np.asarray(a[:, start:stop], dtype=np.float64)
            out = part if out is None else out + part
        return out

    def load(self, key: str) -> Any:
        """An array or mask file named in the index (``neural``, ``bold_regions``, ``masks/NAME``...)."""
        if key.startswith("masks/"):
            import nibabel as nib

            return nib.load(self.path(self.meta["masks"][key[6:]]))
        return np.load(self.path(self.meta[key]), mmap_mode="r")


def load_truth(study_dir: str | os.PathLike, subject: str = "01") -> GroundTruth:
    """Load the ground truth of one subject of a phantom study.

    Parameters
    ----------
    study_dir : path-like
        The study folder (or its ``ground_truth`` folder).
    subject : str
        Subject label without ``sub-``.
    """
    root = Path(study_dir)
    if (root / "index.json").is_file() and not (root / "ground_truth").is_dir():
        root = root.parent
    index = root / "ground_truth" / "index.json"
    if not index.is_file():
        raise InputError(root, "no ground_truth/index.json: not a phantom study")
    try:
        doc = json.loads(index.read_text(encoding="utf-8"))
        meta = doc["subjects"][subject]
    except KeyError:
        raise InputError(index, f"no subject {subject!r} in the ground truth") from None
    except (OSError, ValueError) as exc:
        raise InputError(index, f"unreadable ground-truth index ({exc})") from None
    gt = root / "ground_truth"
    try:
        arrays = {k: np.load(gt / v, mmap_mode="r") for k, v in meta["arrays"].items()}
        rpeaks = np.load(gt / meta["rpeaks"])
    except (OSError, ValueError) as exc:
        raise InputError(index, f"a ground-truth array is missing or broken ({exc})") from None
    trig = dict(meta["triggers"])
    for k in ("true_mri", "true_eeg", "recorded_sample", "recorded_volume", "missing_volumes", "slice_timing"):
        trig[k] = np.asarray(trig[k])
    trig["slice_onsets_mri"] = np.load(gt / meta["triggers"]["slice_onsets_mri"])
    with open(gt / meta["sources"], encoding="utf-8") as fh:
        sources = json.load(fh)["sources"]
    ev = dict(meta["events"])
    for k in ("onset_mri", "onset_eeg", "onset_sample", "amplitude"):
        ev[k] = np.asarray(ev[k])
    ev["condition"] = np.asarray(ev["condition"])
    return GroundTruth(
        study_dir=root, subject=subject, config=PhantomConfig.from_dict(doc["config"]),
        sfreq=float(meta["sfreq"]), ch_names=list(meta["ch_names"]), ch_types=list(meta["ch_types"]),
        arrays=arrays, rpeaks=rpeaks, alpha=float(meta["clock"]["alpha"]), beta=float(meta["clock"]["beta"]),
        triggers=trig, head_mri_t=np.asarray(meta["head_mri_t"]), trans_path=gt / meta["trans"],
        sources=sources, events=ev, meta=meta,
    )
