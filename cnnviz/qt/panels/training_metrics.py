"""The Training panel's test results: the confusion matrix and per-class scores.

Shown after a run that finished (a cancelled run measures nothing on the test
set). The matrix is one image with the count written in each cell: rows are
the true classes, columns the predicted ones, so the right answers lie on the
diagonal and every count off it is a mistake of that kind. A cell's colour is
its share of the row (of the images of this class, how many got this
answer), so a class with few images shows its mistakes as clearly as a big
one. The table beside it gives each class's precision, recall, F1 and support
(cnnviz.core.class_metrics computes them all from the matrix).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.class_metrics import TestMetrics
from cnnviz.qt.panels.base import CURVE, float_c, graphics_widget, info_label, style_plot

pg.setConfigOptions(imageAxisOrder="row-major")

# White (none of the row) to the curves' blue (all of it).
SHARE_COLOURS = pg.ColorMap([0.0, 1.0], [(255, 255, 255), pg.mkColor(CURVE).getRgb()[:3]])
COLUMNS = ("precision", "recall", "F1", "images")
HEADING = (
    "Test set ({total} images, never trained on): accuracy {accuracy:.1%} = "
    "{right} on the diagonal / {total}. Rows: true class; columns: predicted."
)


NOT_MEASURED = "The confusion matrix on the test set appears here after a finished run."


def row_shares(confusion: np.ndarray) -> np.ndarray:
    """Each count over its row's sum (0 for a class with no test images)."""
    counts = np.asarray(confusion, dtype=np.float64)
    rows = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)


class TestMetricsView(QtWidgets.QWidget):
    """Heading, confusion-matrix image with counts, and the per-class table."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.metrics: TestMetrics | None = None
        self.heading = info_label("", style="", size=12)
        self.canvas = graphics_widget()
        self.canvas.setMinimumSize(120, 150)
        self.plot = self.canvas.addPlot()
        style_plot(self.plot, "predicted class", "true class")
        self.plot.showGrid(x=False, y=False)
        self.plot.invertY(True)
        self.plot.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem()
        self.image.setLookupTable(SHARE_COLOURS.getLookupTable(0.0, 1.0, 256))
        self.plot.addItem(self.image)
        self.cells: list[pg.TextItem] = []
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setSizeAdjustPolicy(
            QtWidgets.QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents
        )
        self._lay_out()

    def _lay_out(self) -> None:
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.canvas, 1)
        row.addWidget(self.table)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addLayout(row, 1)

    def show_metrics(self, metrics: TestMetrics | None) -> None:
        """Draw `metrics`; None (nothing measured) clears the view."""
        self.metrics = metrics
        if metrics is None:
            self.heading.setText(NOT_MEASURED)
            self.image.clear()
            self._write_counts(np.zeros((0, 0), np.int64), np.zeros((0, 0)))
            self.table.setRowCount(0)
            return
        confusion = metrics.confusion
        self.heading.setText(
            HEADING.format(
                total=metrics.total, accuracy=metrics.accuracy, right=int(np.trace(confusion))
            )
        )
        shares = row_shares(confusion)
        self.image.setImage(float_c(shares), autoLevels=False, levels=(0.0, 1.0))
        k = len(confusion)
        self.image.setRect(QtCore.QRectF(-0.5, -0.5, k, k))
        self._write_counts(confusion, shares)
        names = [(i, name[:8]) for i, name in enumerate(metrics.class_names)]
        for axis in ("bottom", "left"):
            self.plot.getAxis(axis).setTicks([names])
        self.plot.setRange(xRange=(-0.5, k - 0.5), yRange=(-0.5, k - 0.5), padding=0.02)
        self._fill_table(metrics)

    def _write_counts(self, confusion: np.ndarray, shares: np.ndarray) -> None:
        k = len(confusion)
        if len(self.cells) != k * k:  # made once per number of classes
            for item in self.cells:
                self.plot.removeItem(item)
            self.cells = [pg.TextItem(anchor=(0.5, 0.5)) for _ in range(k * k)]
            for index, item in enumerate(self.cells):
                item.setPos(index % k, index // k)
                self.plot.addItem(item)
        for item, count, share in zip(self.cells, confusion.ravel(), shares.ravel(), strict=True):
            # Light text on the dark cells, dark on the light ones.
            item.setColor(QtGui.QColor("white" if share > 0.55 else "black"))
            item.setText(str(int(count)) if count else "")

    def _fill_table(self, metrics: TestMetrics) -> None:
        scores = metrics.per_class()
        self.table.setRowCount(len(scores))
        self.table.setVerticalHeaderLabels([s.name for s in scores])
        for row, s in enumerate(scores):
            texts = (f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support))
            for column, text in enumerate(texts):
                item = QtWidgets.QTableWidgetItem(text)
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
                self.table.setItem(row, column, item)
        # As wide as its columns: beside the matrix it must not need a scroll bar.
        table = self.table
        table.resizeColumnsToContents()
        width = table.horizontalHeader().length() + table.verticalHeader().sizeHint().width()
        table.setMinimumWidth(width + 2 * table.frameWidth() + 4)

    def cell_texts(self) -> list[list[str]]:
        """The counts written in the cells, row by row (what a reader sees)."""
        k = 0 if self.metrics is None else len(self.metrics.confusion)
        texts = [item.textItem.toPlainText() for item in self.cells]
        return [texts[r * k : (r + 1) * k] for r in range(k)]
