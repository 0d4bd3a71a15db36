"""FACETpy (PyPI ``facetpy`` 2.0.2, import ``facet``) side by side with our gradient step.

Not run by pytest. FACETpy lives in its own venv (default /tmp/facetvenv/bin/python,
override with --facet-python); it runs in a subprocess on the phantom's BrainVision
file and saves its corrected EEG as .npy. Ours runs in this process
(remove_gradient with GradientParams(lowpass=70), as in bench_gradient's ours+lp70).
Both are scored with bench_gradient._scores (middle 120 s of the scan, truth =
recording minus gradient and mains; NRMSE / r after the same 70 Hz low-pass,
harmonic residual <= 63 Hz).

FACETpy pipeline = its create_standard_pipeline without ANC and without the 1 Hz
high-pass (the truth keeps slow signal): Loader(offset -5 ms) -> TriggerDetector on
the per-slice markers ``Scanner/s`` -> CutAcquisitionWindow -> UpSample(10) ->
SliceAligner -> SubsampleAligner -> AAS(window 30, r 0.975) -> PCA/OBS(0.95, hp 1 Hz)
-> DownSample(10) -> PasteAcquisitionWindow -> LowPass(70 Hz).

Usage::

    python benchmarks/bench_gradient_facet.py            # 32 ch x 5 kHz x 120 s, TR 2 s, 35 slices
    python benchmarks/bench_gradient_facet.py --study DIR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from bench_gradient import _load, _scores  # noqa: E402

DRIVER = r"""
import json, sys, time
import numpy as np
import mne
mne.set_log_level("ERROR")
from facet import (Pipeline, Loader, TriggerDetector, CutAcquisitionWindow, UpSample,
                   SliceAligner, SubsampleAligner, AASCorrection, DownSample,
                   PasteAcquisitionWindow, LowPassFilter)
from facet.correction import PCACorrection
vhdr, out_npy, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
up = 10
procs = [
    Loader(path=vhdr, preload=True, artifact_to_trigger_offset=-0.005),
    TriggerDetector(regex=r"Scanner/s"),
    CutAcquisitionWindow(),
    UpSample(factor=up),
    SliceAligner(ref_trigger_index=0),
    SubsampleAligner(ref_trigger_index=0),
    AASCorrection(window_size=30, correlation_threshold=0.975),
    PCACorrection(n_components=0.95, hp_freq=1.0),
    DownSample(factor=up),
    PasteAcquisitionWindow(),
    LowPassFilter(freq=70.0),
]
t0 = time.perf_counter()
res = Pipeline(procs, name="facet standard (no ANC, no HP)").run(show_progress=False)
dt = time.perf_counter() - t0
raw = res.get_raw()
np.save(out_npy, raw.get_data(picks=names))
print(json.dumps({"seconds": float(dt), "n_times": int(raw.n_times), "sfreq": float(raw.info["sfreq"])}))
"""


def make_study(root: Path, drift: float = 0.0) -> Path:
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    st = root / ("sb32" if not drift else f"sb32_drift{drift:g}")
    if not st.exists():
        simulate_study(
            st,
            PhantomConfig(
                duration_s=120, n_eeg=32, sfreq=5000, tr=2.0, slices=35, seed=7, slice_markers=True,
                gradient_drift=drift, motion_events=2 if drift else 0,
            ),
        )
    return st


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--study", type=Path, default=None)
    ap.add_argument("--facet-python", default="/tmp/facetvenv/bin/python")
    ap.add_argument("--drift", type=float, default=0.0, help="phantom gradient_drift (0: none, 1: typical bore)")
    args = ap.parse_args()
    import mne

    mne.set_log_level("ERROR")
    tmp = Path(tempfile.mkdtemp(prefix="bench_facet_"))
    study = args.study or make_study(tmp, args.drift)

    from workbench.engine.gradient import GradientParams, remove_gradient
    from workbench.engine.sync import synchronise

    raw, meta = _load(study)
    sf = raw.info["sfreq"]
    names = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True)]
    sync = synchronise(raw, sidecar=meta)
    on = sync.volume_onsets() * sf
    span = (int(np.ceil(on[0])), int(np.ceil(on[-1] + sync.period_eeg * sf)))
    if span[1] - span[0] > 120 * sf:
        mid = (span[0] + span[1]) // 2
        span = (mid - int(60 * sf), mid + int(60 * sf))
    fsl = sync.acquisition.slice_frequency
    rows = []

    # FACETpy, own venv, own process
    drv = tmp / "facet_driver.py"
    drv.write_text(DRIVER)
    out_npy = tmp / "facet_out.npy"
    vhdr = next(study.glob("sub-01/eeg/*_eeg.vhdr"))
    t0 = time.perf_counter()
    p = subprocess.run(
        [args.facet_python, str(drv), str(vhdr), str(out_npy), json.dumps(names)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["failed"])[-1]
        rows.append({"method": "FACETpy 2.0.2", "error": err})
    else:
        info = json.loads(p.stdout.strip().splitlines()[-1])
        fo = np.load(out_npy)
        if fo.shape[1] != raw.n_times:
            rows.append({"method": "FACETpy 2.0.2", "error": f"output has {fo.shape[1]} samples, input {raw.n_times}"})
        else:
            sc = _scores(study, fo[:, span[0] : span[1]], names, sf, fsl, span)
            rows.append({"method": "FACETpy 2.0.2", "seconds": info["seconds"], "wall": wall, **sc})
        del fo

    # ours (default settings, 70 Hz low-pass; tracked and fixed neighbours), best of two
    for label, extra in (("ours (defaults, lowpass 70)", {}), ("ours, tracked neighbours", {"track": True})):
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            res = remove_gradient(raw, params=GradientParams(lowpass=70.0, **extra), sync=sync, sidecar=meta)
            best = min(best, time.perf_counter() - t0)
        out = res.raw.get_data(picks=names, start=span[0], stop=span[1])
        sc = _scores(study, out, names, sf, fsl, span)
        rows.append({"method": label, "seconds": best, "wall": best, **sc})

    ours_t = rows[-2]["seconds"]
    print(f"{study.name}: {len(names)} EEG ch x {sf:g} Hz x {raw.n_times / sf:g} s, TR 2 s, 35 slices")
    print("| method | time (s) | vs ours | NRMSE 1-40 Hz (both band-passed) | NRMSE LP70 | r LP70 |"
          " harmonics ≤63 Hz µV, LP70 (artifact left) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['method']} | failed: {r['error']} | | | | | |")
            continue
        print(
            f"| {r['method']} | {r['seconds']:.2f} | {r['seconds'] / ours_t:.1f}x | {r['nrmse_1_40']:.3f} |"
            f" {r['nrmse_lp']:.3f} | {r['r_lp']:.4f} | {r['harm63_lp_uv']:.3f} ({r['harm63_lp_err_uv']:.3f}) |"
        )
    b = rows[-1]
    print(f"(before correction: harmonics ≤63 Hz after LP70 {b['harm63_before_uv']:.2f} µV)")
    if "wall" in rows[0] and "error" not in rows[0]:
        print(f"(FACETpy subprocess wall incl. interpreter start and .npy save: {rows[0]['wall']:.1f} s)")


if __name__ == "__main__":
    main()
