"""Motion-informed template choice (realignment parameters; issue 17, part 1)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from workbench.engine.errors import InputError
from workbench.engine.gradient import GradientParams, correct_inplace
from workbench.engine.gradient.motion import (
    framewise_displacement,
    motion_segments,
    read_motion_params,
)

from .driftsynth import make_with_motion


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_readers_agree_on_spm_fsl_and_fmriprep(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tra, rot = rng.normal(0, 0.3, (12, 3)), rng.normal(0, 0.005, (12, 3))
    spm = _write(tmp_path / "rp_run.txt", "".join(" ".join(f"{x:.8e}" for x in r) + "\n" for r in np.hstack([tra, rot])))
    fsl = _write(tmp_path / "run_mcf.par", "".join("  ".join(f"{x:.8e}" for x in r) + "\n" for r in np.hstack([rot, tra])))
    head = "global_signal\ttrans_x\ttrans_y\ttrans_z\trot_x\trot_y\trot_z\tframewise_displacement"
    rows = [f"1.0\t{t[0]}\t{t[1]}\t{t[2]}\t{r[0]}\t{r[1]}\t{r[2]}\t{'n/a' if i == 0 else 0.1}"
            for i, (t, r) in enumerate(zip(tra, rot))]
    tsv = _write(tmp_path / "sub-01_desc-confounds_timeseries.tsv", head + "\n" + "\n".join(rows) + "\n")
    out = [read_motion_params(p) for p in (spm, fsl, tsv)]
    assert [m.format for m in out] == ["spm", "fsl", "fmriprep"]
    for m in out:
        np.testing.assert_allclose(m.translations_mm, tra, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(m.rotations_rad, rot, rtol=1e-6, atol=1e-9)


def test_framewise_displacement_is_power_et_al() -> None:
    from workbench.engine.gradient.motion import MotionParams

    tra = np.array([[0, 0, 0], [0.1, -0.2, 0.0], [0.1, -0.2, 0.0]], float)
    rot = np.array([[0, 0, 0], [0.001, 0, -0.002], [0.001, 0, -0.002]], float)
    fd = framewise_displacement(MotionParams(tra, rot, "spm"))
    np.testing.assert_allclose(fd, [0.0, 0.3 + 50 * 0.003, 0.0])
    seg = motion_segments(MotionParams(tra, rot, "spm"), 3, threshold_mm=0.4)
    assert seg.labels.tolist() == [0, 1, 1] and seg.moved.tolist() == [1]


@pytest.mark.parametrize("name, text, words", [
    ("rp_a.txt", "1 2 3 4 5\n", "5 columns"),
    ("rp_b.txt", "1 2 3 0 0 x\n1 2 3 0 0 0\n", "not numeric"),
    ("rp_c.txt", "0 0 0 0 0 0\n0 0 0 10 0 0\n", "degrees"),
    ("rp_d.txt", "0 0 0 0 0 nan\n0 0 0 0 0 0\n", "NaN"),
    ("conf.tsv", "trans_x\ttrans_y\n0\t0\n", "rot_x"),
    ("rp_e.txt", "0 0 0 0 0 0\n", "1 row"),
])
def test_bad_files_are_one_line_naming_the_file(tmp_path: Path, name: str, text: str, words: str) -> None:
    p = _write(tmp_path / name, text)
    with pytest.raises(InputError) as e:
        read_motion_params(p)
    msg = str(e.value)
    assert str(p) in msg and words in msg and "\n" not in msg


def test_missing_file_and_wrong_row_count(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_motion_params(tmp_path / "nope.txt")
    p = _write(tmp_path / "rp_x.txt", "0 0 0 0 0 0\n" * 5)
    with pytest.raises(InputError) as e:
        motion_segments(read_motion_params(p), 7)
    assert str(p) in str(e.value) and "5 rows" in str(e.value) and "7 volumes" in str(e.value)


@pytest.fixture(scope="module")
def moving() -> tuple:
    """A bore with breathing/heating drift and 3 head movements (5 kHz, 16 ch, 90 s)."""
    return make_with_motion(n_ch=16, duration=90.0, sfreq=5000.0, tr=2.0, slices=20, drift=1.0,
                            motion_events=3, motion_size=0.1, seed=5)


def _left_near_jumps(params: object, moving: tuple) -> tuple[float, float]:
    """Artifact left at the slice harmonics below 70 Hz (µV) over the 8 volumes around each
    movement, and over the same length at the start of the scan (no movement near)."""
    art, eeg, sched, cfg, motion, onsets = moving
    data = (art + eeg).astype(np.float64)
    correct_inplace(data, sched, np.arange(data.shape[0]), params, n_jobs=1)
    lp = butter(4, 70.0, "lowpass", fs=cfg.sfreq, output="sos")
    err = sosfiltfilt(lp, data - eeg, axis=1)
    n = int(8 * cfg.tr * cfg.sfreq)
    f = np.fft.rfftfreq(n, 1 / cfg.sfreq)
    f_sl = cfg.excitations_per_volume / cfg.tr
    harm = np.zeros(f.size, bool)
    for k in range(1, int(70 / f_sl) + 1):
        harm |= np.abs(f - k * f_sl) <= 1.5 / cfg.tr

    def left(s0: int) -> float:
        E = np.abs(np.fft.rfft(err[:, s0:s0 + n], axis=1)) ** 2
        return float(np.sqrt(2 * E[:, harm].sum(axis=1).mean()) / n * 1e6)

    near = [left(int((t - 4 * cfg.tr) * cfg.sfreq)) for t in onsets]
    return float(np.sqrt(np.mean(np.square(near)))), left(int(sched.onsets[1]))


def test_phantom_writes_true_motion_with_jumps_where_it_moved(moving: tuple) -> None:
    from workbench.engine.gradient.motion import MotionParams

    art, eeg, sched, cfg, motion, onsets = moving
    assert motion.shape == (sched.n_volumes, 6)
    seg = motion_segments(MotionParams(motion[:, :3], motion[:, 3:], "spm"), sched.n_volumes, 0.5)
    # one cut per movement (movements in the same volume give one), each at the volume
    # whose middle follows the movement
    mid = (sched.onsets + 0.5 * sched.period) / cfg.sfreq
    expect = sorted({int(np.searchsorted(mid, t)) for t in onsets})
    assert seg.moved.tolist() == expect


def test_motion_segments_lower_the_artifact_left_near_movements(moving: tuple) -> None:
    from workbench.engine.gradient.motion import MotionParams

    art, eeg, sched, cfg, motion, onsets = moving
    base = GradientParams().aas(cfg.sfreq)
    seg = motion_segments(MotionParams(motion[:, :3], motion[:, 3:], "spm"), sched.n_volumes, 0.5)
    near0, far0 = _left_near_jumps(base, moving)
    near1, far1 = _left_near_jumps(replace(base, segments=seg.labels), moving)
    # clearly less left near the movements, and no worse away from them
    assert near1 < 0.9 * near0, (near0, near1, far0, far1)  # measured 1.22 -> 1.07 µV
    assert far1 < 1.1 * far0, (far0, far1)


@pytest.fixture(scope="module")
def moving_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small phantom study with two head movements (writes its true motion)."""
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    out = tmp_path_factory.mktemp("motion_phantom") / "study"
    simulate_study(out, PhantomConfig(duration_s=40, n_eeg=32, sfreq=2500, tr=1.5, slices=20, seed=4,
                                      motion_events=2, motion_size=0.1))
    return out


