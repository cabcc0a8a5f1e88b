"""Which walkthrough the step-through panel shows, and how its controls change it.

Sources: the classroom example (editable matrices and sizes) or a real Conv2d
of the stack (``set_real_layer``), whose stepped values equal the layer's real
feature map; on the real layer a region of output cells (picked in the
controls or by clicking the image) is stepped. Direction: forward, or the
backward pass (∂L/∂X, or ∂L/∂W for a convolution) with ∂L/∂Y all ones or
random. :class:`StepperModes` is mixed into
:class:`~cnnviz.qt.panels.conv_stepper.ConvStepperPanel` and works on the
widgets and state the panel builds; each change ends in the panel's
``rebuild``.
"""

from __future__ import annotations

from cnnviz.core.conv_steps import StepError, Walkthrough
from cnnviz.qt.panels.conv_stepper_backward import (
    FORWARD,
    GRAD_INPUT,
    GRAD_WEIGHT,
    backward_walkthrough,
)
from cnnviz.qt.panels.conv_stepper_real_backward import real_backward
from cnnviz.qt.panels.conv_stepper_sources import CONV, Classroom, RealLayer

CLASSROOM, REAL = "classroom", "real"


class StepperModes:
    """The panel's source (classroom / real layer) and direction (forward / backward)."""

    def set_real_layer(self, weight, bias, image, stride=1, padding=0, dilation=1, groups=1,
                       padding_mode="zeros", layer_index=0, feature_map=None,
                       name=None) -> None:  # fmt: skip
        """Step through a real Conv2d: weight (O, I/g, kh, kw), bias (O,) or None, the image it
        received (C, H, W), its stride/padding ('same'/'valid' too)/dilation/groups/padding
        mode, and its real output (O, H', W') to compare against; `name` as a person reads
        it ("layer 3.body.0"; default "layer N"). Switches to "real layer"."""
        previous = self.real
        try:
            layer = RealLayer.from_layer(weight, bias, image, stride, padding, dilation, groups,
                                         padding_mode, layer_index, feature_map, name)  # fmt: skip
        except StepError as exc:
            self.show_problem(f"{name or f'Layer {layer_index}'}: {exc}")
            return
        same_layer = previous is not None and previous.layer_index == layer_index
        if same_layer and previous.config.output_shape == layer.config.output_shape:
            # Same layer, new numbers (another image, retrained weights): keep the patch.
            layer.out_channel, layer.region = previous.out_channel, previous.region
        self.real = layer
        self.source_box.model().item(1).setEnabled(True)
        self.real_controls.picker.set_image(layer.config.input)
        self.set_source(REAL)

    def set_source(self, source: str) -> None:
        if source == REAL and self.real is None:
            source = CLASSROOM
        self.source = source
        self.source_box.blockSignals(True)
        self.source_box.setCurrentIndex(0 if source == CLASSROOM else 1)
        self.source_box.blockSignals(False)
        classroom = source == CLASSROOM
        self.classroom_controls.setVisible(classroom)
        self.editors.setVisible(classroom)
        self.reset_button.setVisible(classroom)
        self.real_controls.setVisible(not classroom)
        self.rebuild()

    def set_direction(self, direction: str, grad: str = "ones") -> None:
        """Forward, or backward ("input": ∂L/∂X, "weight": ∂L/∂W) with ∂L/∂Y "ones"/"random"."""
        self.direction, self.grad = direction, grad
        self.rebuild()

    def reset_classroom(self) -> None:
        self.classroom = Classroom()
        self.rebuild()

    def _classroom_changed(self, name: str, value) -> None:
        room = self.classroom
        setters = {
            "size": lambda: room.resize_input(*value),
            "channels": lambda: room.set_channels(value),
            "kernel": lambda: room.resize_kernel(*value),
            "out_channels": lambda: room.set_out_channels(value),
        }
        if name == "mode":
            room.mode = value
        elif name in setters:
            setters[name]()
        elif name in ("bias", "relu", "padding_mode"):
            room.conv[name] = value
        else:
            room.params()[name] = value
        self.rebuild()

    def _edit(self, setter, values) -> None:
        try:
            setter(values)
        except StepError as exc:
            self.show_problem(str(exc))
            return
        self.rebuild()

    def _region_changed(self, channel: int, row0: int, col0: int, rows: int, cols: int) -> None:
        if self.real is None:
            return
        self.real.out_channel = channel
        self.real.region = self.real.clamp_region(row0, col0, rows, cols)
        self.rebuild()

    def _patch_clicked(self, row: int, col: int) -> None:
        """Centre the patch on the clicked image pixel."""
        layer = self.real
        if layer is None:
            return
        config, (_, _, rows, cols) = layer.config, layer.region
        centre = []
        for axis, pixel in enumerate((row, col)):
            span = config.dilation[axis] * (config.kernel_size[axis] - 1) + 1
            before = config.padding[axis][0]
            centre.append(round((pixel + before - (span - 1) / 2) / config.stride[axis]))
        self._region_changed(layer.out_channel, centre[0] - rows // 2, centre[1] - cols // 2,
                             rows, cols)  # fmt: skip

    def _walkthrough(self) -> Walkthrough:
        if self.source == REAL:
            if self.direction == FORWARD:
                return self.real.walkthrough()
            return real_backward(self.real, self.direction, self.grad)
        if self.classroom.mode != CONV and self.direction == GRAD_WEIGHT:
            self.direction = GRAD_INPUT  # pooling has no weights
        if self.direction == FORWARD:
            return self.classroom.walkthrough()
        return backward_walkthrough(self.classroom.config(), self.direction, self.grad)

    def _show_controls(self) -> None:
        real, pool = self.source == REAL, self.classroom.mode != CONV
        self.direction_controls.show_state(self.direction, self.grad, pool, real)
        if self.source == CLASSROOM:
            self.classroom_controls.show_state(self.classroom)
            self.editors.show_state(self.classroom)
        elif self.real is not None:
            self.real_controls.show_layer(self.real)
