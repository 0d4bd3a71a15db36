"""Run DCM from files (``workbench fuse dcm --bold ROIS.tsv --inputs INPUTS.tsv --tr S --model M.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

from workbench.engine.errors import InputError
from workbench.plugin_api import FusionInputs, FusionResult, example_folder
from workbench.plugin_api.tables import one_file

from .bms import fixed_effects
from .fit import DcmFit, fit_dcm
from .integrate import make_design
from .io import read_eeg_table, read_inputs, read_rois
from .model import DcmModel, load_model

__all__ = ["run", "example_inputs", "DcmResult", "model_summary", "fit_models"]

VERSION = "0.1.0"


class DcmResult(FusionResult):
    """A fusion result whose ``result.json`` also carries the issue's ``models`` list."""

    def summary(self) -> dict[str, Any]:
        from workbench.plugin_api.result import _plain

        doc = super().summary()
        doc["models"] = _plain(self.live.get("models_doc", []))
        if "subjects_doc" in self.live:
            doc["subjects"] = _plain(self.live["subjects_doc"])
        return doc


def _mv(mean: np.ndarray, var: np.ndarray) -> dict[str, Any]:
    return {"mean": np.asarray(mean, float).tolist(), "var": np.asarray(var, float).tolist()}


def model_summary(fit: DcmFit, probability: float) -> dict[str, Any]:
    """One entry of ``result.json``'s ``models`` (SPM12's parameterisation)."""
    lay, post, m = fit.layout, fit.posterior, fit.model
    mean = post.Ep[: lay.size]
    var = post.variance()[: lay.size]
    P, V = lay.unpack(mean), lay.unpack(var)
    pmean, psd = mean, np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = np.where(var > 0, norm.cdf(np.abs(pmean) / np.where(psd > 0, psd, 1)), 0.0)
    Pr = lay.unpack(prob)
    doc = {
        "name": m.name,
        "F": post.F,
        "posterior_probability": probability,
        "explained_variance": fit.explained_variance,
        "explained_variance_per_region": dict(zip(m.regions, fit.explained_per_region)),
        "regions": m.regions,
        "inputs": m.inputs,
        "A": {**_mv(P["A"], V["A"]), "probability": Pr["A"].tolist()},
        "B": {u: {**_mv(P["B"][k], V["B"][k]), "probability": Pr["B"][k].tolist()} for k, u in enumerate(m.inputs)
              if m.b[k].any()},
        "C": {**_mv(P["C"], V["C"]), "probability": Pr["C"].tolist()},
        "hemodynamic": {
            "transit": _mv(P["transit"], V["transit"]),
            "decay": _mv(P["decay"], V["decay"]),
            "epsilon": _mv(P["epsilon"], V["epsilon"]),
            "transit_time_s": (2.0 * np.exp(P["transit"])).tolist(),
            "decay_rate_per_s": (0.64 * np.exp(P["decay"])).tolist(),
        },
        "self_inhibition_hz": (-0.5 * np.exp(np.diag(P["A"]))).tolist(),
        "noise_log_precision": post.h[: m.n].tolist(),
        "converged": post.converged,
        "iterations": post.iterations,
        "integrator": fit.integrator,
        "F_trace": post.F_trace,
        "scale": fit.scale,
    }
    if fit.eeg is not None:
        doc["eeg"] = {"gain": fit.eeg["gain"], "gain_var": post.variance()[lay.size:].tolist(),
                      "noise_log_precision": post.h[m.n:].tolist()}
    return doc


