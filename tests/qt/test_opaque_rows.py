"""An imported Opaque layer in the editor (issue 18): its row moves and goes like any
other, a move to where another input arrives is marked invalid in one line, and
Properties shows what the import measured with nothing to edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnviz.compute.importers.sources import import_source
from cnnviz.core.project import Project
from cnnviz.qt.editor import commands
from tests.qt.test_main_window import make_window

MODELS = Path(__file__).parents[1] / "opaque_models.py"


@pytest.fixture(scope="module")
def imported():
    return import_source(f"{MODELS}:Net", (3, 16, 16)).architecture


@pytest.fixture
def window(qtbot, imported):
    win = make_window(qtbot)
    win.doc.reset(Project(imported), None)
    yield win
    win.shutdown()


def test_properties_show_the_measurements_and_offer_nothing_to_edit(window):
    window.stack_view.select_rows([2])
    assert window.properties.editors == {}
    text = window.properties.formula.text()
    assert "runs the original LayerNorm2d, from stage.norm" in text
    assert "MACs: not counted (opaque)" in text


def test_a_move_that_changes_its_input_is_invalid_and_undoes(window):
    doc = window.doc
    before = doc.architecture
    doc.undo_stack.push(commands.move_rows(doc, [2], 6))  # after the first pool: 8×8×8 arrives
    norm = next(i for i in doc.analysis.layers if i.layer.params.get("label") == "LayerNorm2d")
    assert norm.address == "5" and norm.error == (
        "layer 5 Opaque: LayerNorm2d was measured on 8×16×16 and runs the original module; "
        "it cannot take 8×8×8"
    )
    doc.undo_stack.undo()
    assert doc.architecture == before and doc.analysis.first_error is None


def test_its_row_can_be_deleted(window):
    doc = window.doc
    doc.undo_stack.push(commands.remove_rows(doc, [2]))
    assert [layer.type for layer in doc.architecture.layers].count("Opaque") == 1
    assert doc.analysis.first_error is None
