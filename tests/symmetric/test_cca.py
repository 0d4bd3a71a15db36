"""CCA plugin: SAS numbers on Linnerud, classical equivalence, ridge path, permutation test,
bad input, the fusion contract and the CLI (``workbench fuse cca --x --y``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("workbench_cca")

from workbench_cca.declaration import METHOD  # noqa: E402
from workbench_cca.method import cca_arrays, example_inputs, run  # noqa: E402

from workbench.engine.errors import InputError  # noqa: E402
from workbench.engine.progress import as_progress  # noqa: E402

SAS = [0.795608, 0.200556, 0.072570]  # SAS PROC CANCORR on Linnerud (ANCHORS.md)


def _params(**kw):
    return METHOD.validate_params(kw)


def _linnerud():
    from sklearn.datasets import load_linnerud

    d = load_linnerud()
    return d.data.astype(float), d.target.astype(float)


def _classical(X, Y):
    """Textbook CCA: eigenvalues of Sxx^-1 Sxy Syy^-1 Syx (independent of the plugin's SVD route)."""
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Sxx, Syy, Sxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc
    M = np.linalg.solve(Sxx, Sxy) @ np.linalg.solve(Syy, Sxy.T)
    ev = np.sort(np.linalg.eigvals(M).real)[::-1]
    return np.sqrt(np.clip(ev[: min(X.shape[1], Y.shape[1])], 0, 1))


def test_linnerud_matches_sas():
    res = run(example_inputs(), _params(n_permutations=200), as_progress(None))
    got = res.qc["canonical_correlations"]
    assert np.allclose(got, SAS, atol=1e-5), got
    assert len(res.qc["p_values"]) == 3
    # SAS's Wilks/F p for mode 1 is 0.0635; Bartlett's chi-square approximation is close to it
    assert 0.04 < res.qc["p_values_bartlett"][0] < 0.08


def test_zero_ridge_is_classical_cca_and_variates_have_those_correlations():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 5))
    Y = X[:, :2] @ rng.standard_normal((2, 4)) + rng.standard_normal((60, 4))
    out = cca_arrays(X, Y, _params(n_permutations=0, standardize=False))
    fit = out["fit"]
    assert np.allclose(fit.r, _classical(X, Y), atol=1e-10)
    assert np.allclose(fit.corr, fit.r, atol=1e-10)
    # canonical variates: unit variance, uncorrelated within a block
    assert np.allclose(np.corrcoef(fit.u.T), np.eye(4), atol=1e-8)
    # standardising does not change classical CCA
    assert np.allclose(cca_arrays(X, Y, _params(n_permutations=0))["fit"].r, fit.r, atol=1e-10)
    # and a tiny ridge is continuous with it
    tiny = cca_arrays(X, Y, _params(n_permutations=0, reg_x=1e-9, reg_y=1e-9))["fit"]
    assert np.allclose(tiny.r, fit.r, atol=1e-6)


def test_ridge_with_more_features_than_rows_matches_the_explicit_whitening():
    """The thin-SVD route equals whitening with the full p x p regularised covariance."""
    rng = np.random.default_rng(5)
    n, p, q, rx, ry = 25, 40, 60, 0.3, 0.6
    s = rng.standard_normal(n)
    X = np.outer(s, rng.standard_normal(p)) + 2 * rng.standard_normal((n, p))
    Y = np.outer(s, rng.standard_normal(q)) + 2 * rng.standard_normal((n, q))
    fit = cca_arrays(X, Y, _params(n_permutations=0, reg_x=rx, reg_y=ry, standardize=False))["fit"]

    def inv_sqrt(D, r):
        Dc = D - D.mean(0)
        C = Dc.T @ Dc / (n - 1)
        # tau: the mean non-zero eigenvalue (trace / min(features, n - 1))
        C = C + r / (1 - r) * np.trace(C) / min(C.shape[0], n - 1) * np.eye(C.shape[0])
        w, V = np.linalg.eigh(C)
        return Dc, V @ np.diag(w**-0.5) @ V.T

    Xc, Wx = inv_sqrt(X, rx)
    Yc, Wy = inv_sqrt(Y, ry)
    sv = np.linalg.svd(Wx @ (Xc.T @ Yc / (n - 1)) @ Wy, compute_uv=False)
    k = len(fit.r)
    assert np.allclose(fit.r, sv[:k], atol=1e-10)
    assert np.all(fit.r <= 1.0)
    assert fit.corr[0] > 0.9  # the shared source is found despite p, q > n


