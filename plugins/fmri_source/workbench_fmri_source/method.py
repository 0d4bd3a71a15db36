"""``run``: the average response of a condition localised with and without fMRI priors.

MNE does the forward model, source space, noise covariance, whitening, depth weighting,
and the plain MNE/dSPM/sLORETA inverses; :mod:`.prior` adds what MNE-Python does not
have (the fMRI weighting, the hard mask and the empirical-Bayes soft prior).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError
from workbench.engine.progress import as_progress
from workbench.plugin_api import FusionInputs

from . import prior as P
from .figures import report_figures
from .fmri import check_map_space, glm_zmap, load_map, sample_map
from .forward import build_forward, freesurfer_paths, t1_frames
from .result import UNITS, SourceResult
from .soft import soft_estimate
from .surface import (
    choose_source_space,
    sample_ribbon,
    surface_clusters,
    surface_patches,
    t1_painter,
    vertex_spacing_m,
)

__all__ = ["run", "VARIANTS"]

VARIANTS = ("none", "dspm", "sloreta", "weighted", "soft", "hard", "weighted_dspm", "soft_dspm", "hard_dspm")
_VOLUME_RE = re.compile(r"(^|/)(r128|scan start|volume|tr|v)$|r128$", re.IGNORECASE)
_MNE_METHOD = {"dspm": "dSPM", "sloreta": "sLORETA"}


#: noise-normalised variants share the currents (and so the fit) of their base variant
_BASE = {"dspm": "none", "sloreta": "none", "weighted_dspm": "weighted", "soft_dspm": "soft",
         "hard_dspm": "hard"}


def explained_variance(model: Any, currents: np.ndarray, data: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """How well each time's currents reproduce the whitened EEG, over +-``half`` samples.

    With ``y`` the whitened data and ``A x`` what the currents predict (``x = currents /
    source_std``, MNE's scaling; see :class:`~.prior.WhitenedModel`): the explained share
    ``1 - |y - A x|^2 / |y|^2`` (Brainstorm's goodness of fit; a regularised inverse never
    reaches 1) and the residual per whitened component and sample, ``|y - A x|^2 / (n m)``,
    which is about 1 (or below, for a regularised fit) when what is left is noise. A hard
    mask that leaves the true source out leaves signal in the residual (clearly above 1),
    however confident its peak looks.

    Parameters
    ----------
    model : WhitenedModel
        The whitened model the currents were computed with.
    currents : ndarray, shape (n_src * n_ori, n_times)
    data : ndarray, shape (n_channels, n_times)
    half : int
        Half-width (samples) of the window the two energies are summed over.

    Returns
    -------
    explained : ndarray, shape (n_times,)
        Explained share (at most 1; negative when the prediction is worse than zero).
    residual_to_noise : ndarray, shape (n_times,)
        Residual energy per whitened component and sample (1: the noise's).
    """
    y = model.whiten(data)
    std = np.asarray(model.source_std, float)
    x = np.divide(currents, std[:, None], out=np.zeros_like(currents), where=std[:, None] > 0)
    res = np.sum((y - model.A @ x) ** 2, axis=0)
    tot = np.sum(y**2, axis=0)
    kernel = np.ones(2 * half + 1)
    res_w = np.convolve(res, kernel, mode="same")
    tot_w = np.convolve(tot, kernel, mode="same")
    n_w = np.convolve(np.ones_like(res), kernel, mode="same") * y.shape[0]
    return 1.0 - np.divide(res_w, tot_w, out=np.ones_like(res_w), where=tot_w > 0), res_w / n_w


def _first(files: dict[str, list[Any]], name: str) -> Path | None:
    got = files.get(name) or []
    return Path(got[0]) if got else None


# ----------------------------------------------------------------------------- the EEG
def _align(raw: Any, onsets: np.ndarray, all_onsets: np.ndarray) -> tuple[np.ndarray, str]:
    """EEG times of events given on the scanner clock: matched markers, else the first
    volume trigger, else the EEG's start."""
    ann = raw.annotations
    desc = np.asarray(ann.description)
    times = np.asarray(ann.onset) - (raw.first_time if ann.orig_time is not None else 0.0)
    best = None
    for name in sorted(set(desc)):
        t = np.sort(times[desc == name])
        for cand, sel in ((onsets, None), (all_onsets, np.isin(all_onsets, onsets))):
            if len(t) != len(cand) or len(t) < 2:
                continue
            a, b = np.polyfit(cand, t, 1)
            resid = float(np.max(np.abs(t - (a * cand + b))))
            if abs(a - 1) < 2e-3 and resid < 0.05 and (best is None or resid < best[1]):
                best = (name, resid, t if sel is None else t[sel])
    if best is not None:
        return best[2], f"events matched to the EEG markers {best[0]!r} (max residual {best[1] * 1e3:.1f} ms)"
    vol = [d for d in sorted(set(desc)) if _VOLUME_RE.search(d.strip())]
    if vol:
        name = max(vol, key=lambda d: int(np.sum(desc == d)))
        t0 = float(np.min(times[desc == name]))
        return onsets + t0, f"events placed after the first volume trigger {name!r} ({t0:.3f} s)"
    return onsets, "events assumed on the EEG's clock (no marker or volume trigger matched)"


def _has_positions(info: Any) -> bool:
    import mne

    picks = mne.pick_types(info, eeg=True, exclude=())
    locs = np.array([info["chs"][i]["loc"][:3] for i in picks])
    return len(locs) > 0 and bool(np.all(np.isfinite(locs))) and np.sum(np.linalg.norm(locs, axis=1) > 1e-3) >= 0.9 * len(locs)


def _with_positions(inst: Any, dig: Any, source: str) -> Any:
    """The EEG with electrode positions (from the digitisation when it has none)."""
    if dig is not None:
        inst.set_montage(dig, on_missing="ignore", verbose="error")
    if not _has_positions(inst.info):
        raise InputError(source, "the EEG has no electrode positions: give the digitisation (--dig "
                                 "electrodes.tsv/.elc/...) or an EEG file with positions")
    return inst


def _evoked(inputs: FusionInputs, params: dict[str, Any], progress: Any, messages: list[str]) -> tuple[Any, Any]:
    """(evoked, epochs or None) of the chosen condition."""
    import mne

    ave = _first(inputs.files, "eeg")
    if inputs.eeg is None and ave is not None and str(ave).endswith(("-ave.fif", "_ave.fif", "-ave.fif.gz")):
        try:
            evokeds = mne.read_evokeds(ave, verbose="error")
        except Exception as exc:  # noqa: BLE001
            raise InputError(ave, f"not a readable evoked file ({type(exc).__name__})") from None
        names = [e.comment for e in evokeds]
        cond = params["condition"]
        if cond == "auto":
            ev = evokeds[0]
        elif cond in names:
            ev = evokeds[names.index(cond)]
        else:
            raise InputError(ave, f"no evoked response {cond!r} in the file; it has {names}")
        ev = ev.copy().pick("eeg", exclude="bads")
        messages.append(f"evoked response {ev.comment!r} from {ave.name} ({ev.nave} averages)")
        return _with_positions(ev, inputs.dig, str(ave)), None
    raw = inputs.eeg
    if raw is None:
        raise InputError(None, "fmri-source needs an EEG: --eeg RECORDING (with --events) or --eeg X-ave.fif")
    source = str(inputs.sources.get("eeg") or "EEG")
    events = inputs.events
    if events is not None and len(events):
        types = events["trial_type"].astype(str)
        cond = params["condition"]
        if cond == "auto":
            counts = types.value_counts()
            cond = str(next(t for t in types if counts[t] == counts.max()))
        if cond not in set(types):
            raise InputError(None, f"no events of condition {cond!r}; the events have {sorted(set(types))}")
        on = np.asarray(events["onset"], float)
        times, how = _align(raw, on[types.to_numpy() == cond], on)
    else:
        desc = np.asarray(raw.annotations.description)
        names = [d for d in sorted(set(desc)) if not _VOLUME_RE.search(d.strip())]
        if not names:
            raise InputError(source, "the EEG has no stimulus markers and no --events were given")
        cond = params["condition"]
        if cond == "auto":
            cond = max(names, key=lambda d: int(np.sum(desc == d)))
        if cond not in names:
            raise InputError(source, f"no marker {cond!r} in the EEG; it has {names}")
        ann = raw.annotations
        times = np.asarray(ann.onset)[desc == cond] - (raw.first_time if ann.orig_time is not None else 0.0)
        how = f"events from the EEG markers {cond!r}"
    messages.append(how)
    sf = float(raw.info["sfreq"])
    tmin, tmax = float(params["tmin"]), float(params["tmax"])
    pad = 1.0
    start = max(float(np.min(times)) + tmin - pad, 0.0)
    stop = min(float(np.max(times)) + tmax + pad, raw.times[-1])
    picks = mne.pick_types(raw.info, eeg=True, exclude="bads")
    if len(picks) < 8:
        raise InputError(source, f"only {len(picks)} EEG channels: source imaging needs at least 8")
    progress(0.05, "reading the EEG")
    r = raw.copy().pick(picks).crop(start, stop).load_data(verbose="error")
    _with_positions(r, inputs.dig, source)
    l_freq, h_freq = params["l_freq"], params["h_freq"]
    if h_freq is not None and h_freq >= sf / 2:
        h_freq = None
    if l_freq is not None and l_freq <= 0:
        l_freq = None
    if l_freq is not None or h_freq is not None:
        progress(0.1, "band-pass filter")
        r.filter(l_freq, h_freq, verbose="error")
    samples = np.round((times - start) * sf).astype(int)
    ok = (samples + int(tmin * sf) >= 0) & (samples + int(np.ceil(tmax * sf)) < r.n_times)
    if ok.sum() < 1:
        raise InputError(source, f"no {cond!r} event lies inside the EEG with its epoch window")
    ev_arr = np.c_[samples[ok] + r.first_samp, np.zeros(ok.sum(), int), np.ones(ok.sum(), int)]
    decim = max(1, int(sf // 250)) if (h_freq is not None and h_freq < 60) else 1
    epochs = mne.Epochs(r, ev_arr, {cond: 1}, tmin, tmax, baseline=(None, 0) if tmin < 0 else None,
                        decim=decim, preload=True, verbose="error", reject_by_annotation=False)
    evoked = epochs.average()
    evoked.comment = cond
    messages.append(f"condition {cond!r}: {len(epochs)} trials averaged")
    return evoked, epochs


def _noise_cov(inputs: FusionInputs, evoked: Any, epochs: Any, messages: list[str]) -> tuple[Any, str]:
    import mne

    path = _first(inputs.files, "noise_cov")
    if path is not None:
        try:
            cov = mne.read_cov(path, verbose="error")
        except Exception as exc:  # noqa: BLE001
            raise InputError(path, f"not a readable noise covariance ({type(exc).__name__})") from None
        missing = [c for c in evoked.ch_names if c not in cov.ch_names]
        if missing:
            raise InputError(path, f"the noise covariance lacks channels {missing[:5]}")
        messages.append(f"noise covariance from {path.name}")
        return cov, "file"
    if epochs is not None and epochs.tmin < 0 and np.sum(epochs.times < 0) >= 10:
        cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk", rank=None, verbose="error")
        messages.append(f"noise covariance from the baseline ({epochs.tmin:.2f}-0 s, {len(epochs)} epochs, "
                        "Ledoit-Wolf shrinkage)")
        return cov, "baseline"
    if epochs is None:  # an evoked file: its own baseline, when it has one
        cov = evoked_baseline_cov(evoked)
        if cov is not None:
            n = int(np.sum(evoked.times < 0))
            messages.append(f"noise covariance from the evoked file's baseline ({evoked.times[0]:.2f}-0 s, "
                            f"{n} samples x {evoked.nave} averages; diagonal): give --noise-cov for a full one")
            return cov, "evoked baseline"
    messages.append("noise covariance ad hoc (mne.make_ad_hoc_cov: 0.2 µV diagonal): no baseline and no "
                    "--noise-cov; amplitudes and dSPM/sLORETA values are only relative")
    return mne.make_ad_hoc_cov(evoked.info, verbose="error"), "ad hoc"


#: fewest baseline samples of an evoked file used for its noise covariance
MIN_BASELINE_SAMPLES = 20


def evoked_baseline_cov(evoked: Any) -> Any | None:
    """A diagonal noise covariance (per trial) from an averaged response's baseline, or None.

    MNE estimates the noise covariance from epochs (``mne.compute_covariance``); an
    ``-ave.fif`` holds only their average, whose baseline still carries the noise divided
    by ``nave``. Its per-channel variance times ``nave`` is the single-trial noise variance
    that MNE's inverse expects (it divides by ``nave`` again). Written here because MNE has
    no evoked-only estimate; diagonal, because a few dozen samples cannot give a full
    covariance of as many channels. MNE's ad hoc covariance (0.2 µV per trial) instead
    assumes a noise level that real EEG exceeds about 50-fold, which makes every small
    wiggle look like signal: the soft prior then compared models on noise (on the MNE
    sample head it kept no fMRI cluster at all; from the baseline, the seen source at 7 mm).

    Parameters
    ----------
    evoked : mne.Evoked
        The averaged response; its samples before 0 s are the baseline.

    Returns
    -------
    mne.Covariance | None
        None when the baseline has fewer than :data:`MIN_BASELINE_SAMPLES` samples or
        no variance (a noise-free simulation).
    """
    import mne

    base = evoked.times < 0
    if int(base.sum()) < MIN_BASELINE_SAMPLES or not evoked.nave:
        return None
    data = evoked.data[:, base]
    var = (data - data.mean(axis=1, keepdims=True)).var(axis=1) * float(evoked.nave)
    if not np.all(np.isfinite(var)) or float(np.median(var)) <= 0:
        return None
    var = np.maximum(var, 1e-3 * float(np.median(var)))  # a flat channel would get infinite weight
    return mne.Covariance(np.diag(var), list(evoked.ch_names), list(evoked.info["bads"]),
                          list(evoked.info["projs"]), nfree=int(base.sum()) - 1)


# ----------------------------------------------------------------------------- times
def _times(spec: str, evoked: Any, model: P.WhitenedModel) -> tuple[list[float], str]:
    t = evoked.times
    if spec.strip().lower() not in ("", "auto"):
        try:
            out = [float(x) for x in spec.split(",") if x.strip()]
        except ValueError:
            raise InputError(None, f"times: expected comma-separated seconds or 'auto', got {spec!r}") from None
        bad = [x for x in out if not t[0] <= x <= t[-1]]
        if bad or not out:
            raise InputError(None, f"times {bad or spec} outside the epoch {t[0]:.3f}..{t[-1]:.3f} s")
        return out, "given"
    gfp = np.sqrt(np.mean(model.whiten(evoked.data) ** 2, axis=0))
    from scipy.signal import find_peaks

    sel = np.flatnonzero(t >= 0.05)
    if sel.size < 3:
        return [float(t[int(np.argmax(gfp))])], "auto (whitened GFP maximum)"
    dist = max(1, int(0.04 * evoked.info["sfreq"]))
    pk, _ = find_peaks(gfp[sel], distance=dist)
    pk = sel[pk[np.argsort(gfp[sel][pk])[::-1][:3]]] if pk.size else sel[[int(np.argmax(gfp[sel]))]]
    return [round(float(t[i]), 4) for i in sorted(pk)], "auto (largest whitened GFP peaks after 50 ms)"


# ----------------------------------------------------------------------------- run
def run(inputs: FusionInputs, params: dict[str, Any], progress: Any = None) -> SourceResult:
    import mne
    import nibabel as nib

    p = as_progress(progress)
    messages: list[str] = []
    files = inputs.files or {}
    if inputs.trans is None:
        raise InputError(None, "fmri-source needs the head<->MRI transform (trans): run coreg first or give "
                               "--trans X-trans.fif")
    trans = inputs.trans
    if not isinstance(trans, mne.transforms.Transform):
        trans = mne.transforms.Transform("head", "mri", np.asarray(trans, float))
    if trans["from"] != 4:  # FIFFV_COORD_HEAD
        trans = mne.transforms.invert_transform(trans)
    fs = None
    t1 = inputs.anat
    if params["fs_subject"]:
        fs = freesurfer_paths(params["fs_subject"], params["subjects_dir"])
        if t1 is None:
            t1 = nib.load(fs["t1"])
    if t1 is None:
        raise InputError(None, "fmri-source needs the T1 (--mri T1.nii.gz) or a FreeSurfer subject "
                               "(--param fs_subject=S --param subjects_dir=D)")
    # the source space first: a bad --src or missing surfaces stop here, before the EEG
    choice = choose_source_space(params["source_space"], _first(files, "src"), fs, params["fs_subject"],
                                 params["surface_spacing"])
    surface = choice.kind == "surface"
    fixed = surface and params["orientation"] == "fixed"
    messages.append(f"source space: {choice.reason}")
    p(0.0, "EEG")
    evoked, epochs = _evoked(inputs, params, p.sub(0.0, 0.25), messages)
    evoked.set_eeg_reference("average", projection=True, verbose="error")
    cov, cov_kind = _noise_cov(inputs, evoked, epochs, messages)
    p(0.3, "forward model")
    spacing = float(params["spacing"])
    hm = build_forward(evoked.info, trans, t1, spacing, fs=fs, fs_subject=params["fs_subject"],
                       bem_file=_first(files, "bem"), progress=p.sub(0.3, 0.5), src=choice.src,
                       source_space=choice.kind)
    if surface:
        adjacency = mne.spatial_src_adjacency(hm.fwd["src"], verbose="error").tocsr()
        spacing = round(vertex_spacing_m(hm.pos_mri, adjacency) * 1e3, 2)
        orient = "fixed normal to the cortex" if fixed else "loose (0.2) about the cortical normal"
        messages.append(f"head model: {hm.note}; {hm.fwd['nsource']} cortical vertices (median spacing "
                        f"{spacing:g} mm), orientation {orient}")
        n_given = sum(int(s["nuse"]) for s in choice.src)
        if n_given > hm.fwd["nsource"]:
            messages.append(f"{n_given - hm.fwd['nsource']} of {n_given} cortical vertices lie outside the head "
                            "model's innermost shell (inner skull, or the fitted sphere's brain shell) and were "
                            "left out: no source can be found there")
    else:
        messages.append(f"head model: {hm.note}; {hm.fwd['nsource']} sources on a {spacing:g} mm grid")
    p(0.5, "inverse operator")
    lambda2 = 1.0 / float(params["snr"]) ** 2
    depth = float(params["depth"]) or None
    loose = (0.0 if fixed else 0.2) if surface else 1.0
    inv = mne.minimum_norm.make_inverse_operator(evoked.info, hm.fwd, cov, loose=loose, fixed=fixed, depth=depth,
                                                 verbose="error")
    model, data = P.model_and_data(inv, evoked, lambda2)

    p(0.55, "fMRI map")
    fmri_path = _first(files, "fmri")
    if fmri_path is not None:
        zmap = load_map(fmri_path)
        name = str(fmri_path)
        messages.append(f"fMRI map from {fmri_path.name}")
    elif inputs.bold is not None and inputs.events is not None:
        zmap = glm_zmap(inputs.bold, inputs.bold_meta, inputs.events, evoked.comment, params["glm_smoothing"])
        name = "BOLD"
        messages.append(f"fMRI map: z of condition {evoked.comment!r} against baseline, computed here from "
                        f"the BOLD (nilearn GLM, SPM HRF, {params['glm_smoothing']:g} mm smoothing)")
    else:
        raise InputError(None, "no fMRI map: give --fmri ZMAP.nii.gz (or the BOLD and events to compute one)")
    check_map_space(zmap, t1, name)
    # volume: the map at each grid point; surface: its maximum in the cortical ribbon
    # outward of each white-surface vertex (surface.sample_ribbon says why)
    values = sample_ribbon(zmap, t1, hm.pos_mri, hm.nn_mri) if surface else sample_map(zmap, t1, hm.pos_mri)
    thr = float(params["threshold"])
    mask = values >= thr
    if not mask.any():
        raise InputError(name, f"no source reaches the fMRI threshold {thr:g} (map maximum in the brain "
                               f"{float(np.max(values)):.2f}): lower --param threshold or check the map")
    n_ori = model.n_ori  # 3 (volume, loose) or 1 (fixed normal to the cortex)
    mask3 = np.repeat(mask.astype(float), n_ori)
    n_src = len(mask)
    p.check()

    p(0.6, "inverse solutions")
    amps: dict[str, np.ndarray] = {}

    def norm3(j: np.ndarray) -> np.ndarray:
        return np.linalg.norm(j.reshape(n_src, n_ori, -1), axis=1)

    currents: dict[str, np.ndarray] = {"none": P.weighted_solution(model, np.ones(n_ori * n_src), data)}
    amps["none"] = norm3(currents["none"])
    for v, meth in _MNE_METHOD.items():
        stc = mne.minimum_norm.apply_inverse(evoked, inv, lambda2, meth, pick_ori=None, verbose="error")
        amps[v] = np.abs(np.asarray(stc.data))  # fixed orientation: signed
    def dspm(j: np.ndarray, nn: np.ndarray) -> np.ndarray:
        den = np.sqrt(np.sum(nn.reshape(n_src, n_ori) ** 2, axis=1))
        return np.divide(norm3(j), den[:, None], out=np.zeros((n_src, j.shape[1])), where=den[:, None] > 0)

    w = np.where(mask3 > 0, 1.0, float(params["factor"]))
    for v, wv in (("weighted", w), ("hard", mask3)):
        j, nn = P.weighted_solution(model, wv, data, noise_norm=True)
        amps[v], amps[f"{v}_dspm"] = norm3(j), dspm(j, nn)
        currents[v] = j
    p(0.7, "soft prior (ReML per window)")
    sf = float(evoked.info["sfreq"])
    # clusters: grid neighbours in the volume, neighbours along the cortex on a surface
    groups = surface_clusters(adjacency, mask) if surface else P.clusters(hm.pos_mri, mask, spacing * 1e-3)

    def local_patches() -> list[tuple[np.ndarray, np.ndarray]]:
        if surface:  # centres >= 15 mm apart (the volume's every other point of a 7-10 mm grid)
            return surface_patches(hm.pos_mri, adjacency, max(2 * spacing * 1e-3, 0.015))
        grid_ijk = np.round(np.linalg.solve(hm.grid_to_mri, np.c_[hm.pos_mri, np.ones(n_src)].T)[:3].T).astype(int)
        return P.patches(hm.pos_mri, grid_ijk, spacing * 1e-3)

    # prior components as (source indices, weights): whole brain, each fMRI cluster, and
    # (option 'patches') local non-fMRI patches the fMRI clusters compete with
    comps: list[tuple[np.ndarray, np.ndarray]] = [(np.arange(n_src), np.ones(n_src))]
    comps += [(g, np.ones(len(g))) for g in groups]
    n_fmri = len(groups)
    if params["patches"]:
        comps += local_patches()
    # low-passed samples are correlated: the evidence counts effective samples (2 f_low / f_s)
    lowpass = float(evoked.info.get("lowpass") or sf / 2)
    n_eff = min(1.0, 2.0 * lowpass / sf)
    competitors = None
    if params["specificity"]:
        competitors = local_patches()
    # a patch touches a cluster when one of its sources is a neighbour of one of the
    # cluster's by the clusters' own rule (1.8 steps: the volume's 26-neighbours; on the
    # cortex, about a mesh edge, which the adjacency used for the clusters follows)
    near = 1.8 * spacing * 1e-3
    est = soft_estimate(model, data, comps, n_fmri, int(round(float(params["window"]) * sf)),
                        float(params["min_log_bf"]), n_eff, evoked.times, taper=bool(params["taper"]),
                        competitors=competitors, near_m=near, pos=hm.pos_mri,
                        progress=p.sub(0.7, 0.9))
    wins, rows, h_share = est["windows"], est["rows"], est["h_share"]
    amps["soft"] = norm3(est["currents"])
    currents["soft"] = est["currents"]
    half = max(1, int(round(0.01 * float(evoked.info["sfreq"]))))  # +-10 ms
    fits = {v: explained_variance(model, j, data, half) for v, j in currents.items()}
    explained = {v: f[0] for v, f in fits.items()}
    misfit = {v: f[1] for v, f in fits.items()}
    del currents, fits
    amps["soft_dspm"] = est["dspm"]
    p.check()

    p(0.9, "peaks and maps")
    times, how = _times(params["times"], evoked, model)
    messages.append(f"times {', '.join(f'{x:.3f}' for x in times)} s ({how})")
    tidx = [int(np.argmin(np.abs(evoked.times - x))) for x in times]
    peaks: dict[str, dict[str, list[float]]] = {}
    peak_amp: dict[str, dict[str, float]] = {}
    table = []
    qc: dict[str, Any] = {}
    top_peaks: dict[str, dict[str, dict[str, Any]]] = {}
    in_map = hm.pos_mri[mask]
    for v in VARIANTS:
        peaks[v], peak_amp[v], top_peaks[v] = {}, {}, {}
        for x, i in zip(times, tidx):
            a = amps[v][:, i]
            k = int(np.argmax(a))
            key = f"{x:.3f}"
            peaks[v][key] = [float(c) for c in hm.pos_mri[k]]
            peak_amp[v][key] = float(a[k])
            d = np.linalg.norm(hm.pos_mri - hm.pos_mri[k], axis=1)
            disp = float(np.sqrt(np.sum(a**2 * d**2) / max(np.sum(a**2), 1e-300))) * 1e3
            to_fmri = float(np.min(np.linalg.norm(in_map - hm.pos_mri[k], axis=1))) * 1e3
            table.append({"variant": v, "time_s": float(x), "x_m": peaks[v][key][0], "y_m": peaks[v][key][1],
                          "z_m": peaks[v][key][2], "amplitude": float(a[k]), "in_fmri_map": bool(mask[k]),
                          "distance_to_fmri_mm": to_fmri, "dispersion_mm": disp})
            ev_v = float(explained[_BASE.get(v, v)][i])
            table[-1]["explained_variance"] = ev_v
            top_peaks[v][key] = {"time_s": float(x), "position_m": list(peaks[v][key]), "amplitude": float(a[k]),
                                 "amplitude_unit": UNITS[v], "in_fmri_map": bool(mask[k]),
                                 "distance_to_fmri_mm": to_fmri, "dispersion_mm": disp,
                                 "explained_variance": ev_v}
        qc[f"{v}_dispersion_mm"] = table[-len(times)]["dispersion_mm"]
    # each fMRI cluster: where it is, how much prior variance the soft prior gave it over
    # time, and which share of each variant's post-stimulus energy sits inside it (a
    # cluster the EEG does not support should get little of either)
    post = evoked.times >= 0
    h_share_arr = np.array(h_share).reshape(len(rows), n_fmri)
    win_post = np.array([r["t_stop_s"] >= 0 for r in rows])
    cluster_rows = []
    for c, g in enumerate(groups):
        row: dict[str, Any] = {"cluster": c + 1, "n_sources": int(len(g)),
                               "x_m": float(hm.pos_mri[g, 0].mean()), "y_m": float(hm.pos_mri[g, 1].mean()),
                               "z_m": float(hm.pos_mri[g, 2].mean()), "peak_fmri_value": float(values[g].max()),
                               "soft_prior_share_mean": float(h_share_arr[win_post, c].mean()),
                               "soft_windows_off": float(np.mean(h_share_arr[win_post, c] < 0.01))}
        for v in VARIANTS:
            e = amps[v][:, post] ** 2
            row[f"energy_share_{v}"] = float(e[g].sum() / max(float(e.sum()), 1e-300))
        cluster_rows.append(row)
    qc.update({
        "peaks": peaks, "peak_amplitudes": peak_amp, "times_s": [float(x) for x in times],
        "n_sources": int(n_src), "n_sources_in_fmri_map": int(mask.sum()),
        "fmri_map_fraction": float(mask.mean()), "nave": int(evoked.nave), "lambda2": lambda2,
        "noise_cov": cov_kind, "head_model": hm.kind, "condition": str(evoked.comment),
        "spacing_mm": spacing, "n_fmri_clusters": len(groups),
        "source_space": choice.kind, "source_space_reason": choice.reason,
        "n_sources_left_out": (sum(int(s["nuse"]) for s in choice.src) - int(n_src)) if surface else 0,
        "orientation": ("fixed" if fixed else "loose") if surface else "free",
    })
    for x, i in zip(times, tidx):
        row = next(r for (s0, s1, a0, a1), r in zip(wins, rows) if a0 <= i < a1)
        qc[f"soft_fmri_share_at_{x * 1e3:.0f}ms"] = row["fmri_share"]
        for v in ("none", "soft", "hard"):
            qc[f"{v}_explained_at_{x * 1e3:.0f}ms"] = float(explained[v][i])
            qc[f"{v}_residual_to_noise_at_{x * 1e3:.0f}ms"] = float(misfit[v][i])
        # a residual above the noise by more than chance (chi-square per degree of freedom,
        # 3 SD; low-passed samples count as n_eff of a sample) while minimum norm's is not:
        # the hard mask cannot reproduce the EEG at that time
        dof = model.A.shape[0] * (2 * half + 1) * n_eff
        bound = 1.0 + 3.0 * np.sqrt(2.0 / max(dof, 1.0))
        if float(misfit["none"][i]) <= bound < float(misfit["hard"][i]):
            messages.append(f"at {x * 1e3:.0f} ms the hard mask leaves {float(misfit['hard'][i]):.2f}x the noise "
                            f"unexplained (minimum norm {float(misfit['none'][i]):.2f}x; chance up to "
                            f"{bound:.2f}x): the EEG then comes from outside the fMRI map, and the hard mask's "
                            "peak there is not a source")
            qc[f"hard_misfit_at_{x * 1e3:.0f}ms"] = True

    if surface:  # vertex values painted into the T1 grid (nearest vertex within 3 mm)
        paint = t1_painter(hm.pos_mri, t1)
        maps = {f"{v}_source": paint(amps[v][:, tidx[0]]) for v in VARIANTS}
        maps["fmri_prior"] = paint(mask.astype(float))
    else:
        maps = {f"{v}_source": _to_t1(amps[v][:, tidx[0]], hm, t1) for v in VARIANTS}
        maps["fmri_prior"] = _to_t1(mask.astype(float), hm, t1)
    top = {v: amps[v].max(axis=0) for v in VARIANTS}
    centres = np.array([(r["t_start_s"] + r["t_stop_s"]) / 2 for r in rows])
    timecourses = {
        "peak_amplitude": {"t": evoked.times.copy(),
                           "series": {v: top[v] / max(float(top[v].max()), 1e-300) for v in VARIANTS},
                           "unit": "relative to its maximum"},
        "soft_prior_weight": {"t": centres,
                              "series": {"fMRI share of prior variance": np.array([r["fmri_share"] for r in rows])},
                              "unit": "fraction"},
        "fmri_cluster_weights": {"t": centres,
                                 "series": {f"cluster {c + 1} ({len(g)} sources)": h_share_arr[:, c]
                                            for c, g in enumerate(groups)},
                                 "unit": "share of the prior variance"},
    }
    vox2ras, tkr = t1_frames(t1)
    mri_to_world = vox2ras @ np.linalg.inv(tkr)  # mm
    p(1.0, "done")
    live = {"amplitudes": amps, "times": evoked.times.copy(), "pos_mri": hm.pos_mri, "fmri_mask": mask,
            "fmri_values": values, "evoked": evoked, "forward": hm.fwd, "inverse": inv,
            "lambda2": lambda2, "spacing_mm": spacing, "mri_to_world_mm": mri_to_world, "units": dict(UNITS),
            "fmri_clusters": [np.asarray(g) for g in groups], "report_times": list(times),
            "kind": choice.kind}
    if surface:  # no volume grid: the cortex's triangles (source indices) and outward normals
        live.update({"tris": hm.tris, "normals_mri": hm.nn_mri})
    else:
        live.update({"grid_shape": hm.grid_shape, "grid_to_mri": hm.grid_to_mri})
    # the interactive source view (workbench.gui.source) opens for a result marked so
    live["source_estimate"] = True
    result = SourceResult(
        method="fmri-source", params=dict(params), maps=maps, timecourses=timecourses,
        tables={"peaks": table, "hyperparameters": rows, "fmri_clusters": cluster_rows}, qc=qc,
        messages=messages, live=live, peaks=top_peaks,
        source_space={"kind": choice.kind, "reason": choice.reason, "orientation": qc["orientation"],
                      "n_sources": int(n_src)},
    )
    result.figures = report_figures(result, t1, mri_to_world)
    return result


def _to_t1(values: np.ndarray, hm: Any, t1: Any) -> Any:
    """Source values on the T1's grid (scanner RAS affine, linear interpolation of the
    source grid; zero outside the source space)."""
    import nibabel as nib
    from nilearn.image import resample_to_img

    vox2ras, tkr = t1_frames(t1)
    grid = np.zeros(hm.grid_shape, np.float32)
    ijk = np.linalg.solve(hm.grid_to_mri, np.c_[hm.pos_mri, np.ones(len(hm.pos_mri))].T)[:3].T
    ijk = np.round(ijk).astype(int)
    grid[tuple(ijk.T)] = values
    scale = np.diag([1e3, 1e3, 1e3, 1.0])
    aff = vox2ras @ np.linalg.inv(tkr) @ scale @ hm.grid_to_mri
    img = nib.Nifti1Image(grid, aff)
    ref = nib.Nifti1Image(np.zeros(t1.shape[:3], np.uint8), t1.affine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "binary image" warning for the 0/1 fmri_prior map
        out = resample_to_img(img, ref, interpolation="linear", force_resample=True, copy_header=True)
    return nib.Nifti1Image(np.asarray(out.dataobj, np.float32), t1.affine)
