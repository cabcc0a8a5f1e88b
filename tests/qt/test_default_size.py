"""Working at the default window size: panels fit the docks the window opens with.

Each test builds the main window with its default layout (as ``cnnviz
--screenshot`` does), raises one panel and measures it with the widgets' own
geometry and font metrics, so the expectations hold for other fonts and
screens too.
"""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import panel_input
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import QStandardPaths

from cnnviz.core.filter_grid import FilterGrid
from cnnviz.qt.panels.filters import kernel_pixels
from cnnviz.qt.window import settings
from cnnviz.qt.window.main_window import MainWindow

READABLE_KERNEL_PX = 16  # a 3×3 kernel narrower than this is a smudge of 5-pixel weights


@pytest.fixture
def window(qtbot, tmp_path):
    QStandardPaths.setTestModeEnabled(True)
    settings.use_settings_folder(tmp_path / "settings")
    settings.init_application_names()
    win = MainWindow(start_compute=False, saved_layout=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def raised(qtbot, window: MainWindow, key: str) -> QtWidgets.QWidget:
    """The panel `key`, its dock tab raised and laid out at the default size."""
    dock = window.panels.docks[key]
    dock.dock.raise_()
    qtbot.waitUntil(lambda: not dock.widget.visibleRegion().isEmpty())
    QtWidgets.QApplication.processEvents()
    return dock.widget


def settle(qtbot, timer: QtCore.QTimer) -> None:
    QtWidgets.QApplication.processEvents()
    qtbot.waitUntil(lambda: not timer.isActive())
    QtWidgets.QApplication.processEvents()


def test_a_wide_first_layer_shows_readable_kernels(qtbot, window):
    """VGG-16's first conv: 64 filters × 3 channels of 3×3, in the Filters tab."""
    panel = raised(qtbot, window, "filters")
    stack = [{"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1}]
    panel.show(panel_input(stack, 0, channels=3, size=8))
    settle(qtbot, panel._replan)
    box = panel.plot.getViewBox().size()
    grid = panel.layout_

    def kernel_in_box(cols: int) -> float:
        """Kernel width on screen if `cols` filters a row were fitted into the box."""
        height, width = FilterGrid(64, 3, 3, 3, cols, grid.extra, grid.gap).shape
        return min(box.height() / height, box.width() / width) * 3

    # One filter per row (as before) leaves unreadable kernels in this box.
    assert kernel_in_box(1) < READABLE_KERNEL_PX
    best = max(kernel_in_box(cols) for cols in range(1, 65))
    shown = kernel_pixels(panel)
    assert shown >= 1.5 * kernel_in_box(1)
    # As large as the box allows (bar the 2 % margin and the preference for fewer
    # columns), and readable wherever the box allows that (at the default fonts: yes).
    assert shown >= best / 1.05 / 1.04
    assert shown >= min(READABLE_KERNEL_PX, best / 1.05 / 1.04)
    # The whole grid is in view: the kernels are large because they use the width.
    (x0, x1), (y0, y1) = panel.plot.getViewBox().viewRange()
    height, width = grid.shape
    assert x0 <= 0 and y0 <= 0 and x1 >= width and y1 >= height


def forty_layers() -> list[dict]:
    """As long as VGG-16 (40 layers), small enough to compute at once."""
    return [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "padding": 1},
            {"type": "ReLU"}] * 20  # fmt: skip


def test_forty_layers_keep_readable_thumbnails_and_the_selection_in_view(qtbot, window):
    panel = raised(qtbot, window, "overview")
    panel.show(panel_input(forty_layers(), 35, size=12))
    QtWidgets.QApplication.processEvents()
    strip, box = panel.strip, panel.view
    assert len(strip.widths) == 41  # the input and 40 layers

    def on_screen(index: int) -> QtCore.QRectF:
        top, left, height, width = panel._tile_rect(index)
        corner = box.mapViewToScene(QtCore.QPointF(left, top))  # scene: widget pixels
        return QtCore.QRectF(corner, box.mapViewToScene(QtCore.QPointF(left + width, top + height)))

    # Fitting all 41 into the dock's width would leave slivers: the strip scrolls.
    assert box.width() / len(strip.widths) < panel.min_thumb_pixels()
    for index in range(len(strip.widths)):
        assert on_screen(index).width() >= panel.min_thumb_pixels() - 0.5
    assert panel.scroll.isVisible() and panel.scroll.maximum() > 0
    # The selected layer (35) was scrolled into view, whole.
    selected = on_screen(panel.layer_indices.index(35))
    assert box.sceneBoundingRect().contains(selected)
    # The end of the strip can be reached.
    panel.scroll.setValue(panel.scroll.maximum())
    assert box.sceneBoundingRect().contains(on_screen(len(strip.widths) - 1))


def readable_pixels() -> float:
    """8 points on this screen: the smallest text worth reading, whatever the font."""
    return 8 * QtWidgets.QApplication.primaryScreen().logicalDotsPerInchY() / 72


def real_layer(panel) -> None:
    """The first conv of a colour network, as the window hands it over."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((10, 3, 3, 3)).astype(np.float32)
    panel.set_real_layer(
        weight, np.zeros(10, np.float32), rng.random((3, 64, 64)).astype(np.float32)
    )


def in_sight(widget: QtWidgets.QWidget, area: QtWidgets.QWidget) -> bool:
    """The whole widget lies inside `area` (a scroll area's viewport: what can be seen)."""
    corner = widget.mapTo(area, QtCore.QPoint(0, 0))
    return widget.isVisible() and area.rect().contains(QtCore.QRect(corner, widget.size()))


@pytest.mark.parametrize("source", ["classroom", "real layer"])
def test_the_stepper_shows_everything_and_readable_sums(qtbot, window, source):
    panel = raised(qtbot, window, "conv_stepper")
    if source == "real layer":
        real_layer(panel)
        QtWidgets.QApplication.processEvents()
    seen = window.panels.docks["conv_stepper"].dock.widget().viewport()
    bar = panel.player_bar
    for widget in (panel.export_button, bar.speed, bar.slider, bar.play, bar.label, panel.formula):
        assert in_sight(widget, seen), widget
    assert in_sight(panel.view, seen)
    # The output maps are inside the view, whole.
    view = panel.view
    for grid in panel.scene.output_grids:
        shown = view.mapFromScene(grid.sceneBoundingRect()).boundingRect()
        assert view.viewport().rect().contains(shown)
    # The running sums: their smallest text (the terms) and the Σ total readable.
    scale = view.transform().m11()
    assert panel.scene.sum_lines
    for _label, terms, total in panel.scene.sum_lines:
        assert terms.font().pixelSize() * scale >= readable_pixels() - 0.5
        assert total.font().pixelSize() * scale >= readable_pixels()
