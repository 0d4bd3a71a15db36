"""Lesson 6, neurovascular coupling: the canonical HRF against the Balloon-Windkessel model.

Runs :mod:`workbench.engine.hemo` (the haemodynamics the phantom's BOLD is made with):
one event through SPM's canonical HRF and through the non-linear balloon (its hidden
states: vasodilatory signal, flow, volume, deoxyhaemoglobin), then two events ``isi``
apart against the sum of two single responses: the linear model adds, the balloon
saturates when the second event arrives before the first response has passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.hemo import BalloonParams, balloon_windkessel, spm_hrf
from ..engine.steps.params import Param
from .base import Lesson, LessonFigure, LessonResult, Question, table

DT = 0.05
LENGTH = 40.0
ONSET = 2.0
ISI_SWEEP = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)

PARAMS = (
    Param("duration", "float", 1.0, "Length of each neural event (s); 1 s is a typical event.",
          minimum=0.1, maximum=10.0, unit="s"),
    Param("amplitude", "float", 1.0, "Neural input level during an event (SPM units: 1 raises flow by ~1/gamma); "
          "stronger input saturates more.", minimum=0.1, maximum=5.0),
    Param("isi", "float", 2.0, label="ISI", help="Time between the two events of the pair (s); short intervals show the "
          "balloon's non-linearity.", minimum=0.5, maximum=20.0, unit="s"),
)


def _events(t: np.ndarray, onsets: list[float], duration: float, amplitude: float) -> np.ndarray:
    u = np.zeros_like(t)
    for t0 in onsets:
        u[(t >= t0) & (t < t0 + max(duration, DT))] = amplitude
    return u


def pair_ratio(isi: float, duration: float, amplitude: float, params: BalloonParams | None = None) -> float:
    """What the second of two events ``isi`` apart adds to the balloon's BOLD, over what it gives alone (peaks).

    1.0 means the model adds responses (linear); below 1 it saturates.
    """
    t = np.arange(0.0, LENGTH + isi, DT)
    single_a = balloon_windkessel(_events(t, [ONSET], duration, amplitude), DT, params).bold
    single_b = balloon_windkessel(_events(t, [ONSET + isi], duration, amplitude), DT, params).bold
    pair = balloon_windkessel(_events(t, [ONSET, ONSET + isi], duration, amplitude), DT, params).bold
    return float((pair - single_a).max() / single_b.max())


def run(params: dict[str, Any], progress: Any) -> LessonResult:
    res = LessonResult(params)
    P = BalloonParams()
    dur, amp, isi = params["duration"], params["amplitude"], params["isi"]
    t = np.arange(0.0, LENGTH, DT)
    u1 = _events(t, [ONSET], dur, amp)
    bw = balloon_windkessel(u1, DT, P)
    can = np.convolve(u1, spm_hrf(DT, length=32.0))[: len(t)]
    can *= float(can @ bw.bold) / float(can @ can)  # least-squares scale onto the balloon (shapes compared)
    progress(0.3, "single event")
    t_peak_can = float(t[np.argmax(can)] - ONSET)
    t_peak_bw = float(t[np.argmax(bw.bold)] - ONSET)
    t_peak_flow = float(t[np.argmax(bw.flow)] - ONSET)
    t_min_q = float(t[np.argmin(bw.deoxy)] - ONSET)
    undershoot = float(-bw.bold[np.argmax(bw.bold):].min() / bw.bold.max() * 100)
    res.claim("peak_canonical_s", f"The canonical HRF peaks {t_peak_can:.1f} s after the event starts.", t_peak_can, "s")
    res.claim("peak_balloon_s", f"The Balloon-Windkessel BOLD peaks {t_peak_bw:.1f} s after it.", t_peak_bw, "s")
    res.claim("peak_flow_s", f"Blood inflow (a hidden state) peaks first, after {t_peak_flow:.1f} s; "
              f"deoxyhaemoglobin is lowest after {t_min_q:.1f} s.", t_peak_flow, "s")
    res.claim("undershoot_pct", f"After the peak the balloon BOLD falls {undershoot:.0f} % of its peak below "
              "baseline (the post-stimulus undershoot: volume recovers slower than flow).", undershoot, "%")

    t2 = np.arange(0.0, LENGTH + isi, DT)
    ua, ub = _events(t2, [ONSET], dur, amp), _events(t2, [ONSET + isi], dur, amp)
    bw_a, bw_b = balloon_windkessel(ua, DT, P).bold, balloon_windkessel(ub, DT, P).bold
    bw_pair = balloon_windkessel(ua + ub, DT, P).bold
    ratio = float((bw_pair - bw_a).max() / bw_b.max())
    progress(0.5, "two events")
    res.claim("pair_ratio_pct", f"With two events {isi:g} s apart, the second adds {ratio * 100:.1f} % of the BOLD it gives alone; "
              "the linear model (what a canonical-HRF GLM assumes) says 100 %.",
              ratio * 100, "%")
    rows = []
    ratios = []
    for k, s in enumerate(ISI_SWEEP):
        r = pair_ratio(s, dur, amp, P)
        ratios.append(r)
        rows.append([f"{s:g}", f"{r * 100:.1f}", f"{(1 - r) * 100:.1f}"])
        progress(0.5 + 0.45 * (k + 1) / len(ISI_SWEEP), f"ISI {s:g} s")
    res.table = table(["ISI (s)", "2nd event adds (% of alone)", "saturation (%)"], rows)
    res.claim("saturation_short_pct", f"Saturation at ISI {ISI_SWEEP[0]:g} s: {(1 - ratios[0]) * 100:.1f} %; "
              f"at {ISI_SWEEP[-1]:g} s: {(1 - ratios[-1]) * 100:.1f} %.", (1 - ratios[0]) * 100, "%")
    res.claim("saturation_long_pct", f"With {ISI_SWEEP[-1]:g} s between events the responses nearly add "
              f"({(1 - ratios[-1]) * 100:.1f} % saturation).", (1 - ratios[-1]) * 100, "%")

    verdict = "smaller" if ratio < 0.98 else ("larger" if ratio > 1.02 else "about equal")
    res.answers = {
        "pair": verdict,
        "peak": t_peak_can,
        "first": "flow" if t_peak_flow < t_min_q else "deoxyhaemoglobin",
    }

    def draw_single(fig: Any) -> None:
        ax = fig.add_subplot(211)
        ax.plot(t - ONSET, bw.bold * 100, label="Balloon-Windkessel")
        ax.plot(t - ONSET, can * 100, "--", label="canonical HRF (scaled)")
        ax.fill_between(t - ONSET, 0, u1 / max(amp, 1e-12) * bw.bold.max() * 100 * 0.3, color="0.85", label="neural event")
        ax.set_ylabel("BOLD (%)")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
        ax2 = fig.add_subplot(212, sharex=ax)
        for y, name in ((bw.vasodilatory, "vasodilatory s"), (bw.flow - 1, "flow f - 1"),
                        (bw.volume - 1, "volume v - 1"), (bw.deoxy - 1, "deoxy q - 1")):
            ax2.plot(t - ONSET, y, label=name)
        ax2.set_xlabel("time after event onset (s)")
        ax2.set_ylabel("hidden states")
        ax2.legend(fontsize="small", ncol=2)
        ax2.grid(alpha=0.3)

    def draw_pair(fig: Any) -> None:
        ax = fig.add_subplot(121)
        ax.plot(t2 - ONSET, bw_pair * 100, label="balloon, two events")
        ax.plot(t2 - ONSET, (bw_a + bw_b) * 100, "--", label="sum of two singles (linear)")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("BOLD (%)")
        ax.set_title(f"ISI {isi:g} s")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
        ax3 = fig.add_subplot(122)
        ax3.plot(ISI_SWEEP, [(1 - r) * 100 for r in ratios], "o-")
        ax3.set_xlabel("ISI (s)")
        ax3.set_ylabel("saturation (%)")
        ax3.set_title("non-linearity vs ISI")
        ax3.grid(alpha=0.3)

    res.figures = [
        LessonFigure("One event: canonical HRF vs Balloon-Windkessel, and the hidden states", draw_single,
                     "Top: BOLD. Bottom: the balloon's states, which an fMRI scanner never measures.", (7, 5.5)),
        LessonFigure("Two events: where the models differ", draw_pair,
                     "A GLM with a canonical HRF adds responses; the balloon saturates at short ISIs.", (8, 3.5)),
    ]
    res.notes.append("Balloon constants: SPM12 defaults (workbench.engine.hemo.BalloonParams).")
    return res


LESSON = Lesson(
    id="hemodynamics",
    chapter=6,
    title="Neurovascular coupling: canonical HRF vs Balloon-Windkessel",
    summary="How neural activity becomes BOLD; hidden states; where a linear HRF is wrong.",
    text=(
        "fMRI does not see neurons. It sees the blood oxygenation that follows them, seconds later. "
        "A *general linear model* assumes this is a fixed filter: every event adds the same canonical "
        "haemodynamic response function (HRF), peaking about 5 s after the event.",
        "The *Balloon-Windkessel* model describes the physiology behind it: activity releases a "
        "vasodilatory signal s, which raises blood inflow f; the venous 'balloon' fills (volume v) and "
        "washes out deoxyhaemoglobin q. BOLD is a non-linear function of v and q. These are *hidden "
        "states*: the scanner measures only their combination.",
        "For isolated events the two models look alike. When events come close together, the balloon "
        "is still inflated from the first one and the second adds less: the responses *saturate*. "
        "Change the interval between the two events and watch the saturation.",
        "The phantom's BOLD is made with this balloon model, so the fusion lessons inherit this effect.",
    ),
    params=PARAMS,
    run_fn=run,
    questions=(
        Question("pair", "With the current ISI, is the balloon's response to two events smaller, equal, or larger "
                 "than the sum of two single responses?", choices=("smaller", "about equal", "larger"),
                 explain="The balloon saturates: flow and volume are already raised by the first event."),
        Question("peak", "How many seconds after the event starts does the canonical HRF peak?", kind="number",
                 unit="s", rel_tol=0.1, abs_tol=0.5,
                 explain="SPM's canonical HRF peaks ~5 s after a short event (its gamma peaks at 6 s for an impulse at 0)."),
        Question("first", "Which hidden state reaches its extreme first?", choices=("flow", "deoxyhaemoglobin"),
                 explain="Flow drives the balloon; deoxyhaemoglobin is washed out only as blood flows through."),
    ),
    engine=("workbench.engine.hemo.balloon_windkessel", "workbench.engine.hemo.spm_hrf"),
)
