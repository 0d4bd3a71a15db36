"""DCM against ground truth: recovery, 90 % interval calibration, model selection, EEG, speed.

Run: ``nice .venv/bin/python benchmarks/bench_dcm.py [--quick]``. Data are simulated with
the engine's *nonlinear* Balloon-Windkessel (the inversion uses SPM's bilinear
approximation), white noise at SNR 1-3 (SD ratio) plus a slow drift, block designs with a
modulatory context. Prints numbers; no thresholds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from workbench_dcm.bms import fixed_effects, random_effects
from workbench_dcm.fit import fit_dcm
from workbench_dcm.integrate import make_design
from workbench_dcm.joint_eeg import EegData
from workbench_dcm.model import DcmModel
from workbench_dcm.simulate import block_events, random_truth, simulate

Z90 = 1.6448536269514722


def models3() -> dict[str, DcmModel]:
    R, U = ["V1", "V5", "SPC"], ["photic", "attention"]
    a = [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    c = [[1, 0], [0, 0], [0, 0]]
    z = [[0] * 3 for _ in range(3)]
    m1 = [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    m2 = [[0, 0, 0], [0, 0, 0], [0, 1, 0]]
    return {
        "mod-V5<-V1": DcmModel.build("mod-V5<-V1", R, U, a, {"attention": m1}, c),
        "mod-SPC<-V5": DcmModel.build("mod-SPC<-V5", R, U, a, {"attention": m2}, c),
        "no-mod": DcmModel.build("no-mod", R, U, a, {"attention": z}, c),
    }


def model4() -> DcmModel:
    R, U = ["V1", "V5", "PPC", "PFC"], ["motion", "attention"]
    a = [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]]
    b = {"attention": [[0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]]}
    return DcmModel.build("4-region", R, U, a, b, [[1, 0], [0, 0], [0, 0], [0, 0]])


def kinds(model: DcmModel) -> dict[str, np.ndarray]:
    """Layout indices of each kind of neuronal parameter: A between regions, A self, B, C."""
    from workbench_dcm.priors import layout

    lay = layout(model)
    n = model.n
    a_free = [i for i in lay.free if i < n * n]
    return {
        "A between": np.array([i for i in a_free if i // n != i % n]),
        "A self": np.array([i for i in a_free if i // n == i % n]),
        "B": np.array([i for i in lay.free if lay.sB.start <= i < lay.sB.stop]),
        "C": np.array([i for i in lay.free if lay.sC.start <= i < lay.sC.stop]),
    }


def connection_mask(model: DcmModel) -> np.ndarray:
    """Indices of A off-diagonals, B and C in the layout (the 'connections')."""
    k = kinds(model)
    return np.concatenate([k["A between"], k["B"], k["C"]])


def recovery(n_sims: int, hemodynamics: str) -> None:
    print(f"\n== recovery and calibration (true model fitted; data from the {hemodynamics} haemodynamics) ==")
    err: dict[str, list] = {}
    cov: dict[str, list] = {}
    times, conv = [], 0
    for s in range(n_sims):
        rng = np.random.default_rng(100 + s)
        four = s % 3 == 2
        m = model4() if four else models3()["mod-V5<-V1"]
        tr = [2.0, 2.5, 3.0][s % 3]
        ns = int((rng.uniform(5, 10) * 60) // tr)
        snr = rng.uniform(1.0, 3.0)
        th = random_truth(m, rng)
        ev = block_events(m.inputs, ns * tr, rng)
        sim = simulate(m, th, tr, ns, ev, snr=snr, seed=s, hemodynamics=hemodynamics)
        t0 = time.perf_counter()
        f = fit_dcm(m, sim.bold, make_design(tr, ns, ev, m.inputs))
        times.append(time.perf_counter() - t0)
        conv += f.posterior.converged
        sd = np.sqrt(f.posterior.variance())
        for kind, idx in kinds(m).items():
            e = f.posterior.Ep[idx] - th[idx]
            err.setdefault(kind, []).append(e)
            cov.setdefault(kind, []).append(np.abs(e) <= Z90 * sd[idx])
        idx = connection_mask(m)
        e = f.posterior.Ep[idx] - th[idx]
        print(f"sim {s:2d}: {m.n} regions TR {tr} s {ns} scans SNR {snr:.1f}: {times[-1]:5.1f} s, "
              f"{f.posterior.iterations} it, converged {f.posterior.converged}, EV {100 * f.explained_variance:.0f} %, "
              f"|err| A-between/B/C {np.mean(np.abs(e)):.3f}")
    for kind in err:
        e, c = np.concatenate(err[kind]), np.concatenate(cov[kind])
        print(f"  {kind:9s} ({e.size:2d} values): mean |error| {np.mean(np.abs(e)):.3f} (RMSE {np.sqrt(np.mean(e ** 2)):.3f}, "
              f"bias {np.mean(e):+.3f}); 90 % intervals cover {100 * c.mean():.0f} %")
    print(f"time per inversion: median {np.median(times):.1f} s, max {np.max(times):.1f} s; converged {conv}/{n_sims}")


def selection(n_sims: int) -> None:
    print("\n== model selection (3 models: which connection attention modulates) ==")
    ms = models3()
    names = list(ms)
    correct = 0
    Fs = []
    for s in range(n_sims):
        rng = np.random.default_rng(500 + s)
        true = names[s % 3]
        tr = [2.0, 3.0][s % 2]
        ns = int(rng.uniform(5, 10) * 60 // tr)
        th = random_truth(ms[true], rng)
        ev = block_events(ms[true].inputs, ns * tr, rng)
        sim = simulate(ms[true], th, tr, ns, ev, snr=rng.uniform(1.0, 3.0), seed=1000 + s)
        d = make_design(tr, ns, ev, ms[true].inputs)
        F = np.array([fit_dcm(ms[k], sim.bold, d).F for k in names])
        Fs.append(F)
        pick = names[int(np.argmax(F))]
        correct += pick == true
        p = fixed_effects(F)
        print(f"sim {s:2d}: true {true:12s} picked {pick:12s} P(true) {p[names.index(true)]:.2f}  "
              f"F-Fbest {np.round(F - F.max(), 1)}")
    print(f"accuracy {correct}/{n_sims} = {100 * correct / n_sims:.0f} % (chance 33 %)")
    # random effects over the simulations whose truth is the first model (as 'subjects')
    grp = np.array([F for s, F in enumerate(Fs) if s % 3 == 0])
    if len(grp) >= 2:
        rfx = random_effects(grp, n_samples=200_000, seed=0)
        print(f"RFX BMS over {len(grp)} 'subjects' generated by {names[0]}: expected frequencies "
              f"{np.round(rfx.expected, 2)}, exceedance {np.round(rfx.exceedance, 3)}")


def joint(n_sims: int, hemodynamics: str, integrator: str = "bilinear") -> None:
    print(f"\n== joint EEG-fMRI: posterior SD and error, fMRI alone vs fMRI + EEG envelopes "
          f"(data from the {hemodynamics} haemodynamics, {integrator} integrator) ==")
    m = models3()["mod-V5<-V1"]
    ratio: dict[str, list] = {}
    e1: dict[str, list] = {}
    e2: dict[str, list] = {}
    for s in range(n_sims):
        rng = np.random.default_rng(900 + s)
        tr, ns = 2.0, 240
        th = random_truth(m, rng)
        ev = block_events(m.inputs, ns * tr, rng)
        sim = simulate(m, th, tr, ns, ev, snr=1.5, seed=s, eeg_rate=50.0, eeg_snr=1.0,
                       eeg_gain=rng.uniform(0.5, 2.0, m.n), hemodynamics=hemodynamics)
        d = make_design(tr, ns, ev, m.inputs)
        t0 = time.perf_counter()
        f1 = fit_dcm(m, sim.bold, d, integrator=integrator)
        t1 = time.perf_counter()
        f2 = fit_dcm(m, sim.bold, d, eeg=EegData(sim.eeg, sim.eeg_times, m.regions), integrator=integrator)
        t2 = time.perf_counter()
        for kind, idx in kinds(m).items():
            sd1 = np.sqrt(f1.posterior.variance()[idx])
            sd2 = np.sqrt(f2.posterior.variance()[idx])
            ratio.setdefault(kind, []).append(sd2 / sd1)
            e1.setdefault(kind, []).append(np.abs(f1.posterior.Ep[idx] - th[idx]))
            e2.setdefault(kind, []).append(np.abs(f2.posterior.Ep[idx] - th[idx]))
        print(f"sim {s}: time fMRI {t1 - t0:.1f} s, joint {t2 - t1:.1f} s; " + "; ".join(
            f"{k} SD x{np.mean(ratio[k][-1]):.2f} |err| {np.mean(e1[k][-1]):.3f}->{np.mean(e2[k][-1]):.3f}"
            for k in ratio))
    for k in ratio:
        r = np.concatenate(ratio[k])
        print(f"  {k:9s}: posterior SD joint / fMRI alone median {np.median(r):.2f} (range {r.min():.2f}-{r.max():.2f}); "
              f"mean |error| fMRI {np.mean(np.concatenate(e1[k])):.3f}, joint {np.mean(np.concatenate(e2[k])):.3f}")


def integrators(n_sims: int) -> None:
    """The same nonlinear-Balloon data inverted with SPM's bilinear scheme and with the
    nonlinear local linearisation: errors, 90 % coverage and time."""
    print("\n== bilinear (SPM spm_int) vs nonlinear integrator, data from the nonlinear haemodynamics ==")
    err: dict[str, dict] = {"bilinear": {}, "nonlinear": {}}
    cov: dict[str, dict] = {"bilinear": {}, "nonlinear": {}}
    tm: dict[str, list] = {"bilinear": [], "nonlinear": []}
    for s in range(n_sims):
        rng = np.random.default_rng(100 + s)
        m = model4() if s % 3 == 2 else models3()["mod-V5<-V1"]
        tr = [2.0, 2.5, 3.0][s % 3]
        ns = int((rng.uniform(5, 10) * 60) // tr)
        th = random_truth(m, rng)
        ev = block_events(m.inputs, ns * tr, rng)
        sim = simulate(m, th, tr, ns, ev, snr=rng.uniform(1.0, 3.0), seed=s)
        for integ in ("bilinear", "nonlinear"):
            t0 = time.perf_counter()
            f = fit_dcm(m, sim.bold, make_design(tr, ns, ev, m.inputs), integrator=integ)
            tm[integ].append(time.perf_counter() - t0)
            sd = np.sqrt(f.posterior.variance())
            for kind, idx in kinds(m).items():
                e = f.posterior.Ep[idx] - th[idx]
                err[integ].setdefault(kind, []).append(e)
                cov[integ].setdefault(kind, []).append(np.abs(e) <= Z90 * sd[idx])
        print(f"sim {s}: time bilinear {tm['bilinear'][-1]:.1f} s, nonlinear {tm['nonlinear'][-1]:.1f} s")
    for integ in err:
        print(f"-- {integ} integrator: median time {np.median(tm[integ]):.1f} s")
        for kind in err[integ]:
            e, c = np.concatenate(err[integ][kind]), np.concatenate(cov[integ][kind])
            print(f"  {kind:9s} ({e.size:2d}): mean |error| {np.mean(np.abs(e)):.3f}, bias {np.mean(e):+.3f}; "
                  f"90 % intervals cover {100 * c.mean():.0f} %")


def demo(study: str, out: str) -> None:
    """DCM on the demo phantom's regions (its truth masks) through ``workbench fuse dcm``.

    The phantom drives the visual cortex by the visual trials and the motor cortex by the
    motor trials, with no coupling between them: the 'correct' model should win, the crossed
    and visual-only ones lose, and an extra VIS->MOT connection should not be supported.
    """
    import json
    import subprocess
    import sys
    from pathlib import Path

    import nibabel as nib
    import pandas as pd

    study_p, out_p = Path(study), Path(out)
    out_p.mkdir(parents=True, exist_ok=True)
    func = next(study_p.glob("sub-*/func/*_bold.nii.gz"))
    meta = json.loads(Path(str(func).replace(".nii.gz", ".json")).read_text())
    data = np.asarray(nib.load(func).dataobj, float)
    gt = next(study_p.glob("ground_truth/sub-*"))
    cols = {}
    for name, short in (("visual_cortex", "VIS"), ("motor_cortex", "MOT")):
        mask = np.asarray(nib.load(next(gt.glob(f"*desc-{name}_mask.nii.gz"))).dataobj).astype(bool)
        ts = data[mask].mean(axis=0)
        cols[short] = 100 * (ts / ts.mean() - 1)
    pd.DataFrame(cols).to_csv(out_p / "rois.tsv", sep="\t", index=False)
    ev = pd.read_csv(next(study_p.glob("sub-*/func/*_events.tsv")), sep="\t")
    ev[["onset", "duration", "trial_type"]].to_csv(out_p / "inputs.tsv", sep="\t", index=False, header=False)
    R, U = ["VIS", "MOT"], ["visual", "motor"]
    specs = {
        "correct": {"a": [[1, 0], [0, 1]], "c": [[1, 0], [0, 1]]},
        "crossed": {"a": [[1, 0], [0, 1]], "c": [[0, 1], [1, 0]]},
        "correct+VIS->MOT": {"a": [[1, 0], [1, 1]], "c": [[1, 0], [0, 1]]},
        "visual-only": {"a": [[1, 0], [1, 1]], "c": [[1, 0], [0, 0]]},
    }
    args = []
    for k, v in specs.items():
        (out_p / f"{k}.json").write_text(json.dumps({"name": k, "regions": R, "inputs": U, "b": {}, **v}))
        args += ["--model", str(out_p / f"{k}.json")]
    print(f"\n== demo phantom regions: {data.shape[-1]} volumes, TR {meta['RepetitionTime']} s ==")
    exe = Path(sys.executable).with_name("workbench")
    r = subprocess.run([str(exe), "fuse", "dcm", "--bold", str(out_p / "rois.tsv"), "--inputs",
                        str(out_p / "inputs.tsv"), "--tr", str(meta["RepetitionTime"]), *args,
                        "--out", str(out_p / "result")], capture_output=True, text=True)
    if r.returncode:
        print(r.stderr[-800:])
        return
    doc = json.loads((out_p / "result" / "result.json").read_text())
    for m in doc["models"]:
        print(f"{m['name']:18s} F {m['F']:9.1f}  P {m['posterior_probability']:.3f}  EV "
              f"{100 * m['explained_variance']:.0f} %  C {np.round(m['C']['mean'], 2).tolist()}  "
              f"A {np.round(m['A']['mean'], 2).tolist()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--part", choices=["all", "recovery", "selection", "joint", "integrators", "demo"], default="all")
    ap.add_argument("--study", help="demo phantom study folder (bash installer/demo.sh, or workbench demo "
                                    "--headless) for --part demo")
    ap.add_argument("--out", default="dcm-demo", help="folder for --part demo's files")
    a = ap.parse_args()
    n = 4 if a.quick else 12
    if a.part in ("all", "recovery"):
        recovery(n, "nonlinear")
        recovery(max(4, n // 2), "bilinear")
    if a.part in ("all", "selection"):
        selection(6 if a.quick else 24)
    if a.part == "demo":
        if not a.study:
            ap.error("--part demo needs --study STUDY (a phantom study folder)")
        demo(a.study, a.out)
        return
    if a.part in ("all", "integrators"):
        integrators(3 if a.quick else 6)
    if a.part in ("all", "joint"):
        joint(2 if a.quick else 5, "nonlinear")
        joint(2 if a.quick else 4, "bilinear")
        joint(2 if a.quick else 3, "nonlinear", "nonlinear")


if __name__ == "__main__":
    main()
