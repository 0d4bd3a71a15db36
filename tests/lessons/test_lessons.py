"""Lessons: declarations, the fast experiments' numbers against independent computations, the handout and CLI.

Every number a lesson states is a :class:`~workbench.lessons.Claim` computed by the engine in
the run; here the fast lessons' claims are recomputed another way (plain physics, scipy) and
compared. The phantom-based lessons are tested in ``test_lessons_phantom.py`` (slow).
"""

from __future__ import annotations

import html
import json
import math
import re

import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.lessons import LESSON_IDS, Question, all_lessons, check_answer, get_lesson

EXPECTED = ("coreg", "drift", "gradient", "bcg", "cleanup", "hemodynamics", "eeg-informed-fmri",
            "fmri-informed-eeg", "symmetric", "dcm", "deep-fusion")


def test_every_lesson_is_declared_in_course_order_with_valid_settings_and_questions():
    assert LESSON_IDS == EXPECTED
    lessons = all_lessons()
    assert [L.id for L in lessons] == list(EXPECTED)
    assert [L.chapter for L in lessons] == sorted(L.chapter for L in lessons)
    for L in lessons:
        assert L.title and L.summary and L.text
        for p in L.params:
            p.check_declaration()
        assert L.validate() == L.defaults()
        for q in L.questions:
            assert q.kind in ("choice", "number")
            assert q.kind == "number" or len(q.choices) >= 2
        if not L.available:
            assert L.unavailable_reason  # says plainly why


def test_a_lesson_whose_plugin_is_missing_is_listed_and_refuses_to_run_saying_why():
    from dataclasses import replace

    base = get_lesson("hemodynamics")
    L = replace(base, plugins=("no-such-method",))
    assert not L.available and "no-such-method" in L.why_unavailable and "not installed" in L.why_unavailable
    with pytest.raises(InputError, match="cannot run: needs the no-such-method fusion plugin"):
        L.run()
    assert replace(base, run_fn=None).why_unavailable
    assert get_lesson("dcm").available  # the installed plugins are found


def test_bad_settings_are_refused_before_anything_runs():
    L = get_lesson("drift")
    with pytest.raises(InputError, match="no parameter 'bogus'"):
        L.run({"bogus": 1})
    with pytest.raises(InputError, match="drift_ppm"):
        L.run({"drift_ppm": "fast"})
    with pytest.raises(InputError, match="above its maximum"):
        L.run({"duration_min": 500})
    with pytest.raises(InputError, match="unknown lesson"):
        get_lesson("nope")


def test_answers_are_checked_with_the_declared_tolerance():
    q = Question("x", "?", kind="number", unit="ms", rel_tol=0.1, abs_tol=0.05)
    assert check_answer(q, 12.0, "12.9")[0]
    assert not check_answer(q, 12.0, "13.5")[0]
    assert check_answer(q, 12.0, "12,5 ms")[0]
    assert not check_answer(q, 12.0, "twelve")[0]
    c = Question("c", "?", choices=("yes", "no"))
    assert check_answer(c, "yes", "Yes")[0] and not check_answer(c, "yes", "no")[0]
    assert "the phantom says yes" in check_answer(c, "yes", "no")[1]


# ------------------------------------------------------------------ drift
@pytest.mark.parametrize("ppm, minutes, tr, sfreq", [(10.0, 20.0, 2.0, 5000.0), (-35.0, 7.0, 1.5, 1000.0),
                                                      (3.0, 45.0, 2.5, 2500.0)])
def test_drift_claims_match_the_clock_arithmetic(ppm, minutes, tr, sfreq):
    r = get_lesson("drift").run({"drift_ppm": ppm, "duration_min": minutes, "tr": tr, "sfreq": sfreq})
    c = {k: v.value for k, v in r.claims.items()}
    n_vol = int(math.floor(minutes * 60.0 / tr * (1 - 1e-9))) + 0  # volumes in the scan
    run_s = (n_vol - 1) * tr
    expected_ms = abs(ppm) * 1e-6 * run_s * 1e3
    # the first trigger is registered on the next sample: up to one sample of offset
    assert abs(c["mismatch_ms"] - expected_ms) <= 1e3 / sfreq + 1e-6
    assert c["mismatch_samples"] == pytest.approx(c["mismatch_ms"] * 1e-3 * sfreq)
    assert c["one_sample_s"] == pytest.approx(1.0 / (abs(ppm) * 1e-6 * sfreq))
    assert c["fitted_ppm"] == pytest.approx(ppm, abs=max(0.05 * abs(ppm), 0.3))
    assert c["fit_error_us"] < 1e6 / sfreq  # within one sample after the fit
    assert r.answers["subsample"] == "yes" and r.answers["mismatch"] == c["mismatch_ms"]
    rows = {row[0]: float(row[1]) for row in r.table["rows"]}
    assert rows["20"] == pytest.approx(abs(ppm) * 1e-6 * 1200 * 1e3, abs=0.01)


def test_ten_ppm_over_twenty_minutes_is_about_twelve_ms():
    r = get_lesson("drift").run()
    assert r.params["drift_ppm"] == 10.0 and r.params["duration_min"] == 20.0
    assert r.claims["mismatch_ms"].value == pytest.approx(12.0, abs=0.25)
    assert "12" in r.claims["mismatch_ms"].text or "11.9" in r.claims["mismatch_ms"].text
    assert dict((row[0], row[1]) for row in r.table["rows"])["20"] == "12.00"


