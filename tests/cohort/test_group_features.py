"""Group features from a cohort folder (ERP x map per subject) and the phantom's group truth."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.errors import InputError


def _fake_subject(root, label, load, shift_affine=False, with_map=True):
    import mne
    import nibabel as nib

    sf, n = 250.0, 250 * 40
    info = mne.create_info(["O1", "Oz", "Cz"], sf, "eeg")
    rng = np.random.default_rng(int(label))
    data = 1e-6 * rng.standard_normal((3, n))
    onsets = np.arange(2.0, 38.0, 2.0)
    t = np.arange(int(0.5 * sf)) / sf
    shape = np.exp(-0.5 * ((t - 0.2) / 0.03) ** 2)
    for o in onsets:
        i = int(o * sf)
        data[1, i:i + len(t)] += load * 10e-6 * shape
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations(onsets, 0.0, ["Stimulus/S  1"] * len(onsets)))
    d = root / f"sub-{label}"
    (d / "derivatives" / "fusion" / "parametric-modulation").mkdir(parents=True)
    (d / "project.json").write_text("{}")
    raw.save(d / "derivatives" / f"sub-{label}_desc-gradclean_eeg.fif", verbose="error")
    if with_map:
        aff = np.diag([3.0, 3.0, 3.0, 1.0])
        if shift_affine:
            aff[:3, 3] = 1.5  # half a voxel: resampled onto the first subject's grid
        vol = np.zeros((10, 10, 6), np.float32)
        vol[3:6, 3:6, 2:4] = load
        vol += 0.01 * rng.standard_normal(vol.shape).astype(np.float32)
        f = d / "derivatives" / "fusion" / "parametric-modulation"
        nib.save(nib.Nifti1Image(vol, aff), f / "beta_main.nii.gz")
        nib.save(nib.Nifti1Image(np.ones((10, 10, 6), np.uint8), aff), f / "mask.nii.gz")


def test_features_follow_the_loading_and_tables_round_trip(tmp_path):
    from workbench.engine.cohort import group_features, write_group_tables

    loads = [0.6, 1.0, 1.4, 0.8]
    for i, load in enumerate(loads):
        _fake_subject(tmp_path, f"{i + 1:02d}", load, shift_affine=(i == 3))
    f = group_features(tmp_path, l_freq=0.5, h_freq=40.0)
    assert f["channel"] == "Oz" and f["subjects"] == ["01", "02", "03", "04"]
    peak = f["X"][:, np.argmin(abs(f["times"] - 0.2))]
    assert np.corrcoef(peak, loads)[0, 1] > 0.98
    amp = f["Y"].max(axis=1)
    assert np.corrcoef(amp[:3], loads[:3])[0, 1] > 0.99 and f["Y"].shape[0] == 4
    files = write_group_tables(f, tmp_path / "tables")
    from workbench.plugin_api.tables import read_table

    X, cols, rows = read_table(files["x"], "X")
    assert rows == ["sub-01", "sub-02", "sub-03", "sub-04"] and np.allclose(X, f["X"])
    Y, _, _ = read_table(files["y"], "Y")
    assert Y.shape == f["Y"].shape


def test_missing_step_for_a_subject_is_named(tmp_path):
    from workbench.engine.cohort import group_features

    _fake_subject(tmp_path, "01", 1.0)
    _fake_subject(tmp_path, "02", 1.0, with_map=False)
    with pytest.raises(InputError) as err:
        group_features(tmp_path)
    assert "sub-02" in str(err.value) and "missing steps" in str(err.value)


def test_score_components_picks_the_matching_component():
    from workbench.engine.phantom.cohort import score_components

    rng = np.random.default_rng(0)
    truth = {"erp": rng.standard_normal(50), "map": rng.standard_normal(300), "loadings": rng.standard_normal(8)}
    cx = np.vstack([rng.standard_normal(50), -truth["erp"]])
    cy = np.vstack([rng.standard_normal(300), -truth["map"]])
    A = np.column_stack([rng.standard_normal(8), -truth["loadings"]])
    s = score_components(truth, cx, cy, A)
    assert s["component"] == 2 and s["r_map"] == pytest.approx(1) and s["r_erp"] == pytest.approx(1)
    assert s["r_loadings"] == pytest.approx(1)


def test_group_fusion_writes_jica_cca_and_a_page(tmp_path):
    """`workbench batch --group`'s last part: features -> jICA + PCA-CCA -> group/group.html."""
    pytest.importorskip("workbench_jica")
    pytest.importorskip("workbench_cca")
    import json

    from workbench.cli.batch import group_fusion

    loads = [0.6, 1.0, 1.4, 0.8, 1.2]
    for i, load in enumerate(loads):
        _fake_subject(tmp_path, f"{i + 1:02d}", load)
    page = group_fusion(tmp_path, channel="Oz")
    assert page == tmp_path / "group" / "group.html"
    text = page.read_text()
    assert "5 subjects" in text and "data:image/png;base64," in text and "Joint ICA" in text
    j = json.loads((tmp_path / "group" / "jica" / "result.json").read_text())
    c = json.loads((tmp_path / "group" / "cca" / "result.json").read_text())
    assert len(j["matrices"]["loadings"]["rows"]) == 5 and len(c["qc"]["p_values"]) == 1
    # the ERP peak and the map amplitude follow the loading: jICA's first component does too
    lo = np.asarray(j["matrices"]["loadings"]["values"])
    assert max(abs(np.corrcoef(lo[:, k], loads)[0, 1]) for k in range(lo.shape[1])) > 0.9
    # one number per subject and modality: ERP amplitude x mean beta in the group ROI
    roi = json.loads((tmp_path / "group" / "cca_roi" / "result.json").read_text())["qc"]
    assert roi["n_x_features"] == 1 and roi["n_y_features"] == 1 and roi["r1"] > 0.95
    assert roi["p1"] < 0.05  # 5 subjects: the smallest possible two-sided p is 2/120
    assert "ERP amplitude x mean beta in the group ROI" in text and (tmp_path / "group" / "roi_mask.nii.gz").is_file()


def test_summary_features_follow_the_loading_and_the_roi_is_the_active_block(tmp_path):
    from workbench.engine.cohort import group_features, summary_features

    loads = [0.6, 1.0, 1.4, 0.8, 1.2]
    for i, load in enumerate(loads):
        _fake_subject(tmp_path, f"{i + 1:02d}", load)
    f = group_features(tmp_path, l_freq=0.5, h_freq=40.0, channel="Oz")
    s = summary_features(f, roi_fraction=0.03)  # 18 of 600 voxels: the 3 x 3 x 2 block
    assert s["n_roi_voxels"] == 18 and s["roi"][3:6, 3:6, 2:4].all() and s["roi"].sum() == 18
    assert np.corrcoef(s["y_roi"], loads)[0, 1] > 0.99
    assert np.corrcoef(s["x_amp"], loads)[0, 1] > 0.98
    assert np.allclose(s["y_roi"], loads, atol=0.05)  # the mean beta in the block is the loading
    with pytest.raises(InputError):
        summary_features(f, roi_fraction=0.0)
