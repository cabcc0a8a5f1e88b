"""What every visual panel shares: its input, the hint when it does not apply, the look.

The main window calls ``panel.show(PanelInput)`` after every forward result.
A panel draws the selected layer, or, when the layer is not its kind (the
filters panel on a ReLU), shows one helpful line instead of a blank.

``show()`` without an argument is QWidget.show(), so a panel is still an
ordinary widget for docks and layouts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.core.jobs import ForwardResult, LayerActivation
from cnnviz.core.layer_flow import NETWORK_INPUT, feeding_index

log = logging.getLogger(__name__)

pg.setConfigOptions(imageAxisOrder="row-major")

# Ink and paper follow the application's light or dark palette (cnnviz.qt.style.theme
# sets pyqtgraph's defaults from it); these accents read on both.
ACCENT = "#ff1f9d"  # receptive field, hovered window: must stand out on any colormap
SELECTED = "#ff9800"
DEAD = "#e0262c"
CURVE = "#2f7fe0"
CURVE_2 = "#f08a24"
FLAT_FILL = (224, 38, 44, 45)
MUTED_STYLE = "color: palette(placeholder-text);"

WAITING_HINT = "Waiting for the first forward pass…"


@dataclass(frozen=True)
class PanelInput:
    """Everything a panel may show: one forward result, the stack on paper,
    the selected layer and the class names (when the preset has them)."""

    result: ForwardResult
    analysis: Analysis
    layer_index: int
    classes: tuple[str, ...] | None = None
    # Whether the weights were learnt (from a weights file or a training in the
    # app): random ones make a prediction meaningless. None: not known (a panel
    # shown on its own with sample arrays).
    trained: bool | None = None

    def activation(self, index: int | None = None) -> LayerActivation | None:
        """The computed output of layer `index` (default: the selected one)."""
        index = self.layer_index if index is None else index
        for layer in self.result.layers:
            if layer.index == index:
                return layer
        return None

    def info(self, index: int | None = None) -> LayerInfo | None:
        index = self.layer_index if index is None else index
        if 0 <= index < len(self.analysis.layers):
            return self.analysis.layers[index]
        return None

    def layer_input(self, index: int | None = None) -> np.ndarray | None:
        """What layer `index` received: its recorded input, else the output of the
        layer that feeds it (core/layer_flow.py), or the image."""
        index = self.layer_index if index is None else index
        layer = self.activation(index)
        if layer is not None and layer.input is not None:
            return layer.input
        if not 0 <= index < len(self.analysis.layers):
            return None
        # Not one index back: inside a block a layer may be fed by the block's input.
        source = feeding_index(self.analysis, index)
        if source == NETWORK_INPUT:
            return self.result.input
        previous = self.activation(source)
        return previous.output if previous is not None else None

    def layer_title(self, index: int | None = None) -> str:
        """e.g. 'layer 4 · MaxPool2d k2', 'layer 3.body.0 · Conv2d 64, k3' (its address)."""
        info = self.info(index)
        if info is None:
            return "no layer selected"
        described = info.layer.describe()
        return f"{info.name} · {info.layer.type}" + (f" {described}" if described else "")


def shape_text(shape) -> str:
    return "×".join(str(int(v)) for v in shape)


class Panel(QtWidgets.QWidget):
    """Base of the visual panels: content, or a one-line hint in its place."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._stack = QtWidgets.QStackedLayout(self)
        self.content = QtWidgets.QWidget()
        self.hint = QtWidgets.QLabel(WAITING_HINT)
        self.hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"{MUTED_STYLE} font-size: 13px; padding: 16px;")
        self._stack.addWidget(self.content)
        self._stack.addWidget(self.hint)
        self._stack.setCurrentWidget(self.hint)
        self.current: PanelInput | None = None

    def show(self, data: PanelInput | None = None) -> None:  # type: ignore[override]
        """Draw `data`; without it, QWidget.show()."""
        if data is None:
            super().show()
            return
        self.current = data
        try:
            hint = self.draw(data)
        except Exception as exc:  # a drawing bug must not take the window down
            log.exception("%s could not draw %s", type(self).__name__, data.layer_title())
            hint = f"Could not draw this panel: {exc}"
        if hint:
            self.show_hint(hint)
        else:
            self._stack.setCurrentWidget(self.content)

    def show_hint(self, text: str) -> None:
        self.hint.setText(text)
        self._stack.setCurrentWidget(self.hint)

    @property
    def showing_hint(self) -> bool:
        return self._stack.currentWidget() is self.hint

    def draw(self, data: PanelInput) -> str | None:
        """Draw `data`; return a hint instead when the panel does not apply."""
        raise NotImplementedError


