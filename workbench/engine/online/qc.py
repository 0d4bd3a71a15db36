"""QC of an online run: latency figures and the residual against the offline correction.

The residual is the artifact left locked to the volumes: the RMS of the average of the
output over all volumes after the first ``skip_volumes`` (the EEG averages out, what
repeats every TR stays), for the online output and for the offline correction of the
same file (default parameters, the same 70 Hz low-pass). Its noise floor (EEG that
did not average out) is the same average with random signs per volume. It needs no
slice timing (the offline slot detection can be wrong on a drifting artifact) and is
blind to the causal low-pass's few ms of delay. The offline QC's slice-harmonic
figures are reported beside it.

The 1-40 Hz power kept compares like with like: when the online run also subtracted the
BCG (``bcg=True``), the offline reference is the gradient correction followed by the
offline BCG correction (R-peaks and OBS as the cardiac step does them); otherwise the
gradient correction alone. (Comparing a BCG-cleaned online output with a gradient-only
offline output reported 0.19 vs 1.00 on the 150 s phantom: the BCG's own power, not a
loss of EEG.)
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
    bcg: bool = False,
    keep_hz: tuple[float, ...] = (),
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
    bcg : bool
        Whether the online run subtracted the BCG: the power-kept reference then
        includes the offline BCG correction (see the module docstring).
    keep_hz : tuple of float
        Frequencies the online run kept (``OnlineParams.keep_hz``); the offline
        correction keeps them too.

    Returns
    -------
    dict
        ``residual_volume_locked_uv_online``/``_offline``/``_uncorrected``,
        ``residual_floor_uv``, ``residual_vs_offline_db`` (online over offline; the
        goal is <= 3 dB), the slice-harmonic figures, the span, and
        ``power_kept_1_40_online``/``_offline`` with ``power_kept_offline_stages``
        (or ``power_kept_note`` when the offline BCG correction was not possible).
    """
    import mne

    from ..gradient import GradientParams, remove_gradient
    from ..gradient.qc import spectral_qc

    res = remove_gradient(raw, params=GradientParams(lowpass=lowpass_hz, keep_hz=tuple(keep_hz)), volume=volume)
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
    kept = _power_kept(raw, res.raw, a, b, before, onl, off, bcg, f_slice, tr, fmax)
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
        **kept,
    }


def _ecg_index(raw: Any) -> int | None:
    """The ECG channel the online pipeline would pick (type ``ecg``, else named ECG/EKG)."""
    types = raw.get_channel_types()
    i = next((k for k, t in enumerate(types) if t == "ecg"), None)
    if i is None:
        i = next((k for k, n in enumerate(raw.ch_names) if n.upper().startswith(("ECG", "EKG"))), None)
    return i


def _power_kept(
    raw: Any, corrected: Any, a: int, b: int, before: np.ndarray, onl: np.ndarray,
    off: np.ndarray, bcg: bool, f_slice: float, tr: float, fmax: float,
) -> dict[str, Any]:
    """1-40 Hz power kept by the online output and by the offline correction of the same
    stages (with ``bcg``, the offline BCG correction is applied to ``off`` first).

    Parameters
    ----------
    raw, corrected : mne.io.Raw
        The recording and its offline gradient correction.
    a, b : int
        Span compared (samples of ``raw``).
    before, onl, off : ndarray
        The uncorrected, online and offline gradient-only EEG over the span.
    bcg : bool
        Whether the online run subtracted the BCG.
    f_slice, tr, fmax : float
        As for :func:`~workbench.engine.gradient.qc.spectral_qc`.
    """
    from ..errors import InputError
    from ..gradient.qc import spectral_qc

    sf = float(raw.info["sfreq"])
    stages = "gradient"
    ecg = _ecg_index(raw) if bcg else None
    if ecg is not None:  # (no ECG: the online run corrected the gradient only, too)
        from ..cardiac.bcg import remove_bcg
        from ..cardiac.rpeaks import detect_rpeaks

        try:  # over the span only: a long recording's whole EEG would not fit twice more
            rp = detect_rpeaks(corrected.get_data(picks=[ecg], start=a, stop=b)[0], sf)
            off = off - remove_bcg(off, sf, np.asarray(rp.times, float)).artifact
        except InputError as exc:
            return {"power_kept_note": f"offline BCG correction not possible ({exc}): power kept not compared"}
        stages = "gradient+bcg"
    q_on = spectral_qc(before, onl, sf, f_slice, tr, fmax=fmax)
    q_off = spectral_qc(before, off, sf, f_slice, tr, fmax=fmax)
    return {
        "power_kept_1_40_online": q_on["power_kept_1_40"],
        "power_kept_1_40_offline": q_off["power_kept_1_40"],
        "power_kept_offline_stages": stages,
    }
