"""The view of the step-through scene: scaled to fit, laid out to be read.

The whole scene is always scaled into the view. When the view changes size
(or the scene gets a new walkthrough), the layout is chosen again: the text
scale and where the running sums go (``choose_layout``), so that the sums
stay readable however the dock is shaped (see conv_stepper_layout).
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.conv_steps import Walkthrough
from cnnviz.qt.panels.conv_stepper_layout import TERMS, TEXT_SCALES, readable_pixels, similar
from cnnviz.qt.panels.conv_stepper_scene import StepScene


def choose_layout(walk: Walkthrough, width: float, height: float, minimum: float):
    """(text scale, sums below) for a view of `width` × `height` pixels: the smallest
    text at least `minimum` pixels on screen with the largest grid cells, or, when no
    layout reaches that, the one whose text comes closest.

    Sums under the products are tried only when the scene is too wide for the view
    (they make it narrower and taller)."""
    scratch = StepScene()
    best, best_key = (1.0, False), None
    for below in (False, True) if walk.kind == "conv" else (False,):
        for text in TEXT_SCALES:
            scratch.build(walk, text, below)
            rect = scratch.sceneRect()
            scale = min(width / rect.width(), height / rect.height())
            smallest = scratch.geo.px(TERMS) * scale
            readable = smallest >= minimum
            key = (readable, scratch.geo.cell * scale if readable else smallest)
            if best_key is None or key > best_key:
                best, best_key = (text, below), key
            if readable:
                break  # larger text only makes the grids smaller
        if not below and rect.width() * height <= rect.height() * width:
            break  # as tall as the view allows already: sums below would only shrink it
    return best


class StepView(QtWidgets.QGraphicsView):
    """The scene, always scaled to fit and laid out for the view's size; keys go to `keys`."""

    def __init__(self, scene: StepScene, keys, parent=None):
        super().__init__(scene, parent)
        self._keys = keys
        self._chosen_for: tuple | None = None  # (walk, view size) the layout was chosen for
        self.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing
                            | QtGui.QPainter.RenderHint.TextAntialiasing)  # fmt: skip
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMinimumSize(320, 200)

    def fit(self) -> None:
        self.fitInView(self.sceneRect(), QtCore.Qt.AspectRatioMode.KeepAspectRatio)

    def text_pixels(self) -> float:
        """On-screen size of the scene's smallest text (the running sum's terms)."""
        geo = self.scene().geo
        return 0.0 if geo is None else geo.px(TERMS) * self.transform().m11()

    def fit_scene(self) -> None:
        """Scale the scene into the view, laid out again for a new walkthrough or a
        view that changed size by more than a tenth."""
        self.fit()
        scene, size = self.scene(), self.viewport().size()
        walk, chosen = scene.walk, self._chosen_for
        if walk is None or size.width() < 20 or size.height() < 20:
            return
        if chosen is not None and chosen[0] is walk and similar(chosen[1], size):
            return
        self._chosen_for = (walk, size)
        choice = choose_layout(walk, size.width(), size.height(), readable_pixels())
        if choice != scene.layout_choice():
            scene.build(walk, *choice)
            scene.show_step(scene.index)
            self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_scene()

    def keyPressEvent(self, event) -> None:
        if not self._keys(event):
            super().keyPressEvent(event)