def fit_models(models: list[DcmModel], bold: np.ndarray, names: list[str], events: list, tr: float,
               params: dict[str, Any], progress, eeg_path: Path | None = None, inputs_path: Any = None,
               ) -> list[DcmFit]:
    """Invert every model on the same data (regions picked by name)."""
    present = {e[2] for e in events}
    fits = []
    for i, m in enumerate(models):
        where = m.source or None
        missing = [r for r in m.regions if r not in names]
        if missing:
            raise InputError(where, f"model {m.name!r} names region(s) {', '.join(map(repr, missing))} that "
                                    f"ROIS.tsv does not have (its columns: {', '.join(names)})")
        absent = [u for u in m.inputs if u not in present]
        if absent:
            raise InputError(where, f"model {m.name!r} uses input(s) {', '.join(map(repr, absent))} that have no "
                                    f"events in INPUTS.tsv (names there: {', '.join(sorted(present))})")
        cols = [names.index(r) for r in m.regions]
        design = make_design(tr, bold.shape[0], events, m.inputs, where=inputs_path)
        eeg = read_eeg_table(eeg_path, m.regions, params.get("eeg_rate")) if eeg_path else None
        sub = progress.sub(0.05 + 0.85 * i / len(models), 0.05 + 0.85 * (i + 1) / len(models))
        sub(0.0, f"model {m.name} ({i + 1}/{len(models)})")
        fits.append(fit_dcm(m, bold[:, cols], design, hpf=params.get("hpf", 128.0), eeg=eeg,
                            max_iter=params.get("max_iter", 128),
                            integrator=params.get("integrator") or "bilinear", progress=sub))
    return fits


def run(inputs: FusionInputs, params: dict[str, Any], progress) -> FusionResult:
    progress(0.0, "reading ROIS.tsv, INPUTS.tsv and the models")
    bold_paths = [Path(x) for x in inputs.files.get("bold") or []]
    inputs_paths = [Path(x) for x in inputs.files.get("inputs") or []]
    if not bold_paths:
        raise InputError(None, "dcm needs --bold ROIS.tsv (region BOLD time series); see `workbench fuse dcm --help`")
    if not inputs_paths:
        raise InputError(None, "dcm needs --inputs INPUTS.tsv (onset duration name rows)")
    if len(inputs_paths) not in (1, len(bold_paths)):
        raise InputError(inputs_paths[-1], f"{len(bold_paths)} --bold files but {len(inputs_paths)} --inputs: give "
                                           "one INPUTS.tsv for all subjects or one per --bold, in the same order")
    model_paths = list(inputs.files.get("model") or [])
    if not model_paths:
        raise InputError(None, "dcm needs at least one --model MODEL.json")
    eeg_path = one_file(inputs, "eeg", "dcm", "region EEG envelopes", required=False)
    if eeg_path is not None and len(bold_paths) > 1:
        raise InputError(eeg_path, "--eeg is for one subject (one --bold); run each subject's joint inversion alone")
    models = [load_model(p) for p in model_paths]
    if len({m.name for m in models}) != len(models):
        raise InputError(model_paths[-1], "two models have the same name; give each model its own 'name'")
    tr = params.get("tr") or (inputs.bold_meta or {}).get("RepetitionTime")
    if not tr:
        raise InputError(bold_paths[0], "the repetition time is not known: give --tr SECONDS")
    tr = float(tr)
    subjects = []
    for s_, bp in enumerate(bold_paths):
        ip = inputs_paths[s_ if len(inputs_paths) > 1 else 0]
        bold, names = read_rois(bp)
        events = read_inputs(ip)
        sub = progress.sub(s_ / len(bold_paths), (s_ + 1) / len(bold_paths))
        subjects.append((bp, fit_models(models, bold, names, events, tr, params, sub, eeg_path, ip)))
    if len(subjects) == 1:
        return make_result(subjects[0][1], params)
    return make_group_result(subjects, params)


