"""Light or dark as the system says, plots included, and a crisp application icon.

``apply_color_scheme(app)`` is called once in app.main, before any window or
plot exists. It reads the system's scheme (``QStyleHints.colorScheme``), gives
the application a matching palette when the style does not (e.g. a dark
desktop on a platform theme that only reports it), sets pyqtgraph's default
background and foreground from that palette, and re-styles everything when the
system switches scheme at run time. ``$CNNVIZ_COLOR_SCHEME`` = ``light`` or
``dark`` overrides the system (screenshots, tests, taste).

Plots follow when they keep pyqtgraph's defaults: ``setBackground('default')``
(or ``None`` for transparent) and axes without a custom pen. Panels with
colours of their own listen to ``ThemeWatcher.scheme_changed(dark)``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from cnnviz.core.resources import resource_path

LOG = logging.getLogger(__name__)

APP_ID = "io.github.cnnviz.Cnnviz"
SCHEME_ENV = "CNNVIZ_COLOR_SCHEME"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
DARK_LIGHTNESS = 128  # a window colour darker than this is a dark palette

_DARK_COLORS = {
    QPalette.ColorRole.Window: "#2d2d30",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1e1e1e",
    QPalette.ColorRole.AlternateBase: "#2a2a2c",
    QPalette.ColorRole.ToolTipBase: "#3c3c3f",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.PlaceholderText: "#8c8c8c",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#3a3a3d",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Light: "#505053",
    QPalette.ColorRole.Midlight: "#434346",
    QPalette.ColorRole.Mid: "#29292b",
    QPalette.ColorRole.Dark: "#1a1a1b",
    QPalette.ColorRole.Shadow: "#000000",
    QPalette.ColorRole.Highlight: "#3d7dd8",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6aa9ff",
    QPalette.ColorRole.LinkVisited: "#b48cff",
}
_DARK_DISABLED = ("#7a7a7a", (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                              QPalette.ColorRole.ButtonText))  # fmt: skip


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in _DARK_COLORS.items():
        palette.setColor(role, QColor(color))
    disabled_color, roles = _DARK_DISABLED
    for role in roles:
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled_color))
    return palette


def palette_is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < DARK_LIGHTNESS


def requested_scheme() -> Qt.ColorScheme | None:
    """The scheme asked for in ``$CNNVIZ_COLOR_SCHEME``, or None to follow the system."""
    value = os.environ.get(SCHEME_ENV, "").strip().lower()
    if value == "dark":
        return Qt.ColorScheme.Dark
    if value == "light":
        return Qt.ColorScheme.Light
    if value not in ("", "system", "auto"):
        LOG.warning("%s=%r: expected light, dark or system", SCHEME_ENV, value)
    return None


def plot_colors(palette: QPalette) -> tuple[QColor, QColor]:
    """(background, foreground) for plots: the palette's text field colours."""
    return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)


