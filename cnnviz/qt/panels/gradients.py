"""Gradients: vanishing and exploding gradients, measured, side by side.

One backward pass from the cross-entropy loss of the current image (the
target is the top prediction) or of a batch of the bundled digits (their own
labels), and for every layer the norm of ∂L/∂activation (its output) and of
∂L/∂W (its weight) as bars on a log scale across depth. A second
configuration is drawn beside it: the same network with another activation,
with or without residual shortcuts, with He or Xavier initialisation, or one
of the deep textbook stacks (cnnviz.core.gradient_configs). The lesson
buttons set both sides in one click.

The panel builds the GradientRequests (lane "main" for the left side,
"comparison" for the right) and emits them; the window submits them to the
compute thread and hands back ``show_norms(GradientNorms)`` or
``show_failure(ComputeFailure)``. What the window knows of the current
network (its stack as computed, seed, weights file) comes from
``context_source``.

Standalone with made-up norms: ``python -m cnnviz.qt.panels.gradients``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from PySide6 import QtCore, QtWidgets

from cnnviz.core.architecture import Architecture, InputShape
from cnnviz.core.explain_jobs import GradientNorms, GradientRequest
from cnnviz.core.gradient_configs import (
    INIT_TITLES,
    INITS,
    LESSONS,
    PRESETS,
    VARIANTS,
    preset,
    variant,
    variant_problem,
)
from cnnviz.qt.panels.base import Panel, PanelInput, graphics_widget, info_label, title_label
from cnnviz.qt.panels.gradients_plot import (
    GradientBars,
    PowerAxis,
    floor_for,
    log10_values,
    summary,
)

CURRENT = "Current network"
NOTHING = "Nothing"
SOURCES = {"Current image": "image", "Digits batch (32)": "digits"}
BATCH = 32
LANES = ("main", "comparison")
FIRST_ID = 2_000_000  # a range of its own: never confused with forwards or trainings
NO_NETWORK = "Waiting for the first forward pass…"


@dataclass(frozen=True)
class Context:
    """What the window knows of the current network."""

    architecture: Architecture | None
    seed: int = 0
    weights_path: str | None = None
    trained: bool = False


@dataclass(frozen=True)
class Side:
    """One configuration to compute: its request and title, or why there is none."""

    lane: str
    title: str
    request: GradientRequest | None = None
    problem: str | None = None


def with_init(title: str, init: str) -> str:
    """'Deep ReLU stack · He init', unless the title names its initialisation already."""
    words = INIT_TITLES[init]
    return title if words.lower() in title.lower() else f"{title} · {words}"


def architecture_of(data: PanelInput) -> Architecture:
    """The stack a PanelInput shows (its top-level entries), for a panel shown alone."""
    layers = tuple(info.layer for info in data.analysis.layers if info.parent is None)
    return Architecture("current", InputShape(*data.analysis.input_shape), layers)


class GradientsPanel(Panel):
    """Bars of gradient norms across depth, for the network and a comparison."""

    gradients_requested = QtCore.Signal(object)  # tuple of (lane, GradientRequest)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.context_source: Callable[[], Context] | None = None
        self.image = None
        self._ids = itertools.count(FIRST_ID)
        self._pending: dict[int, int] = {}  # request id -> side
        self._results: list[GradientNorms | None] = [None, None]
        self._types: list[dict[str, str]] = [{}, {}]
        self._build()

    # -- the widgets -------------------------------------------------------------
    def _combo(self, items, tip: str) -> QtWidgets.QComboBox:
        combo = QtWidgets.QComboBox()
        combo.addItems(list(items))
        combo.setToolTip(tip)
        # Long preset names must not make the panel wider than its dock.
        combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        combo.setMinimumContentsLength(12)
        combo.currentIndexChanged.connect(self._changed)
        return combo

    def _build(self) -> None:
        self.network = self._combo([CURRENT, *PRESETS], "The configuration on the left")
        self.init = self._combo(
            [INIT_TITLES[i] for i in INITS], "How the left side's weights start"
        )
        self.compare = self._combo([NOTHING, *VARIANTS, *PRESETS], "The configuration on the right")
        self.source = self._combo(SOURCES, "Whose loss: the current image or a batch of digits")
        self.network.currentIndexChanged.connect(self._network_chosen)
        form = QtWidgets.QGridLayout()
        for n, (label, widget) in enumerate(
            (
                ("Network", self.network),
                ("Init", self.init),
                ("Compare with", self.compare),
                ("Loss of", self.source),
            )
        ):
            form.addWidget(QtWidgets.QLabel(label), n // 2, 2 * (n % 2))
            form.addWidget(widget, n // 2, 2 * (n % 2) + 1)
        form.setColumnStretch(1, 3)
        form.setColumnStretch(3, 2)
        lessons = QtWidgets.QHBoxLayout()
        lessons.addWidget(QtWidgets.QLabel("Lessons:"))
        self.lesson_buttons = []
        for title, left, right in LESSONS:
            button = QtWidgets.QPushButton(title)
            button.setToolTip(f"{left} against {right}, on a batch of digits")
            button.clicked.connect(lambda _=False, lr=(left, right): self.choose(*lr))
            lessons.addWidget(button)
            self.lesson_buttons.append(button)
        lessons.addStretch(1)
        self.canvas = graphics_widget()
        self.plots = [
            self.canvas.addPlot(row=0, col=c, axisItems={"left": PowerAxis("left")}) for c in (0, 1)
        ]
        self.bars = [GradientBars(plot, legend=c == 0) for c, plot in enumerate(self.plots)]
        self.plots[1].setYLink(self.plots[0])
        self.canvas.scene().sigMouseMoved.connect(self._hovered)
        self.titles = [title_label(), title_label()]
        for title in self.titles:
            title.setWordWrap(True)
        self.summaries = [info_label(), info_label()]
        grid = QtWidgets.QGridLayout()
        for column in (0, 1):
            grid.addWidget(self.titles[column], 0, column)
            grid.addWidget(self.summaries[column], 1, column)
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.addLayout(form)
        layout.addLayout(lessons)
        layout.addLayout(grid)
        layout.addWidget(self.canvas, 1)

    # -- choices -----------------------------------------------------------------
    def choose(self, network: str, comparison: str = NOTHING, source: str | None = None) -> None:
        """Set both sides (a lesson: two presets on the digits batch) and compute."""
        combos = (self.network, self.compare, self.source)
        for combo in combos:
            combo.blockSignals(True)
        try:
            self.network.setCurrentText(network)
            self._network_chosen()
            self.compare.setCurrentText(comparison)
            digits = next(k for k, v in SOURCES.items() if v == "digits")
            self.source.setCurrentText(source or digits)
        finally:
            for combo in combos:
                combo.blockSignals(False)
        self.refresh()

    def _network_chosen(self, *_args) -> None:
        """A preset brings its own initialisation (the Init box shows it, and may change it)."""
        title = self.network.currentText()
        if title in PRESETS:
            init = preset(title)[1]
            self.init.blockSignals(True)
            self.init.setCurrentIndex(INITS.index(init))
            self.init.blockSignals(False)

    def _changed(self, *_args) -> None:
        self.refresh()

    # -- requests ----------------------------------------------------------------
    def context(self) -> Context:
        if self.context_source is not None:
            return self.context_source()
        if self.current is not None:
            return Context(architecture_of(self.current))
        return Context(None)

    def sides(self) -> list[Side]:
        """The configurations the choices stand for, with fresh request ids."""
        context = self.context()
        init = INITS[self.init.currentIndex()]
        image = self.image if SOURCES[self.source.currentText()] == "image" else None
        if SOURCES[self.source.currentText()] == "image" and image is None:
            return [Side("main", "", problem="no image yet: pick the digits batch")]
        network = self.network.currentText()
        if network == CURRENT:
            if context.architecture is None:
                return [Side("main", "", problem=NO_NETWORK)]
            arch, seed, weights = context.architecture, context.seed, context.weights_path
            left_title = "Current network" + (" (its weights)" if context.trained else "")
        else:
            arch, seed, weights, left_title = preset(network)[0], context.seed, None, network
        left_title = with_init(left_title, init)
        sides = [Side("main", left_title, self._request(arch, image, seed, weights, init))]
        comparison = self.compare.currentText()
        if comparison in VARIANTS:
            problem = variant_problem(comparison, arch)
            other, other_init = variant(comparison, arch, init)
            # The file's weights fit a changed activation, not a changed structure.
            keep = weights if "shortcuts" not in comparison else None
            title = with_init(comparison, other_init)
            if (weights and not keep) or (context.trained and network == CURRENT and not keep):
                title += " (fresh weights)"
            request = None if problem else self._request(other, image, seed, keep, other_init)
            sides.append(Side("comparison", title, request, problem))
        elif comparison in PRESETS:
            other, other_init = preset(comparison)
            title = with_init(comparison, other_init)
            sides.append(
                Side("comparison", title, self._request(other, image, seed, None, other_init))
            )
        return sides

    def _request(self, arch, image, seed, weights, init) -> GradientRequest:
        return GradientRequest(
            next(self._ids), arch, image, seed=seed, weights_path=weights, init=init, batch=BATCH
        )

    def refresh(self) -> None:
        """Ask for the norms of the configurations chosen now."""
        sides = self.sides()
        wanted = []
        self._pending.clear()
        for index in (0, 1):
            side = sides[index] if index < len(sides) else None
            self._results[index] = None
            self.bars[index].clear()
            self.plots[index].setVisible(side is not None)
            self.titles[index].setText(side.title if side else "")
            self.summaries[index].setText((side.problem or "computing…") if side else "")
            if side is not None and side.request is not None:
                self._pending[side.request.request_id] = index
                self._types[index] = {
                    a: layer.type for a, layer in side.request.architecture.walk()
                }
                wanted.append((side.lane, side.request))
        if wanted:
            self.gradients_requested.emit(tuple(wanted))

    # -- results -----------------------------------------------------------------
    def draw(self, data: PanelInput) -> str | None:
        self.image = data.result.input
        uses_current = (
            self.network.currentText() == CURRENT or SOURCES[self.source.currentText()] == "image"
        )
        if uses_current or not any(self._results):
            self.refresh()
        return None

    @QtCore.Slot(object)
    def show_norms(self, norms: GradientNorms) -> None:
        side = self._pending.get(norms.request_id)
        if side is None:
            return  # another panel's, or an older request's
        self._results[side] = norms
        floor = floor_for(*self._results)
        for index, result in enumerate(self._results):
            if result is not None:
                types = tuple(self._types[index].get(a, "") for a in result.addresses)
                self.bars[index].show(result, types, floor)
        self.summaries[side].setText(summary(norms))
        values = [floor + 0.5]
        for result in self._results:
            if result is not None:
                values += [v for v in (*result.activation_grad, *result.weight_grad) if v]
        top = float(max(log10_values(values)))
        self.plots[0].setYRange(floor, top + 0.3, padding=0)

    @QtCore.Slot(object)
    def show_failure(self, failure) -> None:
        side = self._pending.get(failure.request_id)
        if side is not None:
            self.summaries[side].setText(f"Could not compute: {failure.message}")

    def _hovered(self, scene_pos) -> None:
        for bars in self.bars:
            bars.hover(scene_pos)


def sample_norms(request_id: int, decay: float, depth: int = 10) -> GradientNorms:
    """Made-up norms that fall by `decay` per layer towards the input (standalone view)."""
    addresses, acts, weights = [], [], []
    for i in range(depth * 2):
        addresses.append(str(i))
        acts.append(0.1 * decay ** (depth * 2 - i))
        weights.append(0.5 * decay ** (depth * 2 - i) if i % 2 == 0 else None)
    return GradientNorms(request_id, tuple(addresses), tuple(acts), tuple(weights), 2.3)


def standalone_panel() -> GradientsPanel:
    """A panel whose requests are answered with made-up norms (no compute thread)."""
    panel = GradientsPanel()
    decay = dict(zip(LANES, (0.25, 0.8), strict=True))

    def answer(wanted) -> None:
        for lane, request in wanted:
            panel.show_norms(sample_norms(request.request_id, decay[lane]))

    panel.gradients_requested.connect(answer)
    panel.choose(*LESSONS[0][1:])
    return panel


def main(argv=None) -> int:
    """Show the panel alone: the sigmoid-vs-ReLU lesson with made-up norms."""
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(standalone_panel, default_layer=0, argv=argv, size=(1100, 620))


if __name__ == "__main__":
    raise SystemExit(main())
