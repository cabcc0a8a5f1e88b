"""The overview strip: every layer's output small, side by side, in one image.

The whole network's effect on the picture at a glance: the input, then each
layer as the mean of its channels (or its strongest channel), shrinking as
pooling halves it, ending in the vectors of the classifier. Hover a layer
for its statistics (min, max, mean, share of zeros: after a ReLU, how much
of it is off for this image); click it to select it.

A block's paths are lanes stacked one above another (a Residual's body above
its shortcut, a Parallel's branches in order) with lines where they split and
meet, then the merged output, then the network goes on (core/strip_lanes.py).

Standalone: ``python -m cnnviz.qt.panels.overview``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.blocks import merge_kind
from cnnviz.core.mosaic import image_for_display
from cnnviz.core.strip_lanes import LaneStrip, Spacing, plan_lanes, strip_items
from cnnviz.core.thumbnails import (
    MEAN,
    STRONGEST,
    reduce_vector,
    representative,
    resize_nearest,
    thumbnail_size,
)
from cnnviz.qt.panels._overlays import TileLabels
from cnnviz.qt.panels.base import (
    Panel,
    PanelInput,
    format_value,
    graphics_widget,
    image_view_box,
    info_label,
    ink,
    shape_text,
    title_label,
)
from cnnviz.qt.style import colormaps

THUMB_HEIGHT = 64
# Inside a block, where lanes stack: smaller, so that a residual block (body over
# an identity line) is about as tall as one row and a 4-branch module still reads.
LANE_THUMB_HEIGHT = 40
_SHORT_PATHS = {"body": "body", "shortcut": "short", "branches": "br"}
GAP = 10
CAPTION_BAND = 30  # strip pixels kept free under each thumbnail for its caption
SPACING = Spacing(gap=GAP, caption=CAPTION_BAND)
# A thumbnail is at least as wide on screen as a typical line of the captions
# (a layer's name, its output shape): narrower, VGG's 40 layers would become
# slivers with cut captions, and the strip scrolls instead.
SHORTEST_CAPTION = "00 Conv2d"
PADDING = 0.02  # of the strip, around it when it fits whole
_MODES = {MEAN: "mean of channels", STRONGEST: "strongest channel"}


class OverviewPanel(Panel):
    """Every layer's output as a thumbnail; clicking one selects that layer."""

    layer_selected = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.mode = MEAN
        self.colormap_name = colormaps.DEFAULT
        self.strip: LaneStrip | None = None
        self.layer_indices: list[int] = []  # thumbnail → layer index (-1 = input)
        self.picture: np.ndarray | None = None
        self._revealed: tuple | None = None  # (selected thumbnail, strip) last revealed
        self._captions: list[str] = []
        self._build()

    def _build(self) -> None:
        self.title = title_label("Every layer at a glance")
        self.mode_box = QtWidgets.QComboBox()
        for mode, label in _MODES.items():
            self.mode_box.addItem(label, mode)
        self.mode_box.setToolTip("What each thumbnail shows of a layer's channels")
        self.mode_box.currentIndexChanged.connect(
            lambda i: self.set_mode(self.mode_box.itemData(i))
        )
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.mode_box)
        self.widget = graphics_widget()
        self.view = image_view_box()
        # The strip is placed by _fit (scale and scroll position), not by the mouse.
        self.view.setAspectLocked(False)
        self.view.setMouseEnabled(x=False, y=False)
        self.view.sigResized.connect(lambda *_: self._fit())
        self.widget.addItem(self.view)
        self.widget.viewport().installEventFilter(self)
        self.scroll = QtWidgets.QScrollBar(QtCore.Qt.Orientation.Horizontal)
        self.scroll.setToolTip("Scroll along the layers (or turn the mouse wheel over them)")
        policy = self.scroll.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # showing it must not resize the strip
        self.scroll.setSizePolicy(policy)
        self.scroll.hide()
        self.scroll.valueChanged.connect(lambda _: self._fit())
        self.item = pg.ImageItem()
        self.view.addItem(self.item)
        # Where a block's paths split and meet: thin lines in strip pixels.
        self.lines = QtWidgets.QGraphicsPathItem()
        self.view.addItem(self.lines)
        self.captions = TileLabels(captions_below=True)
        self.captions.font.setPixelSize(10)
        self.captions.font.setBold(False)
        self.view.addItem(self.captions)
        self.widget.scene().sigMouseClicked.connect(self._clicked)
        self.widget.scene().sigMouseMoved.connect(self._hovered)
        self.widget.setMinimumHeight(110)
        self.note = info_label("Click a layer to select it.")
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.scroll)
        layout.addWidget(self.note)

    def draw(self, data: PanelInput) -> str | None:
        if not data.result.layers:
            return "No layer was computed: add layers to the stack."
        pictures, captions = self._thumbnails(data)
        shown = set(pictures) - {-1}
        items = [-1, *strip_items(data.analysis, shown)]
        sizes = {key: picture.shape[:2] for key, picture in pictures.items()}
        self.strip = plan_lanes(items, sizes, SPACING)
        self.layer_indices = list(self.strip.keys)
        self._captions = [captions[key] for key in self.strip.keys]
        self.picture = self._compose([pictures[key] for key in self.strip.keys])
        self.item.setImage(self.picture, autoLevels=False)
        self._draw_lines()
        selected = self.strip.number_of(data.layer_index)
        self.captions.set_tiles(
            self._tile_rect,
            len(self.strip.keys),
            (self.strip.height, self.strip.width),
            labels=self._captions,
        )
        self.captions.set_selected(selected)
        self.captions.caption_y = None  # each under its own thumbnail: lanes differ
        self.captions.caption_gap = GAP
        self._fit()
        if selected is not None and (selected, self.strip) != self._revealed:
            self.reveal(selected)  # a new selection (or strip): bring it into view, once
        self._revealed = (selected, self.strip)
        self.note.setText(self._summary())
        return None

    # ----- scale and scrolling ---------------------------------------------

    def min_thumb_pixels(self) -> float:
        """The narrowest a square thumbnail may be on screen: as wide as the median
        caption's longer line (or a short layer name), so most captions fit whole."""
        metrics = QtGui.QFontMetricsF(self.captions.font)
        widths = [max(map(metrics.horizontalAdvance, text.split("\n"))) for text in self._captions]
        return float(np.median([*widths, metrics.horizontalAdvance(SHORTEST_CAPTION)])) + 4

    def strip_scale(self) -> float:
        """Screen pixels per strip pixel: the whole strip when it fits readably; else
        thumbnails at their readable width (or as large as the height allows)."""
        size = self.view.size()
        height = self.strip.height  # with the captions' room under each lane
        tall = size.height() / height
        whole = min(size.width() / self.strip.width, tall) / (1 + 2 * PADDING)
        return max(whole, min(self.min_thumb_pixels() / THUMB_HEIGHT, tall))

    def _fit(self) -> None:
        """Place the strip in the view: centred when it fits, else scrolled."""
        if self.strip is None or self.view.width() < 1 or self.view.height() < 1:
            return
        scale = self.strip_scale()
        shown_w, shown_h = self.view.width() / scale, self.view.height() / scale
        overflow = self.strip.width - shown_w
        self.scroll.blockSignals(True)
        self.scroll.setRange(0, max(0, math.ceil(overflow)))
        self.scroll.setPageStep(max(1, int(shown_w)))
        self.scroll.setSingleStep(THUMB_HEIGHT // 2)
        self.scroll.blockSignals(False)
        self.scroll.setVisible(overflow > 0)
        left = self.scroll.value() if overflow > 0 else overflow / 2
        top = (self.strip.height - shown_h) / 2
        self.view.setRange(xRange=(left, left + shown_w), yRange=(top, top + shown_h), padding=0)

    def visible_strip(self) -> tuple[float, float]:
        """The strip's x range now in view."""
        (left, right), _ = self.view.viewRange()
        return left, right

    def reveal(self, index: int) -> None:
        """Scroll so that thumbnail `index` is in view, with a neighbour's gap around it."""
        if self.strip is None or not self.scroll.maximum():
            return
        left, right = self.visible_strip()
        _, x, _, width = self.strip.rects[index]
        start, end = x - GAP, x + width + GAP
        if start < left:
            self.scroll.setValue(int(start))
        elif end > right:
            self.scroll.setValue(math.ceil(end - (right - left)))

    def eventFilter(self, watched, event) -> bool:
        # The wheel over the strip scrolls along it (the view itself does not zoom).
        if event.type() == QtCore.QEvent.Type.Wheel and self.scroll.isVisible():
            QtWidgets.QApplication.sendEvent(self.scroll, event)
            return True
        return super().eventFilter(watched, event)

    def _summary(self) -> str:
        if self.current is None:
            return "Click a layer to select it."
        entries = self.current.analysis.layers
        n_blocks = sum(1 for info in entries if info.layer.is_block)
        # Counted as the stack counts them: a block is not a layer of its own.
        blocks = f" · {n_blocks} block{'s' if n_blocks != 1 else ''}" if n_blocks else ""
        return (
            f"{len(entries) - n_blocks} layers{blocks} · thumbnails show the "
            f"{_MODES[self.mode]}, each scaled to its own range · hover one for its "
            "statistics, click it to select it"
        )

    def _thumbnails(self, data: PanelInput):
        """Each computed layer's thumbnail and caption by layer index (-1: the input)."""
        image = image_for_display(data.result.input)
        input_size = thumbnail_size(image.shape[:2], THUMB_HEIGHT)
        pictures = {-1: resize_nearest(image, input_size)}
        captions = {-1: f"input\n{shape_text(data.result.input.shape)}"}
        count = len(data.analysis.layers)
        for layer in data.result.layers:
            if not 0 <= layer.index < count:
                continue
            is_vector = layer.output.ndim != 3
            picture = layer_picture(layer, self.mode)
            inner = data.analysis.layers[layer.index].parent is not None
            height = LANE_THUMB_HEIGHT if inner else THUMB_HEIGHT
            size = thumbnail_size(picture.shape, height, is_vector)
            if is_vector:
                picture = reduce_vector(picture, size[1])
            pictures[layer.index] = resize_nearest(picture, size)
            captions[layer.index] = _caption(data.analysis, layer)
        return pictures, captions

    def _compose(self, pictures: list[np.ndarray]) -> np.ndarray:
        """One RGBA image: colour-mapped thumbnails (the input in its own colours)."""
        assert self.strip is not None
        strip = np.zeros((self.strip.height, self.strip.width, 4), dtype=np.uint8)
        for picture, (top, left, _, _) in zip(pictures, self.strip.rects, strict=True):
            if picture.ndim == 3:  # the RGB input
                rgba = np.empty((*picture.shape[:2], 4), dtype=np.uint8)
                rgba[..., :3] = np.clip(picture * 255 + 0.5, 0, 255).astype(np.uint8)
                rgba[..., 3] = 255
            else:
                rgba = colormaps.colourise(picture, self.colormap_name)
            strip[top : top + rgba.shape[0], left : left + rgba.shape[1]] = rgba
        return strip

    def _draw_lines(self) -> None:
        """The lines where a block's paths split and meet (none for a plain stack)."""
        assert self.strip is not None
        path = QtGui.QPainterPath()
        for x0, y0, x1, y1 in self.strip.segments:
            path.moveTo(x0, y0)
            path.lineTo(x1, y1)
        colour = ink()
        colour.setAlpha(150)
        pen = QtGui.QPen(colour, 1.5)
        pen.setCosmetic(True)
        self.lines.setPen(pen)
        self.lines.setPath(path)

    def _tile_rect(self, index: int) -> tuple[int, int, int, int]:
        assert self.strip is not None
        return self.strip.rects[index]

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        self.mode_box.setCurrentIndex(self.mode_box.findData(mode))
        if self.current is not None:
            self.show(self.current)

    def _clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or self.strip is None:
            return
        point = self.item.mapFromScene(event.scenePos())
        self.click_at(point.x(), point.y())

    def _hovered(self, scene_pos) -> None:
        if self.strip is None:
            return
        point = self.item.mapFromScene(scene_pos)
        self.hover_at(point.x(), point.y())

    def hover_at(self, x: float, y: float) -> str:
        """Say the statistics of the layer at strip pixel (x, y) under the strip."""
        found = self.strip.locate(x, y) if self.strip is not None else None
        index = self.layer_indices[found] if found is not None else -1
        layer = self.current.activation(index) if self.current and index >= 0 else None
        info = self.current.info(index) if layer is not None else None
        text = self._summary() if info is None else _statistics_text(layer, info.name)
        self.note.setText(text)
        return text

    def click_at(self, x: float, y: float) -> int | None:
        """Select the layer whose thumbnail is at strip pixel (x, y); returns its index."""
        if self.strip is None:
            return None
        found = self.strip.locate(x, y)
        if found is None or self.layer_indices[found] < 0:
            return None
        index = self.layer_indices[found]
        self.captions.set_selected(found)
        self.layer_selected.emit(index)
        return index


def layer_picture(layer, mode: str) -> np.ndarray:
    """The layer's thumbnail picture in [0, 1], from the pictures the compute thread
    prepared with the result (a pass over all values is too slow for the GUI)."""
    pictures = layer.pictures if layer.output.ndim == 3 and mode in _MODES else None
    if pictures is None:
        return representative(layer.output, mode)
    return pictures.mean_picture if mode == MEAN else pictures.strongest_picture(layer.output)


def _caption(analysis, layer) -> str:
    """ "4 Conv2d" at the top level. Inside a block its position in its path, the
    first of a lane naming the path too ("body.0", then "1", "2"; "short.0",
    "br2.0"): narrow thumbnails keep only a caption's first word, so the lane's
    name must be short. A block says its merge. Hovering gives the full name."""
    info = analysis.layers[layer.index]
    where = info.address
    if info.parent is not None:
        path, position = info.path, where.rsplit(".", 1)[1]
        kind, _, branch = path.partition(".")
        where = f"{_SHORT_PATHS[kind]}{branch}.0" if position == "0" else position
    kind = layer.type
    if info.layer.is_block:
        kind += " ⊕" if merge_kind(info.layer.type, info.layer.params) == "add" else " concat"
    return f"{where} {kind}\n{shape_text(layer.output.shape)}"


def _statistics_text(layer, name: str) -> str:
    stats = layer.stats  # computed now, on first asking, then kept with the result
    return (
        f"{name} {layer.type} {shape_text(layer.output.shape)}: "
        f"min {format_value(stats.minimum)}, max {format_value(stats.maximum)}, "
        f"mean {format_value(stats.mean)}, {stats.zero_fraction:.0%} zeros"
    )


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(OverviewPanel, default_layer=4, argv=argv, size=(1100, 230))


if __name__ == "__main__":
    raise SystemExit(main())
