"""The soft fMRI prior's settings on phantoms with truth: taper (overlap-add) on/off and the
Bayes-factor threshold ``min_log_bf``, against no fMRI, MNE-C's fixed weighting and the hard
mask, on every case of ``bench_fmri_source.py`` plus a third phantom and a weaker map.

Settings: the specificity test (a kept cluster beaten by a focal patch elsewhere is
switched off) on/off. Two stages (the first is slow: ~3-15 min per case on a loaded 2-core machine)::

    nice .venv/bin/python benchmarks/bench_fmri_source_soft.py dump PHANTOM   # default|moved|third
    nice .venv/bin/python benchmarks/bench_fmri_source_soft.py sweep [CASE ...]

``dump`` runs the fmri-source step through the runner (phantom, cleaning, coreg as in
``bench_fmri_source.py``) and stores, per case, MNE's prepared inverse as the whitened model
(:func:`workbench_fmri_source.prior.model_from_inverse`), the evoked data, the sources, the
fMRI clusters, the other variants' amplitudes and the truth. ``sweep`` re-runs only the soft
prior on those (:func:`workbench_fmri_source.soft.soft_estimate`, the method's own code) for
each setting and scores it as the phantom's scorer does (error = distance of the peak at the
source's evoked peak latency; dispersion = amplitude-weighted RMS distance; for fMRI-only
regions, the share of the post-stimulus energy inside the clusters within 15 mm).

Phantoms: ``default`` (seed 1, 240 s), ``moved`` (seed 3, 240 s, sources at other places and
depths), ``third`` (seed 5, 150 s: fewer trials; visual source left and deeper, the
fMRI-invisible source right temporal, the EEG-invisible one left frontal). Cases: ``visual``,
``visual_fp`` (a z 8 blob added where no source is), ``visual_weak`` (the z-map times 0.6: a
weaker BOLD effect), ``motor`` (the EEG-silent region in the map). The method never sees the
truth.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path("/tmp/bench_fmri_source")
THIRD = {
    "visual_cortex": ((-12.0, -84.0, 4.0), (-0.2, -0.7, 0.68)),
    "temporal_fmri_invisible": ((58.0, -34.0, 6.0), (0.9, 0.0, 0.43)),
    "frontal_eeg_invisible": ((-30.0, 42.0, 28.0), (-0.6, 0.3, 0.74)),
}
SETTINGS = {  # label -> (taper, min_log_bf, specificity); the method's soft at dump time is "nearest, bf 3"
    "taper, bf 3, specificity (default)": (True, 3.0, True),
    "taper, bf 3": (True, 3.0, False),
    "taper, bf 2": (True, 2.0, False),
    "taper, bf 1": (True, 1.0, False),
}


def dump(phantom: str) -> None:
    import nibabel as nib

    sys.path.insert(0, str(Path(__file__).parent))
    import bench_fmri_source as B
    from workbench_fmri_source import prior as P
    from workbench_fmri_source.fmri import glm_zmap

    seed, moved, dur = {"default": (1, False, 240.0), "moved": (3, True, 240.0), "third": (5, True, 150.0)}[phantom]
    if phantom == "third":
        B.MOVED = THIRD
    root = ROOT / phantom
    runner = B._prepare(root, seed, moved, dur)
    fp = B._fp_map(runner, root)
    study = runner.study
    z = glm_zmap(study.bold, study.bold_meta or {}, study.load_events(), "visual", 6.0)
    weak = root / "zmap_weak.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(z.dataobj, np.float32) * 0.6, z.affine), weak)
    for label, params, fmri in (("visual", {"condition": "visual", "times": "0.17,0.25"}, None),
                                ("visual_fp", {"condition": "visual", "times": "0.17,0.25"}, fp),
                                ("visual_weak", {"condition": "visual", "times": "0.17,0.25"}, weak),
                                ("motor", {"condition": "motor", "times": "0.08,0.2"}, None)):
        t0 = time.time()
        study.extra_files.pop("fmri", None)
        if fmri is not None:
            study.extra_files["fmri"] = [fmri]
        try:
            res = runner.run_step("fmri-source", {"spacing": 10.0, **params})
        except Exception as exc:  # noqa: BLE001 - a benchmark reports a failed case and goes on
            print(phantom, label, "failed:", exc, flush=True)
            continue
        fres = res.details["fusion"]
        live = fres.live
        ev = live["evoked"]
        model, data = P.model_and_data(live["inverse"], ev, live["lambda2"])
        cond = fres.qc["condition"]
        truth = [{"name": s["name"], "role": s.get("role"), "pos": list(s["pos_mri_m"]),
                  "lat": max(s["evoked_peaks_s"], key=lambda pk: abs(pk[2]))[0]}
                 for s in study.truth.sources if s.get("condition") == cond and s.get("evoked_peaks_s")]
        regions = {s["name"]: list(s["pos_mri_m"]) for s in study.truth.sources
                   if s.get("role") == "eeg_invisible" and s.get("condition") == cond}
        if fmri is fp:
            regions["injected blob"] = list(np.array(B.FP_BLOB_MM) * 1e-3)
        groups = {f"group_{k}": np.asarray(g) for k, g in enumerate(live["fmri_clusters"])}
        np.savez_compressed(root / f"dump_{label}.npz", A=model.A, Bm=model.B, source_std=model.source_std,
                            lambda2=model.lambda2, data=data, times=ev.times, pos=live["pos_mri"],
                            sfreq=ev.info["sfreq"], lowpass=ev.info["lowpass"], **groups,
                            **{f"amp_{v}": live["amplitudes"][v] for v in ("none", "weighted", "hard", "soft")})
        (root / f"dump_{label}.json").write_text(json.dumps({"truth": truth, "regions": regions}, default=float))
        print(phantom, label, f"{time.time() - t0:.0f} s", flush=True)


def _score(pos, times, groups, truth, regions, amp) -> dict[str, str]:
    out = {}
    for s in truth:
        i = int(np.argmin(np.abs(times - s["lat"])))
        a = amp[:, i]
        k = int(np.argmax(a))
        d = np.linalg.norm(pos - np.asarray(s["pos"]), axis=1) * 1e3
        if s["role"] == "eeg_invisible":
            out[f"{s['name']}: peak distance (mm)"] = f"{d[k]:.0f}"
        else:
            disp = np.sqrt(np.sum(a**2 * d**2) / np.sum(a**2))
            out[f"{s['name']}: error / dispersion (mm)"] = f"{d[k]:.0f} / {disp:.0f}"
    post = times >= 0
    for name, where in regions.items():
        idx = [g for g in groups if np.min(np.linalg.norm(pos[g] - np.asarray(where), axis=1)) < 0.015]
        if idx:
            src = np.concatenate(idx)
            e = amp[:, post] ** 2
            out[f"{name} (fMRI only): energy inside"] = f"{100 * e[src].sum() / e.sum():.1f} %"
        else:
            out[f"{name} (fMRI only): energy inside"] = "not in the map"
    return out


def sweep(cases: list[str]) -> None:
    from workbench_fmri_source import prior as P
    from workbench_fmri_source.soft import soft_estimate

    if not cases:
        cases = [f"{p.parent.name}/{p.stem[5:]}" for p in sorted(ROOT.glob("*/dump_*.npz"))]
    for case in cases:
        ph, label = case.split("/")
        d = np.load(ROOT / ph / f"dump_{label}.npz")
        meta = json.loads((ROOT / ph / f"dump_{label}.json").read_text())
        model = P.WhitenedModel(d["Bm"], d["A"], d["source_std"], float(d["lambda2"]))
        pos, times = d["pos"], d["times"]
        groups = [d[f"group_{k}"] for k in range(sum(1 for f in d.files if f.startswith("group_")))]
        n_src = len(pos)
        comps = [(np.arange(n_src), np.ones(n_src))] + [(g, np.ones(len(g))) for g in groups]
        sf, low = float(d["sfreq"]), float(d["lowpass"])
        cols: dict[str, dict[str, str]] = {}
        for v in ("none", "weighted", "hard", "soft"):
            key = "soft: nearest, bf 3 (before)" if v == "soft" else v
            cols[key] = _score(pos, times, groups, meta["truth"], meta["regions"], d[f"amp_{v}"])
        ijk = np.round((pos - pos.min(0)) / 0.01).astype(int)  # the dumps' 10 mm grid
        patches = P.patches(pos, ijk, 0.01)
        for name, (taper, bf, specific) in SETTINGS.items():
            t0 = time.time()
            est = soft_estimate(model, d["data"], comps, len(groups), int(round(0.05 * sf)), bf,
                                min(1.0, 2 * low / sf), times, taper=taper,
                                competitors=patches if specific else None, pos=pos)
            amp = np.linalg.norm(est["currents"].reshape(n_src, 3, -1), axis=1)
            cols[f"soft: {name}"] = _score(pos, times, groups, meta["truth"], meta["regions"], amp)
            on = sum(not r["plain_mne"] for r in est["rows"])
            cols[f"soft: {name}"]["windows using the fMRI"] = f"{on} of {len(est['rows'])}"
            print(f"  ({case} {name}: {time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
        rows = list(dict.fromkeys(k for c in cols.values() for k in c))
        print(f"\n#### {case} ({len(groups)} fMRI clusters of {[len(g) for g in groups]} sources)")
        print("| | " + " | ".join(cols) + " |")
        print("|---" * (len(cols) + 1) + "|")
        for r in rows:
            print(f"| {r} | " + " | ".join(c.get(r, "") for c in cols.values()) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "sweep":
        sweep(sys.argv[2:])
    else:
        print(__doc__)
        raise SystemExit(2)
