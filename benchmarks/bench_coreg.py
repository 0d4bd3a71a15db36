"""Coregistration: this workbench vs MNE's ``Coregistration``, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_coreg.py`` (not part of pytest).

1. MNE's sample subject (real Polhemus digitisation, 2,562-vertex scalp): MNE's tutorial
   flow (fiducials -> ICP(6, nasion 2) -> omit > 5 mm -> ICP(20, nasion 10)) against ours
   (fiducials -> robust point-to-plane ICP -> omit > 5 mm -> ICP). Accuracy is the mean
   distance of the same 140 points to the true scalp surface (and MNE's own metric, the
   distance to the nearest vertex).
2. Phantom heads on a dense scalp (the sample T1's scalp, ~25k vertices): 300 head-shape
   points + 64 electrodes, random rotations <= 15 deg, shifts <= 20 mm, 1 mm noise,
   4 outliers at 15 mm. Rotation/translation/TRE errors against the known transform.
3. The time of one ICP iteration (the live-animation budget is 20 ms).

Fit times exclude reading files and building search trees (done once per subject in
both tools); they are the median over repeats.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import mne
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workbench.engine.coreg.dig import dig_from_info  # noqa: E402
from workbench.engine.coreg.fiducials import read_mri_fiducials  # noqa: E402
from workbench.engine.coreg.fit import apply  # noqa: E402
from workbench.engine.coreg.geometry import MeshDistance  # noqa: E402
from workbench.engine.coreg.model import Coreg, full_fit  # noqa: E402
from workbench.engine.coreg.surface import read_scalp, scalp_from_t1  # noqa: E402
from workbench.engine.coreg.synthetic import dig_to_info, make_case, write_mne_subject  # noqa: E402

DATA = REPO / "tests" / "data" / "coreg"
mne.set_log_level("ERROR")


def _median_time(fn, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def mne_flow(c: mne.coreg.Coregistration) -> mne.coreg.Coregistration:
    c.reset()
    c.fit_fiducials()
    c.fit_icp(n_iterations=6, nasion_weight=2.0)
    c.omit_head_shape_points(distance=5.0 / 1000)
    c.fit_icp(n_iterations=20, nasion_weight=10.0)
    return c


def sample_subject() -> None:
    sd = DATA / "subjects"
    info = mne.io.read_info(DATA / "MEG" / "sample" / "test-ave.fif.gz")
    c = mne.coreg.Coregistration(info, "sample", sd, fiducials="auto")
    dig = dig_from_info(info)
    scalp = read_scalp(sd / "sample" / "bem" / "outer_skin.surf")
    fid = read_mri_fiducials(sd / "sample" / "bem" / "sample-fiducials.fif")
    proto = Coreg(dig, scalp, fid)

    def ours() -> Coreg:
        co = proto.clone()
        co.restore()
        co.head_mri = np.eye(4)
        return full_fit(co)

    t_mne = _median_time(lambda: mne_flow(c))
    t_ours = _median_time(ours)
    mne_flow(c)
    co = ours()
    mask = c._extra_points_filter
    pts = np.concatenate([dig.hsp[mask], dig.fid, dig.eeg, dig.hpi])
    mesh = MeshDistance(scalp["rr"], scalp["tris"])
    from scipy.spatial import cKDTree

    tree = cKDTree(scalp["rr"])
    d = {}
    for name, m in (("MNE", c.trans["trans"]), ("ours", co.head_mri)):
        moved = apply(m, pts)
        d[name] = (mesh.query(moved)[0].mean() * 1e3, tree.query(moved)[0].mean() * 1e3)
    print(f"\n1) sample subject, {len(pts)} points (the 140 MNE keeps after omitting > 5 mm)")
    print(f"   {'':8s}{'fit time':>10s}{'mean to surface':>18s}{'mean to nearest vertex':>25s}")
    print(f"   {'MNE':8s}{t_mne * 1e3:8.1f}ms{d['MNE'][0]:16.2f}mm{d['MNE'][1]:23.2f}mm")
    print(f"   {'ours':8s}{t_ours * 1e3:8.1f}ms{d['ours'][0]:16.2f}mm{d['ours'][1]:23.2f}mm")
    print(f"   ratio ours/MNE: time {t_ours / t_mne:.2f}, surface distance {d['ours'][0] / d['MNE'][0]:.3f}, "
          f"nearest-vertex distance {d['ours'][1] / d['MNE'][1]:.3f}; ICP iterations ours {co.qc()['icp_iterations']}")


def phantom(n_cases: int = 10) -> None:
    dense, _ = scalp_from_t1(DATA / "subjects" / "sample" / "mri" / "T1.mgz")
    fid = read_mri_fiducials(DATA / "subjects" / "sample" / "bem" / "sample-fiducials.fif")
    fid = MeshDistance(dense["rr"], dense["tris"]).query(fid)[1]  # on this scalp
    tmp = Path(tempfile.mkdtemp())
    write_mne_subject(dense, fid, tmp, "phantom")
    rows = {"MNE": [], "ours": []}
    times = {"MNE": [], "ours": []}
    iter_ms = []
    mne_iter_ms = []
    for seed in range(n_cases):
        case = make_case(dense, fid, seed=seed, n_eeg=64, n_hsp=300, noise_mm=1.0, n_outliers=4, outlier_mm=15.0)
        c = mne.coreg.Coregistration(dig_to_info(case.dig), "phantom", tmp, fiducials="auto")
        t = time.perf_counter()
        mne_flow(c)
        times["MNE"].append(time.perf_counter() - t)
        c.reset()
        c.fit_fiducials()
        t = time.perf_counter()
        c.fit_icp(n_iterations=5, nasion_weight=2.0)
        mne_iter_ms.append((time.perf_counter() - t) / 5 * 1e3)
        qm = Coreg(case.dig, dense, fid, head_mri=c.trans["trans"])
        mne_flow(c)
        qm.head_mri = c.trans["trans"]
        rows["MNE"].append(qm.qc(case.true_head_mri, case.true_eeg))
        co = Coreg(case.dig, dense, fid)
        t = time.perf_counter()
        full_fit(co)
        times["ours"].append(time.perf_counter() - t)
        rows["ours"].append(co.qc(case.true_head_mri, case.true_eeg))
        co2 = Coreg(case.dig, dense, fid).fit_fiducials()
        last = time.perf_counter()
        for _ in co2.iter_icp(50):
            now = time.perf_counter()
            iter_ms.append((now - last) * 1e3)
            last = now
    print(f"\n2) phantom: {n_cases} heads, scalp {len(dense['rr'])} vertices / {len(dense['tris'])} triangles, "
          "300 head-shape points + 64 electrodes, <=15 deg, <=20 mm, 1 mm noise, 4 outliers at 15 mm")
    keys = (("rotation_error_deg", "rotation err (deg)"), ("translation_error_mm", "translation err (mm)"),
            ("tre_mean_mm", "electrode TRE (mm)"), ("mean_mm", "mean distance (mm)"))
    print(f"   {'':22s}{'MNE':>10s}{'ours':>10s}{'ours/MNE':>10s}")
    for k, label in keys:
        a = np.mean([r[k] for r in rows["MNE"]])
        b = np.mean([r[k] for r in rows["ours"]])
        print(f"   {label:22s}{a:10.3f}{b:10.3f}{b / a:10.3f}")
    tm, to = statistics.median(times["MNE"]), statistics.median(times["ours"])
    print(f"   {'fit time (ms)':22s}{tm * 1e3:10.1f}{to * 1e3:10.1f}{to / tm:10.3f}")
    print(f"\n3) one ICP iteration on the {len(dense['rr'])}-vertex scalp, 367 points: ours median "
          f"{statistics.median(iter_ms):.1f} ms (max {max(iter_ms):.1f} ms; budget 20 ms), "
          f"MNE {statistics.median(mne_iter_ms):.1f} ms (nearest vertex only)")


if __name__ == "__main__":
    print(f"mne {mne.__version__}, numpy {np.__version__}")
    sample_subject()
    phantom()
