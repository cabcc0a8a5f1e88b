"""The non-linearity lab: take the activations out and the network is one linear map.

A three-line guide, two buttons (remove every activation; replace max pooling
by average pooling, which is not linear either), and then the map itself:
"This network is now one linear map x ↦ Wx + b: W is 10×1024", the network's
output on the current image next to Wx + b with the largest difference, and
every row of W in the input's shape. For a digit net each row is the one
template its class is matched against: all a linear model can do.

Fed by the lab (qt/labs/nonlinearity.py): ``set_architecture`` with the stack
on paper, ``show_map`` with an AffineMap, ``show_failure`` with a line; the
buttons only ask (``remove_requested``, ``replace_requested``).
Standalone: ``python -m cnnviz.qt.panels.nonlinearity_lab [--screenshot PNG]``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core import linearize
from cnnviz.core.architecture import Architecture
from cnnviz.core.linear_collapse import AffineMap
from cnnviz.qt.panels.base import (
    format_value,
    graphics_widget,
    image_view_box,
    info_label,
    set_picture,
    shape_text,
    title_label,
)
from cnnviz.qt.style.colormaps import DEFAULT_DIVERGING, gapped_levels, gapped_lookup_table

GUIDE = (
    "1. Convolutions, Linear layers, average pooling, BatchNorm and Dropout at evaluation, "
    "residual adds and concats are all linear (affine): stacked, they are still one map.\n"
    "2. Remove every activation (and replace max pooling, which keeps the largest of each "
    "window and so is not linear): the whole network becomes x ↦ Wx + b.\n"
    "3. Each output is then its row of W (one template, below) dotted with the image: all a "
    "linear model can do. Undo (Ctrl+Z) brings the activations back in one step."
)
REMOVE = "Remove every activation"
REPLACE = "Replace max pooling by average pooling"
WAITING = "Waiting for the network's forward pass…"
MAX_TEMPLATES = 64  # rows of W drawn (a 1000-class net shows its first 64)
MAX_ROWS = 20  # outputs listed in the table


def tile_gap(height: int) -> int:
    """Pixels between two rows of W in the mosaic (its tile labels sit by the same)."""
    return max(1, height // 8)


def template_tiles(found: AffineMap, limit: int = MAX_TEMPLATES) -> tuple[np.ndarray, int]:
    """(mosaic, columns): the first `limit` rows of W in the input's shape, each
    scaled to [-1, 1] by its own largest |weight| (channels averaged), NaN between
    tiles; a tile's colour says the sign and strength of that input pixel's weight."""
    rows = found.templates()[:limit].mean(axis=1)  # (n, H, W)
    scale = np.abs(rows).reshape(len(rows), -1).max(axis=1)
    rows = rows / np.where(scale > 0, scale, 1.0)[:, None, None]
    n, h, w = rows.shape
    cols = min(n, 5 if n <= 10 else math.ceil(math.sqrt(n)))
    lines = math.ceil(n / cols)
    gap = tile_gap(h)
    mosaic = np.full((lines * (h + gap) - gap, cols * (w + gap) - gap), np.nan, np.float32)
    for i, tile in enumerate(rows):
        r, c = divmod(i, cols)
        mosaic[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tile
    return mosaic, cols


class NonlinearityLab(QtWidgets.QWidget):
    remove_requested = QtCore.Signal()
    replace_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(title_label("Why non-linearity"))
        layout.addWidget(info_label(GUIDE))
        buttons = QtWidgets.QHBoxLayout()
        self.remove_button = QtWidgets.QPushButton(REMOVE)
        self.replace_button = QtWidgets.QPushButton(REPLACE)
        self.remove_button.clicked.connect(self.remove_requested)
        self.replace_button.clicked.connect(self.replace_requested)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.replace_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.status = info_label(WAITING, style="", size=13)
        layout.addWidget(self.status)
        self.difference = info_label("")
        layout.addWidget(self.difference)
        layout.addWidget(self._make_table())
        self.templates_title = info_label("")
        layout.addWidget(self.templates_title)
        layout.addWidget(self._make_canvas(), 1)
        self.found: AffineMap | None = None

    def _make_table(self) -> QtWidgets.QTableWidget:
        self.table = QtWidgets.QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["network", "Wx + b", "difference"])
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setMaximumHeight(20 * 11 + 8)
        return self.table

    def _make_canvas(self) -> pg.GraphicsLayoutWidget:
        self.canvas = graphics_widget()
        self.canvas.setMinimumHeight(160)
        self.view = image_view_box()
        self.canvas.addItem(self.view)
        self.image = pg.ImageItem()
        self.image.setLookupTable(gapped_lookup_table(DEFAULT_DIVERGING))
        self.view.addItem(self.image)
        self.labels: list[pg.TextItem] = []
        return self.canvas

    # -- what the lab feeds -------------------------------------------------------
    def set_architecture(self, arch: Architecture) -> None:
        """The buttons say what they would change, and are off when nothing is left."""
        acts = len(linearize.activation_addresses(arch))
        pools = len(linearize.max_pool_addresses(arch))
        self.remove_button.setText(f"{REMOVE} ({acts})" if acts else REMOVE)
        self.replace_button.setText(f"{REPLACE} ({pools})" if pools else REPLACE)
        self.remove_button.setEnabled(acts > 0)
        self.replace_button.setEnabled(pools > 0)

    def show_waiting(self, text: str = WAITING) -> None:
        self.status.setText(text)

    def show_failure(self, message: str) -> None:
        """Not (yet) one linear map, or the job failed: one line, and no stale map."""
        self.found = None
        self.status.setText(f"Not one linear map: {message}")
        self.difference.setText("")
        self.table.setRowCount(0)
        self.templates_title.setText("")
        self.image.clear()
        self._set_tile_labels([], 0, 0, 0)

    def show_map(self, found: AffineMap) -> None:
        self.found = found
        out, inp = found.weight.shape
        self.status.setText(f"This network is now one linear map x ↦ Wx + b: W is {out}×{inp}")
        self._show_outputs(found)
        mosaic, cols = template_tiles(found)
        shown = min(out, MAX_TEMPLATES)
        self.templates_title.setText(
            f"Rows of W as {shape_text(found.input_shape)} images"
            f"{f' (the first {shown})' if shown < out else ''}: output k = row k · x + b_k. "
            "Red: a bright pixel there raises the output; blue: lowers it."
        )
        # A little beyond ±1: the strongest weight must not land on the gap's colour.
        levels, gap = gapped_levels((-1.001, 1.001))
        picture = np.where(np.isnan(mosaic), gap, mosaic).astype(np.float32)
        set_picture(self.view, self.image, picture, autoLevels=False, levels=levels)
        _, h, w = found.input_shape
        self._set_tile_labels(range(shown), cols, h, w)

    def _show_outputs(self, found: AffineMap) -> None:
        if found.network is None:
            self.difference.setText("No image: W and b were built, there is nothing to compare.")
            self.table.setRowCount(0)
            return
        self.difference.setText(
            f"On the current image: max |network − (Wx + b)| = {found.max_diff:.3g} "
            "(float64 rounding: the same map)"
        )
        rows = min(len(found.network), MAX_ROWS)
        self.table.setRowCount(rows)
        self.table.setVerticalHeaderLabels([str(k) for k in range(rows)])
        for k in range(rows):
            a, b = float(found.network[k]), float(found.mapped[k])
            for col, value in enumerate((format_value(a), format_value(b), f"{a - b:.2g}")):
                self.table.setItem(k, col, QtWidgets.QTableWidgetItem(value))

    def _set_tile_labels(self, indices, cols: int, h: int, w: int) -> None:
        for label in self.labels:
            self.view.removeItem(label)
        self.labels = []
        gap = tile_gap(h)
        for i in indices:
            r, c = divmod(i, cols)
            label = pg.TextItem(str(i), color="k", fill=(255, 255, 255, 170), anchor=(0, 0))
            label.setPos(c * (w + gap), r * (h + gap))
            self.view.addItem(label)
            self.labels.append(label)


def main(argv=None) -> int:
    """Standalone, on a made-up map: ``python -m cnnviz.qt.panels.nonlinearity_lab``."""
    import argparse

    parser = argparse.ArgumentParser(description="The non-linearity lab panel on a sample map.")
    parser.add_argument("--screenshot", metavar="PNG", help="save a picture and exit")
    args = parser.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(10, 28 * 28))
    x = rng.random(28 * 28)
    panel = NonlinearityLab()
    panel.show_map(AffineMap(0, weight, np.zeros(10), (1, 28, 28), weight @ x, weight @ x))
    panel.resize(700, 800)
    panel.show()
    if args.screenshot:
        app.processEvents()
        return 0 if panel.grab().save(args.screenshot) else 1
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
