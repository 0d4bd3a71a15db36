"""Run CCA on two feature tables (``workbench fuse cca --x X.tsv --y Y.tsv``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError
from workbench.plugin_api import FusionInputs, FusionResult, example_folder
from workbench.plugin_api.tables import one_file, read_table

from .core import bartlett_wilks, fit_cca, permutation_pvalues, prepare

__all__ = ["run", "example_inputs", "cca_arrays"]


def cca_arrays(X: np.ndarray, Y: np.ndarray, params: dict[str, Any], progress=None,
               names_x: list[str] | None = None, names_y: list[str] | None = None,
               where_x: Any = None, where_y: Any = None, default_scheme: str = "rows") -> dict[str, Any]:
    """CCA on arrays: the numbers of the method (used by :func:`run` and the cohort tests).

    ``default_scheme``: the permutation scheme of ``permutation="auto"`` ("rows" for
    exchangeable observations, "circular" for time series).
    """
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    names_x = names_x or [f"x{i + 1}" for i in range(X.shape[1])]
    names_y = names_y or [f"y{i + 1}" for i in range(Y.shape[1])]
    if X.shape[0] != Y.shape[0]:
        raise InputError(where_y, f"X has {X.shape[0]} rows and Y {Y.shape[0]}: the tables must have one "
                                  "row per observation, the same observations in the same order")
    bx = prepare(X, params["reg_x"], params["standardize"], names_x, "X", where_x, params.get("pca_x", 0))
    by = prepare(Y, params["reg_y"], params["standardize"], names_y, "Y", where_y, params.get("pca_y", 0))
    fit = fit_cca(bx, by, params["n_components"])
    out: dict[str, Any] = {"fit": fit}
    n = X.shape[0]
    if params["n_permutations"] > 0:
        scheme = params.get("permutation", "auto")
        scheme = default_scheme if scheme == "auto" else scheme
        p, null = permutation_pvalues(fit, params["n_permutations"], params["seed"], progress, scheme)
        out["scheme"] = scheme
        out["p_perm"], out["null_r1"] = p, null
    else:
        out["p_perm"] = np.full(len(fit.r), np.nan)
    px = params.get("pca_x", 0) or X.shape[1]
    py = params.get("pca_y", 0) or Y.shape[1]
    # more features than observations and a (near) perfect mode 1: the ridge did not regularise;
    # the permutation p of such a fit is not reliable (measured on the phantom: X independent of
    # the BOLD, 38 700 voxels x 118 volumes, gave p < 0.05 in 8 of 12 tries), so it is withheld
    out["overfit"] = bool(fit.corr[0] > 0.999 and max(px, py) >= n - 1)
    if out["overfit"]:
        out["p_perm"] = np.full(len(fit.r), np.nan)
    if params["reg_x"] == 0 and params["reg_y"] == 0 and n > px + py:
        out["wilks"], out["p_bartlett"] = bartlett_wilks(fit.r, n, px, py)
    return out


def run(inputs: FusionInputs, params: dict[str, Any], progress) -> FusionResult:
    has_x, has_y = bool(inputs.files.get("x")), bool(inputs.files.get("y"))
    if not has_x and not has_y:
        from .study_method import run_study

        return run_study(inputs, params, progress)
    if has_x != has_y:
        raise InputError(None, f"CCA got only {'--x' if has_x else '--y'}: give both feature tables (--x and "
                               "--y), or neither to use the study's EEG and BOLD")
    progress(0.0, "reading the feature tables")
    px, py = one_file(inputs, "x", "cca", "a feature table"), one_file(inputs, "y", "cca", "a feature table")
    X, names_x, rows_x = read_table(px, "X")
    Y, names_y, rows_y = read_table(py, "Y")
    if X.shape[0] != Y.shape[0]:
        raise InputError(py, f"has {Y.shape[0]} rows but X ({px.name}) has {X.shape[0]}: one row per "
                             "observation in both tables, in the same order")
    if rows_x != rows_y and not (all(r.isdigit() for r in rows_x) or all(r.isdigit() for r in rows_y)):
        raise InputError(py, f"its row labels differ from X's (first difference: "
                             f"{next(a for a, b in zip(rows_y, rows_x) if a != b)!r}); put the rows in the same order")
    progress(0.1, f"CCA on {X.shape[0]} observations, {X.shape[1]} x {Y.shape[1]} features")
    mask_path = one_file(inputs, "y_mask", "cca", "a brain mask", required=False)
    mask = None
    if mask_path is not None:
        import nibabel as nib

        try:
            mimg = nib.load(mask_path)
        except Exception as exc:  # noqa: BLE001
            raise InputError(mask_path, f"not a readable NIfTI mask ({type(exc).__name__})") from None
        mask = np.asanyarray(mimg.dataobj) != 0
        if mask.ndim != 3 or int(mask.sum()) != Y.shape[1]:
            raise InputError(mask_path, f"the mask has {int(mask.sum())} voxels but Y has {Y.shape[1]} "
                                        "columns: Y's columns must be the mask's voxels (C order) in the same space")
    res = cca_arrays(X, Y, params, progress.sub(0.15, 0.9), names_x, names_y, px, py)
    fit = res["fit"]
    progress(0.92, "tables")
    K = len(fit.r)
    out = FusionResult(method="cca", method_version="0.3.0")
    rows = []
    for k in range(K):
        row = {"mode": k + 1, "canonical_correlation": float(fit.corr[k]),
               "regularised_correlation": float(fit.r[k]),
               "p_permutation": _f(res["p_perm"][k])}
        if "wilks" in res:
            row["wilks_lambda"] = float(res["wilks"][k])
            row["p_bartlett"] = _f(res["p_bartlett"][k])
        rows.append(row)
    out.tables["canonical"] = rows
    modes = [f"mode{k + 1}" for k in range(K)]
    for name, names, M in (("weights_x", names_x, fit.wx), ("weights_y", names_y, fit.wy),
                           ("loadings_x", names_x, fit.load_x), ("loadings_y", names_y, fit.load_y)):
        out.tables[name] = [{"feature": f, **{m: float(M[i, j]) for j, m in enumerate(modes)}}
                            for i, f in enumerate(names)]
    V = np.empty((X.shape[0], 2 * K))
    V[:, 0::2], V[:, 1::2] = fit.u, fit.v
    out.matrices["variates"] = {"values": V, "rows": rows_x,
                                "columns": [c for k in range(K) for c in (f"U{k + 1}", f"V{k + 1}")]}
    if mask is not None:
        import nibabel as nib

        vol = np.zeros(mask.shape, np.float32)
        vol[mask] = fit.wy[:, 0]
        out.maps["weights_map"] = nib.Nifti1Image(vol, mimg.affine)
    out.qc = {
        "n_observations": int(X.shape[0]),
        "n_x_features": int(X.shape[1]),
        "n_y_features": int(Y.shape[1]),
        "n_modes": K,
        "rank_x": fit.bx.rank,
        "rank_y": fit.by.rank,
        "r1": float(fit.corr[0]),
        "p1": _f(res["p_perm"][0]),
        "canonical_correlations": [float(c) for c in fit.corr],
        "regularised_correlations": [float(c) for c in fit.r],
        "p_values": [_f(x) for x in res["p_perm"]],
        "test": "max-statistic permutation of Y rows" if params["n_permutations"] else "none",
        "n_permutations": int(params["n_permutations"]),
    }
    if "p_bartlett" in res:
        out.qc["p_values_bartlett"] = [_f(x) for x in res["p_bartlett"]]
    _overfit_note(out, res, X.shape[0], X.shape[1], Y.shape[1])
    out.messages.append(
        "p-values: max-statistic permutation test (each mode against the null distribution of the "
        "largest canonical correlation; family-wise over modes, conservative for later modes)")
    progress(1.0, "done")
    return out


def _overfit_note(out: FusionResult, res: dict[str, Any], n: int, p: int, q: int) -> None:
    """QC flag and a plain message when mode 1 is a perfect fit of more features than observations."""
    out.qc["overfit"] = bool(res.get("overfit"))
    if res.get("overfit"):
        out.messages.insert(0, (
            f"mode 1 fits the {n} observations perfectly (r = {float(res['fit'].corr[0]):.3f}) with {max(p, q)} "
            "features: the correlation says nothing and no p-value is given (a permutation test of such a "
            "fit is not reliable); raise the ridge (reg_y 0.9 or more) or keep a few principal components "
            "(pca_y, e.g. 10)"))


def _f(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def example_inputs() -> FusionInputs:
    """scikit-learn's Linnerud data as two TSV tables (X = exercise, Y = physiological)."""
    from sklearn.datasets import load_linnerud

    d = load_linnerud()
    folder = Path(example_folder("workbench-cca-example-"))
    for name, data, cols in (("x", d.data, d.feature_names), ("y", d.target, d.target_names)):
        lines = ["\t".join(cols)] + ["\t".join(repr(float(v)) for v in row) for row in data]
        (folder / f"linnerud_{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return FusionInputs(files={"x": [folder / "linnerud_x.tsv"], "y": [folder / "linnerud_y.tsv"]},
                        sources={"x": str(folder / "linnerud_x.tsv"), "y": str(folder / "linnerud_y.tsv")})
