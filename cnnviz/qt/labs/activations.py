"""Lab: step and identity activations. The Activation panel draws the Step curve on a
real layer's inputs: its gradient is zero everywhere (undefined at 0), so gradient
descent never moves the weights before it. Identity, one choice away, shows why a
stack without non-linearities collapses into one linear map."""

from __future__ import annotations

from cnnviz.core.activations import is_elementwise_activation
from cnnviz.qt.labs import Lab, show_panel

NO_ACTIVATION = (
    "This network has no activation layer: add a ReLU to see Step and Identity "
    "on the inputs it gets"
)


def activation_row(analysis) -> int | None:
    """The first ReLU's flat index, else the first element-wise activation's, else None."""
    found = [info.index for info in analysis.layers if is_elementwise_activation(info.layer.type)]
    relus = [info.index for info in analysis.layers if info.layer.type == "ReLU"]
    return (relus or found or [None])[0]


def start(window) -> None:
    row = activation_row(window.doc.analysis)
    if row is None:
        window.statusbar.show_message(NO_ACTIVATION, 10_000)
    elif window.selected_layer != row:
        window.select_layer(row)
    panel = show_panel(window, "activation")
    panel.set_choice("Step")


LAB = Lab(
    "&Step and identity activations",
    order=70,
    start=start,
    tip="The Activation panel with the Step curve: no gradient flows through a step",
)
