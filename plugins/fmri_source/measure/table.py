# ruff: noqa
"""Measurement script for MEASUREMENTS.md (see README.md here)."""
import glob
import json

V = ["none", "dspm", "sloreta", "weighted", "weighted_dspm", "soft", "soft_dspm", "hard", "hard_dspm"]
for f in sorted(glob.glob('score_*.json')):
    d = json.load(open(f)); sc = d['score']
    print(f"\n### {d['label']}  ({', '.join(f'{k}={v}' for k, v in d['params'].items())}; {d['qc'].get('nave')} trials, "
          f"{d['qc'].get('n_sources')} sources, {d['qc'].get('n_sources_in_fmri_map')} in the map / {d['qc'].get('n_fmri_clusters')} clusters; {d['seconds']:.0f} s)\n")
    srcs = []
    for k in sc:
        rest = k.split('_mm_', 1)[1]
        name = next(rest[: -len(v) - 1] for v in sorted(V, key=len, reverse=True) if rest.endswith('_' + v))
        if name not in srcs: srcs.append(name)
    print("| source (latency) | " + " | ".join(V) + " |"); print("|---" * (len(V) + 1) + "|")
    for s in srcs:
        if f"loc_error_mm_{s}_none" in sc:
            print(f"| {s}: error / dispersion (mm) | " + " | ".join(f"{sc[f'loc_error_mm_{s}_{v}']:.0f} / {sc[f'dispersion_mm_{s}_{v}']:.0f}" for v in V) + " |")
        else:
            print(f"| {s}: peak distance from it (mm) | " + " | ".join(f"{sc[f'peak_distance_mm_{s}_{v}']:.0f}" for v in V) + " |")
    sh = {k: v for k, v in d['qc'].items() if k.startswith('soft_fmri_share')}
    print("\nsoft prior, fMRI share of the prior variance: " + ", ".join(f"{k[16:]} {v:.2f}" for k, v in sh.items()))
