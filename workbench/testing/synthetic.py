"""A tiny synthetic EEG-fMRI study for fusion contract checks and examples (seconds to make).

Not the phantom (``workbench.engine.phantom``): no artifacts, no head model, just what a
fusion method needs, with known answers. Two regions respond to the events: one in
proportion to each trial's EEG evoked amplitude (``"modulated"``), one with the same
response to every trial (``"task"``). The EEG is recorded on its own clock that starts
``eeg_offset`` seconds before the first volume, with stimulus and volume markers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.plugin_api import FusionInputs

__all__ = ["small_study"]


def small_study(
    seed: int = 0,
    n_scans: int = 100,
    tr: float = 2.0,
    shape: tuple[int, int, int] = (8, 8, 6),
    n_trials: int = 30,
    sfreq: float = 250.0,
    eeg_offset: float = 4.0,
    noise: float = 0.004,
    amp_sd: float = 0.5,
) -> tuple[FusionInputs, dict[str, Any]]:
    """Make a small study.

    Returns
    -------
    inputs : FusionInputs
        ``eeg`` (mne RawArray, 8 channels, ERP at ``Pz``), ``bold`` (4D NIfTI, 3 mm
        voxels, fractional signal around 100), ``bold_meta`` (TR, interleaved
        SliceTiming), ``events`` (DataFrame: onset, duration, trial_type).
    truth : dict
        ``masks`` ({"modulated", "task"} boolean volumes), ``amplitudes`` per trial,
        ``eeg_offset``.
    """
    import mne
    import nibabel as nib
    import pandas as pd

    from workbench.engine.hemo import spm_hrf

    rng = np.random.default_rng(seed)
    run = n_scans * tr
    isi = (run - 20.0) / n_trials
    onsets = 6.0 + np.arange(n_trials) * isi + rng.uniform(0, isi / 3, n_trials)
    amps = np.clip(1.0 + amp_sd * rng.standard_normal(n_trials), 0.1, None)

    # EEG: ERP (P300-like) at Pz scaled by the trial amplitude, on its own clock
    ch = ["Fz", "Cz", "Pz", "Oz", "C3", "C4", "P3", "P4"]
    weights = np.array([0.2, 0.6, 1.0, 0.5, 0.4, 0.4, 0.8, 0.8])
    n_eeg = int((run + eeg_offset + 4.0) * sfreq)
    data = 3e-6 * rng.standard_normal((len(ch), n_eeg))
    t_erp = np.arange(int(0.8 * sfreq)) / sfreq
    erp = 8e-6 * np.exp(-0.5 * ((t_erp - 0.35) / 0.06) ** 2)
    for on, a in zip(onsets, amps):
        i0 = int(round((on + eeg_offset) * sfreq))
        data[:, i0 : i0 + len(t_erp)] += weights[:, None] * a * erp
    info = mne.create_info(ch, sfreq, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    ann_on = list(onsets + eeg_offset) + list(eeg_offset + np.arange(n_scans) * tr)
    ann_desc = ["Stimulus/S  1"] * n_trials + ["Response/R128"] * n_scans
    raw.set_annotations(mne.Annotations(ann_on, [0.0] * len(ann_on), ann_desc))

    # BOLD: per-slice acquisition times (interleaved), microtime convolution
    nx, ny, nz = shape
    slice_order = list(range(0, nz, 2)) + list(range(1, nz, 2))
    slice_times = np.empty(nz)
    slice_times[slice_order] = np.arange(nz) * tr / nz
    dt = tr / 16
    t_fine = np.arange(0, run + 40, dt)
    u_task = np.zeros_like(t_fine)
    u_mod = np.zeros_like(t_fine)
    for on, a in zip(onsets, amps):
        k = int(round(on / dt))
        u_task[k] += 1.0
        u_mod[k] += a
    h = spm_hrf(dt)
    r_task = np.convolve(u_task, h)[: len(t_fine)]
    r_mod = np.convolve(u_mod, h)[: len(t_fine)]
    masks = {"modulated": np.zeros(shape, bool), "task": np.zeros(shape, bool)}
    masks["modulated"][1:3, 1:3, :] = True
    masks["task"][5:7, 5:7, :] = True
    bold = np.empty((nx, ny, nz, n_scans), np.float32)
    scan_t = np.arange(n_scans) * tr
    for z in range(nz):
        tt = scan_t + slice_times[z]
        task = np.interp(tt, t_fine, r_task)
        mod = np.interp(tt, t_fine, r_mod)
        drift = 0.3 * np.cos(np.pi * tt / run)
        e = rng.standard_normal((nx, ny, n_scans))
        ar = np.empty_like(e)  # AR(1) noise, rho 0.3
        ar[..., 0] = e[..., 0]
        for i in range(1, n_scans):
            ar[..., i] = 0.3 * ar[..., i - 1] + e[..., i]
        sl = 100.0 + drift + noise * 100 * ar
        sl[masks["modulated"][..., z]] += 2.0 * mod / mod.max()
        sl[masks["task"][..., z]] += 2.0 * task / task.max()
        bold[:, :, z, :] = sl
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = -1.5 * np.array(shape) + 1.5
    img = nib.Nifti1Image(bold, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    events = pd.DataFrame(
        {"onset": onsets, "duration": np.zeros(n_trials), "trial_type": ["stim"] * n_trials}
    )
    meta = {
        "RepetitionTime": tr,
        "SliceTiming": [float(x) for x in slice_times],
        "TaskName": "synthetic",
    }
    inputs = FusionInputs(eeg=raw, bold=img, bold_meta=meta, events=events)
    truth = {"masks": masks, "amplitudes": amps, "eeg_offset": eeg_offset, "onsets": onsets}
    return inputs, truth


def example_inputs() -> FusionInputs:
    """The default example of the first-party and template plugins (seed 0)."""
    return small_study(seed=0, n_scans=60, n_trials=20)[0]
