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


def test_a_file_parameter_has_a_browse_button(qtbot, tmp_path, monkeypatch):
    """A str parameter that names a file (``browse``) gets Browse…; the chosen file is
    edited as if typed; "off" stays possible; a browse hint on a number is refused."""
    import pytest
    from PyQt6.QtWidgets import QFileDialog

    from workbench.engine.steps.params import DeclarationError

    rp = tmp_path / "rp_sub-01.txt"
    rp.write_text("0 0 0 0 0 0\n")
    p = Param("motion", "str", None, "Realignment parameters.", optional=True, none_label="off",
              browse="Realignment parameters (*.txt *.par *.tsv)")
    form = ParamForm([p, Param("window", "int", 20, "Neighbours.")])
    qtbot.addWidget(form)
    edited = []
    form.value_edited.connect(lambda n, v: edited.append((n, v)))
    assert set(form.browse_buttons) == {"motion"}
    asked = []

    def fake_open(_parent, _title, _start, filt):
        asked.append(filt)
        return str(rp), filt

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake_open)
    form.browse_buttons["motion"].click()
    assert edited == [("motion", str(rp))] and "*.par" in asked[0]
    assert form.values()["motion"] == str(rp)
    form.editors["motion"].setText("")
    assert form.values()["motion"] is None
    form.set_enabled(False)
    assert not form.browse_buttons["motion"].isEnabled()
    with pytest.raises(DeclarationError, match="only a str"):
        Param("x", "int", 1, "x", browse="folder").check_declaration()
