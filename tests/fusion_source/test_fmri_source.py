"""fmri-source: contract, agreement with MNE's apply_inverse, the soft prior's ReML, bad
inputs and the CLI from files (on the small ball head of the plugin's example)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("workbench_fmri_source")

from workbench_fmri_source import prior as P  # noqa: E402
from workbench_fmri_source.declaration import METHOD  # noqa: E402
from workbench_fmri_source.example import ball_study  # noqa: E402
from workbench_fmri_source.method import run  # noqa: E402

from workbench.engine.errors import InputError  # noqa: E402

FAST = {"spacing": 15.0, "times": "0.1"}


@pytest.fixture(scope="module")
def ball(tmp_path_factory):
    return ball_study(0, folder=tmp_path_factory.mktemp("ball"))


@pytest.fixture(scope="module")
def result(ball):
    return run(ball[0], METHOD.validate_params(FAST), None)


def test_contract():
    from workbench.testing import check_fusion_method

    check_fusion_method(METHOD, params=FAST)


def test_none_is_mne_apply_inverse(result):
    """'none' goes through the prior code (weights 1) and must equal MNE's own MNE solution."""
    import mne

    live = result.live
    stc = mne.minimum_norm.apply_inverse(live["evoked"], live["inverse"], live["lambda2"], "MNE",
                                         pick_ori=None, verbose="error")
    ours = live["amplitudes"]["none"]
    assert ours.shape == stc.data.shape
    np.testing.assert_allclose(ours, stc.data, rtol=1e-9, atol=1e-12 * np.abs(stc.data).max())


def test_noise_normalisation_is_mne_dspm(result):
    """The dSPM normaliser of the prior code (used for weighted/soft/hard_dspm) with weights 1
    must give MNE's own dSPM."""
    import mne

    live = result.live
    ev, inv, lam = live["evoked"], live["inverse"], live["lambda2"]
    prep = mne.minimum_norm.prepare_inverse_operator(inv, ev.nave, lam, "MNE", verbose="error")
    model = P.model_from_inverse(prep, lam)
    data = ev.data[[ev.ch_names.index(c) for c in prep["noise_cov"]["names"]]]
    j, nn = P.weighted_solution(model, np.ones(model.A.shape[1]), data, noise_norm=True)
    n = j.shape[0] // 3
    ours = np.linalg.norm(j.reshape(n, 3, -1), axis=1) / np.sqrt((nn.reshape(n, 3) ** 2).sum(1))[:, None]
    stc = mne.minimum_norm.apply_inverse(ev, inv, lam, "dSPM", pick_ori=None, verbose="error")
    np.testing.assert_allclose(ours, stc.data, rtol=1e-8)


def test_localises_the_ball_dipole(result, ball):
    true = ball[1]["dipole_mri_m"]
    for v in ("none", "sloreta", "weighted", "soft", "hard", "soft_dspm"):
        err = np.linalg.norm(np.array(result.qc["peaks"][v]["0.100"]) - true) * 1e3
        assert err < 25.0, (v, err)
    from workbench_fmri_source.method import VARIANTS

    assert set(result.maps) == {f"{v}_source" for v in VARIANTS} | {"fmri_prior"}
    assert result.maps["soft_source"].shape == ball[0].anat.shape


def test_reml_switches_an_irrelevant_component_off():
    """Data made by sources of component 1 only: component 2 (disjoint sources) -> ~0, the
    evidence never decreases, and component 1 gets the variance."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 60))
    on = np.zeros(60)
    on[:5] = 1
    off = np.zeros(60)
    off[30:35] = 1
    J = np.zeros((60, 400))
    J[:5] = 3.0 * rng.standard_normal((5, 400))
    Y = A @ J + rng.standard_normal((20, 400))
    Gs = [A @ A.T, (A * on) @ A.T, (A * off) @ A.T]
    fit = P.soft_fit(Y, Gs, [1.0, 1.0, 1.0])
    assert np.all(np.diff(fit["trace"]) > -1e-9), "evidence decreased"
    h = fit["h"]
    assert h[2] < 1e-3 * h[1], h
    assert 3.0 < h[1] < 30.0, h


@pytest.mark.parametrize("case", ["affine", "threshold", "trans", "positions", "fs-surfaces"])
def test_bad_input_one_line(ball, tmp_path, case):
    import copy

    import nibabel as nib

    inp = copy.copy(ball[0])
    inp.files = dict(inp.files)
    params = dict(FAST)
    if case == "affine":
        img = nib.load(ball[1]["fmri"])
        aff = img.affine.copy()
        aff[:3, 3] += 60.0
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj), aff), tmp_path / "z.nii.gz")
        inp.files["fmri"] = [tmp_path / "z.nii.gz"]
        word = "affine"
    elif case == "threshold":
        params["threshold"] = 50.0
        word = "threshold"
    elif case == "trans":
        inp.trans = None
        word = "coreg"
    elif case == "positions":
        inp.dig = None
        raw = inp.eeg.copy()
        raw.set_montage(None)
        inp.eeg = raw
        word = "electrode positions"
    else:
        (tmp_path / "S" / "mri").mkdir(parents=True)
        (tmp_path / "S" / "mri" / "T1.mgz").write_bytes(b"")
        params.update(fs_subject="S", subjects_dir=str(tmp_path))
        word = "BEM surfaces"
    with pytest.raises(InputError) as exc:
        run(inp, METHOD.validate_params(params), None)
    msg = str(exc.value)
    assert "\n" not in msg and word in msg, msg


def test_cli_from_files(ball, tmp_path):
    import mne
    import nibabel as nib

    inp, truth = ball
    raw_path = tmp_path / "sub-01_eeg.fif"
    inp.eeg.save(raw_path, verbose="error")
    inp.events.to_csv(tmp_path / "events.tsv", sep="\t", index=False)
    nib.save(inp.anat, tmp_path / "T1.nii.gz")
    mne.write_trans(tmp_path / "sub-01-trans.fif", inp.trans, verbose="error")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "workbench", "fuse", "fmri-source", "--eeg", str(raw_path),
           "--events", str(tmp_path / "events.tsv"), "--mri", str(tmp_path / "T1.nii.gz"),
           "--trans", str(tmp_path / "sub-01-trans.fif"), "--fmri", str(truth["fmri"]),
           "--param", "spacing=15", "--param", "times=0.1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((out / "result.json").read_text())
    peak = np.array(doc["qc"]["peaks"]["soft"]["0.100"])
    assert np.linalg.norm(peak - truth["dipole_mri_m"]) * 1e3 < 25.0
    for v in ("none", "weighted", "soft", "hard"):
        assert (out / f"{v}_source.nii.gz").is_file()
    assert "noise covariance from the baseline" in proc.stderr
    # missing transform: one line, non-zero
    bad = [c for c in cmd if c not in ("--trans", str(tmp_path / "sub-01-trans.fif"))]
    bad[bad.index(str(out))] = str(tmp_path / "out2")
    proc = subprocess.run(bad, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "trans" in proc.stderr.strip().splitlines()[-1]


def test_windows_cover_every_sample():
    for n, w in ((100, 12), (7, 12), (50, 2), (101, 25)):
        wins = P.windows(n, w)
        cover = np.zeros(n, int)
        for s0, s1, a0, a1 in wins:
            assert 0 <= s0 < s1 <= n and s0 <= a0 <= a1 <= s1 + 1
            cover[a0:a1] += 1
        assert np.all(cover == 1), (n, w, cover)
