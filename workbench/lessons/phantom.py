"""The small phantom studies the lessons run on, simulated once and cached.

A lesson's experiment should take seconds, but writing a phantom study (anatomy, BOLD,
EEG in real file formats) takes tens of seconds. The study for a given setting is
therefore written once into a cache folder (``$WORKBENCH_LESSON_CACHE``, default
``~/.cache/eegfmri-workbench/lesson-phantoms``), keyed by the settings' hash, and reused;
it is written into a temporary folder and renamed into place, so a cancelled or killed
simulation leaves nothing half-written to be reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..engine.progress import ProgressLike, as_progress

__all__ = ["BASE", "cache_dir", "lesson_study", "load_study"]

#: the lessons' phantom: 90 s (42 volumes) at 2.5 kHz, 20 slices per 2 s TR; small enough to simulate
#: in well under a minute, long enough for templates over many slices and beats and for a GLM
BASE: dict[str, Any] = {
    "duration_s": 90.0, "sfreq": 2500.0, "n_eeg": 32, "tr": 2.0, "slices": 20, "seed": 3,
    "drift_ppm": 20.0, "dig_outliers": 0,
}


def cache_dir() -> Path:
    """Where cached lesson phantoms live."""
    env = os.environ.get("WORKBENCH_LESSON_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "eegfmri-workbench" / "lesson-phantoms"


def lesson_study(overrides: dict[str, Any] | None = None, progress: ProgressLike | None = None) -> Path:
    """The folder of a phantom study with :data:`BASE` settings changed by ``overrides``.

    Simulated on first use (tens of seconds), then reused.
    """
    from ..engine.phantom.config import PhantomConfig

    settings = {**BASE, **(overrides or {})}
    cfg = PhantomConfig.from_dict(settings)
    key = hashlib.sha1(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    root = cache_dir()
    final = root / f"phantom-{key}"
    if (final / "ground_truth" / "index.json").is_file():
        return final
    from ..engine.phantom.writer import simulate_study

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-phantom-", dir=root))
    try:
        simulate_study(tmp / "study", cfg, progress=as_progress(progress))
        try:
            os.replace(tmp / "study", final)
        except OSError:  # another process wrote it meanwhile
            if not (final / "ground_truth" / "index.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_study(overrides: dict[str, Any] | None = None, progress: ProgressLike | None = None) -> Any:
    """A :class:`~workbench.engine.study.Study` of the lesson phantom (loaded as the GUI and CLI load it)."""
    from ..engine.study import Study

    p = as_progress(progress)
    folder = lesson_study(overrides, p.sub(0.0, 0.9))
    return Study.load(folder, progress=p.sub(0.9, 1.0))
