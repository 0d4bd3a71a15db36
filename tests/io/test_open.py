"""Opening a BIDS study, a project or single files into a Session."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import mne
import nibabel as nib
import numpy as np
import pytest

from workbench.engine.errors import Cancelled
from workbench.engine.io import open as open_mod
from workbench.engine.io.open import load_into
from workbench.engine.progress import CancelToken, Progress
from workbench.engine.session import Session


def _snap(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _signals(session: Session) -> list[str]:
    seen: list[str] = []
    for name in ("project_changed", "raw_changed", "bold_changed", "anat_changed", "dig_changed",
                 "scalp_changed", "trans_changed", "truth_changed"):
        getattr(session, name).connect(lambda *_a, n=name: seen.append(n))
    return seen


def test_open_bids_study(mini_study, mini_meta):
    before = _snap(mini_study)
    session = Session()
    seen = _signals(session)
    fractions = []
    report = load_into(session, mini_study, progress=lambda f, m: fractions.append(f))
    assert _snap(mini_study) == before  # nothing written
    assert not session.raw.preload and session.raw.n_times == mini_meta["n_times"]
    assert session.raw.info["bads"] == ["O1"]
    assert session.bold.shape[3] == mini_meta["n_vol"] and session.bold_meta["RepetitionTime"] == mini_meta["tr"]
    assert session.anat.shape == (16, 16, 16)
    assert len(session.dig.ch_names) == 3 and session.dig.get_positions()["coord_frame"] == "head"
    assert session.scalp["rr"].shape == (2562, 3)
    assert session.trans is None and session.truth is None
    assert {"project_changed", "raw_changed", "bold_changed", "anat_changed", "dig_changed", "scalp_changed"} <= set(seen)
    kinds = sorted((i.kind, Path(i.path).name) for i in report.project.inputs)
    assert kinds == sorted([
        ("eeg", "sub-01_task-rest_eeg.vhdr"), ("bold", "sub-01_task-rest_bold.nii.gz"),
        ("sidecar", "sub-01_task-rest_bold.json"), ("anat", "sub-01_T1w.nii.gz"),
        ("dig", "sub-01_electrodes.tsv"), ("other", "sub-01_scalp.surf"), ("events", "sub-01_task-rest_events.tsv"),
    ])
    assert all(len(i.sha256) == 64 for i in report.project.inputs)
    assert report.problems == [] and fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_project_round_trip(mini_study, tmp_path):
    session = Session()
    report = load_into(session, mini_study)
    trans = mne.transforms.Transform("head", "mri", np.eye(4))
    trans["trans"][:3, 3] = [0.001, 0.002, 0.04]
    (mini_study / "derivatives").mkdir()
    mne.write_trans(mini_study / "derivatives" / "sub-01-trans.fif", trans)
    report.project.set_transform("head_mri", mini_study / "derivatives" / "sub-01-trans.fif")
    report.project.save()
    s2 = Session()
    r2 = load_into(s2, mini_study)  # now a project folder
    assert r2.project.file.is_file() and r2.problems == []
    assert s2.raw.n_times == session.raw.n_times and s2.bold_meta["RepetitionTime"] == 2.0
    assert s2.scalp["rr"].shape == (2562, 3) and len(s2.dig.ch_names) == 3 and s2.anat is not None
    np.testing.assert_allclose(s2.trans["trans"], trans["trans"])
    assert not r2.project.dirty


def test_project_with_missing_input_loads_the_rest(mini_study):
    session = Session()
    report = load_into(session, mini_study)
    report.project.save()
    (mini_study / "sub-01/anat/sub-01_T1w.nii.gz").unlink()
    s2 = Session()
    r2 = load_into(s2, mini_study)
    assert s2.anat is None and s2.raw is not None
    assert len(r2.problems) == 1 and "sub-01_T1w.nii.gz" in r2.problems[0]


def test_study_with_a_broken_input(mini_study):
    bold = mini_study / "sub-01/func/sub-01_task-rest_bold.nii.gz"
    bold.write_bytes(bold.read_bytes()[:500])
    session = Session()
    msgs = []
    session.message.connect(msgs.append)
    report = load_into(session, mini_study)
    assert session.bold is None and session.raw is not None and session.anat is not None
    assert len(report.problems) == 1 and report.problems[0].startswith(str(bold))
    assert "1 problem" in msgs[-1]


@pytest.mark.parametrize(
    "rel,attr",
    [
        ("coreg/montage/captrak_coords.bvct", "dig"),
        ("coreg/MEG/sample/test-ave.fif.gz", "dig"),
        ("coreg/subjects/sample/bem/sample-head.fif", "scalp"),
        ("coreg/subjects/sample/bem/outer_skin.surf", "scalp"),
        ("coreg/subjects/sample/mri/T1.mgz", "anat"),
        ("coreg/montage/bv_dig_test.vhdr", "raw"),
        ("coreg/MEG/sample/sample_audvis_trunc-trans.fif", "trans"),
    ],
)
def test_open_single_files(test_data, tmp_path, rel, attr):
    src = test_data / rel
    for sib in src.parent.glob(src.name.split(".")[0] + ".*"):
        shutil.copy(sib, tmp_path / sib.name)
    session = Session()
    report = load_into(session, tmp_path / src.name)
    assert getattr(session, attr) is not None
    if attr == "trans":  # a transform is recorded as the project's transform, not an input
        assert report.project.transforms == {"head_mri": src.name}  # relative to the project
        assert session.dig is None and session.trans["from"] == 4  # FIFFV_COORD_HEAD
        return
    assert report.project.root == tmp_path and len(report.project.inputs) == 1
    assert not (tmp_path / "project.json").exists()


def test_single_files_accumulate_in_one_project(mini_study):
    session = Session()
    load_into(session, mini_study / "sub-01/eeg/sub-01_task-rest_eeg.vhdr")
    load_into(session, mini_study / "sub-01/func/sub-01_task-rest_bold.nii.gz")
    load_into(session, mini_study / "sub-01/anat/sub-01_T1w.nii.gz")
    kinds = sorted(i.kind for i in session.project.inputs)
    assert kinds == ["anat", "bold", "eeg", "sidecar"]
    assert session.raw is not None and session.bold is not None and session.anat is not None


def test_unregistered_open_does_not_hash(mini_study, monkeypatch):
    """``workbench clean`` drops the project: its input is read but not hashed."""
    from workbench.engine import project as project_mod

    calls = []
    real = project_mod.sha256_file
    monkeypatch.setattr(project_mod, "sha256_file", lambda path, *a, **k: calls.append(path) or real(path, *a, **k))
    eeg = mini_study / "sub-01/eeg/sub-01_task-rest_eeg.vhdr"
    session = Session()
    load_into(session, eeg, register=False)
    assert session.raw is not None and session.project.inputs == [] and calls == []
    load_into(Session(), eeg)  # the default registers (and hashes) it
    assert calls


def test_3d_nifti_is_anat_4d_is_bold(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.float32), np.eye(4)), tmp_path / "a.nii")
    img = nib.Nifti1Image(np.zeros((5, 5, 5, 4), np.float32), np.eye(4))
    img.header.set_xyzt_units("mm", "msec")
    img.header["pixdim"][4] = 1500
    nib.save(img, tmp_path / "b.nii")
    session = Session()
    load_into(session, tmp_path / "a.nii")
    load_into(session, tmp_path / "b.nii")
    assert session.anat.shape == (5, 5, 5) and session.bold.shape == (5, 5, 5, 4)
    assert session.bold_meta["RepetitionTime"] == pytest.approx(1.5)


def test_truth_index_fallback(mini_study, monkeypatch):
    (mini_study / "ground_truth").mkdir()
    (mini_study / "ground_truth" / "index.json").write_text('{"subjects": {"01": {}}}')

    def no_phantom(name):
        raise ImportError(name)

    monkeypatch.setattr(open_mod.importlib, "import_module", no_phantom)
    session = Session()
    report = load_into(session, mini_study)
    assert session.truth == {"subjects": {"01": {}}, "_dir": str(mini_study / "ground_truth")}
    assert report.project.settings["truth_dir"] == str(mini_study / "ground_truth")


def test_cancel(mini_study):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        load_into(Session(), mini_study, progress=Progress(None, token))


def test_phantom_study_frames_agree(tmp_path_factory):
    """On a phantom study, electrodes (head frame) mapped by the true head->MRI transform
    lie on the scalp surface (MRI frame): the readers keep both frames intact."""
    phantom = pytest.importorskip("workbench.engine.phantom")
    out = tmp_path_factory.mktemp("ph") / "study"
    phantom.simulate_study(out, phantom.PhantomConfig(duration_s=8.0, sfreq=500.0, seed=5))
    session = Session()
    report = load_into(session, out)
    assert report.problems == [] and set(report.loaded) >= {"eeg", "bold", "anat", "dig", "scalp", "truth"}
    assert session.trans is None  # the true transform is truth, not an input
    truth = session.truth
    t = np.asarray(truth.head_mri_t if hasattr(truth, "head_mri_t") else truth["head_mri_t"], float)
    rr = np.array([d["r"] for d in session.dig.dig if d["kind"] == mne.io.constants.FIFF.FIFFV_POINT_EXTRA])
    on_mri = rr @ t[:3, :3].T + t[:3, 3]
    scalp = session.scalp["rr"]
    d = np.min(np.linalg.norm(on_mri[:, None] - scalp[None], axis=-1), axis=1)
    d_wrong = np.min(np.linalg.norm(rr[:, None] - scalp[None], axis=-1), axis=1)
    assert np.median(d) < 0.006 and np.median(d_wrong) > 2 * np.median(d)


def test_study_pairs_bold_with_the_eeg_run(mini_study):
    """With two tasks, the BOLD opened is the one recorded with the EEG that was opened."""
    func = mini_study / "sub-01" / "func"
    for f in list(func.iterdir()):
        shutil.copy(f, func / f.name.replace("task-rest", "task-abc"))
    eeg = mini_study / "sub-01" / "eeg"
    for f in list(eeg.glob("*task-rest*")):
        f.rename(f.with_name(f.name.replace("task-rest", "task-xyz")))
    (eeg / "sub-01_task-xyz_eeg.vhdr").write_text(
        (eeg / "sub-01_task-xyz_eeg.vhdr").read_text(encoding="utf-8").replace("task-rest", "task-xyz"),
        encoding="utf-8")
    (eeg / "sub-01_task-xyz_eeg.vmrk").write_text(
        (eeg / "sub-01_task-xyz_eeg.vmrk").read_text(encoding="utf-8").replace("task-rest", "task-xyz"),
        encoding="utf-8")
    for f in list(func.glob("*task-rest*")):
        f.rename(f.with_name(f.name.replace("task-rest", "task-xyz")))
    files = open_mod.find_study_inputs(mini_study)
    assert files["eeg"].name == "sub-01_task-xyz_eeg.vhdr"
    # alphabetically task-abc comes first; the matching task wins
    assert files["bold"].name == "sub-01_task-xyz_bold.nii.gz"
    assert files["events"].name == "sub-01_task-xyz_events.tsv"
    session = Session()
    load_into(session, mini_study)
    assert session.raw is not None and session.bold_meta["_sidecars"][-1].endswith("task-xyz_bold.json")


def test_cancel_during_the_bold_check(mini_study):
    token = CancelToken()
    msgs = []

    def cb(fraction, message):
        msgs.append(message)
        if message.startswith("checking"):
            token.cancel()

    session = Session()
    with pytest.raises(Cancelled):
        load_into(session, mini_study, progress=Progress(cb, token))
    assert any(m.startswith("checking sub-01_task-rest_bold") for m in msgs)
    assert session.anat is None  # stopped before the anatomy
