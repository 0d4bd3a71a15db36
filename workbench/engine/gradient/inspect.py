"""What the gradient views show, computed in the engine (the views only draw it).

:func:`inspect_result` turns a :class:`~.correct.GradientResult` into plain arrays:
mean PSD before/after with the slice harmonics and volume comb, the per-channel QC
rows, and the trigger times; :func:`epoch_stack` gives the aligned artifact epochs and
the template of one channel and volume (cheap: one channel, ``window`` epochs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .aas import volume_template
from .qc import harmonics, psd


@dataclass
class GradientView:
    """Arrays for the gradient tab (all SI; the view converts to µV/ms)."""

    freqs: np.ndarray
    psd_before: np.ndarray
    psd_after: np.ndarray
    slice_harmonics: np.ndarray
    volume_lines: np.ndarray
    qc_rows: list[dict[str, Any]] = field(default_factory=list)
    volume_onsets_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    summary: dict[str, Any] = field(default_factory=dict)
    evolution: dict[str, np.ndarray] = field(default_factory=dict)


def inspect_result(
    before: Any, res: Any, *, seconds: float = 60.0, fmax: float = 250.0
) -> GradientView:
    """PSDs (mean over EEG channels, scanning period), harmonics and QC rows."""
    import mne

    raw = res.raw
    sf = float(raw.info["sfreq"])
    eeg = mne.pick_types(raw.info, eeg=True, exclude="bads")
    s0, s1 = res.scan_span
    s1 = min(s1, s0 + int(seconds * sf))
    b = before.get_data(picks=eeg, start=s0, stop=s1)
    a = raw.get_data(picks=eeg, start=s0, stop=s1)
    f, pb = psd(b, sf)
    _, pa = psd(a, sf)
    sel = f <= fmax
    tr = res.sync.fit.tr_s * res.sync.fit.alpha
    pc = res.qc.get("per_channel", {})
    tpc = res.qc.get("truth_per_channel", {})
    rows = []
    names = pc.get("names", [])
    kept_off = pc.get("power_kept_1_40_off_comb") or [None] * len(names)
    for i, name in enumerate(names):
        row = {
            "channel": name,
            "harmonic_before_uv": pc["harmonic_before_uv"][i],
            "harmonic_after_uv": pc["harmonic_after_uv"][i],
            "reduction_db": pc["reduction_db"][i],
            "power_kept_1_40": pc["power_kept_1_40"][i],
            "power_kept_1_40_off_comb": kept_off[i],
        }
        if tpc:
            row["nrmse"] = tpc["nrmse"][i]
            row["correlation"] = tpc["correlation"][i]
        rows.append(row)
    keys = (
        "harmonic_rms_before_uv",
        "harmonic_rms_after_uv",
        "harmonic_reduction_db",
        "power_kept_1_40",
        "power_kept_1_40_off_comb",
        "nrmse",
        "correlation",
        "n_volumes",
        "f_slice_hz",
    )
    return GradientView(
        freqs=f[sel],
        psd_before=pb[:, sel].mean(axis=0),
        psd_after=pa[:, sel].mean(axis=0),
        slice_harmonics=harmonics(res.qc.get("f_slice_hz", 0.0), fmax),
        volume_lines=np.arange(1, int(min(fmax, 20.0) * tr) + 1) / tr if tr > 0 else np.zeros(0),
        qc_rows=rows,
        volume_onsets_s=res.schedule.onsets / sf,
        summary={k: res.qc[k] for k in keys if k in res.qc},
        evolution={k: np.asarray(v, float) for k, v in res.qc.get("evolution", {}).items()},
    )


def epoch_stack(before: Any, res: Any, channel: int, volume: int) -> dict[str, Any]:
    """Aligned neighbouring epochs and the template of one channel and volume.

    The neighbours are the ones the correction used: with tracking, the volumes chosen for
    this channel and volume (on the strong-artifact bins; :attr:`.aas.AASResult.neighbours`),
    otherwise the fixed window of nearest volumes.

    Returns ``{"t": seconds in the volume, "epochs": (n, L), "template": (L,),
    "corrected": (L,) the same volume after correction, "slots": slot onsets (s),
    "neighbours": the volumes shown, "tracked": bool, "volume": v}``.
    """
    from .aas import Schedule

    sf = float(res.raw.info["sfreq"])
    sched = res.schedule
    v = int(np.clip(volume, 0, sched.n_volumes - 1))
    chosen = getattr(res.aas, "neighbours", {}).get(int(channel))
    if chosen is not None and v < len(chosen):
        nb = np.unique(np.asarray(chosen[v], int))
        lo, hi = int(min(nb.min(), v)), int(max(nb.max(), v)) + 1
    else:
        w = int(min(res.qc.get("window_volumes", res.params.main_window(sf)), sched.n_volumes - 1))
        lo = int(np.clip(v - w // 2, 0, sched.n_volumes - (w + 1)))
        hi = lo + w + 1
        nb = np.array([j for j in range(lo, hi) if j != v], int)
    # read only the stretch the neighbouring volumes cover (lazy Raws stay fast)
    pad = int(max(64, res.params.aas(sf).pad + 2))
    a = int(max(np.floor(sched.onsets[lo]) - pad, 0))
    b = int(min(np.ceil(sched.onsets[hi - 1] + sched.period) + pad, before.n_times))
    x = before.get_data(picks=[channel], start=a, stop=b)[0]
    sub = Schedule(sched.onsets[lo:hi] - a, sched.period, sched.slot_offsets)
    ep, tmpl = volume_template(x, sub, v - lo, res.params.aas(sf), neighbours=nb - lo)
    c0 = int(np.ceil(sched.onsets[v]))
    after = res.raw.get_data(picks=[channel], start=c0, stop=c0 + tmpl.size)[0]
    t = (np.arange(tmpl.size) + c0 - sched.onsets[v]) / sf
    return {
        "t": t,
        "epochs": ep,
        "template": tmpl,
        "corrected": after,
        "slots": sched.slot_offsets / sf,
        "neighbours": nb,
        "tracked": chosen is not None,
        "volume": v,
    }
