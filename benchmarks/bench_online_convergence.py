"""How fast the online gradient correction reaches the offline one (issue 17 part 3).

Goal: 1-40 Hz error against the truth within 3 dB of the offline correction after the
first 10 volumes. Phantoms: 150 s, 32 EEG, TR 2 s, 30 slices, 20 ppm drift, drifting
artifact with two head movements, at 5, 2.5 and 2 kHz (made under ``--root`` if
missing). Gradient only (online: BCG and low-pass off; offline: ``remove_gradient``
without its low-pass); both then through the same causal 70 Hz low-pass and a 1-40 Hz
band-pass, RMS over the EEG channels in volume spans 10-end, 10-20, 20-40, 40-end.

Variants (``--variants``):

- ``current``: the defaults.
- ``session20``: the code before session 21: onsets from a least-squares line through
  the markers only (no quantised fit, hence no rephase), alias phases from it from the
  start, and the alias model used from 3 epochs per coefficient and 5 out-of-sample
  checks (now 1.5 and 2).
- ``true_phase``: the phantom's true fractional onsets given to the online code, with
  the current start-up (not causal, an upper bound: what perfect phases would give).
- ``shrink05``: the alias coefficients kept 0.5x above their noise (the default, as
  offline, is 3x).
- ``noalias``: no alias model (``alias_orders=0``): what the alias part is worth.
- ``nospatial``: no causal spatial pass (``spatial=False``; the code before session 27).
- ``nopulse``: the pulse artifact not kept out of the templates (``cardiac_pass=False``;
  the code before session 32).
- ``nolfscale``: the low band's size not followed (``lf_scale=False``; the code before
  session 37).

Run: ``nice .venv/bin/python benchmarks/bench_online_convergence.py [--rates 5000,2500,2000]``;
results go to ``bench_online_results.json`` under ``convergence``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def _study(root: Path, sfreq: float) -> Path:
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    path = root / f"conv_{int(sfreq)}"
    if not (path / "ground_truth").is_dir():
        simulate_study(path, PhantomConfig(duration_s=150, n_eeg=32, sfreq=sfreq, tr=2.0, slices=30, seed=2,
                                           gradient_drift=1.0, motion_events=2))
    return path


def _patched(variant: str, true_onsets: np.ndarray):  # noqa: ANN202
    """Context: CausalGradient with the variant's changes (restored afterwards)."""
    import contextlib

    import workbench.engine.online.gradient as G

    @contextlib.contextmanager
    def ctx():  # noqa: ANN202
        C = G.CausalGradient
        saved = {k: C.__dict__[k] for k in ("__init__", "_onset", "_predict", "_alias_min", "_check_min",
                                             "_early_measured_phase", "_alias_shrink")}
        try:
            if variant in ("session20", "true_phase"):
                C._early_measured_phase = False
                init = saved["__init__"]

                def __init__(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, N807
                    k["quantised_fit"] = False
                    init(self, *a, **k)

                C.__init__ = __init__
            if variant == "true_phase":
                pred = saved["_predict"]
                C._onset = lambda self, v, fit=None: (float(true_onsets[v.number]) if v.number < true_onsets.size
                                                      else float(v.marker))
                C._predict = lambda self, n, fit=None: float(true_onsets[n]) if n < true_onsets.size else pred(self, n, fit)
            if variant == "session20":
                C._alias_min, C._check_min = 3, 5
            if variant == "shrink05":
                C._alias_shrink = 0.5
            if variant in ("noalias", "nospatial", "nolfscale"):
                init0 = saved["__init__"]
                key, value = {"noalias": ("alias_orders", 0), "nospatial": ("spatial", False),
                              "nolfscale": ("lf_scale", False)}[variant]

                def __init__(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, N807
                    k[key] = value
                    init0(self, *a, **k)

                C.__init__ = __init__
            yield
        finally:
            for k, v in saved.items():
                setattr(C, k, v)

    return ctx()


def bench_rate(root: Path, sfreq: float, variants: list[str]) -> dict:
    from scipy.signal import butter, sosfilt

    from workbench.engine.gradient import GradientParams, remove_gradient
    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.online import OnlineParams, replay_raw
    from workbench.engine.phantom import load_truth

    study = _study(root, sfreq)
    raw = read_eeg(study / "sub-01" / "eeg" / "sub-01_task-phantom_eeg.vhdr", preload=True)
    truth = load_truth(study)
    sf = float(raw.info["sfreq"])
    eeg = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    lp = butter(4, 70, fs=sf, output="sos")
    bp = butter(4, [1, 40], btype="band", fs=sf, output="sos")

    def band(z: np.ndarray) -> np.ndarray:
        return sosfilt(bp, sosfilt(lp, z, axis=1), axis=1)

    target = band(raw.get_data(picks=eeg) - np.asarray(truth.arrays["gradient"][eeg]))
    ann = raw.annotations
    starts = np.round(np.array([o for o, d in zip(ann.onset, ann.description) if d.endswith("R128")]) * sf).astype(int)
    spans = {"10-end": (10, -1), "10-20": (10, 20), "20-40": (20, 40), "40-end": (40, -1)}

    def errs(y: np.ndarray) -> dict:
        b = band(y)
        return {k: float(np.sqrt(np.mean((b - target)[:, starts[i] : starts[j]] ** 2)) * 1e6)
                for k, (i, j) in spans.items()}

    off = errs(remove_gradient(raw, params=GradientParams(lowpass=None)).raw.get_data(picks=eeg))
    out: dict = {"sfreq": sf, "volumes": int(starts.size), "offline_uv": off}
    true_onsets = np.asarray(truth.triggers["true_eeg"], float) * sf
    for v in variants:
        t0 = time.perf_counter()
        with _patched(v, true_onsets):
            r = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False, cardiac_pass=v != "nopulse"),
                           chunk=int(round(0.01 * sf)))
        e = errs(r.data[eeg])
        out[v] = {"uv": e, "db_vs_offline": {k: float(20 * np.log10(e[k] / off[k])) for k in e},
                  "seconds": time.perf_counter() - t0}
        print(f"{sf:g} Hz {v}: " + ", ".join(f"{k} {e[k]:.2f} uV ({out[v]['db_vs_offline'][k]:+.1f} dB)" for k in e)
              + f"; offline {off['10-end']:.2f} uV", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("/tmp/bench_online_convergence"))
    ap.add_argument("--rates", default="5000,2500,2000")
    ap.add_argument("--variants", default="current,nopulse,nospatial,session20,true_phase,shrink05,noalias")
    args = ap.parse_args()
    variants = args.variants.split(",")
    res = {f"{float(r):g}": bench_rate(args.root, float(r), variants) for r in args.rates.split(",")}
    path = HERE / "bench_online_results.json"
    now = json.loads(path.read_text()) if path.exists() else {}
    # the offline reference moves with the offline step, so a run replaces all variants
    now["convergence"] = res
    path.write_text(json.dumps(now, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