# ------------------------------------------------------------------ hemodynamics
def _spm_peak_after_box(duration: float, dt: float = 0.05) -> float:
    """Peak time of SPM's canonical HRF (gamma(6) - gamma(16)/6) convolved with a box, via scipy."""
    from scipy.stats import gamma

    t = np.arange(0, 32, dt)
    h = gamma.pdf(t, 6) - gamma.pdf(t, 16) / 6.0
    box = np.ones(max(int(round(duration / dt)), 1))
    return float(np.argmax(np.convolve(box, h)) * dt)


@pytest.mark.parametrize("duration", [1.0, 0.2, 4.0])
def test_hemodynamics_peak_matches_an_independent_canonical_hrf(duration):
    r = get_lesson("hemodynamics").run({"duration": duration, "isi": 3.0})
    assert r.claims["peak_canonical_s"].value == pytest.approx(_spm_peak_after_box(duration), abs=0.15)
    # the balloon's hidden states: flow leads, deoxyhaemoglobin follows, BOLD undershoots
    assert r.claims["peak_flow_s"].value < r.claims["peak_balloon_s"].value
    assert r.answers["first"] == "flow"
    assert r.claims["undershoot_pct"].value > 0


def test_balloon_saturates_at_short_intervals_and_adds_at_long_ones():
    from workbench.lessons.hemodynamics import pair_ratio

    short = get_lesson("hemodynamics").run({"isi": 1.0})
    assert short.answers["pair"] == "smaller"
    assert short.claims["pair_ratio_pct"].value == pytest.approx(pair_ratio(1.0, 1.0, 1.0) * 100)
    assert short.claims["saturation_short_pct"].value > 10
    assert abs(short.claims["saturation_long_pct"].value) < 3
    # a weak input barely saturates; a strong one saturates more (the model's non-linearity)
    assert 1 - pair_ratio(1.0, 1.0, 0.1) < 0.5 * (1 - pair_ratio(1.0, 1.0, 1.0))
    assert 1 - pair_ratio(1.0, 1.0, 3.0) > 1 - pair_ratio(1.0, 1.0, 1.0)


# ------------------------------------------------------------------ coreg
def test_coreg_claims_are_the_tables_numbers_and_bias_sets_a_floor():
    r = get_lesson("coreg").run({"max_points": 64, "repeats": 3, "noise_mm": 2.0, "bias_mm": 4.0, "seed": 1})
    rows = r.table["rows"]
    assert [row[0] for row in rows] == [8, 16, 32, 64]
    assert r.claims["tre_noise_few"].value == pytest.approx(float(rows[0][1]), abs=0.006)
    assert r.claims["tre_noise_many"].value == pytest.approx(float(rows[-1][1]), abs=0.006)
    assert r.claims["tre_bias_many"].value == pytest.approx(float(rows[-1][3]), abs=0.006)
    # a 4 mm digitiser bias is not averaged away: the error stays near it with noise of 2 mm
    assert r.claims["tre_bias_many"].value > 0.6 * 4.0
    assert r.claims["tre_bias_many"].value > r.claims["tre_noise_many"].value + 1.0
    assert r.answers["bias_floor"] == r.claims["tre_bias_many"].value


# ------------------------------------------------------------------ handout and CLI
def test_handout_states_every_claim_with_its_number_figures_table_and_questions(tmp_path):
    from workbench.lessons.handout import handout_html

    L = get_lesson("drift")
    r = L.run({"duration_min": 5.0})
    text = handout_html(L, r)
    for c in r.claims.values():
        assert f"data-claim='{c.key}' data-value='{c.value!r}'" in text
    assert text.count("data:image/png;base64,") == len(r.figures)
    assert all(str(row[1]) in text for row in r.table["rows"])
    assert all(html.escape(q.text) in text for q in L.questions)
    assert "Answer:" not in text
    assert "Answer:" in handout_html(L, r, answers=True)


def test_cli_lists_the_lessons_and_writes_the_handout_atomically(tmp_path, capsys):
    from workbench.cli.main import main

    assert main(["lesson", "list"]) == 0
    out = capsys.readouterr().out
    assert all(lid in out for lid in EXPECTED)
    d = tmp_path / "h"
    assert main(["lesson", "drift", "--out", str(d), "--param", "drift_ppm=10", "--param", "duration_min=20"]) == 0
    html_text = (d / "handout.html").read_text(encoding="utf-8")
    doc = json.loads((d / "lesson.json").read_text(encoding="utf-8"))
    values = dict(re.findall(r"data-claim='([^']+)' data-value='([^']+)'", html_text))
    assert {k: float(v) for k, v in values.items()} == {k: c["value"] for k, c in doc["claims"].items()}
    assert doc["claims"]["mismatch_ms"]["value"] == pytest.approx(12.0, abs=0.25)
    assert sorted(p.name for p in d.iterdir()) == ["handout.html", "lesson.json"]
    # bad input: one line, nothing written
    bad = tmp_path / "bad"
    assert main(["lesson", "drift", "--out", str(bad), "--param", "drift_ppm=x"]) == 1
    assert main(["lesson", "nope", "--out", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "drift_ppm" in err and "unknown lesson" in err and "Traceback" not in err
    assert not bad.exists()
