"""Properties shows a Conv2d's parameters next to a same-output dense layer's."""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.properties import PropertiesPanel

ARCH = Architecture(
    "sharing",
    InputShape(3, 16, 16),
    (Layer.make("Conv2d", out_channels=8, kernel_size=3, padding=1), Layer.make("ReLU")),
)


def test_conv_row_shows_dense_count_and_ratio_relu_does_not(qtbot):
    panel = PropertiesPanel(Document(ARCH))
    qtbot.addWidget(panel)
    panel.set_row(0)
    text = panel.formula.text()
    with torch.device("meta"):
        conv = nn.Conv2d(3, 8, 3, padding=1)
        dense = nn.Linear(3 * 16 * 16, 8 * 16 * 16)
    conv_count = sum(p.numel() for p in conv.parameters())
    dense_count = sum(p.numel() for p in dense.parameters())
    assert f"= {dense_count:,} params" in text
    assert f"{dense_count / conv_count:,.0f}× the conv's {conv_count:,}" in text
    panel.set_row(1)
    assert "dense layer" not in panel.formula.text()