def test_clean_with_the_phantoms_motion_file(moving_study: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    import json

    from workbench.cli.main import main

    vhdr = next(moving_study.glob("sub-01/eeg/*_eeg.vhdr"))
    rp = next(moving_study.rglob("rp_sub-01_*_bold.txt"))
    mp = read_motion_params(rp)
    assert mp.format == "spm" and framewise_displacement(mp).max() > 0.5
    out, qc = tmp_path / "clean_eeg.fif", tmp_path / "qc.json"
    assert main(["clean", str(vhdr), str(out), "--steps", "gradient", "--motion-params", str(rp),
                 "--json", str(qc)]) == 0
    g = json.loads(qc.read_text())["gradient"]
    assert g["motion_segments"] >= 2 and g["motion_volumes_moved"] >= 1
    assert "motion" in g["refinements"] and isinstance(g["motion_kept"], bool)
    # a file of another run (wrong row count): one line naming it, nothing written
    bad = tmp_path / "rp_other.txt"
    bad.write_text("0 0 0 0 0 0\n" * 7)
    out2 = tmp_path / "other_eeg.fif"
    capsys.readouterr()
    assert main(["clean", str(vhdr), str(out2), "--steps", "gradient", "--motion-params", str(bad)]) != 0
    err = capsys.readouterr().err
    assert str(bad) in err and "7 rows" in err
    assert not out2.exists()


def test_phantom_without_movements_writes_no_motion_file(phantom_study: Path) -> None:
    assert not list(phantom_study.rglob("rp_*.txt"))
