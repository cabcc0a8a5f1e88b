"""Step through a convolution (or pooling), one output cell at a time.

The input grid with its padding, the window (a stack through the input
channels, with dilation gaps), the kernel, the element-wise products, their
sums, the bias, the activation, and the output maps filling cell by cell. The
output-size formula is written out with the live numbers; for a real layer,
whether the stepped values equal its feature map. What is stepped (classroom
or real layer, forward or backward) is handled in
:mod:`cnnviz.qt.panels.conv_stepper_modes`.

Keys: Space play/pause, ←/→ step, Home/End first/last step.
Standalone: ``python -m cnnviz.qt.panels.conv_stepper``.
"""

from __future__ import annotations

import html
import logging
import sys

from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.conv_steps import StepError, Walkthrough
from cnnviz.qt.panels.conv_stepper_backward import FORWARD, DirectionControls
from cnnviz.qt.panels.conv_stepper_controls import (
    ClassroomControls,
    MatrixEditors,
    RealLayerControls,
)
from cnnviz.qt.panels.conv_stepper_modes import CLASSROOM, REAL, StepperModes
from cnnviz.qt.panels.conv_stepper_player import Player, PlayerBar
from cnnviz.qt.panels.conv_stepper_real_backward import real_note
from cnnviz.qt.panels.conv_stepper_scene import StepScene
from cnnviz.qt.panels.conv_stepper_sources import CONV, Classroom, RealLayer
from cnnviz.qt.panels.conv_stepper_view import StepView

__all__ = ["CLASSROOM", "ERROR_STYLE", "OK_STYLE", "REAL", "ConvStepperPanel", "main"]

log = logging.getLogger(__name__)

ERROR_STYLE = "color: #d03030;"
OK_STYLE = "color: #1f9a4a;"


class ConvStepperPanel(QtWidgets.QWidget, StepperModes):
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

    # -- sources and direction: StepperModes (conv_stepper_modes) -----------------------
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
