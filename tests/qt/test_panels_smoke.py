"""Every panel builds, draws every layer of the presets (or says why not), and opens alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6 import QtGui

from cnnviz.qt.panels._samples import sample_input
from cnnviz.qt.panels.activation import ActivationPanel
from cnnviz.qt.panels.base import WAITING_HINT
from cnnviz.qt.panels.feature_maps import FeatureMapPanel
from cnnviz.qt.panels.filters import FiltersPanel
from cnnviz.qt.panels.gradients import GradientsPanel
from cnnviz.qt.panels.overview import OverviewPanel
from cnnviz.qt.panels.pooling import PoolingPanel
from cnnviz.qt.panels.prediction import PredictionPanel
from cnnviz.qt.panels.why import WhyPanel

PANELS = {
    "feature_maps": FeatureMapPanel,
    "overview": OverviewPanel,
    "filters": FiltersPanel,
    "pooling": PoolingPanel,
    "activation": ActivationPanel,
    "prediction": PredictionPanel,
    "why": WhyPanel,
    "gradients": GradientsPanel,
}
# What each panel is for: on these layer types it must draw, not hint.
DRAWS = {
    "feature_maps": {"Conv2d", "ReLU", "Tanh", "MaxPool2d", "AvgPool2d", "BatchNorm2d"},
    "overview": None,  # every layer
    "filters": {"Conv2d"},
    "pooling": {"MaxPool2d", "AvgPool2d"},
    "activation": {"ReLU", "Tanh"},
    "prediction": None,
    "why": None,  # every layer: the map is of the input, for a class
    "gradients": None,  # every layer: the bars are of the whole network
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", list(PANELS))
def test_each_panel_draws_every_layer_of_the_presets_or_explains(qtbot, name):
    panel = PANELS[name]()
    qtbot.addWidget(panel)
    panel.resize(900, 650)
    panel.show()
    assert panel.hint.text() == WAITING_HINT
    for preset in ("tinyvgg", "lenet5", "interview"):
        first = sample_input(preset, 0)
        for info in first.analysis.layers:
            data = sample_input(preset, info.index) if info.index else first
            panel.show(data)
            kinds = DRAWS[name]
            if name in ("prediction", "why") and data.result.probabilities is None:
                kinds = set()
            if name == "feature_maps" and len(info.output_shape) != 3:
                kinds = set()  # a vector has no maps
            if kinds is None or info.layer.type in kinds:
                assert not panel.showing_hint, (preset, info.index, panel.hint.text())
            else:
                assert panel.hint.text(), (preset, info.index)
                assert not panel.hint.text().startswith("Could not draw")
    image = panel.grab().toImage()
    assert image.width() > 100
    assert image.pixelColor(image.width() // 2, image.height() // 2) != QtGui.QColor()


@pytest.mark.parametrize("name", list(PANELS))
def test_each_panel_opens_alone(tmp_path, name):
    picture = tmp_path / f"{name}.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", f"cnnviz.qt.panels.{name}", "--screenshot", str(picture)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert QtGui.QImage(str(picture)).width() > 300
