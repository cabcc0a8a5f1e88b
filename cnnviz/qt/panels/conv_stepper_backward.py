"""The step-through panel's Forward / Backward switch and the ∂L/∂Y it steps with.

Backward mode steps the classroom example's backward pass (core/conv_backward):
∂L/∂X as a full convolution of ∂L/∂Y (spread by the stride) with the flipped
kernel, ∂L/∂W as the correlation of X with ∂L/∂Y, or pooling's routing. ∂L/∂Y is
all ones (L = the sum of the outputs) or small random whole numbers. A real
layer steps the backward pass of its patch (conv_stepper_real_backward) with
the same ones or random ∂L/∂Y: its true ∂L/∂Y (say, of the top class score)
would need a backward pass on the compute thread, which this panel does not ask
for; the switch says so in its tooltip.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.conv_backward import (
    grad_input_walkthrough,
    grad_output,
    grad_weight_walkthrough,
    pool_backward_walkthrough,
    pool_grad_so_far,
    pool_targets,
)
from cnnviz.core.conv_steps import ConvConfig, PoolConfig, StepError, Walkthrough
from cnnviz.qt.panels.conv_stepper_layout import RESULT, text_width

FORWARD, GRAD_INPUT, GRAD_WEIGHT = "forward", "input", "weight"
DIRECTIONS = (
    (FORWARD, "Forward"),
    (GRAD_INPUT, "Backward: ∂L/∂X"),
    (GRAD_WEIGHT, "Backward: ∂L/∂W"),
)
GRADS = (("ones", "∂L/∂Y = ones"), ("random", "∂L/∂Y = random"))
REAL_TIP = (
    "A real layer's backward steps use ∂L/∂Y = ones or random on the patch's cells: its "
    "real ∂L/∂Y (of a class score) would need a backward pass on the compute thread"
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
        """Set without echoing `changed`; ∂L/∂W is off for pooling."""
        self.direction.model().item(2).setEnabled(real or not pool)
        for box, key, items in ((self.direction, direction, DIRECTIONS), (self.grad, grad, GRADS)):
            box.blockSignals(True)
            box.setCurrentIndex([k for k, _ in items].index(key))
            box.blockSignals(False)
        self.grad.setEnabled(direction != FORWARD)
        self.setToolTip(REAL_TIP if real else "")


class PoolGradView:
    """Pooling backward in the scene: ∂L/∂X of the step's channel so far, right of
    ∂L/∂Y and its text, the cells the step just fed framed in green."""

    @staticmethod
    def wanted(walk: Walkthrough) -> bool:
        return walk.names.backward and walk.kind != "conv"

    @classmethod
    def beside_output(cls, scene) -> PoolGradView:
        geo, longest = scene.geo, "→ ∂L/∂X[0, 00, 00]  (the window's maximum)"
        width = max(scene.walk.region[3] * geo.cell, text_width(longest, geo.px(RESULT)))
        x = geo.output_x + width + 40 + geo.input_x  # input_x: room for its row numbers
        return cls(scene, x, geo.output_y(0, 1))

    def __init__(self, scene, x: float, y: float):
        self.scene, self.walk = scene, scene.walk
        self.title = scene._title("", x, y)
        self.grid = scene._grid(scene.geo.cell, x, y)
        whole = np.abs(pool_grad_so_far(self.walk))
        self.scale = float(whole.max(initial=0.0)) or 1.0
        self.marks: list[QtWidgets.QGraphicsRectItem] = []

    def show(self, index: int) -> None:
        step = self.walk.steps[index]
        channel = int(step.channels[0])
        values = pool_grad_so_far(self.walk, index + 1)[channel]
        labels = (list(range(values.shape[0])), list(range(values.shape[1])))
        self.grid.set_data(values, self.scale, labels=labels)
        self.title.setText(f"∂L/∂X channel {channel} so far")
        for mark in self.marks:
            self.scene.removeItem(mark)
        self.marks = []
        pen = QtGui.QPen(QtGui.QColor(20, 150, 60), 3)  # the scene's CHOSEN green
        for _, i, j in pool_targets(self.walk, step)[0]:
            rect = self.grid.cell_rect(i, j).translated(self.grid.pos())
            mark = self.scene.addRect(rect.adjusted(1, 1, -1, -1), pen)
            mark.setZValue(11)
            self.marks.append(mark)
