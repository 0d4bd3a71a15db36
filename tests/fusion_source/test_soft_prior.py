"""The soft prior switches off an fMRI cluster the EEG does not support (time-resolved), the
top-level ``peaks`` of result.json, and the report figures; on the ball head with a
false-positive blob added to the fMRI map where no source is."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("workbench_fmri_source")

from workbench_fmri_source import prior as P  # noqa: E402
from workbench_fmri_source.declaration import METHOD  # noqa: E402
from workbench_fmri_source.example import ball_study  # noqa: E402
from workbench_fmri_source.method import run  # noqa: E402

FP = np.array([-0.04, 0.03, 0.03])  # the false-positive blob (mri frame, m): no source there


@pytest.fixture(scope="module")
def fp_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ball_fp")
    inp, truth = ball_study(0, folder=folder)
    img = nib.load(truth["fmri"])
    z = np.asarray(img.dataobj, float)
    ijk = np.indices(z.shape).reshape(3, -1).T
    xyz = (ijk @ img.affine[:3, :3].T + img.affine[:3, 3]) * 1e-3
    z += 6.0 * np.exp(-0.5 * (np.linalg.norm(xyz - FP, axis=1) / 0.010) ** 2).reshape(z.shape)
    path = folder / "zmap_fp.nii.gz"
    nib.save(nib.Nifti1Image(z.astype(np.float32), img.affine), path)
    inp.files = {"fmri": [path]}
    res = run(inp, METHOD.validate_params({"spacing": 12.0, "times": "0.1"}), None)
    return res, truth, folder


def _fp_cluster(res):
    rows = res.tables["fmri_clusters"]
    d = [np.linalg.norm(np.array([r["x_m"], r["y_m"], r["z_m"]]) - FP) for r in rows]
    k = int(np.argmin(d))
    assert d[k] < 0.015, rows
    return k, rows[k]


def test_false_positive_cluster_gets_no_energy(fp_run):
    """Inside the fMRI-only cluster: the soft prior puts (almost) none of the response's
    energy, less than MNE-C's fixed weighting and the hard mask, which must put some."""
    res, _, _ = fp_run
    k, row = _fp_cluster(res)
    assert row["energy_share_soft"] < 0.01, row
    assert row["energy_share_weighted"] > 3 * row["energy_share_soft"] and row["energy_share_weighted"] > 0.01, row
    assert row["energy_share_hard"] > 0.05, row
    # time-resolved: switched off in the window of the response (100 ms), while the true
    # cluster carries the prior there
    cw = res.timecourses["fmri_cluster_weights"]
    i = int(np.argmin(np.abs(np.asarray(cw["t"]) - 0.1)))
    series = list(cw["series"].values())
    assert series[k][i] < 0.01
    assert max(s[i] for j, s in enumerate(series) if j != k) > 0.1


def test_reml_pruning_removes_a_focal_component_the_fixed_point_keeps():
    """A one-source component disjoint from the true sources, 12 samples: the fixed point
    alone leaves it a share of the variance; the Bayes-factor pruning removes it and keeps
    the true component (large log Bayes factor)."""
    rng = np.random.default_rng(3)
    n_ch, n_src = 30, 300
    A = rng.standard_normal((n_ch, n_src)) / np.sqrt(n_src)
    true = np.zeros(n_src)
    true[:6] = 1
    fp = np.zeros(n_src)
    fp[200:203] = 1  # one source, three orientations
    kept = []
    for seed in range(6):
        r = np.random.default_rng(seed)
        J = np.zeros((n_src, 12))
        J[:6] = 4.0 * r.standard_normal((6, 12))
        Y = A @ J + r.standard_normal((n_ch, 12))
        Gs = np.array([A @ A.T, (A * true) @ A.T, (A * fp) @ A.T])
        plain = P.soft_fit(Y, Gs, [1.0, 1.0, 1.0])
        pruned = P.soft_fit_pruned(Y, Gs, np.array([1.0, 1.0, 1.0]), [1, 2], 3.0)
        kept.append(plain["h"][2] * 3 / np.sum(plain["h"] * [n_src, 6, 3]))
        assert pruned["h"][2] == 0.0 and not np.isfinite(pruned["log_bf"][2])
        assert pruned["h"][1] > 0 and pruned["log_bf"][1] > 10
    assert max(kept) > 0.01, kept  # without pruning the false component keeps variance


