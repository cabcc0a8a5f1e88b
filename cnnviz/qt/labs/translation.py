"""Lab: translation invariance. Shift the input by k pixels and compare every
layer's maps and the prediction: a convolution moves its map with the input
(equivariance), pooling moves it by k / stride cells, and only the values that
pooling and the dense layers keep come close to not changing (invariance)."""

from __future__ import annotations

from cnnviz.qt.bridge.translation_controller import TranslationController
from cnnviz.qt.labs import Lab, lab_dock
from cnnviz.qt.panels.translation_lab import TranslationLabPanel

KEY = "translation"


def make_panel(window) -> TranslationLabPanel:
    """The panel with its controller: computed while its dock can be seen."""
    panel = TranslationLabPanel()
    controller = TranslationController(window.controller, parent=panel)
    panel.controller = controller
    panel.choice_changed.connect(controller.set_choice)
    controller.result_ready.connect(panel.show_result)
    controller.failed.connect(panel.show_failure)

    def network(view) -> None:
        panel.set_network(view.analysis, view.architecture.classes)

    controller.network_changed.connect(network)
    latest = window.controller.latest
    if latest is not None:
        network(latest)
    controller.set_choice(panel.choice)
    return panel


def start(window) -> None:
    # Only a lab that can be seen computes; a hidden tab catches up when shown.
    panel = lab_dock(
        window,
        KEY,
        "Translation invariance",
        lambda: make_panel(window),
        lambda panel, visible: panel.controller.set_active(visible),
    )
    panel.controller.set_active(True)


LAB = Lab(
    "&Translation invariance",
    order=40,
    start=start,
    tip="Shift the input by k pixels: feature maps and the prediction before and after",
)
