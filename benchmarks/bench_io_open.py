"""Opening speed and memory of the readers, side by side with the plain MNE / nibabel calls.

Usage::

    .venv/bin/python benchmarks/bench_io_open.py [STUDY_DIR]

STUDY_DIR is a phantom study (``workbench simulate``); without it a 5-minute, 64-channel,
5 kHz study is simulated into a temporary folder first. Prints wall times, the ratio
ours/peer, and the peak RSS growth of ``load_into`` (the EEG must stay lazy).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

TEST_DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def _best(fn, n=3):
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str]) -> int:
    import mne
    import nibabel as nib

    from workbench.engine.io.eeg import read_eeg, read_eeg_header
    from workbench.engine.io.mri import read_bold
    from workbench.engine.io.open import find_study_inputs, load_into
    from workbench.engine.io.summary import summarise
    from workbench.engine.session import Session

    mne.set_log_level("ERROR")
    if argv:
        study = Path(argv[0])
    else:
        from workbench.engine.phantom import PhantomConfig, simulate_study

        study = Path(tempfile.mkdtemp()) / "study"
        print("simulating a 300 s, 64-channel, 5 kHz study ...", flush=True)
        simulate_study(study, PhantomConfig(duration_s=300, sfreq=5000, n_eeg=64, slice_markers=True))
    files = find_study_inputs(study)
    eeg, bold = files["eeg"], files["bold"]
    size = sum(p.stat().st_size for p in eeg.parent.glob(eeg.stem + ".*"))
    print(f"study: {study}\nEEG {eeg.name}: {size / 1e6:.0f} MB; BOLD {bold.name}: {bold.stat().st_size / 1e6:.0f} MB")

    import tracemalloc

    load_into(Session(), study)  # warm-up: imports and the OS file cache
    tracemalloc.start()
    t0 = time.perf_counter()
    s = Session()
    rep = load_into(s, study)
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(f"\nload_into(study): {dt:.2f} s, loaded {sorted(rep.loaded)}, problems {rep.problems}")
    print(f"peak traced allocation during load_into: {peak:.0f} MB "
          f"(EEG on disk {size / 1e6:.0f} MB; preload={s.raw.preload})")

    rows = []
    t_ours = _best(lambda: read_eeg(eeg))
    t_mne = _best(lambda: mne.io.read_raw_brainvision(eeg, preload=False))
    rows.append(("open EEG lazily", t_ours, "mne.io.read_raw_brainvision", t_mne))
    t_ours = _best(lambda: read_eeg_header(eeg))
    t_mne = _best(lambda: mne.read_annotations(eeg.with_suffix(".vmrk")))
    rows.append(("EEG header + markers", t_ours, "mne.read_annotations", t_mne))
    t_ours = _best(lambda: read_bold(bold))
    t_nib = _best(lambda: nib.load(bold).get_fdata(dtype="float32"))
    rows.append(("BOLD + sidecar, data verified", t_ours, "nibabel load + get_fdata", t_nib))
    vmrk = TEST_DATA / "markers/bids_eeg_rest_fmri/derivatives/sub-32/eeg/sub-32_task-rest_eeg.vhdr"
    if vmrk.is_file():
        t_ours = _best(lambda: summarise(vmrk))
        t_mne = _best(lambda: mne.read_annotations(vmrk.with_suffix(".vmrk")))
        rows.append(("info on 10,370 Analyzer markers", t_ours, "mne.read_annotations", t_mne))
    print(f"\n{'task':34s} {'ours':>8s}   {'peer':34s} {'peer':>8s}  ratio")
    for what, a, peer, b in rows:
        print(f"{what:34s} {a * 1e3:7.0f}ms   {peer:34s} {b * 1e3:7.0f}ms  {a / b:5.2f}")

    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
