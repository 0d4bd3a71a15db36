"""Step "ica": MNE ICA with automatic EOG and cardiac (ECG/BCG) component detection.

The decomposition and the EOG detection are MNE's (``ICA``, ``find_bads_eog``). The
cardiac detection is ours: MNE's ``find_bads_ecg`` finds its own beats with
``find_ecg_events`` (not built for an in-scanner ECG, and without an ECG channel it
needs MEG), while the cardiac step has already found MR-robust R-peaks. A component is
cardiac when its beat-locked average carries a large part of its variance (the ratio of
the evoked to the total variance, robust z-score over components > ``threshold``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..atomic import atomic_write_json
from ..errors import InputError
from ..progress import Progress
from .params import Param
from .spec import Figure, OutputFile, QCSpec, StepResult, StepSpec

TEACHING = (
    "Independent component analysis splits the EEG into sources that mix linearly into the "
    "electrodes. Blinks and eye movements, the heartbeat and what is left of the pulse artifact each "
    "tend to land in a few components with a typical map and time course; removing them and mixing "
    "the rest back cleans the EEG without cutting data. Components are flagged automatically (EOG: "
    "correlation with the EOG channel; cardiac: locked to the R-peaks) and the choice can be "
    "overridden by listing the components to exclude; the list is recorded and replayed."
)

PARAMS = (
    Param("n_components", "int", 20, "Components estimated (at most the number of channels - 1).",
          minimum=2, maximum=256, label="components"),
    Param("ica_method", "choice", "infomax", "'infomax' (extended Infomax, MNE's own) or 'fastica' "
          "(scikit-learn); 'picard' when python-picard is installed.",
          choices=("infomax", "fastica", "picard"), label="ICA algorithm"),
    Param("exclude", "str", None, "Components to remove, e.g. '0,3,7' (as chosen by the user); "
          "'auto' removes those detected; '[]' removes none.", optional=True, none_label="auto",
          label="exclude"),
    Param("z_threshold", "float", 3.0, "Robust z-score above which a component is taken for EOG or "
          "cardiac (MNE's default for EOG is 3).", minimum=1.0, maximum=10.0, label="detection z"),
    Param("fit_highpass", "float", 1.0, "High-pass of the copy the ICA is fitted on (slow drifts "
          "spoil ICA); the components are applied to the unfiltered EEG.", unit="Hz",
          minimum=0.1, maximum=10.0, label="fit high-pass"),
    Param("seed", "int", 97, "Random seed of the decomposition (replay gives the same components).",
          minimum=0, maximum=2 ** 31 - 1),
)

QC = (
    QCSpec("n_components", "Components", fmt="d"),
    QCSpec("explained_var", "Variance explained by the components", "", ".3f"),
    QCSpec("excluded", "Excluded"),
    QCSpec("excluded_why", "Why"),
    QCSpec("n_excluded", "Components excluded", fmt="d"),
    QCSpec("variance_removed", "EEG variance removed", "", ".3f", warn_above=0.5),
)


#: |correlation| with an EOG channel above which a component is EOG whatever its z-score
EOG_R = 0.7


def parse_exclude(text: str | None, n: int) -> list[int] | None:
    """``None`` (auto) or the component indices of ``text`` ('0,3', '[1, 2]', '[]'), checked."""
    if text is None:
        return None
    t = str(text).strip().strip("[]").strip()
    if not t:
        return []
    try:
        out = sorted({int(v) for v in t.replace(";", ",").replace(" ", ",").split(",") if v.strip()})
    except ValueError:
        raise InputError(None, f"parameter 'exclude' must list component numbers like '0,3', got {text!r}") from None
    bad = [i for i in out if not 0 <= i < n]
    if bad:
        raise InputError(None, f"parameter 'exclude': components {bad} do not exist (0-{n - 1})")
    return out


def cardiac_scores(sources: np.ndarray, sfreq: float, rpeaks: np.ndarray, span: tuple[float, float] = (-0.1, 0.7)) -> np.ndarray:
    """Per component: variance of its beat-locked average over its mean single-beat variance."""
    from ..cardiac.qc import epoch_matrix

    step = max(1, int(sfreq // 250))
    s = sources[:, ::step]
    sf = sfreq / step
    a = int(round(span[0] * sf))
    n = int(round((span[1] - span[0]) * sf))
    ep = epoch_matrix(s, np.round(np.asarray(rpeaks) * sf).astype(int) + a, n)  # (beats, comp, time)
    if len(ep) < 5:
        return np.zeros(sources.shape[0])
    ep = ep - ep.mean(axis=-1, keepdims=True)
    evoked = ep.mean(axis=0).var(axis=-1)
    total = ep.var(axis=-1).mean(axis=0)
    return evoked / np.maximum(total, 1e-300)


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    mad = 1.4826 * np.median(np.abs(x - med))
    return (x - med) / max(mad, 1e-12 * max(abs(med), 1e-300))


def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
    """Fit ICA on the study's current EEG, flag EOG and cardiac components, remove the excluded ones."""
    import mne

    before = study.eeg
    sf = float(before.info["sfreq"])
    picks = mne.pick_types(before.info, eeg=True, exclude="bads")
    if len(picks) < 3:
        raise InputError(study.eeg_path, f"{len(picks)} EEG channels: ICA needs at least 3")
    n_comp = int(min(params["n_components"], len(picks) - 1))
    method = params["ica_method"]
    fit_params: dict[str, Any] = {}
    if method == "infomax":
        fit_params = {"extended": True}
    elif method == "picard":
        try:
            import picard  # noqa: F401
        except ImportError:
            raise InputError(None, "ica_method 'picard' needs python-picard, which is not installed; "
                                   "use infomax or fastica") from None
        fit_params = {"ortho": False, "extended": True}
    progress(0.05, "ICA: filtering a copy for the fit")
    # fit on a high-passed copy at <= 250 Hz (the components do not need more)
    fit_raw = before.copy().load_data().pick(picks)
    fit_raw.filter(params["fit_highpass"], None, verbose="error")
    if sf > 260:
        fit_raw.resample(250.0, verbose="error")
    ica = mne.preprocessing.ICA(n_components=n_comp, method=method, fit_params=fit_params or None,
                                random_state=params["seed"], max_iter="auto", verbose="error")
    progress(0.2, f"ICA: fitting {n_comp} components ({method})")
    ica.fit(fit_raw, verbose="error")
    progress(0.75, "ICA: detecting EOG and cardiac components")
    why: dict[int, str] = {}
    eog = mne.pick_types(before.info, eog=True)
    if len(eog):
        eog_raw = before.copy().load_data().pick(np.concatenate([picks, eog]))
        eog_raw.filter(params["fit_highpass"], None, verbose="error")
        if sf > 260:
            eog_raw.resample(250.0, verbose="error")
        # MNE's z-score over components cannot exceed ~(n-1)/sqrt(n): with few components a
        # plain correlation with the EOG above EOG_R flags a component too
        idx, scores = ica.find_bads_eog(eog_raw, threshold=params["z_threshold"], verbose="error")
        sc = np.atleast_2d(scores)
        r = np.max(np.abs(sc), axis=0)
        for i in sorted(set(int(i) for i in idx) | set(np.flatnonzero(r >= EOG_R).tolist())):
            why[int(i)] = f"EOG (r = {float(r[i]):.2f})"
    rp = study.rpeaks
    c_scores = np.zeros(n_comp)
    if rp is not None and len(rp) > 10:
        src = ica.get_sources(fit_raw).get_data()
        c_scores = cardiac_scores(src, float(fit_raw.info["sfreq"]), np.asarray(rp))
        z = _robust_z(c_scores)
        for i in np.flatnonzero((z > params["z_threshold"]) & (c_scores > 0.05)):
            why.setdefault(int(i), f"cardiac (beat-locked {100 * c_scores[i]:.0f} % of variance, z = {z[i]:.1f})")
    chosen = parse_exclude(params["exclude"], n_comp)
    auto = sorted(why)
    excluded = auto if chosen is None else chosen
    reasons = {i: why.get(i, "chosen by the user") for i in excluded}
    ica.exclude = list(excluded)
    progress(0.85, f"ICA: removing {len(excluded)} component(s)")
    out = before.copy().load_data()
    ica.apply(out, verbose="error")
    d0 = before.get_data(picks=picks)
    d1 = out.get_data(picks=picks)
    removed = float(((d0 - d1) ** 2).sum() / max((d0 ** 2).sum(), 1e-300))
    explained = float(ica.pca_explained_variance_[:n_comp].sum() / ica.pca_explained_variance_.sum())
    qc: dict[str, Any] = {
        "n_components": n_comp,
        "ica_method": method,
        "explained_var": explained,
        "excluded": list(excluded),
        "n_excluded": len(excluded),
        "excluded_why": "; ".join(f"{i}: {r}" for i, r in reasons.items()) or "none",
        "auto_detected": auto,
        "variance_removed": removed,
    }
    messages = []
    if chosen is not None and chosen != auto:
        messages.append(f"components excluded as chosen {chosen}; detection suggested {auto}")
    full = {**qc, "cardiac_scores": [float(v) for v in c_scores]}
    return StepResult(
        qc=qc,
        provides={"eeg": out},
        files=[
            OutputFile("ica", "eeg", ".fif", lambda path: _write(out, path), role="eeg"),
            OutputFile("ica", "ica", ".fif", lambda path: ica.save(path, overwrite=True, verbose="error"), role="ica"),
            OutputFile("ica", "qc", ".json", lambda path: atomic_write_json(path, full), role="qc"),
        ],
        figures=[Figure("Excluded components", lambda: _components_figure(ica, fit_raw, excluded),
                        "Maps of the components removed (first 8).")],
        tables={"Components excluded": {str(i): r for i, r in reasons.items()} or {"-": "none"}},
        details={"ica": ica, "reasons": reasons, "auto": auto, "cardiac_scores": c_scores, "before": before},
        messages=messages,
    )


def _write(raw: Any, path: Any) -> None:
    from ..gradient.export import write_raw

    write_raw(raw, path)


def _components_figure(ica: Any, fit_raw: Any, excluded: list[int]) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    show = excluded[:8]
    if not show or fit_raw.get_montage() is None:
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "no component excluded" if not show else "no electrode positions for maps",
                ha="center", va="center")
        return fig
    figs = ica.plot_components(picks=show, inst=None, show=False)
    return figs[0] if isinstance(figs, list) else figs


SPEC = StepSpec(
    id="ica",
    title="ICA",
    stage="cleanup",
    teaching=TEACHING,
    params=PARAMS,
    requires=("eeg",),
    optional=("rpeaks",),
    provides=("eeg",),
    run=run,
    qc=QC,
    # not in the demo: an extended-Infomax fit of a 3-minute recording takes minutes on two
    # loaded cores; the demo shows the cardiac and line-noise steps, ICA runs on request
    in_demo=False,
    order=1.0,
)
