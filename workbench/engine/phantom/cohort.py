"""The phantom's cohort: a component shared by every subject, with subject-specific loadings.

Group methods (joint ICA, CCA across subjects) need a truth that is the same kind of
thing they estimate: a component whose EEG part (an ERP shape) and fMRI part (a map
pattern) are the same in every subject while its strength varies between subjects. In a
multi-subject phantom every trial of ``SHARED_CONDITION`` is scaled by the subject's
loading ``l_s`` (on top of its own trial-by-trial amplitude), so every modulated source of
that condition (the visual cortex, which has BOLD, and the fMRI-invisible temporal source,
which has not) scales by ``l_s`` in the EEG and in the BOLD: the ERP shape and the
activation map are shared, their amplitude is the subject's loading. Unmodulated sources
(lateral occipital) and the other condition stay the same in every subject, so the
per-subject features also hold a part that does not follow the loading.

A single-subject phantom is unchanged (``l = 1``). The loadings are drawn from their own
seeded stream, so they do not change any other random choice of the phantom. The truth
(`cohort` in ``ground_truth/index.json``) lists the loadings, the condition and the
sources that carry the shared component.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import PhantomConfig
from .sources import SOURCES, Events

__all__ = ["SHARED_CONDITION", "LOADING_SD", "subject_loadings", "apply_shared_loading", "cohort_truth",
           "shared_sources"]

#: trials of this condition carry the shared component
SHARED_CONDITION = "visual"
#: SD of the log of the subject loadings (log-normal with mean 1: a between-subject coefficient of
#: variation of ~50 %, the spread of evoked-response amplitudes between healthy subjects; the first
#: version's 0.35 (normal, clipped) was about the size of the measurement noise of a 2-minute run
#: and no group method could find it on 8 subjects, see benchmarks/bench_cohort_results.md)
LOADING_SD = 0.5
_STREAM = 7919  # random stream of the loadings (independent of every per-subject stream)


def subject_loadings(cfg: PhantomConfig) -> np.ndarray:
    """Loading of the shared component for each subject (``1`` for a single subject)."""
    n = int(cfg.n_subjects)
    if n <= 1:
        return np.ones(max(n, 1))
    rng = np.random.default_rng([cfg.seed, _STREAM])
    return np.exp(LOADING_SD * rng.standard_normal(n) - LOADING_SD**2 / 2.0)


def shared_sources() -> list[str]:
    """Role sources whose response scales with the loading (modulated, shared condition)."""
    return [s.name for s in SOURCES if s.condition == SHARED_CONDITION and s.modulated and s.peaks]


def apply_shared_loading(cfg: PhantomConfig, events: Events, isub: int) -> Events:
    """The subject's events with the shared condition's trial amplitudes scaled by its loading."""
    load = float(subject_loadings(cfg)[isub])
    if load == 1.0:
        return events
    amp = np.where(events.condition == SHARED_CONDITION, events.amplitude * load, events.amplitude)
    return Events(events.onset_mri, events.condition, amp)


def cohort_truth(cfg: PhantomConfig, subjects: list[str]) -> dict[str, Any]:
    """The ``cohort`` entry of ``ground_truth/index.json``."""
    loads = subject_loadings(cfg)
    return {
        "condition": SHARED_CONDITION,
        "sources": shared_sources(),
        "bold_sources": [s.name for s in SOURCES if s.name in shared_sources() and s.bold != 0],
        "loadings": {sub: float(loads[i]) for i, sub in enumerate(subjects)},
        "loading_sd": LOADING_SD if len(subjects) > 1 else 0.0,
        "loading_distribution": "log-normal, mean 1, loading_sd = SD of the log",
        "notes": "every trial of the condition is scaled by the subject's loading (EEG and BOLD of the "
                 "modulated sources of that condition): shared ERP shape and map pattern, subject-specific "
                 "strength; the ERP shape at a channel is gain[channel] @ (moment x waveform) of these "
                 "sources (ground_truth/sub-XX_gain.npy, sub-XX_sources.json), the map is the mask of "
                 "the bold_sources",
    }


def group_truth(study_dir: Any, subjects: list[str], channel: str, times: np.ndarray, mask: np.ndarray,
                affine: np.ndarray) -> dict[str, np.ndarray]:
    """The shared component's truth on a group analysis's features.

    ``erp``: the scalp ERP (V, unit loading) of the shared sources at ``channel``, the mean over
    subjects of ``gain[channel] @ (moment x waveform)``; ``map``: the fraction of subjects whose
    true activation mask of the shared BOLD source covers each voxel of ``mask`` (the group's
    grid, ``affine``); ``loadings``: the subjects' loadings.
    """
    import json
    from pathlib import Path

    import nibabel as nib
    from nilearn.image import resample_to_img

    from .sources import erp_waveform

    gt = Path(study_dir) / "ground_truth"
    index = json.loads((gt / "index.json").read_text(encoding="utf-8"))
    coh = index.get("cohort")
    if not coh:
        from ..errors import InputError

        raise InputError(gt / "index.json", "this phantom has no cohort truth (written before the shared "
                                            "component existed): simulate it again")
    specs = {s.name: s for s in SOURCES}
    ref = nib.Nifti1Image(np.zeros(mask.shape, np.float32), affine)
    erps, maps = [], []
    for sub in subjects:
        entry = index["subjects"][sub]
        src = json.loads((gt / entry["sources"]).read_text(encoding="utf-8"))
        gain = np.load(gt / src["gain_file"])
        ci = src["gain_channels"].index(channel)
        erp = np.zeros(len(times))
        for name in coh["sources"]:
            k = src["gain_columns"].index(name)
            erp += gain[ci, k] * specs[name].moment_nam * 1e-9 * erp_waveform(specs[name], np.asarray(times))
        erps.append(erp)
        m = np.zeros(mask.shape)
        for name in coh["bold_sources"]:
            img = nib.load(gt / entry["masks"][name])
            r = resample_to_img(img, ref, interpolation="nearest", force_resample=True, copy_header=True)
            m = np.maximum(m, np.asarray(r.get_fdata()) > 0)
        maps.append(m)
    return {"erp": np.mean(erps, axis=0), "map": np.mean(maps, axis=0)[mask],
            "loadings": np.array([coh["loadings"][s] for s in subjects])}


def score_components(truth: dict[str, np.ndarray], comp_x: np.ndarray, comp_y: np.ndarray,
                     loadings: np.ndarray) -> dict[str, float]:
    """How well the best-matching group component recovers the shared one.

    The component whose map part correlates best (in absolute value) with the true map is
    taken; its ERP part, map part and subject loadings are correlated with the truth.
    """
    def r(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    rm = [abs(r(c, truth["map"])) for c in comp_y]
    k = int(np.argmax(rm))
    sign = np.sign(r(comp_y[k], truth["map"])) or 1.0
    return {"component": k + 1, "r_map": rm[k], "r_erp": sign * r(comp_x[k], truth["erp"]),
            "r_loadings": sign * r(loadings[:, k], truth["loadings"])}
