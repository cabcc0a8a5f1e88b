"""A layer is named the same way everywhere in the editor: by its address
("3", or "3.body.0" inside a block), never by its position in the flat list of
every layer (which counts the layers inside the blocks above it)."""

from __future__ import annotations

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.properties import PropertiesPanel
from cnnviz.qt.editor.stack_model import row_tooltip

CONV = Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1)
ARCH = Architecture(
    "named",
    InputShape(4, 8, 8),
    (CONV, Layer.block("Residual", [[CONV, Layer.make("ReLU")], []]), Layer.make("ReLU")),
)


def test_a_layer_after_a_block_is_named_by_its_place_in_the_stack(qtbot):
    doc = Document(ARCH)
    last = doc.analysis.layers[-1]
    assert (last.index, last.address) == (4, "2")  # flat position 4, the stack's layer 2
    panel = PropertiesPanel(doc)
    qtbot.addWidget(panel)
    panel.set_row(last.index)
    assert panel.subtitle.text().startswith("Layer 2 ·")
    assert row_tooltip(last).startswith("Layer 2: ReLU")
    inner = doc.analysis.at("1.body.1")
    panel.set_row(inner.index)
    assert panel.subtitle.text().startswith("Layer 1.body.1 ·")
