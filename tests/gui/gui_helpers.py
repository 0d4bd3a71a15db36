"""Helpers shared by the GUI tests (imported as ``gui_helpers``)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

SFREQ = 1000.0
DURATION = 20.0
TR = 2.0
N_EEG = 8
#: the BOLD voxel whose time course carries the "task" signal (tested against)
ACTIVE_VOXEL = (5, 9, 4)


def _bold_truth(n_vol: int) -> np.ndarray:
    return 50.0 * np.sin(np.arange(n_vol) / 2.0)


def write_small_study(root: Path, t1_path: Path) -> Path:
    """A minimal BIDS study: BrainVision EEG with R128 markers, T1, BOLD + sidecar, events.

    Written with pybv and nibabel (the real formats), small enough to open in < 1 s.
    """
    import pybv

    rng = np.random.default_rng(7)
    n = int(SFREQ * DURATION)
    t = np.arange(n) / SFREQ
    names = [f"EEG{i:02d}" for i in range(1, N_EEG + 1)] + ["ECG"]
    data = rng.standard_normal((len(names), n)) * 5e-6
    data[:N_EEG] += 20e-6 * np.sin(2 * np.pi * 10 * t)  # alpha
    data[-1] = 1e-3 * np.sin(np.pi * 1.2 * t) ** 40  # ECG-like spikes
    data[2, 5000:5010] += 400e-6  # a spike: peak downsampling must keep it
    eeg = root / "sub-01" / "eeg"
    eeg.mkdir(parents=True)
    events = [{"onset": int(k * TR * SFREQ), "description": 128, "type": "Response"}
              for k in range(int(DURATION / TR))]
    pybv.write_brainvision(data=data, sfreq=SFREQ, ch_names=names, fname_base="sub-01_task-test_eeg",
                           folder_out=str(eeg), events=events, unit="µV")
    anat = root / "sub-01" / "anat"
    anat.mkdir(parents=True)
    t1 = nib.load(t1_path)
    t1n = nib.Nifti1Image(np.asarray(t1.dataobj, dtype=np.float32), t1.affine)
    nib.save(t1n, anat / "sub-01_T1w.nii.gz")
    func = root / "sub-01" / "func"
    func.mkdir(parents=True)
    n_vol = int(DURATION / TR)
    aff = np.diag([8.0, 8.0, 8.0, 1.0])
    aff[:3, 3] = [-64.0, -64.0, -40.0]
    bold = (100 + rng.standard_normal((16, 16, 10, n_vol))).astype(np.float32)
    bold[ACTIVE_VOXEL] += _bold_truth(n_vol)
    bimg = nib.Nifti1Image(bold, aff)
    bimg.header.set_xyzt_units("mm", "sec")
    bimg.header.set_zooms((8.0, 8.0, 8.0, TR))
    nib.save(bimg, func / "sub-01_task-test_bold.nii.gz")
    (func / "sub-01_task-test_bold.json").write_text(
        json.dumps({"RepetitionTime": TR, "TaskName": "test",
                    "SliceTiming": list(np.linspace(0, TR, 10, endpoint=False))}))
    (func / "sub-01_task-test_events.tsv").write_text(
        "onset\tduration\ttrial_type\n4.0\t1.0\ttask\n12.0\t1.0\ttask\n")
    (root / "dataset_description.json").write_text(
        json.dumps({"Name": "gui test study", "BIDSVersion": "1.8.0"}))
    return root


def wait_task(qtbot, win, task, timeout: int = 60000) -> None:
    """Wait until ``task`` ended and its result was applied."""
    qtbot.waitUntil(lambda: task.done and task not in win.tasks.tasks, timeout=timeout)
    qtbot.wait(20)


def make_raw(n_ch: int = 33, sfreq: float = 5000.0, seconds: float = 30.0):
    """An in-memory Raw with alpha, an ECG channel and R128 annotations every 2 s."""
    import mne

    rng = np.random.default_rng(0)
    n = int(sfreq * seconds)
    t = np.arange(n) / sfreq
    names = [f"EEG{i:02d}" for i in range(n_ch - 1)] + ["ECG"]
    data = rng.standard_normal((n_ch, n)) * 10e-6 + 20e-6 * np.sin(2 * np.pi * 10 * t)
    data[-1] = 1e-3 * np.sin(np.pi * 1.1 * t) ** 20
    info = mne.create_info(names, sfreq, ["eeg"] * (n_ch - 1) + ["ecg"])
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_annotations(mne.Annotations(np.arange(0, seconds, 2.0), 0.0, "Response/R128"))
    return raw


def live_top_level() -> dict[int, object]:
    from PyQt6.QtWidgets import QApplication

    return {id(w): w for w in QApplication.topLevelWidgets()}


def leaked_widgets(before: dict[int, object]) -> list[str]:
    """Top-level widgets left behind since ``before``: still shown, or ours and never deleted
    (used by the autouse leak fixture in ``conftest.py``)."""
    import gc

    from PyQt6 import sip
    from PyQt6.QtCore import QEvent, Qt
    from PyQt6.QtWidgets import QApplication

    for _ in range(3):  # close events, then deferred deletes, then what they released
        QApplication.processEvents()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        gc.collect()
    out = []
    for key, w in live_top_level().items():
        if key in before or sip.isdeleted(w):
            continue
        if w.windowType() in (Qt.WindowType.ToolTip, Qt.WindowType.Popup):
            continue  # a tooltip under the mouse after a click, a menu: Qt's own, transient
        ours = type(w).__module__.startswith("workbench.")
        if w.isVisible() or ours:
            out.append(f"{type(w).__module__}.{type(w).__name__}"
                       f"{' (still shown)' if w.isVisible() else ' (never deleted)'}")
    return out
