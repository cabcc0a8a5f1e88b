"""Step through a convolution (or pooling), one output cell at a time.

The input grid with its padding, the window (a stack through the input
channels, with dilation gaps), the kernel, the element-wise products, their
sums, the bias, the activation, and the output maps filling cell by cell. The
output-size formula is written out with the live numbers. Sources: the
classroom example (editable matrices and sizes) or a real Conv2d of the stack
(``set_real_layer``), whose stepped values equal the layer's real feature map.

Keys: Space play/pause, ←/→ step, Home/End first/last step.
Standalone: ``python -m cnnviz.qt.panels.conv_stepper``.
"""

from __future__ import annotations

import html
import logging
import sys

from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.conv_steps import StepError, Walkthrough
from cnnviz.qt.panels.conv_stepper_backward import (
    FORWARD,
    GRAD_INPUT,
    GRAD_WEIGHT,
    DirectionControls,
    backward_walkthrough,
)
from cnnviz.qt.panels.conv_stepper_controls import (
    ClassroomControls,
    MatrixEditors,
    RealLayerControls,
)
from cnnviz.qt.panels.conv_stepper_player import Player, PlayerBar
from cnnviz.qt.panels.conv_stepper_real_backward import real_backward, real_note
from cnnviz.qt.panels.conv_stepper_scene import StepScene
from cnnviz.qt.panels.conv_stepper_sources import CONV, Classroom, RealLayer
from cnnviz.qt.panels.conv_stepper_view import StepView

log = logging.getLogger(__name__)

CLASSROOM, REAL = "classroom", "real"
ERROR_STYLE = "color: #d03030;"
OK_STYLE = "color: #1f9a4a;"


