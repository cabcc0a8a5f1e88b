"""PanelInputs for the panel tests: known stacks run through the numpy sample forward,
and real mouse events on pyqtgraph views."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import from_json
from cnnviz.qt.panels._samples import numpy_forward, sample_filters
from cnnviz.qt.panels.base import PanelInput


def architecture(layers: list[dict], channels: int = 1, size: int = 16, classes=None):
    data = {
        "format": "cnnviz-architecture",
        "version": 2,  # reads plain stacks and blocks alike
        "name": "test",
        "input": {"channels": channels, "height": size, "width": size},
        "layers": layers,
    }
    if classes is not None:
        data["classes"] = list(classes)
    return from_json(data)


def panel_input(layers: list[dict], layer_index: int, channels=1, size=16, seed=0, classes=None):
    arch = architecture(layers, channels, size, classes)
    analysis = analyze(arch)
    image = np.random.default_rng(seed).random((channels, size, size)).astype(np.float32)
    result = numpy_forward(analysis, image, sample_filters(analysis, seed), seed)
    names = tuple(classes) if classes is not None else None
    return PanelInput(result, analysis, layer_index, names)


def shown_panel(qtbot, panel_class, size: tuple[int, int]):
    """A panel of `panel_class`, registered with qtbot, shown at `size` on screen."""
    widget = panel_class()
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def with_output(data: PanelInput, index: int, output: np.ndarray) -> PanelInput:
    """The same input with layer `index`'s output replaced (e.g. dead channels)."""
    from dataclasses import replace

    layers = tuple(
        replace(layer, output=output) if layer.index == index else layer
        for layer in data.result.layers
    )
    return replace(data, result=replace(data.result, layers=layers))


def view_point(graphics_widget, item, x: float, y: float) -> QtCore.QPoint:
    """Widget pixel of item coordinates (x, y): where to put the mouse.

    Views apply a new range on the next event-loop turn, as before a user
    could point at anything; let that happen first."""
    QtWidgets.QApplication.processEvents()
    scene = item.mapToScene(QtCore.QPointF(x, y))
    return graphics_widget.mapFromScene(scene)


def move_mouse(qtbot, graphics_widget, item, x: float, y: float) -> None:
    """A real mouse-move event over (x, y) of `item`, no button held (hovering).

    QTest's mouseMove does not reach a QGraphicsView's viewport offscreen, so
    the event is sent as the window system would deliver it."""
    viewport = graphics_widget.viewport()
    local = QtCore.QPointF(view_point(graphics_widget, item, x, y))
    event = QtGui.QMouseEvent(
        QtCore.QEvent.Type.MouseMove,
        local,
        QtCore.QPointF(viewport.mapToGlobal(local.toPoint())),
        QtCore.Qt.MouseButton.NoButton,
        QtCore.Qt.MouseButton.NoButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )
    # pyqtgraph drops moves that come within ~16 ms of the previous one (60 Hz).
    qtbot.wait(25)
    QtWidgets.QApplication.sendEvent(viewport, event)


def click(qtbot, graphics_widget, item, x: float, y: float) -> None:
    point = view_point(graphics_widget, item, x, y)
    qtbot.mouseClick(graphics_widget.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
