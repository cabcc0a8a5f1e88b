"""The step-through panel's Forward / Backward switch and the ∂L/∂Y it steps with.

Backward mode steps the classroom example's backward pass (core/conv_backward):
∂L/∂X as a full convolution of ∂L/∂Y (spread by the stride) with the flipped
kernel, ∂L/∂W as the correlation of X with ∂L/∂Y, or pooling's routing. ∂L/∂Y is
all ones (L = the sum of the outputs) or small random whole numbers. A real
layer is stepped forward only: its true ∂L/∂Y (say, of the top class score)
would need a backward pass on the compute thread, which this panel does not ask
for; the switch says so in its tooltip.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from cnnviz.core.conv_backward import (
    grad_input_walkthrough,
    grad_output,
    grad_weight_walkthrough,
    pool_backward_walkthrough,
)
from cnnviz.core.conv_steps import ConvConfig, PoolConfig, StepError, Walkthrough

FORWARD, GRAD_INPUT, GRAD_WEIGHT = "forward", "input", "weight"
DIRECTIONS = (
    (FORWARD, "Forward"),
    (GRAD_INPUT, "Backward: ∂L/∂X"),
    (GRAD_WEIGHT, "Backward: ∂L/∂W"),
)
GRADS = (("ones", "∂L/∂Y = ones"), ("random", "∂L/∂Y = random"))
REAL_TIP = (
    "A real layer is stepped forward only (its real ∂L/∂Y would need a backward pass "
    "on the compute thread); backward mode steps the classroom example"
)


def backward_walkthrough(config: ConvConfig | PoolConfig, direction: str, grad: str,
                         seed: int = 0) -> Walkthrough:  # fmt: skip
    """The backward walkthrough of `config`; StepError with one line when there is none."""
    dy = grad_output(config.output_shape, grad, seed)
    if isinstance(config, PoolConfig):
        if direction == GRAD_WEIGHT:
            raise StepError("pooling has no weights: choose Backward: ∂L/∂X")
        return pool_backward_walkthrough(config, dy)
    if direction == GRAD_WEIGHT:
        return grad_weight_walkthrough(config, dy)
    return grad_input_walkthrough(config, dy)


class DirectionControls(QtWidgets.QWidget):
    """Forward / Backward ∂L/∂X / Backward ∂L/∂W, and which ∂L/∂Y."""

    changed = QtCore.Signal(str, str)  # direction, grad

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.direction = QtWidgets.QComboBox()
        for key, text in DIRECTIONS:
            self.direction.addItem(text, key)
        self.direction.setToolTip(
            "Backward: ∂L/∂X as a full convolution of ∂L/∂Y with the flipped kernel, "
            "∂L/∂W as the correlation of X with ∂L/∂Y (∂L/∂Y at the convolution's output, "
            "before bias and ReLU)"
        )
        self.grad = QtWidgets.QComboBox()
        for key, text in GRADS:
            self.grad.addItem(text, key)
        self.grad.setToolTip("Ones: L is the sum of the outputs. Random: whole numbers −2…2")
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.direction)
        row.addWidget(self.grad)
        for box in (self.direction, self.grad):
            box.currentIndexChanged.connect(self._emit)

    def _emit(self, _index=None) -> None:
        self.changed.emit(self.direction.currentData(), self.grad.currentData())

    def show_state(self, direction: str, grad: str, pool: bool, real: bool) -> None:
        """Set without echoing `changed`; ∂L/∂W is off for pooling, backward for real layers."""
        model = self.direction.model()
        model.item(1).setEnabled(not real)
        model.item(2).setEnabled(not real and not pool)
        for box, key, items in ((self.direction, direction, DIRECTIONS), (self.grad, grad, GRADS)):
            box.blockSignals(True)
            box.setCurrentIndex([k for k, _ in items].index(key))
            box.blockSignals(False)
        self.grad.setEnabled(direction != FORWARD)
        self.setToolTip(REAL_TIP if real else "")
