"""The Lessons menu and window: a view of workbench.lessons (form from the Params, a worker run,
figures and table, a quiz checked against the run's truth, presentation mode)."""

from __future__ import annotations

import pytest
from PyQt6.QtWidgets import QComboBox

from workbench.lessons import LESSON_IDS, get_lesson


@pytest.fixture
def lessons(qtbot):
    from workbench.gui.lessons import LessonsWindow

    w = LessonsWindow(None, "drift")
    w.resize(1366, 740)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.cancel()
    qtbot.waitUntil(lambda: w.task is None, timeout=20000)


def _run(qtbot, w, timeout=60000):
    task = w.run_experiment()
    assert task is not None
    qtbot.waitUntil(lambda: w.task is None, timeout=timeout)
    return task


def test_run_draws_the_lessons_figures_and_table_and_states_its_claims(qtbot, lessons, artifacts_dir):
    w = lessons
    assert [w.chooser.itemData(i) for i in range(w.chooser.count())] == list(LESSON_IDS)
    assert set(w.form.params) == {p.name for p in get_lesson("drift").params}
    for q in w.questions:
        assert not q.button.isEnabled()  # nothing to check against before a run
    w.form.set_values({"drift_ppm": 25.0, "duration_min": 10.0})
    _run(qtbot, w)
    r = w.result
    assert r is not None and r.params["drift_ppm"] == 25.0
    assert w.views.count() == len(r.figures) + 1  # figures, then the table
    assert w.table.rowCount() == len(r.table["rows"])
    html = w.text.toPlainText()
    for c in r.claims.values():
        assert c.text.replace("*", "") in html
    w.grab().save(str(artifacts_dir / "lessons_drift_1366x768.png"))


def test_quiz_checks_answers_against_the_runs_truth(qtbot, lessons):
    w = lessons
    _run(qtbot, w)
    rows = {row.question.id: row for row in w.questions}
    truth = w.result.answers["mismatch"]
    rows["mismatch"].set_answer(f"{truth:.2f}")
    assert rows["mismatch"].check() is True
    assert "Right" in rows["mismatch"].verdict.text()
    rows["mismatch"].set_answer(f"{truth * 2:.2f}")
    assert rows["mismatch"].check() is False
    assert "Not quite" in rows["mismatch"].verdict.text()
    sub = rows["subsample"]
    assert isinstance(sub.editor, QComboBox)
    sub.set_answer("no" if w.result.answers["subsample"] == "yes" else "yes")
    assert sub.check() is False


def test_presentation_mode_goes_full_screen_with_larger_fonts_and_back(qtbot, lessons):
    w = lessons
    before = w.scale
    w.present_action.trigger()
    qtbot.waitUntil(lambda: w.isFullScreen(), timeout=5000)
    assert w.presenting and w.scale > 1.5 * before
    assert "pt" in w.styleSheet()
    scr = w.screen().geometry()  # covers the screen, also without a window manager
    qtbot.waitUntil(lambda: w.width() >= scr.width() and w.height() >= scr.height(), timeout=5000)
    w.set_presentation(False)
    qtbot.waitUntil(lambda: not w.isFullScreen(), timeout=5000)
    assert w.scale == pytest.approx(before)


def test_switching_lessons_rebuilds_the_form_and_an_unavailable_one_cannot_run(qtbot, lessons, monkeypatch):
    from dataclasses import replace

    import workbench.gui.lessons.window as window_mod

    w = lessons
    w.show_lesson("hemodynamics")
    assert set(w.form.params) == {"duration", "amplitude", "isi"}
    assert len(w.questions) == len(get_lesson("hemodynamics").questions)
    missing = replace(get_lesson("dcm"), plugins=("no-such-method",))
    monkeypatch.setattr(window_mod, "get_lesson", lambda lid: missing if lid == "dcm" else get_lesson(lid))
    w.show_lesson("dcm")
    assert not w.run_action.isEnabled()
    assert w.run_experiment() is None
    assert "cannot run" in w.text.toPlainText()


def test_main_window_has_a_lessons_menu_that_opens_the_lesson(qtbot, window):
    menu = window.lessons_menu
    titles = [a.text() for a in menu.actions()]
    assert len(titles) == len(LESSON_IDS)
    menu.actions()[LESSON_IDS.index("hemodynamics")].trigger()
    lw = window.lessons_window
    try:
        assert lw.isVisible() and lw.lesson.id == "hemodynamics"
    finally:
        lw.close()
        lw.deleteLater()