def test_top_level_peaks_and_report_figures(fp_run, tmp_path):
    res, truth, _ = fp_run
    res.save(tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "result.json").read_text())
    assert "surface RAS" in doc["peaks_frame"] and "metres" in doc["peaks_frame"]
    from workbench_fmri_source.method import VARIANTS

    assert set(doc["peaks"]) == set(VARIANTS)
    soft = doc["peaks"]["soft"]["0.100"]
    assert np.linalg.norm(np.array(soft["position_m"]) - truth["dipole_mri_m"]) * 1e3 < 25
    assert soft["in_fmri_map"] and soft["distance_to_fmri_mm"] == 0.0 and soft["amplitude"] > 0
    none = doc["peaks"]["none"]["0.100"]
    pos = res.live["pos_mri"][res.live["fmri_mask"]]
    d = np.min(np.linalg.norm(pos - np.array(none["position_m"]), axis=1)) * 1e3
    assert abs(none["distance_to_fmri_mm"] - d) < 1e-6
    assert doc["peaks"]["dspm"]["0.100"]["amplitude_unit"].startswith("dSPM")
    # the report figures draw (each variant a row of three panels; the table)
    titles = [t for t, _, _ in res.figures]
    assert any("projections" in t for t in titles) and any("slices" in t for t in titles)
    for title, make, caption in res.figures:
        fig = make()
        assert len(fig.axes) >= 1 and caption
        if "projections" in title or "slices" in title:
            assert len(fig.axes) == 3 * 7


