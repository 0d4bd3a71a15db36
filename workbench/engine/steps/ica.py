"""Step "ica": MNE ICA with automatic EOG and cardiac (ECG/BCG) component detection.

The decomposition and the EOG detection are MNE's (``ICA``, ``find_bads_eog``). The
cardiac detection is ours: MNE's ``find_bads_ecg`` finds its own beats with
``find_ecg_events`` (not built for an in-scanner ECG, and without an ECG channel it
needs MEG), while the cardiac step has already found MR-robust R-peaks. A component is
cardiac when its beat-locked average carries a large part of its variance (the ratio of
the evoked to the total variance, robust z-score over components > ``threshold``).
"""

from __future__ import annotations

import time
import warnings
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
    Param("n_components", "int", None, "Components estimated (at most the number of channels - 1); "
          "'auto' keeps as many principal components as explain 'PCA variance' of the data.",
          minimum=2, maximum=256, optional=True, none_label="auto", label="components"),
    Param("pca_variance", "float", 0.999, "With 'auto' components: the fraction of the variance the "
          "PCA before the ICA keeps (0.999 drops the noise floor and speeds the fit; a lower value can drop weak brain sources when blinks dominate the variance).",
          minimum=0.5, maximum=0.9999, label="PCA variance"),
    Param("ica_method", "choice", "picard", "'picard' (Picard with ortho=False, extended=True: the "
          "extended Infomax model, converging in a fraction of its time), 'infomax' (extended "
          "Infomax, MNE's own) or 'fastica' (scikit-learn).",
          choices=("picard", "infomax", "fastica"), label="ICA algorithm"),
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

    before = study.eeg  # a re-run starts from the EEG before the previous run (the runner)
    sf = float(before.info["sfreq"])
    picks = mne.pick_types(before.info, eeg=True, exclude="bads")
    if len(picks) < 3:
        raise InputError(study.eeg_path, f"{len(picks)} EEG channels: ICA needs at least 3")
    n_req: int | float = (int(min(params["n_components"], len(picks) - 1)) if params["n_components"] is not None
                          else float(params["pca_variance"]))
    method = params["ica_method"]
    messages: list[str] = []
    if method == "picard":
        try:
            import picard  # noqa: F401
        except ImportError:
            method = "infomax"
            messages.append("python-picard is not installed: extended Infomax used instead (slower, same model)")
    fit_params: dict[str, Any] = {}
    if method == "infomax":
        fit_params = {"extended": True}
    elif method == "picard":
        fit_params = {"ortho": False, "extended": True}
    progress(0.05, "ICA: filtering a copy for the fit")
    # fit on a high-passed copy at <= 250 Hz (the components do not need more)
    fit_raw = before.copy().load_data().pick(picks)
    fit_raw.filter(params["fit_highpass"], None, verbose="error")
    if sf > 260:
        fit_raw.resample(250.0, verbose="error")
    positions = _positions(fit_raw, study)
    ica = mne.preprocessing.ICA(n_components=n_req, method=method, fit_params=fit_params or None,
                                random_state=params["seed"], max_iter="auto", verbose="error")
    progress(0.2, f"ICA: fitting {n_req if isinstance(n_req, int) else 'auto'} components ({method})")
    if method == "picard":  # set after construction: MNE deep-copies the fit_params it is given
        ica.fit_params["fun"] = _CancellableTanh(progress.sub(0.2, 0.7), int(ica.fit_params["max_iter"]))
        ica.fit_params["check_fun"] = False  # the density is picard's own tanh
    t_fit = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using a different density")
        ica.fit(fit_raw, verbose="error")
    ica.fit_params.pop("fun", None)  # saved with the ICA: plain values only
    ica.fit_params.pop("check_fun", None)
    progress.check()  # Infomax and FastICA cannot be interrupted: Cancel is honoured here
    fit_seconds = time.perf_counter() - t_fit
    n_comp = int(ica.n_components_)
    progress(0.75, "ICA: detecting EOG and cardiac components")
    why: dict[int, str] = {}
    eog_r = np.full(n_comp, np.nan)
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
        eog_r = r
        for i in sorted(set(int(i) for i in idx) | set(np.flatnonzero(r >= EOG_R).tolist())):
            why[int(i)] = f"EOG (r = {float(r[i]):.2f})"
    rp = study.rpeaks
    c_scores = np.zeros(n_comp)
    c_z = np.zeros(n_comp)
    src = ica.get_sources(fit_raw).get_data()
    if rp is not None and len(rp) > 10:
        c_scores = cardiac_scores(src, float(fit_raw.info["sfreq"]), np.asarray(rp))
        z = c_z = _robust_z(c_scores)
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
    per_comp = component_variance(ica, fit_raw)
    qc: dict[str, Any] = {
        "n_components": n_comp,
        "ica_method": method,
        "seconds_fit": round(fit_seconds, 3),
        "explained_var": explained,
        "excluded": list(excluded),
        "n_excluded": len(excluded),
        "excluded_why": "; ".join(f"{i}: {r}" for i, r in reasons.items()) or "none",
        "auto_detected": auto,
        "variance_removed": removed,
    }
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
        details={"ica": ica, "reasons": reasons, "auto": auto, "cardiac_scores": c_scores, "cardiac_z": c_z,
                 "eog_r": eog_r, "why": why, "excluded": list(excluded), "sources": src,
                 "sources_sfreq": float(fit_raw.info["sfreq"]), "fit_info": fit_raw.info,
                 "component_variance": per_comp, "positions": positions, "before": before},
        messages=messages,
    )