class ThemeWatcher(QObject):
    """Keeps palette and plots in step with the scheme; one per application."""

    scheme_changed = Signal(bool)  # True when dark

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._app = app
        self._override = requested_scheme()
        self._own_palette = False
        self.dark = False
        app.styleHints().colorSchemeChanged.connect(self._on_system_scheme_changed)

    def set_override(self, scheme: Qt.ColorScheme | None) -> None:
        """Force light or dark (None: follow the system again) from the next apply()."""
        self._override = scheme

    def wanted_dark(self, scheme: Qt.ColorScheme | None = None) -> bool:
        if self._override is not None:
            return self._override == Qt.ColorScheme.Dark
        scheme = self._app.styleHints().colorScheme() if scheme is None else scheme
        if scheme == Qt.ColorScheme.Unknown:
            # No opinion from the platform: the palette it gave us decides.
            return palette_is_dark(self._style_palette())
        return scheme == Qt.ColorScheme.Dark

    def apply(self, dark: bool) -> None:
        """Palette, pyqtgraph defaults and existing plots, all in one scheme."""
        self._set_palette(dark)
        old_foreground = pg.getConfigOption("foreground")
        background, foreground = plot_colors(self._app.palette())
        pg.setConfigOptions(background=background, foreground=foreground)
        restyled = restyle_plots(foreground, old_foreground)
        changed = dark != self.dark
        self.dark = dark
        LOG.debug("Colour scheme %s (%d plots restyled)", "dark" if dark else "light", restyled)
        if changed:
            self.scheme_changed.emit(dark)

    def _on_system_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        self.apply(self.wanted_dark(scheme))

    def _style_palette(self) -> QPalette:
        return self._app.style().standardPalette() if self._own_palette else self._app.palette()

    def _set_palette(self, dark: bool) -> None:
        if self._own_palette:
            # Back to what the platform and style provide, then see if it fits.
            self._app.setPalette(self._app.style().standardPalette())
            self._own_palette = False
        if palette_is_dark(self._app.palette()) == dark:
            return
        if dark and self._app.style().name().lower() in ("windowsvista", "windows"):
            # These styles draw with system colours and ignore a dark palette.
            self._app.setStyle(QStyleFactory.create("Fusion"))
        fusion_light = QStyleFactory.create("Fusion").standardPalette()
        self._app.setPalette(dark_palette() if dark else fusion_light)
        self._own_palette = True


def restyle_plots(foreground: QColor, old_foreground: object) -> int:
    """Give existing plots the current pyqtgraph defaults; the number of views changed.

    Only what still uses the defaults changes: a view whose background is
    'default', axes drawn in the old default foreground, titles without a
    colour of their own.
    """
    app = QApplication.instance()
    if app is None:
        return 0
    old = pg.mkColor(old_foreground)
    count = 0
    for widget in app.allWidgets():
        # A closed pyqtgraph view has let go of its scene, which may already be
        # freed: asking for it would touch freed memory.
        if not isinstance(widget, pg.GraphicsView) or getattr(widget, "closed", False):
            continue
        if getattr(widget, "_background", None) == "default":
            widget.setBackground("default")
            count += 1
        for item in widget.scene().items():
            if isinstance(item, pg.AxisItem):
                _restyle_axis(item, old, foreground)
            elif isinstance(item, pg.LabelItem) and item.opts.get("color") is None:
                item.setText(item.text)
    return count


def _restyle_axis(axis: pg.AxisItem, old: QColor, new: QColor) -> None:
    if axis.pen().color() in (old, new):
        axis.setPen()
    if axis.textPen().color() in (old, new):
        axis.setTextPen()


def app_icon() -> QIcon:
    """The cnnviz icon: the SVG for any scale, PNGs where a bitmap is wanted."""
    folder = resource_path("icons")
    icon = QIcon()
    svg = folder / "cnnviz.svg"
    if svg.is_file():
        icon = QIcon(str(svg))
    for size in ICON_SIZES:
        png = folder / f"cnnviz-{size}.png"
        if png.is_file():
            icon.addFile(str(png), QSize(size, size))
    if icon.isNull():
        LOG.warning("The cnnviz icon was not found in %s", folder)
    return icon


def svg_icon(path: str | Path) -> QIcon:
    """An icon drawn from an SVG at the exact device pixel size: crisp on HiDPI."""
    return QIcon(str(path))


def install_app_icon(app: QGuiApplication) -> None:
    """Window icon for every window; the desktop entry's id for Wayland docks."""
    app.setWindowIcon(app_icon())
    app.setDesktopFileName(APP_ID)


def apply_color_scheme(app: QApplication) -> ThemeWatcher:
    """Follow the system's light or dark scheme from now on; call before creating windows."""
    install_app_icon(app)
    watcher = app.findChild(ThemeWatcher)
    if watcher is None:
        watcher = ThemeWatcher(app)
    else:
        # Called again: one watcher per application, with today's override.
        watcher.set_override(requested_scheme())
    watcher.apply(watcher.wanted_dark())
    return watcher
