"""Joint ICA plugin: recovery of known joint sources, stability, determinism, bad input,
the contract and the CLI (``workbench fuse jica --x --y``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("workbench_jica")

from workbench_jica.core import joint_matrix  # noqa: E402
from workbench_jica.declaration import METHOD  # noqa: E402
from workbench_jica.method import example_inputs, jica_arrays, synthetic  # noqa: E402

from workbench.engine.errors import InputError  # noqa: E402


def _params(**kw):
    base = {"n_components": 2, "n_runs": 6}
    base.update(kw)
    return METHOD.validate_params(base)


def _match(est: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|r| of the best-matching estimated row for each true row."""
    return np.array([max(abs(np.corrcoef(e, t)[0, 1]) for e in est) for t in truth])


def test_recovers_joint_sources_and_loadings():
    d = synthetic(seed=1)
    fit = jica_arrays(d["X"], d["Y"], _params())
    assert _match(fit.x, d["erp"]).min() > 0.8  # 0.84, 0.91 measured (the ERP part is the noisier)
    assert _match(fit.y, d["maps"]).min() > 0.9
    # each true loading vector is matched by the loadings of the component matching its map
    for j in range(2):
        k = int(np.argmax([abs(np.corrcoef(fit.y[i], d["maps"][j])[0, 1]) for i in range(2)]))
        assert np.corrcoef(fit.loadings[:, k], d["A"][:, j])[0, 1] > 0.6
    assert np.all(fit.stability > 0.8) and np.all(fit.cluster_size == 6)
    assert fit.loadings.shape == (16, 2) and fit.x.shape == (2, 60) and fit.y.shape == (2, 400)


def test_unstable_on_noise_and_deterministic():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 40)), rng.standard_normal((12, 300))
    noise = jica_arrays(X, Y, _params(n_components=4))
    d = synthetic(seed=2)
    sig = jica_arrays(d["X"], d["Y"], _params())
    assert sig.stability.min() > noise.stability.mean()  # Gaussian noise has no stable ICs
    again = jica_arrays(d["X"], d["Y"], _params())
    assert np.array_equal(again.sources, sig.sources) and np.array_equal(again.loadings, sig.loadings)


def test_subject_standardisation_weighs_modalities_equally():
    rng = np.random.default_rng(4)
    D = joint_matrix(1e-6 * rng.standard_normal((5, 10)), 500 + 30 * rng.standard_normal((5, 1000)),
                     normalize="subject")
    assert np.allclose((D[:, :10] ** 2).sum(1), (D[:, 10:] ** 2).sum(1), rtol=1e-12)


@pytest.mark.parametrize(
    "case, message",
    [
        ("few", "4 subjects but 5 components"),
        ("rows", "X has 6 subjects (rows) and Y 5"),
        ("nan", "missing or non-finite value (subject row 2"),
        ("rank", "rank 1"),
    ],
)
def test_bad_input_one_line(case, message):
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((6, 20)), rng.standard_normal((6, 50))
    k = 2
    if case == "few":
        X, Y, k = X[:4], Y[:4], 5
    elif case == "rows":
        Y = Y[:5]
    elif case == "nan":
        Y[1, 3] = np.nan
    elif case == "rank":
        X = np.tile(X[:1], (6, 1)) * np.arange(1, 7)[:, None]
        Y = np.tile(Y[:1], (6, 1)) * np.arange(1, 7)[:, None]
    with pytest.raises(InputError) as err:
        jica_arrays(X, Y, _params(n_components=k, n_runs=2))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_contract():
    from workbench.testing import check_fusion_method

    check_fusion_method(METHOD, params={"n_components": 2, "n_runs": 3})


def test_cli_from_tables(tmp_path):
    from workbench.cli.main import main

    inp = example_inputs()
    out = tmp_path / "out"
    rc = main(["fuse", "jica", "--x", str(inp.files["x"][0]), "--y", str(inp.files["y"][0]),
               "--param", "n_components=2", "--param", "n_runs=4", "--out", str(out)])
    assert rc == 0
    doc = json.loads((out / "result.json").read_text())
    m = doc["matrices"]
    assert np.asarray(m["components_x"]["values"]).shape == (2, 60)
    assert np.asarray(m["components_y"]["values"]).shape == (2, 400)
    assert np.asarray(m["loadings"]["values"]).shape == (16, 2)
    assert m["loadings"]["rows"][0] == "sub-01"
    assert len(doc["qc"]["stability"]) == 2 and min(doc["qc"]["stability"]) > 0.8
    rc = main(["fuse", "jica", "--x", str(inp.files["x"][0]), "--y", str(inp.files["y"][0]),
               "--param", "n_components=20", "--out", str(tmp_path / "o2")])
    assert rc != 0


def test_mask_of_another_space_is_refused(tmp_path):
    import nibabel as nib
    from workbench_jica.method import run

    from workbench.engine.progress import as_progress

    inp = example_inputs()
    mask = tmp_path / "mask.nii.gz"
    vol = np.zeros((10, 10, 10), np.uint8)
    vol[:5] = 1  # 500 voxels, Y has 400 columns
    nib.save(nib.Nifti1Image(vol, np.eye(4)), mask)
    inp.files["y_mask"] = [mask]
    with pytest.raises(InputError) as err:
        run(inp, _params(), as_progress(None))
    assert "500 voxels but Y has 400 columns" in str(err.value) and "different space" in str(err.value)
    vol[:] = 0
    vol.flat[:400] = 1
    nib.save(nib.Nifti1Image(vol, np.eye(4)), mask)
    res = run(inp, _params(n_runs=2), as_progress(None))
    m = np.asanyarray(res.maps["component1_map"].dataobj)
    assert m.shape == (10, 10, 10) and np.count_nonzero(m) > 300
