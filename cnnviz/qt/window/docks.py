"""The visual panels as docks: where each panel lives, and how it is fed.

This is the one place that knows the panel modules. A dock starts with a light
placeholder; its panel is imported and built when the dock is first shown or
first needed (`PanelDock.ensure`), so start-up does not pay for tabs nobody has
raised. A panel whose module is missing or broken gets a placeholder saying so,
and the window still works. Panels that follow the common
interface (`cnnviz.qt.panels.base.Panel`) are fed a PanelInput after every
result, but only while they can be seen: a tab in the background is fed when
it is raised, so hidden panels cost nothing.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QScrollArea,
    QTabBar,
    QWidget,
)

log = logging.getLogger(__name__)

VISUAL, SIDE, BOTTOM = "visual", "side", "bottom"


@dataclass(frozen=True)
class PanelSpec:
    key: str
    title: str
    module: str
    class_names: tuple[str, ...]
    place: str  # VISUAL (the big tabbed area), SIDE (right column), BOTTOM
    shortcut: str = ""


PANELS = (
    PanelSpec(
        "feature_maps",
        "Feature maps",
        "cnnviz.qt.panels.feature_maps",
        ("FeatureMapPanel", "FeatureMapsPanel"),
        VISUAL,
        "Ctrl+1",
    ),
    PanelSpec(
        "filters",
        "Filters",
        "cnnviz.qt.panels.filters",
        ("FiltersPanel", "FilterPanel"),
        VISUAL,
        "Ctrl+2",
    ),
    PanelSpec(
        "pooling", "Pooling", "cnnviz.qt.panels.pooling", ("PoolingPanel",), VISUAL, "Ctrl+3"
    ),
    PanelSpec(
        "activation",
        "Activation",
        "cnnviz.qt.panels.activation",
        ("ActivationPanel",),
        VISUAL,
        "Ctrl+4",
    ),
    PanelSpec(
        "conv_stepper",
        "Convolution step by step",
        "cnnviz.qt.panels.conv_stepper",
        ("ConvStepperPanel",),
        VISUAL,
        "Ctrl+5",
    ),
    PanelSpec(
        "training", "Training", "cnnviz.qt.panels.training", ("TrainingPanel",), VISUAL, "Ctrl+6"
    ),
    PanelSpec("why", "Why", "cnnviz.qt.panels.why", ("WhyPanel",), VISUAL, "Ctrl+7"),
    PanelSpec(
        "gradients",
        "Gradients",
        "cnnviz.qt.panels.gradients",
        ("GradientsPanel",),
        VISUAL,
        "Ctrl+8",
    ),
    PanelSpec("quiz", "Quiz", "cnnviz.qt.panels.quiz", ("QuizPanel",), VISUAL, "Ctrl+9"),
    PanelSpec(
        "input_image",
        "Input",
        "cnnviz.qt.panels.input_image",
        ("InputImagePanel", "InputPanel"),
        SIDE,
    ),
    PanelSpec(
        "draw_pad",
        "Draw",
        "cnnviz.qt.inputs.draw_pad",
        ("DrawPad", "DrawingPad", "DrawPadWidget"),
        SIDE,
    ),
    PanelSpec(
        "prediction", "Prediction", "cnnviz.qt.panels.prediction", ("PredictionPanel",), SIDE
    ),
    PanelSpec(
        "overview",
        "Overview: every layer",
        "cnnviz.qt.panels.overview",
        ("OverviewPanel", "OverviewStrip"),
        BOTTOM,
    ),
)


@dataclass
class PanelDock:
    """A dock and its panel, built on first use: `widget` and `real` build it,
    `content` and `built` look without building."""

    spec: PanelSpec
    dock: QDockWidget
    content: QWidget  # the light placeholder until built, then the panel
    built: bool = False
    fed: object = field(default=None, repr=False)  # the PanelInput it last drew
    # Called once with the built widget (the wiring connects its signals then).
    on_built: Callable[[PanelSpec, QWidget, bool], None] | None = field(default=None, repr=False)
    _real: bool = False  # False: a placeholder because the panel could not be loaded

    def ensure(self) -> QWidget:
        if not self.built:
            self.built = True
            self.content, self._real = make_panel(self.spec)
            holder = self.dock.widget()
            if isinstance(holder, QScrollArea):
                holder.setWidget(self.content)  # deletes the placeholder
            else:
                self.dock.setWidget(self.content)
            if self.on_built is not None:
                self.on_built(self.spec, self.content, self._real)
        return self.content

    @property
    def widget(self) -> QWidget:
        return self.ensure()

    @property
    def real(self) -> bool:
        self.ensure()
        return self._real


def _panel_class(spec: PanelSpec):
    """The panel's class, or None with the reason logged."""
    try:
        module = importlib.import_module(spec.module)
    except Exception as exc:  # a broken panel must not stop the window
        log.info("panel %s not available: %s", spec.key, exc)
        return None
    for name in spec.class_names:
        if isinstance(getattr(module, name, None), type):
            return getattr(module, name)
    log.warning("panel module %s has none of %s", spec.module, spec.class_names)
    return None