# ----- the look -------------------------------------------------------------


def ink() -> QtGui.QColor:
    """The text colour of the current palette (dark on light, light on dark)."""
    return QtWidgets.QApplication.palette().color(QtGui.QPalette.ColorRole.Text)


def graphics_widget() -> pg.GraphicsLayoutWidget:
    """A plot canvas on the palette's background (restyled with the theme)."""
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground("default")
    widget.ci.setContentsMargins(4, 4, 4, 4)
    return widget


def style_axis(axis: pg.AxisItem, label: str | None = None) -> None:
    font = QtGui.QFont()
    font.setPointSize(9)
    axis.setTickFont(font)
    # "bias (x0.001)" reads worse than plain small numbers on the ticks.
    axis.enableAutoSIPrefix(False)
    if label is not None:
        axis.setLabel(label, **{"font-size": "10pt"})


def style_plot(plot: pg.PlotItem, x_label: str | None = None, y_label: str | None = None):
    style_axis(plot.getAxis("bottom"), x_label)
    style_axis(plot.getAxis("left"), y_label)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.hideButtons()
    plot.setMenuEnabled(False)


def image_view_box(**kwargs) -> pg.ViewBox:
    """A ViewBox for pictures: square pixels, row 0 at the top."""
    box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False, **kwargs)
    box.setBackgroundColor(None)
    return box


def picture_row(canvas: pg.GraphicsLayoutWidget, captions) -> tuple[list, list, list]:
    """Captioned pictures side by side on `canvas`, all given the same width:
    (views, image items, caption labels), one each per caption."""
    views, items, labels = [], [], []
    for column, caption in enumerate(captions):
        labels.append(canvas.addLabel(caption, row=0, col=column))
        view = image_view_box()
        item = pg.ImageItem()
        view.addItem(item)
        canvas.addItem(view, row=1, col=column)
        views.append(view)
        items.append(item)
        canvas.ci.layout.setColumnStretchFactor(column, 1)
    return views, items, labels


def fit_view(view: pg.ViewBox, *items: pg.GraphicsObject, padding: float = 0.02) -> None:
    """Fit `view` to `items` alone: overlays (a marked cell, a spotlight) may still
    be where the previous, larger picture had them and must not widen the fit."""
    view.autoRange(padding=padding, items=list(items))


def set_picture(
    view: pg.ViewBox,
    item: pg.ImageItem,
    picture: np.ndarray,
    *others: pg.GraphicsObject,
    padding: float = 0.02,
    **image_options,
) -> bool:
    """`item.setImage(picture, **image_options)`, fitting `view` to the item (and
    `others`) when the picture's size changed: a new layer or input is seen whole,
    while a zoom survives edits and stepping through same-size channels.
    True when the view was fitted."""
    previous = item.image
    old_size = None if previous is None else previous.shape[:2]
    item.setImage(picture, **image_options)
    if old_size == picture.shape[:2]:
        return False
    fit_view(view, item, *others, padding=padding)
    return True


def title_label(text: str = "") -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setStyleSheet("font-weight: 600; font-size: 13px;")
    label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def info_label(text: str = "", style: str = MUTED_STYLE, size: int = 12) -> QtWidgets.QLabel:
    """A wrapping label; `style` is a style sheet colour, muted by default."""
    label = QtWidgets.QLabel(text)
    label.setStyleSheet(f"{style} font-size: {size}px;")
    label.setWordWrap(True)
    label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def colour_bar(colormap: pg.ColorMap, label: str = "value") -> pg.ColorBarItem:
    """A non-interactive colour bar showing the value range of the image beside it."""
    bar = pg.ColorBarItem(
        values=(0.0, 1.0), colorMap=colormap, interactive=False, width=14, colorMapMenu=False
    )
    style_axis(bar.axis, label)
    return bar


def float_c(array: np.ndarray) -> np.ndarray:
    """C-contiguous float32, as pyqtgraph draws fastest."""
    return np.ascontiguousarray(array, dtype=np.float32)


def format_value(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.3e}"
