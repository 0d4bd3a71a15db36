"""Coregistration: this workbench vs MNE's ``Coregistration``, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_coreg.py [--seeds N] [--write]`` (not part of pytest;
about 10 minutes on 2 cores with the default 20 seeds). ``--write`` writes
``benchmarks/bench_coreg_results.md``.

1. Synthetic digitisations with known truth (``workbench.engine.coreg.synthetic``), built
   like real sessions (issue 9): electrodes on a cap 3-5 mm above the skin, head-shape
   points on the upper head only, 2 mm noise (SD per axis) on every point including the
   fiducials, four points 15 mm off, optionally one digitiser axis 1.5 % too long; plus
   the idealised case and variations built differently (other lifts, fewer points, no
   head-shape points). Every seed is a different head (a template stretched by random
   factors along random axes, ``random_head``) in a random pose (<= 15°, <= 20 mm), on
   two meshes: fsaverage's 2,033-vertex head (10 mm edges) and the dense scalp extracted
   from MNE's sample T1 (~25k vertices, 1 mm edges; MNE's nearest-vertex distance is then
   close to exact). Electrodes and head-shape points lie anywhere on the triangles (at
   vertices they would hand nearest-vertex ICP its exact correspondences).
   Both tools get identical inputs: the same digitisation (via ``mne.Info``), the same
   scalp and the true MRI fiducials (a ``-fiducials.fif`` in a subject folder, MNE's
   ``fiducials="auto"``). MNE runs its tutorial flow: fit_fiducials -> fit_icp(6,
   nasion 2) -> omit_head_shape_points(d) -> fit_icp(20, nasion 10), with d = 10 mm
   (the reviewer's) and 5 mm (the tutorial's); ours is ``full_fit`` (omit 5 mm).
   Errors: rotation (°), translation of the head origin (mm), and electrode TRE (mean
   distance between where the estimated and the true transform put the true electrodes).
2. MNE's sample subject (real Polhemus digitisation; no ground truth): distance of the
   head-shape points (on the skin) to the scalp, spread of the electrodes' heights above
   it, and the distance to the hand-made reference ``sample_audvis_trunc-trans.fif``.
3. The time of one ICP iteration (the live-animation budget is 20 ms).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mne
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workbench.engine.coreg.dig import dig_from_info  # noqa: E402
from workbench.engine.coreg.fiducials import read_mri_fiducials  # noqa: E402
from workbench.engine.coreg.geometry import MeshDistance  # noqa: E402
from workbench.engine.coreg.model import Coreg, full_fit  # noqa: E402
from workbench.engine.coreg.surface import read_scalp, scalp_from_t1  # noqa: E402
from workbench.engine.coreg.synthetic import (  # noqa: E402
    CASES,
    REALISTIC,
    dig_to_info,
    fsaverage_scalp,
    make_case,
    random_head,
    write_mne_subject,
)

DATA = REPO / "tests" / "data" / "coreg"
if not (DATA / "subjects" / "sample" / "mri" / "T1.mgz").is_file():
    DATA = (REPO / ".." / "shared" / "data" / "coreg").resolve()
mne.set_log_level("ERROR")

#: cases built differently from the reviewer's, to check the fix is not tuned to them
VARIATIONS: dict[str, dict[str, Any]] = {
    "var: lift 1-8 mm, 32 el., 60 head pts": {**REALISTIC, "elec_lift_mm": (1.0, 8.0), "n_eeg": 32, "n_hsp": 60},
    "var: no head-shape points (electrodes only)": {**REALISTIC, "n_hsp": 0, "n_outliers": 0},
    "var: 3 mm noise, 8 outliers, full coverage": {**REALISTIC, "noise_mm": 3.0, "n_outliers": 8, "coverage": "full"},
    # not realistic, shown on purpose: electrodes exactly at mesh vertices hand nearest-vertex ICP
    # (MNE's) their exact correspondences on a coarse mesh
    "artefact: lift+partial+outliers, electrodes at mesh vertices": {**REALISTIC, "elec_at_vertices": True},
}

METRICS = (("rotation_error_deg", "rotation (°)"), ("translation_error_mm", "translation (mm)"),
           ("tre_mean_mm", "electrode TRE (mm)"))


NOTES = """\
- Noise is 2 mm SD per axis (about 3.5 mm RMS in 3-D) on every point, fiducials included;
  the MRI fiducials given to both tools are exact. "ours better on" counts median and 90th
  percentile of the three errors against the better of the two MNE variants.
- Why the old flow drifted, and what changed: electrodes were pulled onto the skin although
  a cap holds them 3-5 mm above it (the whole head sinks and, with a cap that covers only
  the upper head, tilts); now one common electrode height is fitted with the pose. The
  fiducials entered the ICP only as nearest skin points with the nasion weighted 1, while
  the upper head is nearly a sphere cap and hardly fixes the rotation; now they are matched
  to the MRI fiducials point to point (weight 1, robustly down-weighted when they disagree
  with the head shape by more than the noise allows, as on MNE's sample subject, whose MRI
  fiducials are 13-22 mm from the digitised ones). Omission judges electrodes from the
  fitted cap height. The ICP step is halved when it reverses (it used to cycle at ~0.1°).