def test_permutation_test_seeded_and_sensitive():
    rng = np.random.default_rng(7)
    n = 80
    X = rng.standard_normal((n, 3))
    Ynull = np.random.default_rng(8).standard_normal((n, 3))
    Ysig = np.column_stack([X[:, 0] + 0.7 * rng.standard_normal(n), rng.standard_normal((n, 2))])
    prm = _params(n_permutations=499, seed=11)
    null = cca_arrays(X, Ynull, prm)
    sig = cca_arrays(X, Ysig, prm)
    assert sig["p_perm"][0] == pytest.approx(1 / 500)
    assert sig["p_perm"][1] > 0.05
    assert null["p_perm"][0] > 0.05
    assert np.all(np.diff(sig["p_perm"]) >= 0)  # max-statistic: non-decreasing over modes
    again = cca_arrays(X, Ysig, prm)
    assert np.array_equal(again["p_perm"], sig["p_perm"])
    other = cca_arrays(X, Ynull, _params(n_permutations=499, seed=12))
    assert not np.array_equal(other["null_r1"], null["null_r1"])


def test_null_p_values_are_roughly_uniform():
    """Type I error of the permutation test on null data: about alpha, not far above."""
    rng = np.random.default_rng(0)
    ps = []
    for _ in range(60):
        X, Y = rng.standard_normal((30, 2)), rng.standard_normal((30, 3))
        ps.append(cca_arrays(X, Y, _params(n_permutations=199, seed=int(rng.integers(1e6))))["p_perm"][0])
    assert np.mean(np.array(ps) < 0.05) <= 0.12
    assert 0.3 < np.median(ps) < 0.7


@pytest.mark.parametrize(
    "case, message",
    [
        ("collinear", "collinear (rank 2 of 3 columns)"),
        ("rows", "X has 20 rows and Y 19"),
        ("wide", "has 30 features but only 20 rows"),
        ("constant", "column 'x2' is constant"),
    ],
)
def test_bad_input_one_line(case, message):
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    if case == "collinear":
        X[:, 2] = X[:, 0] + 2 * X[:, 1]
    elif case == "rows":
        Y = Y[:19]
    elif case == "wide":
        X = rng.standard_normal((20, 30))
    elif case == "constant":
        X[:, 1] = 4.0
    with pytest.raises(InputError) as err:
        cca_arrays(X, Y, _params(n_permutations=0))
    assert message in str(err.value) and "\n" not in str(err.value)
    if case in ("collinear", "wide"):
        assert "ridge" in str(err.value)
        cca_arrays(X, Y, _params(n_permutations=0, reg_x=0.2))  # the ridge is the way out


def test_contract():
    from workbench.testing import check_fusion_method

    check_fusion_method(METHOD, params={"n_permutations": 100})


def test_cli_from_tables(tmp_path):
    from workbench.cli.main import main

    inp = example_inputs()
    out = tmp_path / "out"
    rc = main(["fuse", "cca", "--x", str(inp.files["x"][0]), "--y", str(inp.files["y"][0]),
               "--param", "n_permutations=99", "--out", str(out)])
    assert rc == 0
    doc = json.loads((out / "result.json").read_text())
    assert np.allclose(doc["qc"]["canonical_correlations"], SAS, atol=1e-5)
    assert len(doc["qc"]["p_values"]) == 3
    proj = json.loads((out / "project.json").read_text())
    assert "cca" in json.dumps(proj["steps"] if "steps" in proj else proj)
    # different row counts: a one-line error, non-zero exit
    short = tmp_path / "short.tsv"
    short.write_text("\n".join(inp.files["y"][0].read_text().splitlines()[:-1]) + "\n")
    rc = main(["fuse", "cca", "--x", str(inp.files["x"][0]), "--y", str(short), "--out", str(tmp_path / "o2")])
    assert rc != 0
