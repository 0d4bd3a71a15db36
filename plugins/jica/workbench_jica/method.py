"""Run joint ICA on two subject tables (``workbench fuse jica --x X.tsv --y Y.tsv``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError
from workbench.plugin_api import FusionInputs, FusionResult, example_folder
from workbench.plugin_api.tables import one_file, read_table

from .core import JICAFit, jica, joint_matrix

__all__ = ["run", "jica_arrays", "example_inputs"]


def jica_arrays(X: np.ndarray, Y: np.ndarray, params: dict[str, Any], progress=None,
                where_x: Any = None, where_y: Any = None) -> JICAFit:
    """Joint ICA on arrays (subjects x features each): the numbers of the method."""
    D = joint_matrix(X, Y, where_x, where_y, params.get("normalize", "modality"))
    return jica(D, params["n_components"], params["n_runs"], params["extended"], params["max_iter"],
                params["seed"], progress, where_y, px=np.asarray(X).shape[1])


def run(inputs: FusionInputs, params: dict[str, Any], progress) -> FusionResult:
    progress(0.0, "reading the subject tables")
    what = "a subjects x features table"
    px, py = one_file(inputs, "x", "jica", what), one_file(inputs, "y", "jica", what)
    X, names_x, subj_x = read_table(px, "X")
    Y, names_y, subj_y = read_table(py, "Y")
    if X.shape[0] != Y.shape[0]:
        raise InputError(py, f"has {Y.shape[0]} subject rows but X ({px.name}) has {X.shape[0]}: one row "
                             "per subject in both tables, in the same order")
    if subj_x != subj_y and not (all(r.isdigit() for r in subj_x) or all(r.isdigit() for r in subj_y)):
        first = next(a for a, b in zip(subj_y, subj_x) if a != b)
        raise InputError(py, f"its subjects differ from X's (first difference: {first!r}); put the rows in "
                             "the same subject order")
    mask_path = one_file(inputs, "y_mask", "jica", "a brain mask", required=False)
    mask = mimg = None
    if mask_path is not None:
        import nibabel as nib

        try:
            mimg = nib.load(mask_path)
        except Exception as exc:  # noqa: BLE001
            raise InputError(mask_path, f"not a readable NIfTI mask ({type(exc).__name__})") from None
        mask = np.asanyarray(mimg.dataobj) != 0
        if mask.ndim != 3 or int(mask.sum()) != Y.shape[1]:
            raise InputError(mask_path, f"the mask has {int(mask.sum())} voxels but Y has {Y.shape[1]} columns: "
                                        "maps in a different space than the mask; resample them to one space first")
    times = _times(inputs, names_x)
    progress(0.05, f"joint ICA: {X.shape[0]} subjects, {X.shape[1]} + {Y.shape[1]} features")
    fit = jica_arrays(X, Y, params, progress.sub(0.05, 0.9), px, py)
    progress(0.92, "outputs")
    K = fit.sources.shape[0]
    comps = [f"C{k + 1}" for k in range(K)]
    res = FusionResult(method="jica", method_version="0.2.0")
    res.matrices["components_x"] = {"values": fit.x, "rows": comps, "columns": names_x}
    res.matrices["components_y"] = {"values": fit.y, "rows": comps, "columns": names_y}
    res.matrices["loadings"] = {"values": fit.loadings, "rows": subj_x, "columns": comps}
    res.timecourses["component_erp"] = {"t": times, "series": {c: fit.x[k] for k, c in enumerate(comps)},
                                        "unit": "z"}
    res.tables["stability"] = [
        {"component": c, "stability_index": _f(fit.stability[k]), "cluster_size": int(fit.cluster_size[k]),
         "explained_variance": float(fit.explained[k])} for k, c in enumerate(comps)]
    if mask is not None:
        import nibabel as nib

        vol = np.zeros(mask.shape, np.float32)
        vol[mask] = fit.y[0]
        res.maps["component1_map"] = nib.Nifti1Image(vol, mimg.affine)
    res.qc = {
        "n_subjects": int(X.shape[0]),
        "n_x_features": int(X.shape[1]),
        "n_y_features": int(Y.shape[1]),
        "n_components": K,
        "n_runs": fit.n_runs,
        "stability": [_f(v) for v in fit.stability],
        "explained_variance": [float(v) for v in fit.explained],
        "min_stability": _f(np.nanmin(fit.stability)) if np.isfinite(fit.stability).any() else None,
    }
    if K < params["n_components"]:
        res.messages.append(f"the runs' components fell into {K} clusters, fewer than the {params['n_components']} "
                            "asked: the extra components are not reproducible; lower n_components")
    progress(1.0, "done")
    return res


def _times(inputs: FusionInputs, names_x: list[str]) -> np.ndarray:
    path = one_file(inputs, "x_times", "jica", "the ERP time points", required=False)
    if path is not None:
        import pandas as pd

        t = pd.read_csv(path, sep="\t", header=None).iloc[:, 0]
        t = pd.to_numeric(t, errors="coerce").dropna().to_numpy(float)
        if len(t) != len(names_x):
            raise InputError(path, f"{len(t)} times for {len(names_x)} X features")
        return t
    try:
        return np.array([float(n) for n in names_x])
    except ValueError:
        return np.arange(len(names_x), dtype=float)


def _f(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def synthetic(n_subjects: int = 16, n_t: int = 60, n_vox: int = 400, seed: int = 0,
              noise: float = 0.3) -> dict[str, np.ndarray]:
    """Two joint sources with subject loadings (for the example and the tests)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 0.6, n_t)
    erp = np.array([np.exp(-((t - 0.3) / 0.04) ** 2), np.exp(-((t - 0.15) / 0.03) ** 2) - 0.5 * np.exp(-((t - 0.45) / 0.05) ** 2)])
    maps = np.zeros((2, n_vox))
    maps[0, rng.choice(n_vox, n_vox // 20, replace=False)] = rng.gamma(3.0, 1.0, n_vox // 20)
    maps[1, rng.choice(n_vox, n_vox // 20, replace=False)] = rng.gamma(3.0, 1.0, n_vox // 20)
    A = np.column_stack([1 + 0.4 * rng.standard_normal(n_subjects), 0.8 + 0.4 * rng.standard_normal(n_subjects)])
    X = A @ erp + noise * rng.standard_normal((n_subjects, n_t))
    Y = A @ maps + noise * rng.standard_normal((n_subjects, n_vox))
    return {"X": X, "Y": Y, "t": t, "erp": erp, "maps": maps, "A": A}


def example_inputs() -> FusionInputs:
    """Two synthetic joint components over 16 subjects, written as TSV tables."""
    d = synthetic()
    folder = Path(example_folder("workbench-jica-example-"))
    subs = [f"sub-{i + 1:02d}" for i in range(d["X"].shape[0])]
    for name, data, cols in (("x", d["X"], [f"{t:.4f}" for t in d["t"]]),
                             ("y", d["Y"], [f"v{i}" for i in range(d["Y"].shape[1])])):
        lines = ["\t".join(["participant_id", *cols])]
        lines += ["\t".join([s, *(repr(float(v)) for v in row)]) for s, row in zip(subs, data)]
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return FusionInputs(files={"x": [folder / "x.tsv"], "y": [folder / "y.tsv"]},
                        sources={"x": str(folder / "x.tsv"), "y": str(folder / "y.tsv")})
