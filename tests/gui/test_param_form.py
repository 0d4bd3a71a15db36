"""The generated parameter form: a number under a ticked auto/off shows that word, not a number."""

from __future__ import annotations

from workbench.engine.steps.params import Param
from workbench.gui.param_form import ParamForm


def test_auto_number_shows_auto_then_a_chosen_number(qtbot):
    tr = Param("tr", "float", None, "Repetition time", unit="s", minimum=0.05, maximum=20.0, optional=True)
    n = Param("n_slices", "int", None, "Slices per volume", minimum=1, maximum=500, optional=True)
    form = ParamForm([tr, n])
    qtbot.addWidget(form)
    ed, box = form.editors["tr"], form.none_boxes["tr"]
    # before: a disabled "0.0500 s" that nobody chose
    assert box.isChecked() and not ed.isEnabled() and ed.text() == "auto"
    assert form.editors["n_slices"].text() == "auto"
    assert form.values() == {"tr": None, "n_slices": None}
    form.set_values({"tr": 2.0})
    assert ed.isEnabled() and ed.text() == "2.0000 s" and form.values()["tr"] == 2.0
    box.setChecked(True)  # the user ticks auto: the number is kept for when it is unticked
    assert ed.text() == "auto" and form.values()["tr"] is None
    box.setChecked(False)
    assert ed.text() == "2.0000 s" and form.values()["tr"] == 2.0
