"""The right side of the feature-map panel: the input with a receptive field, one channel large.

Top, the network input with the field of the marked position outlined and
everything else dimmed; below, the selected channel drawn large with the
marked cell. The panel decides what to show; this widget only draws it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from cnnviz.core.mosaic import image_for_display
from cnnviz.core.receptive_field import ReceptiveField
from cnnviz.qt.panels._overlays import Box, Spotlight, cell_marker
from cnnviz.qt.panels.base import ACCENT, DEAD, float_c, image_view_box, set_picture
from cnnviz.qt.style import colormaps


def describe_field(
    layer: int | str, channel: int, row: int, col: int, field: ReceptiveField, input_hw
) -> str:
    """The sentence under the input: which input pixels one output number sees
    (`layer` is the layer's address: 4, or "3.body.0" inside a block)."""
    where = f"layer {layer}, channel {channel}, ({row}, {col})"
    if field.is_global:
        return f"{where} sees the whole input ({input_hw[0]}×{input_hw[1]}): its field is global"
    top, left, bottom, right = field.box(row, col, input_hw)
    # This position's own field: after uneven adaptive pooling sizes differ.
    u_top, u_left, u_bottom, u_right = field.unclipped_box(row, col)
    full = (u_bottom - u_top, u_right - u_left)
    size = f"{full[0]}×{full[1]}"
    text = f"{where} sees input rows {top}–{bottom - 1}, cols {left}–{right - 1} ({size})"
    if (bottom - top, right - left) != full:
        text += f"; {bottom - top}×{right - left} of it inside the image, the rest is padding"
    return text


class FieldView(pg.GraphicsLayoutWidget):
    """Input with the receptive field above, the selected channel below."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("default")
        self.ci.setContentsMargins(4, 4, 4, 4)
        # Captions stay short: a narrow dock must not clip them.
        self.input_caption = self.addLabel("input", row=0, col=0)
        self.input_view = image_view_box()
        self.addItem(self.input_view, row=1, col=0)
        self.input_item = pg.ImageItem()
        self.input_view.addItem(self.input_item)
        self.spotlight = Spotlight(self.input_view)
        self.channel_caption = self.addLabel("channel", row=2, col=0)
        self.channel_view = image_view_box()
        self.addItem(self.channel_view, row=3, col=0)
        self.channel_item = pg.ImageItem()
        self.channel_view.addItem(self.channel_item)
        self.channel_marker = cell_marker(self.channel_view)
        self._shown_input: np.ndarray | None = None

    def show_input(self, image: np.ndarray) -> None:
        """The network input (C, H, W) as a picture."""
        shown = self._shown_input
        # Most updates (an edit of a layer) keep the image: no new picture to render.
        if shown is not None and shown.shape == image.shape and np.array_equal(shown, image):
            return
        picture = image_for_display(image)
        grey = None if picture.ndim == 3 else colormaps.lookup_table("grey")
        self.input_item.setLookupTable(grey)
        options = {"autoLevels": False, "levels": (0.0, 1.0)}
        set_picture(self.input_view, self.input_item, float_c(picture), **options)
        self._shown_input = image

    def show_channel(
        self,
        values: np.ndarray,
        levels,
        colormap_name: str,
        title: str,
        dead: bool,
        stride: int = 1,
    ):
        """One channel large, in the mosaic's colours; `title` names it. `values`
        may be every stride-th value of a large channel: the picture is stretched
        over the whole channel, so positions on it are the channel's own."""
        # Fitted to a new size only: stepping through channels keeps the zoom.
        height, width = values.shape[:2]
        rect = QtCore.QRectF(0, 0, width * stride, height * stride)
        options = {"autoLevels": False, "levels": levels, "rect": rect}
        set_picture(self.channel_view, self.channel_item, float_c(values), **options)
        self.channel_item.setLookupTable(colormaps.lookup_table(colormap_name))
        self.channel_marker.hide()
        text = title + (" · all zero for this image" if dead else "")
        self.channel_caption.setText(text, color=DEAD if dead else None, size="10pt")

    def show_field(self, box: Box, input_hw, unclipped: Box | None) -> None:
        """Outline the receptive field on the input, the rest dimmed."""
        self.spotlight.show_box(box, input_hw, unclipped)
        self.input_caption.setText("what the marked cell sees", color=ACCENT, size="10pt")

    def mark_cell(self, row: int | None, col: int | None = None) -> None:
        """Mark (row, col) of the large channel; None hides the mark."""
        if row is None:
            self.channel_marker.hide()
            return
        self.channel_marker.setRect(QtCore.QRectF(col, row, 1, 1))
        self.channel_marker.show()

    def channel_cell(self, scene_pos) -> tuple[int, int] | None:
        """(row, col) of the large channel under a scene position, or None."""
        if not self.channel_view.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.channel_view.mapSceneToView(scene_pos)  # the channel's own units
        return int(np.floor(point.y())), int(np.floor(point.x()))
