"""The computation: imported only when the method runs."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.engine.errors import InputError
from workbench.plugin_api import FusionInputs, FusionResult


def run(inputs: FusionInputs, params: dict[str, Any], progress) -> FusionResult:
    """``run(inputs, params, progress) -> FusionResult``: read inputs, never modify them.

    Call ``progress(fraction, message)`` regularly: it raises ``Cancelled`` when the user
    cancels. Raise ``InputError(path, problem)`` for bad data (a one-line message).
    """
    import nibabel as nib
    from scipy import signal

    from workbench.engine.hemo import spm_hrf

    progress(0.0, "band power")
    raw, bold = inputs.eeg, inputs.bold
    tr = float(inputs.bold_meta.get("RepetitionTime") or 0)
    if tr <= 0:
        raise InputError(inputs.sources.get("bold"), "no RepetitionTime in the BOLD sidecar")
    sf = raw.info["sfreq"]
    if not params["fmin"] < params["fmax"] < sf / 2:
        raise InputError(None, "the band must satisfy fmin < fmax < Nyquist")
    n_scans = bold.shape[3]
    start = int(round(inputs.eeg_offset * sf))
    stop = start + int(round(n_scans * tr * sf))
    if stop > raw.n_times:
        raise InputError(inputs.sources.get("eeg"), "the EEG is shorter than the fMRI run")
    data = raw.get_data(picks="eeg", start=start, stop=stop)  # a copy: inputs stay untouched
    sos = signal.butter(4, [params["fmin"], params["fmax"]], btype="bandpass", fs=sf, output="sos")
    power = (signal.sosfiltfilt(sos, data, axis=1) ** 2).mean(axis=0)
    progress(0.4, "regressor")
    edges = np.round(np.arange(n_scans + 1) * tr * sf).astype(int)
    per_tr = np.add.reduceat(power, edges[:-1]) / np.diff(edges)
    reg = np.convolve(per_tr - per_tr.mean(), spm_hrf(tr))[:n_scans]
    progress(0.6, "correlation")
    Y = np.asarray(bold.dataobj, dtype=np.float64).reshape(-1, n_scans).T
    Y = signal.detrend(Y, axis=0)
    x = signal.detrend(reg)
    denom = np.linalg.norm(Y, axis=0) * np.linalg.norm(x)
    r = np.divide(x @ Y, denom, out=np.zeros(Y.shape[1]), where=denom > 0)
    z = np.arctanh(np.clip(r, -0.999999, 0.999999)) * np.sqrt(max(n_scans - 3, 1))
    shape = bold.shape[:3]
    order = np.argsort(-np.abs(r))[: params["top_n"]]
    res = FusionResult(method="template-correlation")
    res.maps["r"] = nib.Nifti1Image(r.reshape(shape).astype(np.float32), bold.affine)
    res.maps["z"] = nib.Nifti1Image(z.reshape(shape).astype(np.float32), bold.affine)
    res.timecourses["regressor"] = {
        "t": np.arange(n_scans) * tr,
        "series": {"band power": reg},
        "unit": "V^2",
    }
    res.tables["peaks"] = [
        {"i": int(i), "j": int(j), "k": int(k), "r": float(r[o])}
        for o, (i, j, k) in zip(order, zip(*np.unravel_index(order, shape)))
    ]
    res.qc = {"max_abs_r": float(np.abs(r).max())}
    progress(1.0, "done")
    return res