def make_group_result(subjects: list[tuple[Path, list[DcmFit]]], params: dict[str, Any]) -> DcmResult:
    """Several subjects: fixed-effects (summed F) and random-effects BMS over subjects.

    ``models`` entries then hold the group: summed F, the fixed-effects probability, the
    random-effects expected frequency and exceedance probability (Stephan et al. 2009),
    the mean explained variance, and A/B/C/hemodynamic as the mean over subjects of the
    posterior means with ``var`` the squared standard error of that mean (a summary-
    statistic second level); every subject's own models are under ``subjects``.
    """
    from . import figures
    from .bms import random_effects

    Fm = np.array([[f.F for f in fits] for _, fits in subjects])
    names = [f.model.name for f in subjects[0][1]]
    ffx = fixed_effects(Fm)
    rfx = random_effects(Fm, seed=int(params.get("seed", 0) or 0))
    first = make_result(subjects[0][1], params)
    out = DcmResult(method="dcm", method_version=VERSION)
    out.timecourses = first.timecourses
    sub_docs = []
    rows = []
    for bp, fits in subjects:
        res = make_result(fits, params)
        sub_docs.append({"bold": str(bp), "models": res.live["models_doc"]})
        rows += [{"subject": bp.stem if len(bp.stem) > 4 else str(bp), **r} for r in res.tables["parameters"]]
    docs = []
    n = len(subjects)
    for k, name in enumerate(names):
        per = [sd["models"][k] for sd in sub_docs]
        doc: dict[str, Any] = {"name": name, "F": float(Fm[:, k].sum()), "posterior_probability": float(ffx[k]),
                               "rfx_expected_frequency": float(rfx.expected[k]),
                               "exceedance_probability": float(rfx.exceedance[k]),
                               "explained_variance": float(np.mean([d["explained_variance"] for d in per])),
                               "n_subjects": n, "regions": per[0]["regions"], "inputs": per[0]["inputs"],
                               "converged": all(d["converged"] for d in per)}
        for key in ("A", "C"):
            doc[key] = _group_mv([d[key]["mean"] for d in per])
        doc["B"] = {u: _group_mv([d["B"][u]["mean"] for d in per]) for u in per[0]["B"]}
        doc["hemodynamic"] = {h: _group_mv([d["hemodynamic"][h]["mean"] for d in per])
                              for h in ("transit", "decay", "epsilon")}
        docs.append(doc)
    out.live["models_doc"] = docs
    out.live["subjects_doc"] = sub_docs
    out.tables["models"] = [
        {"model": name, "F": float(Fm[:, k].sum()), "posterior_probability": float(ffx[k]),
         "rfx_expected_frequency": float(rfx.expected[k]), "exceedance_probability": float(rfx.exceedance[k]),
         "explained_variance": docs[k]["explained_variance"], "converged": docs[k]["converged"],
         "regions": ",".join(docs[k]["regions"]), "inputs": ",".join(docs[k]["inputs"])}
        for k, name in enumerate(names)]
    out.tables["parameters"] = rows
    out.tables["subject_F"] = [{"subject": str(bp), **{nm: float(Fm[s_, k]) for k, nm in enumerate(names)}}
                               for s_, (bp, _) in enumerate(subjects)]
    best = int(np.argmax(rfx.exceedance))
    out.qc = {"n_models": len(names), "n_subjects": n, "best_model_rfx": names[best],
              "best_exceedance_probability": float(rfx.exceedance[best]),
              "best_model_ffx": names[int(np.argmax(ffx))],
              "all_converged": all(d["converged"] for d in docs)}
    out.messages = [m for _, fits in subjects for m in make_result(fits, params).messages
                    if "did NOT converge" in m]
    out.messages.append("group of subjects: posterior model probabilities are fixed effects (summed F); "
                        "rfx_expected_frequency and exceedance_probability are random-effects BMS "
                        "(Stephan et al. 2009), the exceedance sampled with --seed")
    out.figures = [("DCM: group model comparison",
                    lambda: figures.group_figure(names, Fm, ffx, rfx.expected, rfx.exceedance),
                    "Left: each subject's F relative to its best model; right: fixed-effects probability, "
                    "random-effects expected frequency and exceedance probability.")] + first.figures[:1]
    return out


def _group_mv(means: list[Any]) -> dict[str, Any]:
    M = np.asarray(means, float)
    se2 = M.var(axis=0, ddof=1) / M.shape[0] if M.shape[0] > 1 else np.zeros_like(M[0])
    return _mv(M.mean(axis=0), se2)


