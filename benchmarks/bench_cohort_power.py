"""How many subjects group CCA needs: power by simulation, calibrated on the 8-subject phantom.

1. On a cohort's group tables (``workbench batch --group``: ``group/x.tsv``, ``group/y.tsv``)
   and the phantom's true subject loadings: how well each candidate feature follows the
   loading (ERP amplitude, the ERP's first PC, mean beta in an ROI of the group-mean map or
   of the group t map, the maps' first PC), and the observed CCA p at n = 8 (exact: all 8!
   pairings).
2. Power: the one-number features are modelled as ``feature = a + b * loading + noise``,
   fitted on the phantom (per feature: slope and residual SD against the true loadings);
   synthetic cohorts of n subjects draw loadings as the phantom does (log-normal, mean 1,
   SD of the log 0.5) and the features from the fitted model; the test is CCA of the two
   one-column tables = |Pearson r| with ``--n-perm`` random pairings; power = fraction of
   cohorts with p < 0.05. Cross-checked against Fisher's z approximation.

Usage: ``python benchmarks/bench_cohort_power.py --group DIR/group --truth STUDY/ground_truth/index.json``
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np


def exact_p(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Pearson r and its exact permutation p (two-sided, all pairings)."""
    n = len(a)
    perms = np.array(list(itertools.permutations(range(n))))
    aa = a - a.mean()
    bb = b[perms] - b.mean()
    null = bb @ aa / (np.linalg.norm(bb, axis=1) * np.linalg.norm(aa))
    r = float(np.corrcoef(a, b)[0, 1])
    return r, float(np.mean(np.abs(null) >= abs(r) - 1e-12))


def power(n: int, fx: tuple[float, float, float], fy: tuple[float, float, float], n_cohorts: int,
          n_perm: int, seed: int) -> float:
    """Fraction of synthetic cohorts of ``n`` subjects whose |r| permutation p is < 0.05."""
    rng = np.random.default_rng(seed)
    sd = 0.5
    L = np.exp(sd * rng.standard_normal((n_cohorts, n)) - sd**2 / 2)
    x = fx[0] + fx[1] * L + fx[2] * rng.standard_normal(L.shape)
    y = fy[0] + fy[1] * L + fy[2] * rng.standard_normal(L.shape)
    x = (x - x.mean(1, keepdims=True)) / np.linalg.norm(x - x.mean(1, keepdims=True), axis=1, keepdims=True)
    y = (y - y.mean(1, keepdims=True)) / np.linalg.norm(y - y.mean(1, keepdims=True), axis=1, keepdims=True)
    r = np.abs((x * y).sum(1))
    hits = 0
    for i in range(n_cohorts):
        perm = np.argsort(rng.random((n_perm, n)), axis=1)
        null = np.abs(y[i][perm] @ x[i])
        hits += (1 + np.sum(null >= r[i] - 1e-12)) / (n_perm + 1) < 0.05
    return hits / n_cohorts


def fisher_n(rho: float, alpha: float = 0.05, pw: float = 0.8) -> float:
    """Subjects for a two-sided test of a correlation rho at ``alpha`` with power ``pw`` (Fisher z)."""
    from scipy.stats import norm

    return ((norm.ppf(1 - alpha / 2) + norm.ppf(pw)) / np.arctanh(rho)) ** 2 + 3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--group", type=Path, required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--cohorts", type=int, default=2000)
    ap.add_argument("--n-perm", type=int, default=999)
    a = ap.parse_args()
    from workbench.plugin_api.tables import read_table

    X, _, _ = read_table(a.group / "x.tsv", "X")
    Y, _, _ = read_table(a.group / "y.tsv", "Y")
    lo = json.loads(a.truth.read_text())["cohort"]["loadings"]
    L = np.array([lo[k] for k in sorted(lo)])
    n = len(L)
    m = X.mean(0)
    feats = {"ERP amplitude (projection on the group-mean ERP)": X @ m / (m @ m)}
    U, s, _ = np.linalg.svd(X - m, full_matrices=False)
    feats["ERP first PC"] = U[:, 0] * s[0]
    mu = Y.mean(0)
    t = mu / (Y.std(0, ddof=1) / np.sqrt(n))
    for q in (0.01, 0.005, 0.001):
        k = max(1, int(round(q * mu.size)))
        feats[f"ROI: top {100 * q:g} % of the group-mean map ({k} voxels)"] = Y[:, np.argsort(mu)[::-1][:k]].mean(1)
    feats[f"ROI: top 1 % of the group t map ({max(1, int(round(0.01 * mu.size)))} voxels)"] = \
        Y[:, np.argsort(t)[::-1][:max(1, int(round(0.01 * mu.size)))]].mean(1)
    Uy, sy, _ = np.linalg.svd(Y - mu, full_matrices=False)
    feats["maps' first PC"] = Uy[:, 0] * sy[0]
    print(f"## Features on the phantom ({n} subjects), against the true loadings\n")
    print("| feature | r with loadings |\n| --- | --- |")
    for name, f in feats.items():
        print(f"| {name} | {np.corrcoef(f, L)[0, 1]:.3f} |")
    xa = feats["ERP amplitude (projection on the group-mean ERP)"]
    print("\n## Observed CCA of ERP amplitude x one map feature, exact p over all 8! pairings\n")
    print("| map feature | r | exact p |\n| --- | --- | --- |")
    for name, f in feats.items():
        if not name.startswith("ERP"):
            r, p = exact_p(xa, f)
            print(f"| {name} | {r:.3f} | {p:.4f} |")

    def model(f):
        b, a0 = np.polyfit(L, f, 1)
        return a0, b, float(np.std(f - (a0 + b * L), ddof=2))

    fx = model(xa)
    roi_name = next(k for k in feats if k.startswith("ROI: top 1 % of the group-mean"))
    fy = model(feats[roi_name])
    # population correlation of the two modelled features (loadings log-normal, SD of log 0.5)
    rng = np.random.default_rng(0)
    Lb = np.exp(0.5 * rng.standard_normal(200000) - 0.125)
    xb = fx[0] + fx[1] * Lb + fx[2] * rng.standard_normal(Lb.size)
    yb = fy[0] + fy[1] * Lb + fy[2] * rng.standard_normal(Lb.size)
    rho = float(np.corrcoef(xb, yb)[0, 1])
    print("\n## Power of CCA on ERP amplitude x ROI mean beta (top 1 % of the group-mean map)\n")
    print(f"Model fitted on the phantom: x = {fx[0]:.3g} + {fx[1]:.3g} L + N(0, {fx[2]:.3g}), "
          f"y = {fy[0]:.3g} + {fy[1]:.3g} L + N(0, {fy[2]:.3g}); population r(x, y) = {rho:.3f} "
          f"(r(x, L) {np.corrcoef(xb, Lb)[0, 1]:.3f}, r(y, L) {np.corrcoef(yb, Lb)[0, 1]:.3f}). "
          f"Fisher z: {fisher_n(rho):.1f} subjects for 80 % power, {fisher_n(rho, pw=0.9):.1f} for 90 %.\n")
    print(f"| subjects | power (p < 0.05, {a.cohorts} cohorts x {a.n_perm} permutations) |\n| --- | --- |")
    for n_sub in (8, 12, 16, 20, 24, 32):
        print(f"| {n_sub} | {power(n_sub, fx, fy, a.cohorts, a.n_perm, n_sub):.3f} |", flush=True)


if __name__ == "__main__":
    main()
