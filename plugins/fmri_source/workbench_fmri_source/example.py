"""A tiny spherical head for the contract suite and the tests (seconds to make).

A ball-shaped T1 (4 mm voxels, conformed LIA, centred so scanner RAS = surface RAS),
32 electrodes and head-shape points on its scalp, an identity head->MRI transform, one
dipole driven by 30 trials of an evoked response (MNE sphere forward, computed here),
and a z-map with a blob around the dipole written to a temporary NIfTI (``--fmri``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.plugin_api import FusionInputs, example_folder

__all__ = ["example_inputs", "ball_study", "DIPOLE_MRI_M"]

DIPOLE_MRI_M = np.array([0.03, -0.02, 0.04])
_R_SCALP = 0.09


def _lia(n: int, step: float) -> np.ndarray:
    a = np.zeros((4, 4))
    a[0, 0], a[1, 2], a[2, 1], a[3, 3] = -step, step, -step, 1.0
    a[:3, 3] = [step * n / 2, -step * n / 2, step * n / 2]
    return a


def ball_study(seed: int = 0, n_trials: int = 30, snr_scale: float = 1.0, blob_mm: float = 15.0,
               folder: Path | None = None) -> tuple[FusionInputs, dict[str, Any]]:
    """Inputs of the ball head; ``truth`` has the dipole position and the map's path."""
    import mne
    import nibabel as nib
    import pandas as pd

    rng = np.random.default_rng(seed)
    n, step = 64, 4.0
    aff = _lia(n, step)
    ijk = np.indices((n, n, n)).reshape(3, -1).T
    xyz = (ijk @ aff[:3, :3].T + aff[:3, 3]) * 1e-3
    r = np.linalg.norm(xyz, axis=1)
    t1 = np.where(r < _R_SCALP, 800.0, 0.0) - np.where(r < 0.08, 400.0, 0.0) + np.where(r < 0.075, 300.0, 0.0)
    t1_img = nib.Nifti1Image(t1.reshape(n, n, n).astype(np.int16), aff)
    # electrodes and head shape on the upper half of the scalp (head frame = mri frame here)
    dirs = rng.normal(size=(400, 3))
    dirs[:, 2] = np.abs(dirs[:, 2]) + 0.2
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    names = [f"E{i:02d}" for i in range(32)]
    ch_pos = dict(zip(names, _R_SCALP * dirs[:32]))
    mont = mne.channels.make_dig_montage(ch_pos=ch_pos, nasion=[0, _R_SCALP, 0], lpa=[-_R_SCALP, 0, 0],
                                         rpa=[_R_SCALP, 0, 0], hsp=_R_SCALP * dirs[32:], coord_frame="head")
    sf = 250.0
    info = mne.create_info(names, sf, "eeg")
    info.set_montage(mont)
    sphere = mne.make_sphere_model((0.0, 0.0, 0.0), _R_SCALP, verbose="error")
    src = mne.setup_volume_source_space(pos={"rr": DIPOLE_MRI_M[None], "nn": np.array([[0.0, 0.0, 1.0]])},
                                        sphere=(0, 0, 0, 0.085), sphere_units="m", verbose="error")
    fwd = mne.make_forward_solution(info, mne.transforms.Transform("head", "mri", np.eye(4)), src, sphere,
                                    meg=False, eeg=True, verbose="error")
    gain = fwd["sol"]["data"] @ np.array([0.3, 0.2, 0.93])
    onsets = 2.0 + np.arange(n_trials) * 1.5 + rng.uniform(0, 0.3, n_trials)
    n_t = int((onsets[-1] + 2.0) * sf)
    data = 2e-6 * rng.standard_normal((len(names), n_t))
    t_erp = np.arange(int(0.5 * sf)) / sf
    erp = 20e-9 * snr_scale * np.exp(-0.5 * ((t_erp - 0.1) / 0.02) ** 2)
    for on in onsets:
        i0 = int(round(on * sf))
        data[:, i0:i0 + len(t_erp)] += gain[:, None] * erp
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations(onsets, [0.0] * n_trials, ["Stimulus/S  1"] * n_trials))
    events = pd.DataFrame({"onset": onsets, "duration": 0.0, "trial_type": "stim"})
    z = 6.0 * np.exp(-0.5 * (np.linalg.norm(xyz - DIPOLE_MRI_M, axis=1) / (blob_mm * 1e-3 / 2)) ** 2)
    folder = Path(folder or example_folder("fmri-source-example-"))
    zpath = folder / "zmap.nii.gz"
    nib.save(nib.Nifti1Image(z.reshape(n, n, n).astype(np.float32), aff), zpath)
    inputs = FusionInputs(eeg=raw, events=events, anat=t1_img, trans=mne.transforms.Transform("head", "mri", np.eye(4)),
                          dig=mont, files={"fmri": [zpath]})
    return inputs, {"dipole_mri_m": DIPOLE_MRI_M, "fmri": zpath, "folder": folder}


def example_inputs() -> FusionInputs:
    """The contract suite's example (seed 0)."""
    return ball_study(0)[0]