def make_result(fits: list[DcmFit], params: dict[str, Any]) -> DcmResult:
    """The fusion result of several inverted models (tables, time courses, figures, models doc)."""
    from . import figures

    F = np.array([f.F for f in fits])
    prob = fixed_effects(F)
    best = int(np.argmax(F))
    out = DcmResult(method="dcm", method_version=VERSION)
    docs = [model_summary(f, float(p)) for f, p in zip(fits, prob)]
    out.live["models_doc"] = docs
    out.live["fits"] = fits
    out.tables["models"] = [
        {"model": f.model.name, "F": f.F, "F_minus_best": f.F - F[best], "posterior_probability": float(p),
         "explained_variance": f.explained_variance, "iterations": f.posterior.iterations,
         "converged": f.posterior.converged, "joint_eeg": f.eeg is not None,
         "regions": ",".join(f.model.regions), "inputs": ",".join(f.model.inputs)}
        for f, p in zip(fits, prob)]
    rows = []
    for f in fits:
        lay, post = f.layout, f.posterior
        var = post.variance()
        sd = np.sqrt(var)
        where = _parameter_places(f.model)
        for i in lay.free:
            rows.append({"model": f.model.name, "parameter": lay.names[i], **where[i],
                         "prior_mean": float(lay.pE[i]),
                         "prior_var": float(lay.pV[i]), "mean": float(post.Ep[i]), "var": float(var[i]),
                         "probability": float(norm.cdf(abs(post.Ep[i]) / sd[i])) if sd[i] > 0 else 0.0})
    out.tables["parameters"] = rows
    fb = fits[best]
    t = np.arange(fb.observed.shape[0]) * fb.design.tr + fb.design.tr / 2
    series = {}
    for r, name in enumerate(fb.model.regions):
        series[f"{name} observed"] = fb.observed[:, r]
        series[f"{name} predicted"] = fb.predicted[:, r]
    out.timecourses["bold_fit"] = {"t": t, "series": series, "unit": "% (scaled, confounds removed)"}
    out.timecourses["layers"] = layers_timecourse(fb)
    tr_ = np.array(fb.posterior.F_trace, float)
    out.timecourses["free_energy"] = {"t": np.arange(1, tr_.size + 1, dtype=float), "series": {"F": tr_},
                                      "unit": "free energy (nats)"}
    out.qc = {
        "n_models": len(fits),
        "best_model": fb.model.name,
        "best_F": float(F[best]),
        "best_posterior_probability": float(prob[best]),
        "explained_variance_best": fb.explained_variance,
        "n_scans": int(fb.observed.shape[0]),
        "tr_s": fb.design.tr,
        "joint_eeg": fb.eeg is not None,
        "all_converged": all(f.posterior.converged for f in fits),
    }
    for f in fits:
        if not f.posterior.converged:
            trace = ", ".join("nan" if not np.isfinite(x) else f"{x:.1f}" for x in f.posterior.F_trace[-6:])
            out.messages.append(
                f"model {f.model.name!r} did NOT converge in {f.posterior.iterations} iterations "
                f"(last free energies: {trace}); its F and posterior are not reliable")
    if len(fits) > 1:
        out.messages.append(
            "posterior model probabilities are fixed-effects (one data set, flat prior over models); "
            "for a group, collect each subject's F and use random-effects BMS (workbench_dcm.bms.random_effects)")
    out.figures = figures.report_figures(fits, prob)
    return out