class ConvStepperPanel(QtWidgets.QWidget):
    """The animation panel; `set_real_layer` switches it to a conv layer of the stack."""

    step_changed = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.classroom = Classroom()
        self.real: RealLayer | None = None
        self.source = CLASSROOM
        self.direction, self.grad = FORWARD, "ones"  # the backward switch (classroom only)
        self.walk: Walkthrough | None = None
        self.scene = StepScene(self)
        self.view = StepView(self.scene, self.handle_key)
        self.player = Player(self)
        self.player_bar = PlayerBar(self.player)
        self._build_widgets()
        self._connect()
        self.rebuild()

    # -- layout ------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.source_box = QtWidgets.QComboBox()
        self.source_box.addItem("Classroom example", CLASSROOM)
        self.source_box.addItem("Real layer", REAL)
        self.source_box.model().item(1).setEnabled(False)
        self.source_box.setToolTip("Real layer: select a Conv2d in the stack")
        self.export_button = QtWidgets.QPushButton("Export GIF…")
        self.export_button.setToolTip("Save the steps as an animated GIF, one frame per cell")
        self.reset_button = QtWidgets.QPushButton("Reset example")
        self.direction_controls = DirectionControls()
        self.classroom_controls = ClassroomControls()
        self.real_controls = RealLayerControls()
        self.real_controls.hide()
        self.editors = MatrixEditors()
        self.formula = QtWidgets.QLabel()
        self.formula.setStyleSheet("font-size: 13px;")
        self.formula.setWordWrap(True)  # the numbers wrap in a narrow dock
        self.formula.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        top = QtWidgets.QHBoxLayout()
        for widget in (QtWidgets.QLabel("Source"), self.source_box, self.reset_button,
                       self.direction_controls):  # fmt: skip
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.export_button)
        self.splitter = QtWidgets.QSplitter()
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.editors)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([900, 180])
        column = QtWidgets.QVBoxLayout(self)
        column.addLayout(top)
        column.addWidget(self.classroom_controls)
        column.addWidget(self.real_controls)
        column.addWidget(self.formula)
        column.addWidget(self.splitter, 1)
        column.addWidget(self.player_bar)
        column.addWidget(self.message)

    def _connect(self) -> None:
        self.player.step_changed.connect(self._show_step)
        self.player.frame.connect(self.scene.glide)
        self.source_box.currentIndexChanged.connect(
            lambda _: self.set_source(self.source_box.currentData())
        )
        self.classroom_controls.changed.connect(self._classroom_changed)
        self.editors.input_edited.connect(lambda v: self._edit(self.classroom.set_input, v))
        self.editors.kernel_edited.connect(lambda v: self._edit(self.classroom.set_kernel, v))
        self.editors.problem.connect(self.show_problem)
        self.real_controls.region_changed.connect(self._region_changed)
        self.real_controls.picker.clicked.connect(self._patch_clicked)
        self.export_button.clicked.connect(lambda: self.export_gif())
        self.reset_button.clicked.connect(self.reset_classroom)
        self.direction_controls.changed.connect(self.set_direction)

    # -- sources -------------------------------------------------------------------------
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

    # -- building and showing ----------------------------------------------------------
    def rebuild(self) -> None:
        """A new walkthrough from the current source; on a problem, keep the last one."""
        try:
            walk = self._walkthrough()
        except StepError as exc:
            self.show_problem(str(exc))
            self._show_controls()
            return
        keep = self.player.index if self.walk is not None else 0
        self.walk = walk
        self.show_problem("")
        self._show_controls()
        self.scene.build(walk, *self.scene.layout_choice())
        self.view.fit_scene()
        self._show_formula(walk)
        self.player.set_count(len(walk.steps), min(keep, len(walk.steps) - 1))

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

    def _show_formula(self, walk: Walkthrough) -> None:
        if walk.names.backward:
            lines = [html.escape(walk.description()), *map(html.escape, walk.formula)]
            self.formula.setText("<br>".join(lines))
            if self.source == REAL:  # the patch as in forward mode, then what L is
                self._show_real_match(self.real.walkthrough())
                self.real_controls.match.setText(real_note(self.real, self.grad))
                self.real_controls.match.setStyleSheet("")
            return
        out_c, out_h, out_w = walk.output_shape
        general, *numbers = (html.escape(line) for line in walk.formula)
        muted = "<span style='color: palette(placeholder-text)'>{}</span>"
        size = f"<b>output {out_c}×{out_h}×{out_w}</b> " + muted.format(
            "(channels × height × width)"
        )
        self.formula.setText(
            f"{html.escape(walk.description())} &nbsp; {muted.format(general)}<br>"
            + " &nbsp;&nbsp; ".join(numbers)
            + f" &nbsp; → &nbsp; {size}"
        )
        if self.source == REAL:
            self._show_real_match(walk)

    def _show_real_match(self, walk: Walkthrough) -> None:
        layer, controls = self.real, self.real_controls
        controls.mapping.setText(layer.patch_text(walk))
        box, (top, left) = walk.window_box(), walk.pad_before
        controls.picker.set_box(box[0] - top, box[2] - left, box[1] - top, box[3] - left)
        compared = layer.compare(walk)
        if compared is None:
            controls.match.setText("No feature map to compare with yet.")
            controls.match.setStyleSheet("")
            return
        difference, equal = compared
        verdict = "equal to" if equal else "DIFFERENT from"
        controls.match.setText(
            f"Stepped values are {verdict} the layer's real feature map at these cells "
            f"(largest difference {difference:.2g}, float32 rounding)"
        )
        controls.match.setStyleSheet(OK_STYLE if equal else ERROR_STYLE)

    def _show_step(self, index: int) -> None:
        if self.walk is None:
            return
        self.scene.show_step(index)
        step = self.walk.steps[index]
        o, r, c = step.out
        self.player_bar.label.setText(
            f"step {index + 1} of {len(self.walk.steps)} · {self.walk.names.value(o, r, c)} = "
            f"{self._value_text(step.value)}"
        )
        self.step_changed.emit(index)

    @staticmethod
    def _value_text(value: float) -> str:
        from cnnviz.core.conv_text import format_value

        return format_value(value)

    def show_problem(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if text else "")

    # -- keys, export ----------------------------------------------------------------------
    def handle_key(self, event: QtGui.QKeyEvent) -> bool:
        key, player, keys = event.key(), self.player, QtCore.Qt.Key
        actions = {
            keys.Key_Space: player.toggle,
            keys.Key_Right: lambda: player.step(1),
            keys.Key_Left: lambda: player.step(-1),
            keys.Key_Home: lambda: (player.pause(), player.seek(0)),
            keys.Key_End: lambda: (player.pause(), player.seek(player.count - 1)),
        }
        if key not in actions:
            return False
        actions[key]()
        return True

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if not self.handle_key(event):
            super().keyPressEvent(event)

    def export_gif(self, path: str | None = None) -> int:
        """Write the steps as an animated GIF (asks where when `path` is None); frames written."""
        if self.walk is None:
            return 0
        if path is None:
            path, _ = QtWidgets.QFileDialog.getSaveFileName(
                self, "Export animation", "convolution.gif", "Animated GIF (*.gif)"
            )
            if not path:
                return 0
        from cnnviz.core.conv_gif import write_gif

        frame_ms = int(max(20, 1000 / self.player.speed))
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            frames = write_gif(self.walk, path, frame_ms)
        except (OSError, ValueError) as exc:
            self.show_problem(f"Could not export the GIF: {exc}")
            return 0
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        self.message.setStyleSheet(OK_STYLE)
        each = "step" if self.walk.names.backward else "output cell"
        self.message.setText(f"Saved {path} ({frames} frames, one per {each})")
        return frames

    def changeEvent(self, event: QtCore.QEvent) -> None:
        # Light/dark switched while running: the scene's text takes the palette at build.
        if event.type() == QtCore.QEvent.Type.PaletteChange and self.walk is not None:
            self.scene.build(self.walk, *self.scene.layout_choice())
            self.scene.show_step(self.player.index)
        super().changeEvent(event)

    def hideEvent(self, event) -> None:
        self.player.pause()  # no animation timer for a panel nobody sees
        super().hideEvent(event)


def main(argv: list[str] | None = None) -> int:
    """Open the panel alone with the classroom example."""
    import argparse

    parser = argparse.ArgumentParser(description="The convolution step-through panel alone.")
    parser.add_argument("--padding", type=int)
    parser.add_argument("--stride", type=int)
    parser.add_argument("--dilation", type=int)
    parser.add_argument("--mode", choices=("conv", "max", "avg"), default=CONV)
    parser.add_argument("--step", type=int, default=0, help="show this step (from 0)")
    parser.add_argument("--backward", choices=("input", "weight"), help="step ∂L/∂X or ∂L/∂W")
    parser.add_argument("--grad", choices=("ones", "random"), default="ones", help="∂L/∂Y")
    parser.add_argument("--screenshot", metavar="OUT.png", help="save the panel and exit")
    args = parser.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    panel = ConvStepperPanel()
    panel.classroom.mode = args.mode
    given = {"stride": args.stride, "padding": args.padding, "dilation": args.dilation}
    panel.classroom.params().update({k: v for k, v in given.items() if v is not None})
    panel.set_direction(args.backward or FORWARD, args.grad)
    panel.resize(1100, 640)
    panel.setWindowTitle("cnnviz · convolution step by step")
    panel.show()
    panel.player.seek(args.step)
    if args.screenshot:
        app.processEvents()
        saved = panel.grab().save(args.screenshot)
        return 0 if saved else 1
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
