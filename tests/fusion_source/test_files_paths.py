"""fmri-source from the files a lab has: a FreeSurfer subject (BEM), an evoked ``-ave.fif``
and a noise covariance ``-cov.fif``, through ``workbench fuse``; and a one-line message for
each bad one.

The subject is a tiny FreeSurfer-like folder made here from the plugin's ball head:
``mri/T1.mgz`` and ``bem/{inner_skull,outer_skull,outer_skin}.surf`` (nibabel's
``write_geometry``), concentric spheres at the ball's tissue boundaries (75/80/90 mm), so
the BEM, the sphere model and the simulated truth agree.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("workbench_fmri_source")

from workbench_fmri_source.declaration import METHOD  # noqa: E402
from workbench_fmri_source.example import ball_study  # noqa: E402
from workbench_fmri_source.method import run  # noqa: E402

from workbench.engine.errors import InputError  # noqa: E402

FAST = {"spacing": 15.0, "times": "0.1"}


def _sphere(radius_mm: float, n: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A closed triangulated sphere (outward-facing triangles), mm (``surface_subject.py``)."""
    spec = importlib.util.spec_from_file_location("surface_subject", Path(__file__).with_name("surface_subject.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.sphere_mesh(radius_mm, n)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The ball study as a lab's files: FreeSurfer subject, -ave.fif, -cov.fif, -trans.fif."""
    import mne
    import nibabel as nib

    root = tmp_path_factory.mktemp("lab")
    inp, truth = ball_study(0, folder=root)
    subj = root / "subjects" / "ball"
    (subj / "mri").mkdir(parents=True)
    (subj / "bem").mkdir()
    t1 = inp.anat
    nib.save(nib.MGHImage(np.asarray(t1.dataobj, np.float32), t1.affine), subj / "mri" / "T1.mgz")
    for name, r in (("inner_skull", 75.0), ("outer_skull", 80.0), ("outer_skin", 90.0)):
        rr, tris = _sphere(r)
        nib.freesurfer.write_geometry(str(subj / "bem" / f"{name}.surf"), rr, tris)
    raw = inp.eeg.copy().filter(1.0, 30.0, verbose="error")
    events = np.c_[np.round(inp.events["onset"].to_numpy() * raw.info["sfreq"]).astype(int),
                   np.zeros(len(inp.events), int), np.ones(len(inp.events), int)]
    epochs = mne.Epochs(raw, events, {"stim": 1}, -0.2, 0.5, baseline=(None, 0), preload=True, verbose="error")
    evoked = epochs.average()
    evoked.comment = "stim"
    ave = root / "ball-ave.fif"
    evoked.save(ave, verbose="error")
    cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk", verbose="error")
    cov_path = root / "ball-cov.fif"
    cov.save(cov_path, verbose="error")
    trans = root / "ball-trans.fif"
    mne.write_trans(trans, inp.trans, verbose="error")
    return {"root": root, "inputs": inp, "truth": truth, "ave": ave, "cov": cov_path, "cov_obj": cov,
            "trans": trans, "subjects_dir": root / "subjects", "evoked": evoked}


def _inputs(lab, t1=False, **files):
    """What `workbench fuse` hands the method for these files (an -ave.fif is read by it)."""
    from workbench.plugin_api import FusionInputs

    inp = lab["inputs"]
    fl = {"fmri": [lab["truth"]["fmri"]], **{k: [v] for k, v in files.items()}}
    return FusionInputs(eeg=None, anat=inp.anat if t1 else None, trans=inp.trans, dig=None, files=fl)


def test_bem_of_a_freesurfer_subject(lab):
    """--param fs_subject/subjects_dir: a 3-layer BEM from bem/*.surf, the grid inside the
    inner skull, T1.mgz as the anatomy; the dipole found as with the sphere model."""
    params = METHOD.validate_params({**FAST, "fs_subject": "ball", "subjects_dir": str(lab["subjects_dir"])})
    res = run(_inputs(lab, eeg=lab["ave"], noise_cov=lab["cov"]), params, None)
    assert res.qc["head_model"] == "bem"
    assert any("3-layer BEM of FreeSurfer subject ball" in m for m in res.messages), res.messages
    assert any("noise covariance from ball-cov.fif" in m for m in res.messages), res.messages
    assert any("evoked response 'stim'" in m for m in res.messages), res.messages
    pos = res.live["pos_mri"]
    assert np.linalg.norm(pos, axis=1).max() < 0.075  # inside the inner skull
    # the BEM's lead field agrees with the sphere model's for the same sources (same
    # conductivities and radii): same frames, same electrodes
    import mne

    fwd = res.live["forward"]
    sph = mne.make_sphere_model((0.0, 0.0, 0.0), 0.09, relative_radii=(75 / 90, 80 / 90, 1.0),
                                sigmas=(0.3, 0.006, 0.3), verbose="error")
    fs = mne.make_forward_solution(res.live["evoked"].info, fwd["mri_head_t"], fwd["src"], sph, eeg=True,
                                   meg=False, verbose="error")
    a, b = fwd["sol"]["data"], fs["sol"]["data"]
    a = a - a.mean(0)
    b = b - b.mean(0)
    r = np.sum(a * b, 0) / np.sqrt(np.sum(a * a, 0) * np.sum(b * b, 0))
    assert np.mean(np.isfinite(r)) > 0.95 and np.nanmedian(r) > 0.95, np.nanpercentile(r, [5, 50])
    true = lab["truth"]["dipole_mri_m"]
    errs = {v: float(np.linalg.norm(np.array(res.qc["peaks"][v]["0.100"]) - true) * 1e3) for v in res.qc["peaks"]}
    for v in ("sloreta", "weighted", "soft", "soft_dspm"):  # MNE/dSPM: 33-35 mm on this 15 mm grid
        assert errs[v] < 25.0, errs


def test_cli_with_subject_evoked_and_covariance(lab, tmp_path):
    """The lab's command line: --eeg X-ave.fif --noise-cov X-cov.fif --trans X-trans.fif
    --param fs_subject=S --param subjects_dir=D (no --mri: the subject's T1.mgz)."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "workbench", "fuse", "fmri-source", "--eeg", str(lab["ave"]),
           "--noise-cov", str(lab["cov"]), "--trans", str(lab["trans"]), "--fmri", str(lab["truth"]["fmri"]),
           "--param", "fs_subject=ball", "--param", f"subjects_dir={lab['subjects_dir']}",
           "--param", "spacing=15", "--param", "times=0.1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((out / "result.json").read_text())
    assert doc["peaks_frame"].startswith("mri")
    pk = doc["peaks"]["soft"]["0.100"]
    assert np.linalg.norm(np.array(pk["position_m"]) - lab["truth"]["dipole_mri_m"]) * 1e3 < 25.0
    assert pk["amplitude_unit"] == "A·m" and pk["distance_to_fmri_mm"] >= 0
    assert doc["qc"]["head_model"] == "bem" and doc["qc"]["noise_cov"] == "file"
    assert (out / "soft_source.nii.gz").is_file()


@pytest.mark.parametrize("case", ["ave-unreadable", "ave-condition", "cov-unreadable", "cov-channels",
                                  "fs-no-t1", "fs-no-dir", "fs-bad-surface", "fs-not-nested"])
def test_bad_lab_files_one_line(lab, tmp_path, case):
    import shutil

    import mne
    import nibabel as nib

    files = {"eeg": lab["ave"]}
    params = dict(FAST)
    if case == "ave-unreadable":
        bad = tmp_path / "bad-ave.fif"
        bad.write_bytes(b"not a fif file")
        files["eeg"] = bad
        word = "not a readable evoked file"
    elif case == "ave-condition":
        params["condition"] = "faces"
        word = "no evoked response 'faces'"
    elif case == "cov-unreadable":
        bad = tmp_path / "bad-cov.fif"
        bad.write_bytes(b"\x00" * 64)
        files["noise_cov"] = bad
        word = "not a readable noise covariance"
    elif case == "cov-channels":
        cov = lab["cov_obj"].copy()
        keep = cov.ch_names[:10]
        cov = mne.pick_channels_cov(cov, keep, ordered=True, verbose="error")
        path = tmp_path / "part-cov.fif"
        cov.save(path, verbose="error")
        files["noise_cov"] = path
        word = "lacks channels"
    else:
        sd = tmp_path / "subjects"
        shutil.copytree(lab["subjects_dir"], sd)
        params.update(fs_subject="ball", subjects_dir=str(sd))
        if case == "fs-no-t1":
            (sd / "ball" / "mri" / "T1.mgz").unlink()
            word = "no mri/T1.mgz"
        elif case == "fs-no-dir":
            params["subjects_dir"] = str(tmp_path / "nowhere")
            word = "subjects_dir not found"
        elif case == "fs-bad-surface":
            (sd / "ball" / "bem" / "outer_skull.surf").write_bytes(b"garbage")
            word = "not a readable FreeSurfer surface"
        else:  # the skull inside the brain: MNE refuses, we say which folder and what to do
            rr, tris = _sphere(70.0)
            nib.freesurfer.write_geometry(str(sd / "ball" / "bem" / "outer_skull.surf"), rr, tris)
            word = "cannot make a BEM model"
    with pytest.raises(InputError) as exc:
        run(_inputs(lab, t1="fs_subject" not in params, **files), METHOD.validate_params(params), None)
    msg = str(exc.value)
    assert "\n" not in msg and word in msg, msg


def _rigid(deg_z: float, deg_x: float, shift_m: tuple[float, float, float]) -> np.ndarray:
    """A rotation about z then x and a translation (4x4, metres)."""
    cz, sz = np.cos(np.radians(deg_z)), np.sin(np.radians(deg_z))
    cx, sx = np.cos(np.radians(deg_x)), np.sin(np.radians(deg_x))
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    m = np.eye(4)
    m[:3, :3] = rx @ rz
    m[:3, 3] = shift_m
    return m


def _median_rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Median over lead-field columns of ||a - b|| / ||b|| (average reference)."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    return float(np.nanmedian(np.linalg.norm(a - b, axis=0) / np.linalg.norm(b, axis=0)))


def test_bem_with_a_rotated_and_shifted_head_frame(lab, tmp_path):
    """A head frame that is not the MRI frame (the usual case): the electrodes and head
    shape of the lab's -ave.fif moved by a rotation (25 deg about z, -12 deg about x) and a
    shift (14, -21, 27) mm, and a -trans.fif that takes them back. The physical setup is
    the same, so the BEM lead field must be the one of the unmoved files and the dipole
    found as before; with the transform skipped (identity) or applied the wrong way round
    (inverted), the lead field differs - so this test catches a frame mix-up in the BEM
    path."""
    import mne
    from workbench_fmri_source.forward import build_forward, freesurfer_paths

    from workbench.plugin_api import FusionInputs

    move = _rigid(25.0, -12.0, (0.014, -0.021, 0.027))  # old head (= mri) -> new head
    ev = lab["evoked"].copy()
    with ev.info._unlock():
        for ch in ev.info["chs"]:
            ch["loc"][:3] = mne.transforms.apply_trans(move, ch["loc"][:3])
            if np.any(ch["loc"][3:6]):
                ch["loc"][3:6] = mne.transforms.apply_trans(move, ch["loc"][3:6])
        for d in ev.info["dig"] or []:
            d["r"] = mne.transforms.apply_trans(move, d["r"])
    ave = tmp_path / "moved-ave.fif"
    ev.save(ave, verbose="error")
    head_mri = np.asarray(lab["inputs"].trans["trans"]) @ np.linalg.inv(move)
    trans = mne.transforms.Transform("head", "mri", head_mri)
    assert np.abs(head_mri - np.eye(4)).max() > 0.1  # really not the identity

    params = METHOD.validate_params({**FAST, "fs_subject": "ball", "subjects_dir": str(lab["subjects_dir"])})
    inp = FusionInputs(eeg=None, anat=None, trans=trans, dig=None,
                       files={"fmri": [lab["truth"]["fmri"]], "eeg": [ave], "noise_cov": [lab["cov"]]})
    res = run(inp, params, None)
    assert res.qc["head_model"] == "bem"
    true = lab["truth"]["dipole_mri_m"]
    errs = {v: float(np.linalg.norm(np.array(res.qc["peaks"][v]["0.100"]) - true) * 1e3) for v in res.qc["peaks"]}
    for v in ("sloreta", "weighted", "soft", "soft_dspm"):
        assert errs[v] < 25.0, errs

    # the lead field is the unmoved one (same sources in the mri frame, same physical electrodes)
    fs = freesurfer_paths("ball", str(lab["subjects_dir"]))
    import nibabel as nib

    t1 = nib.load(fs["t1"])
    ref = build_forward(lab["evoked"].info, lab["inputs"].trans, t1, 15.0, fs=fs, fs_subject="ball")
    fwd = res.live["forward"]
    np.testing.assert_allclose(res.live["pos_mri"], ref.pos_mri, atol=1e-9)
    picks = [fwd["sol"]["row_names"].index(c) for c in ref.fwd["sol"]["row_names"]]
    rot = move[:3, :3]

    def unrotated(g: np.ndarray) -> np.ndarray:
        """Free-orientation columns are x/y/z of the head frame: back to the unmoved head's."""
        return (g.reshape(g.shape[0], -1, 3) @ rot).reshape(g.shape)

    good = _median_rel_error(unrotated(fwd["sol"]["data"][picks]), ref.fwd["sol"]["data"])
    assert good < 0.02, good
    # sensitivity: skipped or inverted, the same files give another lead field
    for wrong in (np.eye(4), np.linalg.inv(head_mri)):
        bad = build_forward(ev.info, mne.transforms.Transform("head", "mri", wrong), t1, 15.0, fs=fs,
                            fs_subject="ball")
        err = _median_rel_error(unrotated(bad.fwd["sol"]["data"]), ref.fwd["sol"]["data"])
        assert err > 10 * max(good, 0.01), (good, err)