def _positions(fit_raw: Any, study: Any) -> str:
    """Give the fitted copy electrode positions for the maps (the fit does not use them).

    The EEG's own, else the study's digitisation, else MNE's 10-05 template when every
    channel name is in it; returns where they came from ("" when there are none).
    """
    import mne

    if fit_raw.get_montage() is not None:
        return "the EEG's electrode positions"
    names = set(fit_raw.ch_names)
    candidates = []
    dig = getattr(study, "dig", None)
    if isinstance(dig, mne.channels.DigMontage):
        candidates.append((dig, "the study's digitisation"))
    for name in ("standard_1005", "colin27_1005"):
        if name in mne.channels.get_builtin_montages():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                candidates.append((mne.channels.make_standard_montage(name), f"the {name} template (by name)"))
            break
    for mont, where in candidates:
        if names <= set(mont.ch_names):
            try:
                fit_raw.set_montage(mont, verbose="error")
            except (ValueError, RuntimeError):
                continue
            return where
    return ""


def component_variance(ica: Any, fit_raw: Any) -> np.ndarray:
    """Per component: the fraction of the fitted EEG's variance it explains (MNE's measure)."""
    out = np.zeros(int(ica.n_components_))
    for i in range(len(out)):
        r = ica.get_explained_variance_ratio(fit_raw, components=[i], ch_type="eeg")
        out[i] = float(r["eeg"])
    return out


class _CancellableTanh:
    """Picard's tanh density (the same numbers) that reports progress and honours Cancel.

    Picard calls ``score_and_der`` once per iteration; MNE's ICA has no callback, so this
    is the one place a long fit can be interrupted.
    """

    def __init__(self, progress: Progress, max_iter: int) -> None:
        from picard.densities import Tanh

        self._tanh = Tanh()
        self.progress = progress
        self.max_iter = max(1, max_iter)
        self.calls = 0

    def log_lik(self, y: np.ndarray) -> np.ndarray:
        return self._tanh.log_lik(y)

    def score_and_der(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        self.progress(min(0.95, self.calls / self.max_iter), f"ICA: iteration {self.calls}")
        return self._tanh.score_and_der(y)


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
    # not in the demo: even with Picard (~1.9x faster than extended Infomax here) a fit of a
    # 3-minute recording takes minutes on two loaded cores; ICA runs on request
    in_demo=False,
    order=1.0,
)