- The artefact row: with electrodes exactly at the vertices of a coarse mesh (how the
  synthetic cases were built before), MNE's nearest-vertex ICP is handed the electrodes'
  exact correspondences; its rotation error then drops to ours. Real electrodes do not sit
  on MRI mesh vertices, so the other rows place them anywhere on the triangles. The
  reviewer's MNE numbers (0.36°, 0.54 mm) are much better than MNE's here; their cases
  must differ (noise definition, mesh, placement), so these tables are not theirs.
- The sample subject has no ground truth. Head-shape points lie on the skin, so a smaller
  mean distance is better; a smaller spread of electrode heights is better; the reference
  transform was made by hand and is itself uncertain by several mm/degrees (its head-shape
  points sit 2.4 mm inside the skin on average). MNE's translation vs that reference
  with 5 mm omission is slightly smaller than ours; our rotation and electrode TRE are closer to it.
- Times were measured on a shared 2-core machine under heavy load (load average ~10);
  one exact point-to-mesh query on the 24k-vertex scalp is most of an ICP iteration.
"""


def mne_flow(info: Any, subject: str, subjects_dir: Path, omit_mm: float) -> np.ndarray:
    """MNE's tutorial flow; returns the head -> MRI matrix."""
    c = mne.coreg.Coregistration(info, subject, subjects_dir, fiducials="auto")
    c.fit_fiducials()
    c.fit_icp(n_iterations=6, nasion_weight=2.0)
    c.omit_head_shape_points(distance=omit_mm / 1000)
    c.fit_icp(n_iterations=20, nasion_weight=10.0)
    return np.asarray(c.trans["trans"], float)


@functools.lru_cache(maxsize=1)
def _meshes() -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    fs = fsaverage_scalp()
    dense, _ = scalp_from_t1(DATA / "subjects" / "sample" / "mri" / "T1.mgz")
    fid = read_mri_fiducials(DATA / "subjects" / "sample" / "bem" / "sample-fiducials.fif")
    fid = MeshDistance(dense["rr"], dense["tris"]).query(fid)[1]  # on this scalp
    return {"fsaverage head (2k vertices)": fs, f"sample T1 scalp ({len(dense['rr']) // 1000}k vertices)": (dense, fid)}


