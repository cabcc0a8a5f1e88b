"""Render the README's panel screenshots: TinyVGG on the bundled cat photo.

The forward pass is the real one (cnnviz.compute.runner, torch on the CPU,
seeded random weights, which the prediction panel says), with one teaching
edit: filter 3 of the first layer set to a Sobel-x kernel, so one feature map
is a recognisable edge map. Run from the repository root:

    python docs/make_panel_screenshots.py            # writes docs/panels/*.png

Offscreen and in the light scheme unless told otherwise.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CNNVIZ_COLOR_SCHEME", "light")

OUT = Path(__file__).resolve().parent / "panels"


def forward_result():
    from cnnviz.compute.runner import ForwardRunner
    from cnnviz.core import kernels
    from cnnviz.core.analysis import analyze
    from cnnviz.core.images import load_image
    from cnnviz.core.jobs import ForwardRequest, KernelEdit
    from cnnviz.core.preprocess import to_network_input
    from cnnviz.core.presets import load_preset
    from cnnviz.core.samples import sample

    arch = load_preset("tinyvgg")
    image = to_network_input(load_image(sample("cat").path), *arch.input.as_tuple())
    sobel = kernels.spread_over_inputs(kernels.teaching_kernel(kernels.SOBEL_X), 3)
    request = ForwardRequest(
        request_id=1,
        architecture=arch,
        image=image,
        seed=0,
        device="cpu",
        kernel_edits=(KernelEdit(layer=0, out_channel=3, kernel=sobel, bias=0.0),),
    )
    return ForwardRunner().run(request), analyze(arch), tuple(arch.classes or ())


def main() -> int:
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from cnnviz.qt.style.theme import apply_color_scheme

    apply_color_scheme(app)
    from cnnviz.qt.panels._samples import settle
    from cnnviz.qt.panels.activation import ALL, ActivationPanel
    from cnnviz.qt.panels.base import PanelInput
    from cnnviz.qt.panels.feature_maps import FeatureMapPanel
    from cnnviz.qt.panels.filters import FiltersPanel
    from cnnviz.qt.panels.overview import OverviewPanel
    from cnnviz.qt.panels.pooling import PoolingPanel
    from cnnviz.qt.panels.prediction import PredictionPanel

    def zoom_on_window(panel):
        """A 16×16 corner of the input and the 8×8 it pools into, one window lit."""
        panel.set_channel(3)
        panel.input_view.setRange(xRange=(24, 40), yRange=(20, 36), padding=0)
        panel.output_view.setRange(xRange=(12, 20), yRange=(10, 18), padding=0)
        region = panel.output_map[10:18, 12:20]
        row, col = np.unravel_index(np.argmax(region), region.shape)
        panel.highlight(10 + int(row), 12 + int(col))

    result, analysis, classes = forward_result()
    OUT.mkdir(exist_ok=True)

    def shoot(panel, name, size, layer, prepare=None):
        panel.resize(*size)
        panel.show()
        # The weights are random (seeded): the prediction panel says so, as in the app.
        panel.show(PanelInput(result, analysis, layer, classes, trained=False))
        settle(panel)
        if prepare is not None:
            prepare(panel)
            settle(panel)
        path = OUT / f"{name}.png"
        panel.grab().save(str(path))
        print(path)
        panel.close()

    shoot(FeatureMapPanel(), "feature_maps", (1280, 760), 8, lambda p: p.highlight(3, 9, 16))
    shoot(FeatureMapPanel(), "feature_maps_edges", (1280, 760), 1, lambda p: p.select_channel(3))
    shoot(OverviewPanel(), "overview", (1280, 230), 4)
    shoot(FiltersPanel(), "filters", (1100, 860), 0, lambda p: p.edit_kernel(3, 0))
    shoot(PoolingPanel(), "pooling", (1100, 640), 4, zoom_on_window)
    shoot(ActivationPanel(), "activation", (960, 760), 1)
    shoot(ActivationPanel(), "activation_compare", (960, 820), 1, lambda p: p.set_choice(ALL))
    shoot(PredictionPanel(), "prediction", (560, 600), 12)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
