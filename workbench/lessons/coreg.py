"""Lesson 1, the spatial handshake: fiducials vs surface matching; noise averages, bias does not.

Runs the coregistration engine (:class:`~workbench.engine.coreg.model.Coreg`, its
fiducial fit and ICP) on digitisations of a real scalp (fsaverage's, MNE's bundled head)
made through a known rigid transform by :mod:`workbench.engine.coreg.synthetic`, and
measures the target registration error (TRE) at the true electrode positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.coreg.synthetic import fsaverage_scalp, make_case, noise_vs_bias
from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

PARAMS = (
    Param("noise_mm", "float", 3.0, "Random error of every digitised point (mm RMS); 1-3 mm is a careful session.",
          minimum=0.0, maximum=10.0, unit="mm", label="digitiser noise"),
    Param("bias_mm", "float", 3.0, "Systematic outward offset of every point (a miscalibrated stylus, cap "
          "thickness), mm.", minimum=0.0, maximum=10.0, unit="mm", label="digitiser bias"),
    Param("max_points", "int", 256, "Largest number of head-shape points tried (8, 16, ... up to this).",
          minimum=16, maximum=1024, label="most points"),
    Param("repeats", "int", 8, "Digitisations per number of points (the TRE is their mean).", minimum=2, maximum=30),
    Param("seed", "int", 0, "Seed of the simulated sessions.", minimum=0),
)


def _fiducials_vs_icp(scalp: dict[str, Any], fid: np.ndarray, n: int, noise: float, repeats: int,
                      seed: int) -> tuple[float, float]:
    """Mean TRE (mm) of a fiducials-only fit and of fiducials + ICP on the same digitisations."""
    from ..engine.coreg.model import Coreg

    rng = np.random.default_rng([seed, 99])
    tre_fid, tre_icp = [], []
    for _ in range(repeats):
        case = make_case(scalp, fid, seed=int(rng.integers(2**31)), n_eeg=32, n_hsp=n, noise_mm=noise, n_outliers=0)
        co = Coreg(case.dig, scalp, fid).fit_fiducials()
        tre_fid.append(co.qc(case.true_head_mri, case.true_eeg)["tre_mean_mm"])
        co.fit_icp(30, weights={"nasion": 1.0, "lpa": 1.0, "rpa": 1.0, "eeg": 0.0}, robust=None,
                   tol=(0.05, 0.05, 0.05), fid_match="matched")
        tre_icp.append(co.qc(case.true_head_mri, case.true_eeg)["tre_mean_mm"])
    return float(np.mean(tre_fid)), float(np.mean(tre_icp))


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    res = LessonResult(params)
    scalp, fid = fsaverage_scalp()
    progress(0.05, "scalp loaded")
    n_points = tuple(int(n) for n in 2 ** np.arange(3, int(np.log2(params["max_points"])) + 1))
    noise, bias = params["noise_mm"], params["bias_mm"]
    r = noise_vs_bias(scalp, fid, n_points=n_points, noise_mm=noise, bias_mm=bias, n_repeats=params["repeats"],
                      seed=params["seed"], progress=progress.sub(0.05, 0.8))
    tre_fid, tre_icp = _fiducials_vs_icp(scalp, fid, n_points[-1], noise, params["repeats"], params["seed"])
    progress(0.95, "fiducials vs surface")
    tn, tb = np.array(r["tre_noise_mm"]), np.array(r["tre_bias_mm"])
    res.claim("tre_noise_few", f"Noise {noise:g} mm, {n_points[0]} head-shape points: electrode error (TRE) "
              f"{tn[0]:.2f} mm.", tn[0], "mm")
    res.claim("tre_noise_many", f"Same noise, {n_points[-1]} points: {tn[-1]:.2f} mm "
              f"({tn[-1] / tn[0] * 100:.0f} % of the error with {n_points[0]}): random errors average out.",
              tn[-1], "mm")
    res.claim("tre_bias_many", f"With a {bias:g} mm digitiser bias added, {n_points[-1]} points still leave "
              f"{tb[-1]:.2f} mm: a bias is the same on every point, so more points do not remove it.", tb[-1], "mm")
    res.claim("tre_fiducials_only", f"Three fiducials alone ({noise:g} mm noise): {tre_fid:.2f} mm.", tre_fid, "mm")
    res.claim("tre_fiducials_icp", f"Fiducials then surface matching (ICP) on {n_points[-1]} points: "
              f"{tre_icp:.2f} mm.", tre_icp, "mm")
    res.table = table(["head-shape points", "TRE noise only (mm)", "± SD", f"TRE noise + {bias:g} mm bias (mm)", "± SD"],
                      [[n, f"{a:.2f}", f"{sa:.2f}", f"{b:.2f}", f"{sb:.2f}"] for n, a, sa, b, sb in
                       zip(r["n_points"], tn, r["tre_noise_sd_mm"], tb, r["tre_bias_sd_mm"])])
    shrink_noise = tn[-1] < 0.75 * tn[0]
    shrink_bias = tb[-1] < 0.75 * tb[0]
    res.answers = {
        "shrinks": "both" if shrink_noise and shrink_bias else ("noise only" if shrink_noise else
                                                                 ("bias only" if shrink_bias else "neither")),
        "bias_floor": float(tb[-1]),
        "better": "fiducials + surface matching" if tre_icp < tre_fid else "fiducials only",
    }

    def draw(fig: Any) -> None:
        from ..engine.coreg.figures import plot_noise_bias

        plot_noise_bias(fig, r)
        ax = fig.axes[0]
        ax.axhline(tre_fid, color="C2", ls="--", lw=1, label="fiducials only")
        ax.legend(fontsize="small")

    res.figures = [LessonFigure("Electrode error against the number of head-shape points", draw,
                                "Mean ± SD over repeated digitisations; dotted: the bias; dashed: fiducials alone.",
                                (7, 4))]
    res.notes.append("Scalp: fsaverage (MNE's bundled head); 32 electrodes are the targets, not fitted.")
    return res


LESSON = Lesson(
    id="coreg",
    chapter=1,
    title="The spatial handshake: coregistration",
    summary="Fiducials vs surface matching; random noise averages out, a digitiser bias does not.",
    text=(
        "To put EEG sources in the MRI we need the transform from the digitiser's head frame to the MRI frame. "
        "The quickest way matches three *fiducials* (nasion and the two ear points) clicked in both. Three points "
        "define a transform exactly, so every millimetre of error in them goes straight into the result, and "
        "fiducials are hard to find precisely.",
        "*Surface matching* (iterative closest point, ICP) digitises many points over the scalp and moves them "
        "until they lie on the MRI's scalp. With n points, independent random errors average out roughly as "
        "1/√n.",
        "A *systematic* error does not: if the stylus is miscalibrated or the cap lifts every point by 3 mm, "
        "every point is wrong the same way, and no number of points removes it. The error flattens out at about "
        "the size of the bias.",
        "Change the noise, the bias and the number of points: the curves are the true electrode error (target "
        "registration error, TRE), which only a phantom can tell you.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("shrinks", "Going from the fewest to the most head-shape points, which error shrinks by a quarter "
                 "or more?", choices=("noise only", "bias only", "both", "neither"),
                 explain="Independent errors average out; a common offset is fitted as if it were the head."),
        Question("bias_floor", "With the bias, what electrode error is left at the most points?", kind="number",
                 unit="mm", rel_tol=0.2, abs_tol=0.3,
                 explain="It levels off near the bias: the fit cannot tell a biased digitiser from a larger head."),
        Question("better", "Which gives the smaller electrode error here?",
                 choices=("fiducials only", "fiducials + surface matching"),
                 explain="Three noisy points fix six degrees of freedom; hundreds of points average the noise."),
    ),
    engine=("workbench.engine.coreg.model.Coreg", "workbench.engine.coreg.synthetic.noise_vs_bias"),
)
