"""Hands-on labs (issue 19): each a short guided experiment on one interview topic.

A lab is one module in this folder that defines ``LAB``, a :class:`Lab`; the
window's Labs menu lists every such module in ``order`` (found here, so adding a
lab touches no shared file). ``start(window)`` sets the lab up on the main
window (opens its panel, loads what it needs) and is undoable where it edits
the network. Labs sit between the window and the panels: they may use the
bridge, editor, inputs, panels and style, and reach the window only through
the object they are handed.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lab:
    title: str  # the menu text, with an & before its access key
    order: int  # place in the Labs menu (small first)
    start: Callable[[Any], None]  # called with the MainWindow
    tip: str = ""  # the status-bar line
    shortcut: str = ""  # optional key sequence, e.g. "Ctrl+Alt+1"


def discover() -> list[Lab]:
    """Every module's ``LAB`` in this folder, in menu order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        lab = getattr(module, "LAB", None)
        if isinstance(lab, Lab):
            found.append(lab)
    return sorted(found, key=lambda lab: (lab.order, lab.title))


def show_panel(window: Any, key: str):
    """Bring the window's panel `key` (docks.PANELS) to the front, built; its widget."""
    panel = window.panels.docks[key]
    panel.dock.show()
    panel.dock.raise_()
    return panel.widget


def lab_dock(
    window: Any,
    key: str,
    title: str,
    make: Callable[[], Any],
    on_visible: Callable[[Any, bool], Any] | None = None,
):
    """The lab's own dock, made once (tabbed with the big panels) and raised; its widget.

    A lab's panel lives only while the window does; it is not one of the View
    menu's standing panels, so a person who never opens a lab never pays for it.
    `on_visible(widget, visible)` is told, from the first raise on, when the dock
    comes into sight or goes out of it (a tab behind another is out of sight).
    """
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget

    docks = window.__dict__.setdefault("lab_docks", {})
    dock = docks.get(key)
    made = dock is None
    if made:
        dock = QDockWidget(title, window)
        dock.setObjectName(f"lab_{key}")
        dock.setWidget(make())
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        window.tabifyDockWidget(window.panels.docks["feature_maps"].dock, dock)
        docks[key] = dock
    dock.show()
    dock.raise_()
    widget = dock.widget()
    if made and on_visible is not None:
        dock.visibilityChanged.connect(lambda visible: on_visible(widget, visible))
    return widget
