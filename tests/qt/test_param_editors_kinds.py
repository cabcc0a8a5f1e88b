"""Every catalogue parameter has an editor, and the new kinds (ZeroPad2d's four
sides, Upsample's optional size, scale_factor and align_corners) read back what
they show and hand over what check_params accepts."""

from __future__ import annotations

import pytest

from cnnviz.core.architecture import Layer
from cnnviz.core.catalogue import CATALOGUE
from cnnviz.core.params import check_value
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.param_editors import (
    OptionalPairEditor,
    OptionalSizeEditor,
    Pad4Editor,
    make_editor,
)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_parameter_of_every_type_has_an_editor_that_round_trips(qtbot, name):
    layer = commands.new_layer(name)  # what a palette drop gives: valid as it stands
    for param in CATALOGUE[name].params:
        editor = make_editor(param)
        qtbot.addWidget(editor)
        editor.set_value(layer.get(param.name))
        assert editor.value() == layer.get(param.name), (name, param.name)
        assert check_value(param, editor.value()) == layer.get(param.name)


def test_a_palette_upsample_is_valid():
    layer = commands.new_layer("Upsample")
    assert layer.get("scale_factor") == 2.0
    assert commands.new_layer("AdaptiveAvgPool2d").get("output_size") == 1


def test_four_sides_editor(qtbot):
    param = CATALOGUE["ZeroPad2d"].param("padding")
    editor = Pad4Editor(param)
    qtbot.addWidget(editor)
    editor.set_value(2)
    assert editor.link.isChecked() and editor.value() == 2
    with qtbot.waitSignal(editor.edited) as edited:
        editor.boxes[0].setValue(3)  # linked: all four follow
    assert edited.args == [3]
    editor.link.setChecked(False)
    with qtbot.waitSignal(editor.edited) as edited:
        editor.boxes[3].setValue(-1)  # bottom alone, a crop
    assert edited.args == [(3, 3, 3, -1)]
    editor.set_value((0, 1, 2, 3))
    assert not editor.link.isChecked() and editor.value() == (0, 1, 2, 3)
    assert editor.boxes[3].minimum() == param.minimum  # negative values offered


def test_optional_size_scale_and_align_corners(qtbot):
    spec = CATALOGUE["Upsample"]
    size = make_editor(spec.param("size"))
    scale = make_editor(spec.param("scale_factor"))
    corners = make_editor(spec.param("align_corners"))
    for editor in (size, scale, corners):
        qtbot.addWidget(editor)
    # Only a stride follows the kernel; Upsample's size is just unset.
    assert isinstance(size, OptionalSizeEditor) and not isinstance(size, OptionalPairEditor)
    assert isinstance(make_editor(CATALOGUE["MaxPool2d"].param("stride")), OptionalPairEditor)
    size.set_value(None)
    assert size.value() is None and not size.pair.height_box.isEnabled()
    size.set_value((4, 6))
    assert size.value() == (4, 6)
    scale.set_value(None)
    assert scale.value() is None and not scale.box.isEnabled()
    with qtbot.waitSignal(scale.edited) as edited:
        scale.unset.setChecked(False)
    assert edited.args == [scale.box.value()]
    scale.set_value(1.5)
    assert scale.value() == 1.5
    for value in (None, True, False):
        corners.set_value(value)
        assert corners.value() is value
    with qtbot.waitSignal(corners.edited) as edited:
        corners.box.setCurrentText("true")
    assert edited.args == [True]
    layer = Layer.make("Upsample", size=size.value(), mode="bilinear", align_corners=True)
    assert layer.get("size") == (4, 6)


def test_properties_show_and_edit_every_new_type(qtbot):
    from PySide6.QtWidgets import QMessageBox

    from cnnviz.core.architecture import Architecture, InputShape
    from cnnviz.core.project import Project
    from cnnviz.qt.window.main_window import MainWindow

    names = ("ZeroPad2d", "ConvTranspose2d", "GroupNorm", "Upsample", "ReLU6")
    layers = (
        *(commands.new_layer(name) for name in names),
        Layer.make("AdaptiveMaxPool2d", output_size=2),
        Layer.make("Identity"),
    )
    win = MainWindow(start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.doc.reset(Project(Architecture("new", InputShape(4, 9, 9), layers)), None)
    try:
        assert win.doc.analysis.valid, win.doc.analysis.first_error
        for row, layer in enumerate(layers):
            win.stack_view.select_rows([row])
            shown = {p.name for p in CATALOGUE[layer.type].params if not p.hidden}
            assert set(win.properties.editors) == shown, layer.type
        win.stack_view.select_rows([3])  # the Upsample: from ×2 to a fixed size
        win.properties.editors["scale_factor"].unset.setChecked(True)
        win.properties.editors["size"].same.setChecked(False)
        assert win.doc.architecture.layers[3].get("size") is not None
        assert win.doc.architecture.layers[3].get("scale_factor") is None
        win.stack_view.select_rows([0])
        win.properties.editors["padding"].link.setChecked(False)
        win.properties.editors["padding"].boxes[2].setValue(0)
        assert win.doc.architecture.layers[0].get("padding") == (1, 1, 0, 1)
    finally:
        win.shutdown()
