"""The study is written in real formats that MNE and nibabel read, equal to its truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.engine.phantom import COMPONENTS, PhantomConfig, load_truth
from workbench.engine.phantom.clock import slice_order


def test_eeg_read_by_mne_equals_sum_of_truth_components(study_config, raw, truth):
    cfg = study_config
    assert raw.info["sfreq"] == cfg.sfreq
    assert raw.n_times == cfg.n_times
    assert raw.ch_names == truth.ch_names
    assert len(raw.ch_names) == cfg.n_eeg + 2
    assert raw.get_channel_types(picks=["VEOGb"]) == ["eog"]
    data = raw.get_data()
    total = truth.recorded()
    # float32 storage: agreement to float32 precision of the largest (gradient) values
    scale = np.abs(total).max()
    assert np.abs(data - total).max() < 1e-6 * scale
    # and the components really are different signals, all present
    assert set(truth.arrays) == {"clean", *COMPONENTS}
    for name, arr in truth.arrays.items():
        assert arr.shape == (len(raw.ch_names), raw.n_times)
        assert arr.dtype == np.float32
        assert float(np.abs(arr).max()) > 0, name


def test_markers_volume_stimulus_and_slice(study_config, raw, truth):
    cfg = study_config
    desc = np.array(raw.annotations.description)
    n_vol = cfg.n_volumes
    assert (desc == "Response/R128").sum() == n_vol - cfg.missing_triggers + cfg.extra_triggers
    n_trials = len(truth.events["onset_mri"])
    assert n_trials >= 5
    stim = raw.annotations[np.isin(desc, ["Stimulus/S  1", "Stimulus/S  2"])]
    assert len(stim) == n_trials
    # stimulus markers sit at the first sample at/after the true onset on the EEG clock
    onset_eeg = truth.alpha * truth.events["onset_mri"] + truth.beta
    assert np.all(stim.onset - onset_eeg >= -1e-9)
    assert np.all(stim.onset - onset_eeg < 1.0 / cfg.sfreq + 1e-9)
    assert (desc == "Scanner/s").sum() == n_vol * cfg.excitations_per_volume
    # the BIDS EEG events.tsv lists the same stimulus samples
    tsv = truth.study_dir / "sub-01" / "eeg" / "sub-01_task-phantom_events.tsv"
    rows = [ln.split("\t") for ln in tsv.read_text().splitlines()[1:]]
    samples = np.array([int(r[4]) for r in rows])
    np.testing.assert_array_equal(samples, np.round(stim.onset * cfg.sfreq).astype(int))


def test_bold_nifti_and_sidecar(study_config, phantom_study, truth):
    import nibabel as nib

    cfg = study_config
    func = phantom_study / "sub-01" / "func"
    img = nib.load(func / "sub-01_task-phantom_bold.nii.gz")
    assert img.shape == (64, 64, cfg.slices, cfg.n_volumes)
    assert img.header.get_zooms()[3] == pytest.approx(cfg.tr)
    side = json.loads((func / "sub-01_task-phantom_bold.json").read_text())
    assert side["RepetitionTime"] == cfg.tr and side["TaskName"] == "phantom"
    assert side["MultibandAccelerationFactor"] == cfg.multiband
    st = np.array(side["SliceTiming"])
    assert st.shape == (cfg.slices,) and st.min() == 0 and st.max() < cfg.tr
    # interleaved: slice 0 first, slice 1 after all even-numbered slices
    group, _ = slice_order(cfg.slices, cfg.multiband)
    np.testing.assert_allclose(st, group * cfg.slice_period_s, atol=1e-6)
    assert len(np.unique(st)) == cfg.slices
    events = (func / "sub-01_task-phantom_events.tsv").read_text().splitlines()
    assert events[0].split("\t") == ["onset", "duration", "trial_type", "amplitude"]
    amp = np.array([float(ln.split("\t")[3]) for ln in events[1:]])
    np.testing.assert_allclose(amp, truth.events["amplitude"], atol=1e-4)
    assert amp.std() > 0.1  # trial-by-trial variability


def test_t1_has_a_scalp_boundary_at_the_true_scalp(phantom_study, truth):
    import mne
    import nibabel as nib

    img = nib.load(phantom_study / "sub-01" / "anat" / "sub-01_T1w.nii.gz")
    data = np.asarray(img.dataobj, dtype=np.float32)
    surf = mne.read_bem_surfaces(phantom_study / "sub-01" / "anat" / "sub-01-head.fif", verbose="error")[0]
    inv = np.linalg.inv(img.affine)

    def ijk(pts_m):
        return np.round(pts_m * 1e3 @ inv[:3, :3].T + inv[:3, 3]).astype(int)

    def sample(pts_m):
        i = ijk(pts_m)
        return data[i[:, 0], i[:, 1], i[:, 2]]

    # the field of view cuts the neck: keep scalp vertices well inside it
    rr, nn = surf["rr"], surf["nn"]
    keep = np.all((ijk(rr) > 3) & (ijk(rr) < np.array(data.shape) - 4), axis=1)
    assert keep.mean() > 0.8
    rr, nn = rr[keep], nn[keep]
    inside = sample(rr - 0.003 * nn)
    outside = sample(rr + 0.004 * nn)
    # bright skin just inside the true scalp, air just outside: contrast > 10x
    assert np.median(inside) > 10 * max(np.median(outside), 1.0)
    # MRI fiducials in the truth lie on the scalp
    fid = np.array(list(truth.meta["fiducials_mri_m"].values()))
    d = np.linalg.norm(fid[:, None] - surf["rr"][None], axis=2).min(1)
    assert d.max() < 0.012


def test_electrodes_and_coordsystem(study_config, phantom_study, truth):
    eeg = phantom_study / "sub-01" / "eeg"
    rows = [ln.split("\t") for ln in (eeg / "sub-01_electrodes.tsv").read_text().splitlines()]
    assert rows[0] == ["name", "x", "y", "z", "type"]
    types = [r[4] for r in rows[1:]]
    assert types.count("EEG") == study_config.n_eeg and types.count("HSP") == study_config.n_head_points
    cs = json.loads((eeg / "sub-01_coordsystem.json").read_text())
    assert cs["EEGCoordinateUnits"] == "m"
    assert set(cs["AnatomicalLandmarkCoordinates"]) == {"NAS", "LPA", "RPA"}


def test_truth_index_files_exist(study_config, phantom_study, truth):
    idx = json.loads((phantom_study / "ground_truth" / "index.json").read_text())
    sub = idx["subjects"]["01"]
    for rel in [*sub["arrays"].values(), sub["rpeaks"], sub["trans"], sub["sources"], sub["neural"],
                *sub["masks"].values()]:
        assert (phantom_study / "ground_truth" / rel).is_file(), rel
    for rel in sub["files"].values():
        assert (phantom_study / rel).is_file(), rel
    assert PhantomConfig.from_dict(idx["config"]) == study_config
    # load_truth also accepts the ground_truth folder itself (as the io loader passes it)
    again = load_truth(phantom_study / "ground_truth")
    assert again.alpha == truth.alpha


def test_load_truth_errors(tmp_path, phantom_study):
    with pytest.raises(InputError, match="not a phantom study"):
        load_truth(tmp_path)
    with pytest.raises(InputError, match="no subject"):
        load_truth(phantom_study, subject="07")


def test_broken_truth_index_is_a_one_line_error(tmp_path):
    gt = tmp_path / "ground_truth"
    gt.mkdir()
    (gt / "index.json").write_text("{ not json")
    with pytest.raises(InputError) as err:
        load_truth(tmp_path)
    assert "index.json" in str(err.value) and "\n" not in str(err.value)