def synthetic(n_seeds: int, cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Errors per mesh, case and method: arrays (n_seeds, 3) of rotation, translation, TRE."""
    tmp = Path(tempfile.mkdtemp())
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for mesh_name, (base, bfid) in _meshes().items():
        out[mesh_name] = {}
        for case_name, kw in cases.items():
            rows: dict[str, list[list[float]]] = {"ours": [], "MNE (omit 10 mm)": [], "MNE (omit 5 mm)": []}
            t0 = time.perf_counter()
            for seed in range(n_seeds):
                rng = np.random.default_rng(1000 + seed)
                scalp, fid = random_head(base, bfid, rng)
                case = make_case(scalp, fid, seed=rng, **kw)
                subject = f"h{seed}"
                write_mne_subject(scalp, fid, tmp, subject)
                info = dig_to_info(case.dig)
                co = full_fit(Coreg(case.dig, scalp, fid, fid_source="file (the subject folder MNE reads too)"))
                fits = {"ours": co.head_mri, "MNE (omit 10 mm)": mne_flow(info, subject, tmp, 10.0),
                        "MNE (omit 5 mm)": mne_flow(info, subject, tmp, 5.0)}
                for k, m in fits.items():
                    q = Coreg(case.dig, scalp, fid, head_mri=m).qc(case.true_head_mri, case.true_eeg)
                    rows[k].append([q[key] for key, _ in METRICS])
            out[mesh_name][case_name] = {k: np.array(v) for k, v in rows.items()}
            print(f"  {mesh_name} / {case_name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def _fmt(a: np.ndarray) -> str:
    return f"{np.median(a):.2f} / {np.percentile(a, 90):.2f}"


def synthetic_table(res: dict[str, dict[str, dict[str, np.ndarray]]], n_seeds: int) -> str:
    lines = []
    for mesh_name, by_case in res.items():
        lines += [f"\n### {mesh_name}, {n_seeds} heads per case (median / 90th percentile)\n",
                  "| case | method | " + " | ".join(label for _, label in METRICS) + " | ours better on |",
                  "|---|---|" + "---|" * (len(METRICS) + 1)]
        for case_name, by_method in by_case.items():
            ours = by_method["ours"]
            for method, a in by_method.items():
                if method == "ours":
                    best = [min(np.median(m[:, j]) for k, m in by_method.items() if k != "ours") for j in range(len(METRICS))]
                    best90 = [min(np.percentile(m[:, j], 90) for k, m in by_method.items() if k != "ours")
                              for j in range(len(METRICS))]
                    wins = sum(np.median(ours[:, j]) < best[j] for j in range(len(METRICS))) + \
                        sum(np.percentile(ours[:, j], 90) < best90[j] for j in range(len(METRICS)))
                    verdict = f"{wins}/{2 * len(METRICS)}"
                else:
                    verdict = ""
                cells = " | ".join(_fmt(a[:, j]) for j in range(len(METRICS)))
                name = f"**{method}**" if method == "ours" else method
                lines.append(f"| {case_name} | {name} | {cells} | {verdict} |")
    return "\n".join(lines)


def _reference_trans() -> np.ndarray:
    t = mne.read_trans(DATA / "MEG" / "sample" / "sample_audvis_trunc-trans.fif")
    return t["trans"] if t["from"] == mne.io.constants.FIFF.FIFFV_COORD_HEAD else np.linalg.inv(t["trans"])


def sample_subject() -> str:
    sd = DATA / "subjects"
    info = mne.io.read_info(DATA / "MEG" / "sample" / "test-ave.fif.gz")
    dig = dig_from_info(info)
    scalp = read_scalp(sd / "sample" / "bem" / "outer_skin.surf")
    fid = read_mri_fiducials(sd / "sample" / "bem" / "sample-fiducials.fif")
    ref = _reference_trans()
    fits: dict[str, tuple[np.ndarray, float]] = {}
    for omit in (10.0, 5.0):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            m = mne_flow(info, "sample", sd, omit)
            times.append(time.perf_counter() - t)
        fits[f"MNE (omit {omit:.0f} mm)"] = (m, statistics.median(times))
    times = []
    for _ in range(5):
        t = time.perf_counter()
        co = full_fit(Coreg(dig, scalp, fid, fid_source="file sample-fiducials.fif"))
        times.append(time.perf_counter() - t)
    fits["ours"] = (co.head_mri, statistics.median(times))
    lines = ["| method | head-shape points to scalp, mean (mm) | electrode height above scalp, median ± SD (mm) | "
             "rotation / translation / TRE vs reference (°, mm, mm) | time (ms) |", "|---|---|---|---|---|"]
    for name, (m, t) in fits.items():
        q = Coreg(dig, scalp, fid, head_mri=m)
        d = q.point_distances() * 1e3
        e = q.qc(ref)
        hsp, eeg = q.kinds == "hsp", q.kinds == "eeg"
        lines.append(f"| {name} | {np.abs(d[hsp]).mean():.2f} | {np.median(d[eeg]):.2f} ± {d[eeg].std():.2f} | "
                     f"{e['rotation_error_deg']:.2f} / {e['translation_error_mm']:.2f} / {e['tre_mean_mm']:.2f} | "
                     f"{t * 1e3:.0f} |")
    lines.append(f"\nOurs fits the electrodes {co.lift * 1e3:.1f} mm above the skin; "
                 f"{int(co.omitted.sum())} points omitted.")
    return "\n".join(lines)


def iteration_time() -> str:
    base, bfid = list(_meshes().values())[-1]  # the dense scalp
    case = make_case(base, bfid, seed=0, **REALISTIC)
    co = Coreg(case.dig, base, bfid).fit_fiducials()
    ms, last = [], time.perf_counter()
    for _ in co.iter_icp(50, fid_match="matched"):
        now = time.perf_counter()
        ms.append((now - last) * 1e3)
        last = now
    return f"one ICP iteration ({len(co.points)} points): median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--write", action="store_true", help="write benchmarks/bench_coreg_results.md")
    ap.add_argument("--quick", action="store_true", help="only the reviewer's cases on fsaverage")
    args = ap.parse_args()
    head = f"mne {mne.__version__}, numpy {np.__version__}"
    print(head)
    cases = dict(CASES) if args.quick else {**CASES, **VARIATIONS}
    res = synthetic(args.seeds, cases)
    table = synthetic_table(res, args.seeds)
    print(table)
    real = sample_subject()
    print(real)
    it = iteration_time()
    print(it)
    if args.write:
        notes = NOTES.format(n_seeds=args.seeds)
        (REPO / "benchmarks" / "bench_coreg_results.md").write_text(
            "# Coregistration benchmark: ours vs MNE's tutorial flow\n\n"
            f"Written by `benchmarks/bench_coreg.py --write` ({head}). See the script's docstring for how the "
            "cases are built.\n\n## 1. Synthetic heads with known truth\n" + table +
            "\n\n## 2. MNE's sample subject (real digitisation, no ground truth)\n\n" + real +
            "\n\n## 3. Speed\n\n" + it + "\n\n## How to read this\n\n" + notes, encoding="utf-8")


if __name__ == "__main__":
    main()