def _placeholder(spec: PanelSpec) -> QWidget:
    label = QLabel(f"{spec.title}\n\nThis panel is not part of this build.")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text); padding: 16px;")
    return label


def make_panel(spec: PanelSpec) -> tuple[QWidget, bool]:
    cls = _panel_class(spec)
    if cls is not None:
        try:
            return cls(), True
        except Exception:
            log.exception("panel %s failed to start", spec.key)
    return _placeholder(spec), False


class PanelScrollArea(QScrollArea):
    """Holds a panel at exactly the dock's size, or its minimum when the dock is
    smaller (then it scrolls instead of forcing the whole window wider: the
    conv stepper needs 800 pixels).

    QScrollArea's own resizing follows heightForWidth, which makes panels with
    wrapped labels taller than the dock; this follows the dock."""

    def __init__(self, widget: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(widget)
        self.viewport().installEventFilter(self)

    def _fit(self) -> None:
        widget, viewport = self.widget(), self.viewport().size()
        minimum = widget.minimumSizeHint().expandedTo(widget.minimumSize())
        widget.resize(viewport.expandedTo(minimum))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def eventFilter(self, watched, event) -> bool:
        # The panel's minimum changed: Qt tells the panel's parent, the viewport.
        if watched is self.viewport() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return super().eventFilter(watched, event)


def scrollable(widget: QWidget) -> QScrollArea:
    return PanelScrollArea(widget)


def make_dock(
    window: QMainWindow, title: str, name: str, widget: QWidget, *, scroll: bool = False
) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(f"dock_{name}")  # saveState/restoreState match docks by name
    dock.setWidget(scrollable(widget) if scroll else widget)
    dock.setFeatures(
        QDockWidget.DockWidgetFeature.DockWidgetClosable
        | QDockWidget.DockWidgetFeature.DockWidgetMovable
        | QDockWidget.DockWidgetFeature.DockWidgetFloatable
    )
    return dock


def _not_built_yet() -> QWidget:
    # Painted for one frame at most: a dock is built as soon as it is shown.
    return QWidget()


def create_panel_docks(window: QMainWindow, on_built=None) -> dict[str, PanelDock]:
    """One dock per panel, each holding a placeholder until first used; not yet
    placed in the window. `on_built(spec, widget, real)` runs as each is built."""
    docks = {}
    for spec in PANELS:
        holder = _not_built_yet()
        dock = make_dock(window, spec.title, spec.key, holder, scroll=True)
        docks[spec.key] = PanelDock(spec, dock, holder, on_built=on_built)
    return docks


def is_common_panel(widget: QWidget) -> bool:
    """Follows cnnviz.qt.panels.base.Panel: `show(PanelInput)` and `draw`."""
    try:
        from cnnviz.qt.panels.base import Panel
    except ImportError:
        return False
    return isinstance(widget, Panel)


def can_be_seen(panel: PanelDock) -> bool:
    """Visible and not hidden behind another tab (or a collapsed dock)."""
    return panel.dock.isVisible() and not panel.content.visibleRegion().isEmpty()


def feed(panel: PanelDock, data, *, force: bool = False) -> bool:
    """Draw `data` in the panel if it can be seen (building it then); True when it drew."""
    if data is None or panel.fed is data or (not force and not can_be_seen(panel)):
        return False
    if not panel.real or not is_common_panel(panel.widget):
        return False
    panel.fed = data
    panel.widget.show(data)
    return True


def _bar_fits(bar: QTabBar, dock: QDockWidget, titles: set[str]) -> bool:
    if dock.windowTitle() not in titles:
        return False
    bar_rect, rect = bar.geometry(), dock.geometry()
    below = abs(rect.bottom() + 1 - bar_rect.top()) <= 3
    above = abs(bar_rect.bottom() + 1 - rect.top()) <= 3
    return (below or above) and abs(rect.left() - bar_rect.left()) <= 3


def hide_stale_tab_bars(window: QMainWindow) -> int:
    """Hide dock tab bars that Qt left behind; the number hidden.

    Qt 6 (seen with 6.11) leaves an old tab bar visible when a tab group is
    rebuilt (tabifying into a nested split, restoreState): it stays where the
    group used to be, painted over the panels. A live bar sits against a dock
    of its group; of duplicates in one place the newest is the live one.
    """
    docks = [d for d in window.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()]
    live: dict[tuple, QTabBar] = {}
    hidden = 0
    for bar in window.findChildren(QTabBar):  # creation order: oldest first
        if bar.parent() is not window or not bar.isVisible():
            continue
        titles = {bar.tabText(i) for i in range(bar.count())}
        key = (bar.geometry().left(), bar.geometry().top(), tuple(sorted(titles)))
        if not any(_bar_fits(bar, dock, titles) for dock in docks):
            bar.hide()
            hidden += 1
            continue
        if key in live:
            live[key].hide()
            hidden += 1
        live[key] = bar
    return hidden