def test_soft_is_plain_mne_where_every_cluster_is_off(fp_run):
    """Where every window covering a sample switched every fMRI cluster off, 'soft' is
    exactly 'none' there (windows are joined by overlap-add); where a cluster is kept, not."""
    res, _, _ = fp_run
    live = res.live
    t = np.asarray(live["times"])
    rows = res.tables["hyperparameters"]
    covered_on = np.zeros(len(t), bool)
    for r in rows:
        if not r["plain_mne"]:
            covered_on |= (t >= r["t_start_s"] - 1e-9) & (t <= r["t_stop_s"] + 1e-9)
    off = np.flatnonzero(~covered_on)
    assert off.size and covered_on.any()
    np.testing.assert_allclose(live["amplitudes"]["soft"][:, off], live["amplitudes"]["none"][:, off], rtol=1e-9)
    on = np.flatnonzero(covered_on)
    i = on[len(on) // 2]
    assert not np.allclose(live["amplitudes"]["soft"][:, i], live["amplitudes"]["none"][:, i], rtol=1e-3, atol=0)


def test_windows_joined_by_overlap_add():
    """soft_estimate: with every cluster off, any taper gives plain MNE; with a cluster kept
    in one window only, the taper blends it in smoothly (no jump at the window edge) while
    the nearest-window join switches abruptly."""
    from workbench_fmri_source.soft import soft_estimate

    rng = np.random.default_rng(0)
    n_ch, n_src, n_t = 20, 60, 60
    A = rng.standard_normal((n_ch, 3 * n_src)) / np.sqrt(3 * n_src)
    model = P.WhitenedModel(np.eye(n_ch), A, np.ones(3 * n_src), 1 / 9)
    comps = [(np.arange(n_src), np.ones(n_src)), (np.arange(5), np.ones(5))]
    J = np.zeros((3 * n_src, n_t))
    J[:15, 25:35] = 20.0 * rng.standard_normal((15, 10))  # the cluster's sources, 25-35 only
    data = A @ J + rng.standard_normal((n_ch, n_t))
    t = np.arange(n_t) / 100.0
    none = P.weighted_solution(model, np.ones(3 * n_src), data)
    out = {}
    for taper in (True, False):
        never = soft_estimate(model, data, comps, 1, 12, 1e9, 1.0, t, taper=taper)
        np.testing.assert_allclose(never["currents"], none, rtol=1e-9, atol=1e-12)
        out[taper] = soft_estimate(model, data, comps, 1, 12, 3.0, 1.0, t, taper=taper)
        assert any(not r["plain_mne"] for r in out[taper]["rows"])
    # the share of the cluster in the solution's power, per sample: how abruptly it changes
    for taper, est in out.items():
        j = est["currents"]
        share = np.sum(j[:15] ** 2, 0) / np.sum(j**2, 0)
        out[taper] = float(np.max(np.abs(np.diff(share[15:45]))))
    assert out[True] < out[False], out


def test_specificity_switches_off_a_cluster_next_to_an_unseen_source():
    """A one-source cluster whose field resembles that of a real source outside the map is
    kept by the Bayes-factor test alone (it explains part of that source's field); with the
    specificity test a focal patch at the real source beats it and it is switched off, while
    a cluster on a real source stays on."""
    from workbench_fmri_source.soft import soft_estimate

    rng = np.random.default_rng(1)
    n_ch, n_src, n_t = 24, 40, 80
    A = rng.standard_normal((n_ch, 3 * n_src)) / np.sqrt(3 * n_src)
    A[:, 3 * 30:3 * 31] = 0.8 * A[:, 3 * 10:3 * 11] + 0.35 * rng.standard_normal((n_ch, 3)) / np.sqrt(3 * n_src)
    model = P.WhitenedModel(np.eye(n_ch), A, np.ones(3 * n_src), 1 / 9)
    pos = np.c_[np.arange(n_src) * 0.03, np.zeros(n_src), np.zeros(n_src)]  # 30 mm apart
    J = np.zeros((3 * n_src, n_t))
    J[3 * 5:3 * 6, 10:30] = 25.0 * rng.standard_normal((3, 20))  # source 5: in the map (cluster 1)
    J[3 * 10:3 * 11, 50:70] = 25.0 * rng.standard_normal((3, 20))  # source 10: not in the map
    data = A @ J + rng.standard_normal((n_ch, n_t))
    comps = [(np.arange(n_src), np.ones(n_src)), (np.array([5]), np.ones(1)), (np.array([30]), np.ones(1))]
    singles = [(np.array([i]), np.ones(1)) for i in range(n_src)]
    t = np.arange(n_t) / 100.0

    def kept(est, cluster, lo, hi):
        rows = [r for r in est["rows"] if r["t_stop_s"] >= t[lo] and r["t_start_s"] <= t[hi - 1]]
        return any(r["log_bf_clusters"].strip("[]").split(", ")[cluster - 1] != "off" for r in rows)

    plain = soft_estimate(model, data, comps, 2, 12, 3.0, 1.0, t)
    spec = soft_estimate(model, data, comps, 2, 12, 3.0, 1.0, t, competitors=singles, pos=pos)
    assert kept(plain, 2, 50, 70)  # the look-alike is kept without the test (else this test proves nothing)
    assert not kept(spec, 2, 50, 70)
    assert kept(plain, 1, 10, 30) and kept(spec, 1, 10, 30)


def test_specificity_switches_off_a_cluster_that_only_helped_beside_another():
    """Two unseen sources X and Y, the map has a one-source look-alike of each (L of X, F of
    Y). Both clusters pass the Bayes-factor test together; a patch at X beats L. The first
    version then tested F against a fit that still had L and refitted F alone without
    re-checking it, so F (a false positive) kept the fMRI variance where both were active.
    By backward elimination F must earn its place again without L and is then beaten by a
    patch at Y: both off, plain minimum norm, the peak at X not at F."""
    from workbench_fmri_source.soft import soft_estimate

    rng = np.random.default_rng(0)
    n_ch, n_src, n_t = 24, 40, 40
    A = rng.standard_normal((n_ch, 3 * n_src)) / np.sqrt(3 * n_src)
    X, Y, L, F = 10, 25, 30, 35
    A[:, 3 * L:3 * L + 3] = 0.8 * A[:, 3 * X:3 * X + 3] + 0.35 * rng.standard_normal((n_ch, 3)) / np.sqrt(3 * n_src)
    A[:, 3 * F:3 * F + 3] = 0.8 * A[:, 3 * Y:3 * Y + 3] + 0.35 * rng.standard_normal((n_ch, 3)) / np.sqrt(3 * n_src)
    model = P.WhitenedModel(np.eye(n_ch), A, np.ones(3 * n_src), 1 / 9)
    pos = np.c_[np.arange(n_src) * 0.03, np.zeros(n_src), np.zeros(n_src)]  # 30 mm apart
    J = np.zeros((3 * n_src, n_t))
    J[3 * X:3 * X + 3, 10:30] = 20.0 * rng.standard_normal((3, 20))
    J[3 * Y:3 * Y + 3, 10:30] = 20.0 * rng.standard_normal((3, 20))
    data = A @ J + rng.standard_normal((n_ch, n_t))
    comps = [(np.arange(n_src), np.ones(n_src)), (np.array([L]), np.ones(1)), (np.array([F]), np.ones(1))]
    singles = [(np.array([i]), np.ones(1)) for i in range(n_src)]
    t = np.arange(n_t) / 100.0

    def kept(est, cluster):
        return [r["log_bf_clusters"].strip("[]").split(", ")[cluster - 1] != "off" for r in est["rows"]]

    plain = soft_estimate(model, data, comps, 2, 12, 3.0, 1.0, t)
    spec = soft_estimate(model, data, comps, 2, 12, 3.0, 1.0, t, competitors=singles, pos=pos)
    assert any(a and b for a, b in zip(kept(plain, 1), kept(plain, 2)))  # both pass the Bayes factor together
    assert not any(kept(spec, 1)) and not any(kept(spec, 2)), [r.get("specificity") for r in spec["rows"]]
    assert any("cluster 2: off" in r["specificity"] for r in spec["rows"])
    amp = np.linalg.norm(spec["currents"].reshape(n_src, 3, -1), axis=1)
    assert int(np.argmax(amp[:, 20])) != F
