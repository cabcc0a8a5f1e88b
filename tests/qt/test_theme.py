"""The palette and the plots follow the light or dark scheme; the app icon is crisp."""

from __future__ import annotations

import gc

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QPalette

from cnnviz.qt.style.theme import (
    APP_ID,
    SCHEME_ENV,
    app_icon,
    apply_color_scheme,
    palette_is_dark,
)


@pytest.fixture
def restore_look(qapp):
    """The QApplication is shared by all tests: give back its palette and pyqtgraph's options."""
    # Widgets earlier tests closed are deleted now, before the scheme walks them.
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    palette, style = qapp.palette(), qapp.style().name()
    options = {k: pg.getConfigOption(k) for k in ("background", "foreground")}
    yield qapp
    qapp.setPalette(palette)
    qapp.setStyle(style)
    pg.setConfigOptions(**options)


def _plot(qtbot) -> pg.PlotWidget:
    plot = pg.PlotWidget(title="loss")
    qtbot.addWidget(plot)
    plot.plot([1.0, 3.0, 2.0])
    return plot


def _lightness(color: QColor) -> int:
    return color.lightness()


def test_dark_scheme_darkens_palette_and_existing_plots(qtbot, restore_look, monkeypatch):
    monkeypatch.setenv(SCHEME_ENV, "dark")
    plot = _plot(qtbot)  # made before the scheme is applied, as a panel might be
    watcher = apply_color_scheme(restore_look)

    assert watcher.dark
    assert palette_is_dark(restore_look.palette())
    assert _lightness(plot.backgroundBrush().color()) < 64
    axis = plot.getPlotItem().getAxis("left")
    assert _lightness(axis.pen().color()) > 192
    assert _lightness(axis.textPen().color()) > 192
    # Plots made afterwards start dark too.
    later = _plot(qtbot)
    assert _lightness(later.backgroundBrush().color()) < 64


def test_switching_the_system_scheme_at_run_time_restyles_and_tells_panels(
    qtbot, restore_look, monkeypatch
):
    monkeypatch.setenv(SCHEME_ENV, "dark")
    plot = _plot(qtbot)
    watcher = apply_color_scheme(restore_look)
    assert watcher.dark
    watcher.set_override(None)  # from now on the system decides

    with qtbot.waitSignal(watcher.scheme_changed, timeout=2000) as changed:
        restore_look.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)

    assert changed.args == [False]
    assert not palette_is_dark(restore_look.palette())
    assert _lightness(plot.backgroundBrush().color()) > 192
    assert _lightness(plot.getPlotItem().getAxis("left").pen().color()) < 64


def test_a_plot_with_its_own_background_keeps_it(qtbot, restore_look, monkeypatch):
    monkeypatch.setenv(SCHEME_ENV, "dark")
    plot = _plot(qtbot)
    plot.setBackground("#336699")
    apply_color_scheme(restore_look)
    assert plot.backgroundBrush().color().name() == "#336699"


def test_the_app_icon_is_drawn_at_the_device_pixel_size(qapp):
    icon = app_icon()
    assert not icon.isNull()
    for logical, ratio in ((16, 1.0), (24, 2.0), (32, 1.5), (48, 2.0)):
        pixmap = icon.pixmap(QSize(logical, logical), ratio)
        assert pixmap.width() == round(logical * ratio)
        image = pixmap.toImage()
        # Opaque in the middle (the tile), transparent in the very corner (rounded).
        assert image.pixelColor(image.width() // 2, image.height() // 2).alpha() == 255
        assert image.pixelColor(0, 0).alpha() == 0


def test_install_sets_the_window_icon_and_desktop_id(restore_look, monkeypatch):
    monkeypatch.setenv(SCHEME_ENV, "light")
    apply_color_scheme(restore_look)
    assert not restore_look.windowIcon().isNull()
    assert restore_look.desktopFileName() == APP_ID
    assert restore_look.palette().color(QPalette.ColorRole.Window).lightness() > 128


def test_applying_twice_keeps_one_watcher(restore_look, monkeypatch):
    monkeypatch.setenv(SCHEME_ENV, "dark")
    first = apply_color_scheme(restore_look)
    monkeypatch.setenv(SCHEME_ENV, "light")
    second = apply_color_scheme(restore_look)
    assert second is first
    assert not second.dark
    assert not palette_is_dark(restore_look.palette())
