"""Where the step-through scene puts things, and how large its text is.

The view scales the whole scene to fit the panel, text included. A tall
scene (a real layer's three input channels stacked) is scaled far down, and
text drawn at a fixed scene size would end up a few pixels high. So the
layout has a text scale: every text size is multiplied by it, and the gaps
and columns that hold text grow with it (measured with the font, so that
labels never overlap). The panel picks the scale at which the smallest text
(the running sum's terms) reaches ``readable_pixels`` on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.conv_steps import Walkthrough

MAX_CHANNEL_ROWS = 4  # more input channels are summed but not drawn
READABLE_POINTS = 8.0  # the smallest text the scene shows on screen, in points
MAX_TEXT_SCALE = 3.0  # beyond this the text would crowd out the grids it explains
TEXT_SCALES = (1.0, 1.25, 1.5, 1.75, 2.0, 2.4, MAX_TEXT_SCALE)  # the ones tried

# Text sizes in scene units at text scale 1.
TITLE, LABEL, NOTE, INDEX = 15, 14, 14, 12  # grid titles, column labels, notes, row numbers
TERMS, TOTAL, RESULT, SIGN, ARROW = 13, 19, 16, 24, 26  # the sums, their total, ×, =, →


def _font(pixels: float, bold: bool = False) -> QtGui.QFont:
    font = QtGui.QFont()
    font.setPixelSize(max(1, round(pixels)))
    font.setBold(bold)
    return font


def text_width(text: str, pixels: float, bold: bool = False) -> float:
    return QtGui.QFontMetricsF(_font(pixels, bold)).horizontalAdvance(text)


def line_height(pixels: float) -> float:
    return QtGui.QFontMetricsF(_font(pixels)).height()


def readable_pixels() -> float:
    """The smallest text the scene may show, on screen: READABLE_POINTS on this
    screen (the same whatever font the application uses)."""
    screen = QtWidgets.QApplication.primaryScreen()
    dpi = screen.logicalDotsPerInchY() if screen is not None else 96.0
    return READABLE_POINTS * dpi / 72


@dataclass(frozen=True)
class SceneLayout:
    """Where things go, in scene units (the view scales the whole scene to fit)."""

    cell: float
    kcell: float
    box: tuple[int, int, int, int]  # padded cells drawn: row_lo, row_hi, col_lo, col_hi
    rows: int  # input channel rows drawn
    text: float  # every text size is multiplied by this
    band: float  # above each row of grids: its title and column numbers
    row_height: float
    input_x: float
    kernel_x: float
    products_x: float
    sums_x: float
    sums_width: float
    sums_below: bool  # the running sums under the products (narrow views), else beside
    output_x: float

    @classmethod
    def of(cls, walk: Walkthrough, text: float = 1.0, sums_below: bool = False) -> SceneLayout:
        box = walk.window_box()
        span = max(box[1] - box[0], box[3] - box[2])
        cell = float(np.clip(480 // span, 18, 48))
        (kh, kw), conv = walk.kernel_size, walk.kind == "conv"
        kcell = float(np.clip(220 // max(kh, kw), 18, 48))
        rows = min(len(walk.steps[0].channels), MAX_CHANNEL_ROWS)
        grid_h = max((box[1] - box[0]) * cell, kh * kcell if conv else 0)
        band = line_height(TITLE * text) + line_height(INDEX * text) + 6
        index_w = text_width("000", INDEX * text) + 6  # a grid's row numbers, left of it
        sign_gap = text_width("×", SIGN * text) + 32
        input_x = index_w
        title_w = text_width("input channel 00", TITLE * text)
        kernel_x = input_x + max((box[3] - box[2]) * cell, title_w) + sign_gap
        products_x, sums_x, sums_width = kernel_x, kernel_x, 60.0 * text  # pooling: no sums
        sums_below = sums_below and conv
        if conv:
            label_w = text_width("channel 00", LABEL * text)  # "kernel 0" over "channel 0"
            products_x = kernel_x + max(kw * kcell, label_w) + sign_gap
            products_w = max(kw * kcell, text_width("products", LABEL * text))
            sums_x, sums_width = products_x + products_w + 36, 184.0 * text
            if sums_below:
                sums_x, sums_width = products_x, products_w
                sums = line_height(TOTAL * text) + min(kh, 5) * line_height(TERMS * text) + 8
                grid_h = max(grid_h, kh * kcell + sums)
        output_x = sums_x + sums_width + text_width("→", ARROW * text) + 16 + index_w
        return cls(cell, kcell, box, rows, text, band, grid_h + band + 12, input_x, kernel_x,
                   products_x, sums_x, sums_width, sums_below, output_x)  # fmt: skip

    def px(self, size: float) -> float:
        """A text size of the table above at this layout's text scale."""
        return size * self.text

    def row_y(self, row: int) -> float:
        return self.band + row * self.row_height

    def output_y(self, k: int, rows: int) -> float:
        """Top of output map `k` (of `rows` rows): the maps are stacked like the inputs."""
        return self.band + k * (rows * self.cell + self.band + 12)

    def cell_pos(self, row: int, padded_row: int, padded_col: int) -> QtCore.QPointF:
        return QtCore.QPointF(
            self.input_x + (padded_col - self.box[2]) * self.cell,
            self.row_y(row) + (padded_row - self.box[0]) * self.cell,
        )


def similar(before: QtCore.QSize, now: QtCore.QSize) -> bool:
    """Sizes within a tenth of each other: the layout chosen for one suits the other
    (so dragging a dock's edge does not lay the scene out again at every pixel)."""
    return all(
        abs(a - b) <= 0.1 * max(a, 1)
        for a, b in ((before.width(), now.width()), (before.height(), now.height()))
    )
