"""Render the README's Training pictures. Run from the repository root:

    python docs/make_training_pictures.py     # docs/filters_trained.png

The first-layer filters of LeNet-5 with the bundled weights (trained by
``cnnviz train``, see resources/presets/lenet5.json) under the random
initialisation the same stack starts from, drawn as the Training panel draws
its live filters. The mid-run picture of the Training panel,
docs/training_midrun.png, comes from a real training:

    python tests/benchmarks/bench_training_responsiveness.py --epochs 20 \\
        --screenshot docs/training_midrun.png
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CNNVIZ_COLOR_SCHEME", "light")

OUT = Path(__file__).resolve().parent


def first_layer_filters(trained: bool):
    """LeNet-5's first conv weights: the bundled trained ones, or the seed-0 start."""
    from cnnviz.compute.model import build_model
    from cnnviz.compute.weights import load_weights
    from cnnviz.core.presets import load_preset, preset_path, weights_path

    arch = load_preset("lenet5")
    model = build_model(arch, seed=0)
    if trained:
        load_weights(model, weights_path(arch, preset_path("lenet5")))
    conv = model[0]
    return {0: (conv.weight.detach().numpy().copy(), conv.bias.detach().numpy().copy())}


def comparison():
    """Two rows of six 5×5 filters: random start above, trained below."""
    from PySide6 import QtWidgets

    from cnnviz.qt.panels.base import graphics_widget, info_label, title_label
    from cnnviz.qt.panels.training_filters import FilterGrid

    widget = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(widget)
    layout.addWidget(title_label("LeNet-5, first layer: six 5×5 filters"))
    for trained, text in (
        (False, "Random initialisation (seed 0): noise"),
        (True, "After training on the digits (bundled weights): edges and strokes"),
    ):
        layout.addWidget(info_label(text, "", 13))
        canvas = graphics_widget()
        canvas.setMinimumHeight(150)
        FilterGrid(canvas).show(first_layer_filters(trained))
        layout.addWidget(canvas)
    layout.addWidget(
        info_label("Red adds, blue subtracts; each filter scaled to its own largest weight.")
    )
    return widget


def main() -> int:
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from cnnviz.qt.style.theme import apply_color_scheme

    apply_color_scheme(app)
    from cnnviz.qt.panels._samples import settle

    widget = comparison()
    widget.resize(900, 420)
    widget.show()
    settle(widget)
    path = OUT / "filters_trained.png"
    widget.grab().save(str(path))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
