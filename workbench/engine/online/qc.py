"""QC of an online run: latency figures and the residual against the offline correction.

The residual is the artifact left locked to the volumes: the RMS of the average of the
output over all volumes after the first ``skip_volumes`` (the EEG averages out, what
repeats every TR stays), for the online output and for the offline correction of the
same file (default parameters, the same 70 Hz low-pass). Its noise floor (EEG that
did not average out) is the same average with random signs per volume. It needs no
slice timing (the offline slot detection can be wrong on a drifting artifact) and is
blind to the causal low-pass's few ms of delay. The offline QC's slice-harmonic
figures are reported beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def residual_vs_offline(
    raw: Any,
    online: np.ndarray,
    *,
    first_index: int = 0,
    volume: str | None = None,
    skip_volumes: int = 10,
    lowpass_hz: float = 70.0,
) -> dict[str, Any]:
    """Compare the online output with the offline gradient correction of ``raw``.

    Parameters
    ----------
    raw : mne.io.Raw
        The replayed recording (loaded).
    online : ndarray (n_channels [+ 1], n)
        The online output, channels in ``raw``'s order (a trailing flag row is
        ignored); its first column is ``raw`` sample ``first_index``.
    volume : str | None
        Volume-trigger name for the offline sync (None: automatic).
    skip_volumes : int
        Volumes left out at the start (the online templates are still filling).
    lowpass_hz : float
        The low-pass both corrections use.

    Returns
    -------
    dict
        ``residual_volume_locked_uv_online``/``_offline``/``_uncorrected``,
        ``residual_floor_uv``, ``residual_vs_offline_db`` (online over offline; the
        goal is <= 3 dB), the slice-harmonic figures, the span.
    """
    import mne

    from ..gradient import GradientParams, remove_gradient
    from ..gradient.qc import spectral_qc

    res = remove_gradient(raw, params=GradientParams(lowpass=lowpass_hz), volume=volume)
    sf = float(raw.info["sfreq"])
    on = res.schedule.onsets
    if on.size <= skip_volumes + 2:
        return {"residual_note": f"only {on.size} volumes: too few to compare after {skip_volumes}"}
    a = int(np.ceil(on[skip_volumes]))
    b = int(min(np.floor(on[-1] + res.schedule.period), first_index + online.shape[1], raw.n_times))
    a = max(a, first_index)
    eeg = mne.pick_types(raw.info, eeg=True, exclude="bads")
    eeg = np.array([i for i in eeg if not raw.ch_names[i].upper().startswith(("ECG", "EKG"))], int)
    before = raw.get_data(picks=eeg, start=a, stop=b)
    off = res.raw.get_data(picks=eeg, start=a, stop=b)
    onl = np.asarray(online[eeg, a - first_index : b - first_index], np.float64)
    f_slice = float(res.sync.acquisition.slice_frequency)
    tr = float(res.sync.fit.tr_s * res.sync.fit.alpha)
    fmax = 0.9 * lowpass_hz
    q_on = spectral_qc(before, onl, sf, f_slice, tr, fmax=fmax)
    q_off = spectral_qc(before, off, sf, f_slice, tr, fmax=fmax)
    st = np.round(on[skip_volumes:] - a).astype(int)
    L = int(np.floor(res.schedule.period))
    st = st[(st >= 0) & (st + L <= b - a)]
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], st.size)

    def locked(x: np.ndarray) -> tuple[float, float]:
        ep = np.stack([x[:, s : s + L] for s in st])
        ep = ep - ep.mean(axis=2, keepdims=True)
        avg = ep.mean(axis=0)
        floor = (ep * signs[:, None, None]).mean(axis=0)
        return float(np.sqrt(np.mean(avg**2)) * 1e6), float(np.sqrt(np.mean(floor**2)) * 1e6)

    v_on, fl_on = locked(onl)
    v_off, fl_off = locked(off)
    v_raw, _ = locked(before)
    r_on, r_off = q_on["harmonic_rms_after_uv"], q_off["harmonic_rms_after_uv"]
    return {
        "residual_volume_locked_uv_online": v_on,
        "residual_volume_locked_uv_offline": v_off,
        "residual_volume_locked_uv_uncorrected": v_raw,
        "residual_floor_uv": 0.5 * (fl_on + fl_off),
        "residual_vs_offline_db": float(20 * np.log10(max(v_on, 1e-12) / max(v_off, 1e-12))),
        "residual_volumes": int(st.size),
        "residual_span_s": [a / sf, b / sf],
        "residual_skip_volumes": int(skip_volumes),
        "f_slice_hz": f_slice,
        "residual_harmonic_uv_online": r_on,
        "residual_harmonic_uv_offline": r_off,
        "harmonic_reduction_db_online": q_on["harmonic_reduction_db"],
        "harmonic_reduction_db_offline": q_off["harmonic_reduction_db"],
        "power_kept_1_40_online": q_on["power_kept_1_40"],
        "power_kept_1_40_offline": q_off["power_kept_1_40"],
    }
