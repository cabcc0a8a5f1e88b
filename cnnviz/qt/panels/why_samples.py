"""The Why panel on its own: sample arrays and numpy stand-in maps, no torch.

``python -m cnnviz.qt.panels.why`` shows the panel on the synthetic picture of
the other panels' standalone mode (cnnviz.qt.panels._samples). The maps are
stand-ins with the right shapes and signs, not attributions: Grad-CAM's is
the chosen conv layer's mean activation after ReLU, stretched to the input;
the others are the picture's edges (signed, or their magnitude for saliency).
The real maps come from cnnviz.compute.explain on the compute thread.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from cnnviz.core.explain_display import ExplainChoice
from cnnviz.core.explain_jobs import Explanation
from cnnviz.qt.panels.base import PanelInput


def _stretch(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize (a stand-in; the real Grad-CAM is bilinear)."""
    rows = np.minimum((np.arange(height) * values.shape[0]) // height, values.shape[0] - 1)
    cols = np.minimum((np.arange(width) * values.shape[1]) // width, values.shape[1] - 1)
    return values[np.ix_(rows, cols)]


def sample_explanation(data: PanelInput, choice: ExplainChoice, request_id: int = 1):
    """A stand-in Explanation for `choice` on the panel input `data`."""
    image = np.asarray(data.result.input, dtype=np.float32)
    height, width = image.shape[1:]
    probabilities = data.result.probabilities
    target = choice.target if choice.target is not None else int(np.argmax(probabilities))
    score = float(np.log(max(float(probabilities[target]), 1e-12)))
    layer_map = delta = None
    if choice.method in ("gradcam", "guided-gradcam") and choice.layer is not None:
        output = data.activation(choice.layer).output
        layer_map = np.maximum(output.mean(axis=0), 0.0).astype(np.float32)
        values = _stretch(layer_map, height, width)
    else:
        grey = image.mean(axis=0)
        rows, cols = np.gradient(grey)
        values = (rows + cols) * (1 + target % 3)
        if choice.method == "saliency":
            values = np.abs(values)
        if choice.method == "integrated-gradients":
            delta = float(values.sum()) * 0.002
    values = np.ascontiguousarray(values, dtype=np.float32)
    return Explanation(
        request_id, choice.method, target, score, values, choice.layer, layer_map, delta, image
    )


def run_standalone(argv=None) -> int:
    from PySide6 import QtWidgets

    from cnnviz.qt.panels._samples import _follow_colour_scheme, sample_input, settle
    from cnnviz.qt.panels.why import WhyPanel

    parser = argparse.ArgumentParser(description="Show the Why panel on sample arrays.")
    parser.add_argument("--preset", default="tinyvgg", help="preset network (default tinyvgg)")
    parser.add_argument("--layer", default="0", help="selected layer (index or address)")
    parser.add_argument("--screenshot", metavar="PNG", help="save a picture and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    _follow_colour_scheme(app)
    panel = WhyPanel()
    data = sample_input(args.preset, args.layer)
    counter = iter(range(1, 1_000_000))
    panel.choice_changed.connect(
        lambda choice: panel.show_explanation(sample_explanation(data, choice, next(counter)))
    )
    panel.show(data)
    panel.resize(720, 760)
    panel.setWindowTitle(f"cnnviz · Why · {args.preset} (stand-in maps)")
    panel.show()
    if args.screenshot:
        settle(panel)
        panel.grab().save(args.screenshot)
        return 0
    return app.exec()
