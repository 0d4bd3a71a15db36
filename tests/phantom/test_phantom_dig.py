"""Digitisation: the head->MRI transform is recoverable from the digitised fiducials."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.engine.phantom import PhantomConfig
from workbench.engine.phantom.head import make_head


def _rigid_fit(src, dst):
    """Closed-form least-squares rigid transform src -> dst (Kabsch/Horn)."""
    cs, cd = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - cs).T @ (dst - cd))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1, 1, d]) @ u.T
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = r, cd - r @ cs
    return t


def _errors(t_est, t_true):
    dr = t_est[:3, :3] @ t_true[:3, :3].T
    angle = np.degrees(np.arccos(np.clip((np.trace(dr) - 1) / 2, -1, 1)))
    # translation error at the head centre (a point ~5 cm above the fiducial plane)
    p = np.array([0, 0, 0.05, 1.0])
    return angle, np.linalg.norm((t_est @ p - t_true @ p)[:3]) * 1e3


def test_transform_from_digitised_fiducials(phantom_study, truth):
    import mne

    cs = json.loads((phantom_study / "sub-01" / "eeg" / "sub-01_coordsystem.json").read_text())
    lm = cs["AnatomicalLandmarkCoordinates"]
    dig = np.array([lm["NAS"], lm["LPA"], lm["RPA"]])
    fid_mri = truth.meta["fiducials_mri_m"]
    mri = np.array([fid_mri["nasion"], fid_mri["lpa"], fid_mri["rpa"]])
    t_est = _rigid_fit(dig, mri)
    trans = mne.read_trans(truth.trans_path)
    assert trans["from"] == mne.io.constants.FIFF.FIFFV_COORD_HEAD
    np.testing.assert_allclose(trans["trans"], truth.head_mri_t)
    angle, dist = _errors(t_est, truth.head_mri_t)
    # 1 mm RMS noise on 3 points ~8 cm apart: ~1° and a few mm at most
    assert angle < 3.0 and dist < 4.0


def test_noise_free_digitisation_gives_the_exact_transform():
    cfg = PhantomConfig(dig_noise_mm=0.0, dig_bias_mm=0.0, seed=3)
    head = make_head(cfg, np.random.default_rng(5))
    dig = np.array([head.dig_fid_head[k] for k in ("nasion", "lpa", "rpa")])
    mri = np.array([head.fid_mri[k] for k in ("nasion", "lpa", "rpa")])
    t_est = _rigid_fit(dig, mri)
    np.testing.assert_allclose(t_est, head.head_mri_t, atol=1e-9)
    # the head frame is MNE's: nasion on +y, LPA/RPA on the x axis
    fh = head.fid_head
    assert abs(fh["nasion"][0]) < 1e-9 and fh["nasion"][1] > 0.05
    assert abs(fh["lpa"][1]) < 1e-9 and fh["lpa"][0] < 0 < fh["rpa"][0]


def _scalp_distance(head, pts_head):
    from workbench.engine.phantom.geometry import apply

    pts = apply(head.head_mri_t, pts_head)
    # distance to the dense scalp: nearest of many surface samples
    from workbench.engine.phantom.geometry import sample_surface

    dense = sample_surface(head.scalp_rr, head.scalp_tris, 200_000, np.random.default_rng(0))
    from scipy.spatial import cKDTree

    return cKDTree(dense).query(pts)[0]


@pytest.mark.parametrize("noise, bias", [(0.0, 0.0), (2.0, 0.0), (0.0, 5.0)])
def test_digitised_points_lie_on_the_scalp_with_configured_error(noise, bias):
    cfg = PhantomConfig(dig_noise_mm=noise, dig_bias_mm=bias, n_head_points=300, seed=1, dig_outliers=0)
    head = make_head(cfg, np.random.default_rng(2))
    d_true = _scalp_distance(head, head.hsp_head) * 1e3
    assert np.median(d_true) < 0.6  # true points are on the scalp (mesh sampling)
    d = _scalp_distance(head, head.dig_hsp_head) * 1e3
    err = np.linalg.norm(head.dig_hsp_head - head.hsp_head, axis=1) * 1e3
    if bias:
        assert abs(np.median(d) - bias) < 1.0  # the whole cloud pushed out by the bias
        np.testing.assert_allclose(err, bias, rtol=1e-6)
    else:
        rms = np.sqrt((err ** 2).mean())
        assert rms == pytest.approx(noise, rel=0.15, abs=1e-9)


def test_realistic_digitisation_by_default():
    """Cap electrodes 3-5 mm above the skin, head shape above the ear/nasion plane, outliers."""
    from workbench.engine.coreg.geometry import MeshDistance
    from workbench.engine.phantom.geometry import apply
    from workbench.engine.phantom.head import IDEALISED_DIG

    cfg = PhantomConfig(dig_noise_mm=0.0, n_head_points=200, seed=1, dig_axis_scale=1.015)
    head = make_head(cfg, np.random.default_rng(2))
    skin = MeshDistance(head.scalp_rr, head.scalp_tris)
    lift = skin.signed_distance(apply(head.head_mri_t, head.dig_elec_head / head.dig_scale))[0] * 1e3
    assert np.all((lift > 2.8) & (lift < 5.2)), lift
    np.testing.assert_allclose(lift, head.elec_lift * 1e3, atol=0.3)
    assert np.all(head.hsp_head[:, 2] > -6e-3)  # upper head only (triangles above z = 0): no face
    d = skin.signed_distance(apply(head.head_mri_t, head.dig_hsp_head / head.dig_scale))[0] * 1e3
    assert len(head.hsp_outliers) == cfg.dig_outliers == 4
    np.testing.assert_allclose(d[head.hsp_outliers], 15.0, atol=0.5)
    assert np.sum(np.abs(d) > 1.0) == 4
    assert sorted(head.dig_scale.tolist()) == [1.0, 1.0, 1.015]
    ideal = make_head(PhantomConfig(**IDEALISED_DIG), np.random.default_rng(2))
    assert not np.any(ideal.elec_lift) and len(ideal.hsp_outliers) == 0
    assert np.any(ideal.hsp_head[:, 2] < -0.01)  # the nose/face are traced
    assert PhantomConfig.from_dict(cfg.to_dict()) == cfg