def layers_timecourse(fit: DcmFit) -> dict[str, Any]:
    """The three layers at the posterior means (teaching view): inputs, neural state, flow,
    volume, deoxyhaemoglobin and BOLD (%, before confound removal) per region, at every
    integration step (input changes and mid-TR samples)."""
    from .integrate import bold_output, predict

    lay, d = fit.layout, fit.design
    theta = fit.posterior.Ep[None, : lay.size]
    _, X = predict(theta, lay, d, with_states=True, integrator=fit.integrator)
    _, _, bounds, _ = d.schedule()
    n = lay.n
    X = X[0, : bounds.size]
    series: dict[str, np.ndarray] = {}
    for k, u in enumerate(fit.model.inputs):
        series[f"input {u}"] = d.u[np.minimum(bounds, d.n_bins - 1), k]
    bold = bold_output(X[:, 3 * n:4 * n], X[:, 4 * n:5 * n], theta[0, lay.iEpsilon])
    for r, name in enumerate(fit.model.regions):
        series[f"{name} neural"] = X[:, r]
        series[f"{name} flow"] = np.exp(X[:, 2 * n + r])
        series[f"{name} volume"] = np.exp(X[:, 3 * n + r])
        series[f"{name} dHb"] = np.exp(X[:, 4 * n + r])
        series[f"{name} BOLD"] = bold[:, r]
    return {"t": bounds * d.dt, "series": series, "unit": "neural (a.u.), flow/volume/dHb (rest = 1), BOLD (%)"}


def _parameter_places(m: DcmModel) -> list[dict[str, str]]:
    """For every entry of theta: kind (A, B, C, transit, decay, epsilon), to, from, input."""
    R, U, n = m.regions, m.inputs, m.n
    out = [{"kind": "A", "to": R[i], "from": R[j], "input": ""} for i in range(n) for j in range(n)]
    out += [{"kind": "B", "to": R[i], "from": R[j], "input": u} for u in U for i in range(n) for j in range(n)]
    out += [{"kind": "C", "to": R[i], "from": "", "input": u} for i in range(n) for u in U]
    out += [{"kind": k, "to": r, "from": "", "input": ""} for k in ("transit", "decay") for r in R]
    out.append({"kind": "epsilon", "to": "", "from": "", "input": ""})
    return out


def example_inputs() -> FusionInputs:
    """A small simulated 3-region data set (60 volumes, TR 2 s) with two models as files."""
    from .simulate import block_events, random_truth, simulate

    folder = Path(example_folder("workbench-dcm-example-"))
    rng = np.random.default_rng(7)
    fwd = DcmModel.build("forward", ["V1", "V5", "SPC"], ["photic", "attention"],
                         [[1, 0, 0], [1, 1, 0], [0, 1, 1]], {"attention": [[0, 0, 0], [1, 0, 0], [0, 0, 0]]},
                         [[1, 0], [0, 0], [0, 0]])
    alt = DcmModel.build("no-modulation", fwd.regions, fwd.inputs, fwd.a.astype(int), {}, fwd.c.astype(int))
    theta = random_truth(fwd, rng)
    ev = block_events(fwd.inputs, 60 * 2.0, rng)
    sim = simulate(fwd, theta, 2.0, 60, ev, snr=2.0, seed=7)
    write_tables(folder, sim.model.regions, sim.bold, ev)
    fwd.save(folder / "forward.json")
    alt.save(folder / "no_modulation.json")
    files = {"bold": [folder / "rois.tsv"], "inputs": [folder / "inputs.tsv"],
             "model": [folder / "forward.json", folder / "no_modulation.json"]}
    return FusionInputs(files=files, bold_meta={"RepetitionTime": 2.0},
                        sources={k: str(v[0]) for k, v in files.items()})


def write_tables(folder: Path, regions: list[str], bold: np.ndarray, events: list,
                 eeg: np.ndarray | None = None, eeg_times: np.ndarray | None = None) -> None:
    """Write ``rois.tsv``, ``inputs.tsv`` (and ``eeg.tsv``) in the formats the method reads."""
    lines = ["\t".join(regions)] + ["\t".join(f"{v:.6g}" for v in row) for row in bold]
    (folder / "rois.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ev = ["onset\tduration\tname"] + [f"{o:.3f}\t{d:.3f}\t{n}" for o, d, n in events]
    (folder / "inputs.tsv").write_text("\n".join(ev) + "\n", encoding="utf-8")
    if eeg is not None:
        lines = ["time\t" + "\t".join(regions)]
        lines += [f"{t:.4f}\t" + "\t".join(f"{v:.6g}" for v in row) for t, row in zip(eeg_times, eeg)]
        (folder / "eeg.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
