"""One editor widget per catalogue parameter kind, all with the same small API.

`value()` reads it, `set_value(v)` shows a value without emitting, and
`edited(value)` fires when the person changes it. Ranges come from the
catalogue, so a spin box never offers a value the core would refuse.

This module holds the editors of sizes (a height×width pair with its link,
padding with 'same'/'valid', an optional size, ZeroPad2d's four sides) and
``make_editor``; the editors of one value and the shared ``ParamEditor`` live
in scalar_editors.py and are re-exported here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QWidget,
)

from cnnviz.core.catalogue import (
    BOOL,
    CHOICE,
    FLOAT,
    INT,
    OPT_BOOL,
    OPT_FLOAT,
    OPT_INT,
    OPT_PAIR,
    PAD4,
    PADDING,
    PAIR,
    Param,
)
from cnnviz.qt.editor.scalar_editors import (
    BoolEditor,
    ChoiceEditor,
    CompactDoubleSpinBox,
    FloatEditor,
    IntEditor,
    OptionalBoolEditor,
    OptionalFloatEditor,
    OptionalIntEditor,
    ParamEditor,
    spin_box,
)

__all__ = [
    "BoolEditor",
    "ChoiceEditor",
    "CompactDoubleSpinBox",
    "FloatEditor",
    "IntEditor",
    "OptionalBoolEditor",
    "OptionalFloatEditor",
    "OptionalIntEditor",
    "OptionalPairEditor",
    "OptionalSizeEditor",
    "Pad4Editor",
    "PaddingEditor",
    "PairEditor",
    "ParamEditor",
    "make_editor",
]


class PairEditor(ParamEditor):
    """Height and width with a link: linked, both follow and the value is one number."""

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.height_box, self.width_box = spin_box(param, self), spin_box(param, self)
        self.height_box.setToolTip(f"{param.name}: height. {param.help}")
        self.width_box.setToolTip(f"{param.name}: width. {param.help}")
        self.link = QToolButton(self)
        self.link.setCheckable(True)
        self.link.setChecked(True)
        self.link.setText("=")
        self.link.setToolTip("Square: height and width move together")
        self.link.setAutoRaise(True)
        self._layout.addWidget(self.height_box, 1)
        self._layout.addWidget(QLabel("×", self))
        self._layout.addWidget(self.width_box, 1)
        self._layout.addWidget(self.link)
        self.height_box.valueChanged.connect(lambda v: self._changed(self.width_box, v))
        self.width_box.valueChanged.connect(lambda v: self._changed(self.height_box, v))
        self.link.toggled.connect(self._link_toggled)

    def _changed(self, other: QSpinBox, value: int) -> None:
        if self.link.isChecked():
            with QSignalBlocker(other):
                other.setValue(value)
        self._emit()

    def _link_toggled(self, linked: bool) -> None:
        if linked and self.height_box.value() != self.width_box.value():
            with QSignalBlocker(self.width_box):
                self.width_box.setValue(self.height_box.value())
            self._emit()

    def value(self) -> int | tuple[int, int]:
        h, w = self.height_box.value(), self.width_box.value()
        return h if self.link.isChecked() else (h, w)

    def _show(self, value: Any) -> None:
        h, w = value if isinstance(value, tuple | list) else (value, value)
        for box, v in ((self.height_box, h), (self.width_box, w)):
            with QSignalBlocker(box):
                box.setValue(int(v))
        with QSignalBlocker(self.link):
            # A non-square value unlinks; a square one keeps the person's choice.
            if h != w:
                self.link.setChecked(False)
            elif not isinstance(value, tuple | list):
                self.link.setChecked(True)

    def setEnabledPair(self, enabled: bool) -> None:
        for widget in (self.height_box, self.width_box, self.link):
            widget.setEnabled(enabled)


class PaddingEditor(ParamEditor):
    """Numbers, or the words 'same' / 'valid' that torch also accepts."""

    NUMBERS = "explicit"

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.mode = QComboBox(self)
        self.mode.addItems([self.NUMBERS, *param.choices])
        self.mode.setToolTip("'same' keeps the size (stride 1 only); 'valid' adds none")
        self.pair = PairEditor(param, self)
        self._stack_vertically(self.mode, self.pair)
        self.mode.currentTextChanged.connect(self._mode_changed)
        self.pair.edited.connect(self._emit)

    def _mode_changed(self, mode: str) -> None:
        self.pair.setEnabledPair(mode == self.NUMBERS)
        self._emit()

    def value(self) -> Any:
        mode = self.mode.currentText()
        return self.pair.value() if mode == self.NUMBERS else mode

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.mode):
            self.mode.setCurrentText(value if isinstance(value, str) else self.NUMBERS)
        self.pair.setEnabledPair(not isinstance(value, str))
        if not isinstance(value, str):
            self.pair.set_value(value)


class OptionalSizeEditor(ParamEditor):
    """A pair, or nothing (None), e.g. Upsample's size when a scale_factor is given."""

    UNSET = "not set"

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.same = QCheckBox(self.UNSET, self)
        self.same.setToolTip("Leave it empty (None), as torch's default")
        self.pair = PairEditor(param, self)
        self._stack_vertically(self.pair, self.same)
        self.same.toggled.connect(self._toggled)
        self.pair.edited.connect(self._emit)

    def _toggled(self, same: bool) -> None:
        self.pair.setEnabledPair(not same)
        self._emit()

    def value(self) -> Any:
        return None if self.same.isChecked() else self.pair.value()

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.same):
            self.same.setChecked(value is None)
        self.pair.setEnabledPair(value is not None)
        if value is not None:
            self.pair.set_value(value)


class OptionalPairEditor(OptionalSizeEditor):
    """A pair, or nothing (None): the pooling stride that defaults to the kernel."""

    UNSET = "= kernel"

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.same.setToolTip("Use the kernel size as the stride (torch's default)")

    def show_fallback(self, value: Any) -> None:
        """What the pair shows while it follows the kernel size."""
        if self.same.isChecked():
            self.pair.set_value(value)


class Pad4Editor(ParamEditor):
    """One number for every side, or (left, right, top, bottom) as ZeroPad2d takes it."""

    SIDES = ("left", "right", "top", "bottom")

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.boxes = [spin_box(param, self) for _ in self.SIDES]
        self.link = QCheckBox("all sides", self)
        self.link.setChecked(True)
        self.link.setToolTip("One number for all four sides")
        rows = QWidget(self)
        grid = QHBoxLayout(rows)
        grid.setContentsMargins(0, 0, 0, 0)
        for side, box in zip(self.SIDES, self.boxes, strict=True):
            box.setToolTip(f"{param.name}: {side}. {param.help}")
            grid.addWidget(QLabel(side[0].upper(), rows))
            grid.addWidget(box, 1)
            box.valueChanged.connect(lambda v, box=box: self._changed(box, v))
        self._stack_vertically(rows, self.link)
        self.link.toggled.connect(self._link_toggled)

    def _changed(self, source: QSpinBox, value: int) -> None:
        if self.link.isChecked():
            for box in self.boxes:
                if box is not source:
                    with QSignalBlocker(box):
                        box.setValue(value)
        self._emit()

    def _link_toggled(self, linked: bool) -> None:
        if linked and len({box.value() for box in self.boxes}) > 1:
            self._changed(self.boxes[0], self.boxes[0].value())
        else:
            self._emit()

    def value(self) -> int | tuple[int, int, int, int]:
        values = tuple(box.value() for box in self.boxes)
        return values[0] if self.link.isChecked() else values  # type: ignore[return-value]

    def _show(self, value: Any) -> None:
        values = tuple(value) if isinstance(value, tuple | list) else (value,) * 4
        for box, v in zip(self.boxes, values, strict=True):
            with QSignalBlocker(box):
                box.setValue(int(v if v is not None else 0))
        with QSignalBlocker(self.link):
            self.link.setChecked(not isinstance(value, tuple | list))


_EDITORS = {
    INT: IntEditor,
    PAIR: PairEditor,
    PADDING: PaddingEditor,
    OPT_PAIR: OptionalPairEditor,
    OPT_INT: OptionalIntEditor,
    FLOAT: FloatEditor,
    OPT_FLOAT: OptionalFloatEditor,
    BOOL: BoolEditor,
    OPT_BOOL: OptionalBoolEditor,
    CHOICE: ChoiceEditor,
    PAD4: Pad4Editor,
}


def make_editor(param: Param, parent: QWidget | None = None) -> ParamEditor:
    """The right editor for the parameter's kind. An optional pair falls back to
    the kernel only for a stride; elsewhere (Upsample's size) it is just unset."""
    if param.kind == OPT_PAIR and param.name != "stride":
        return OptionalSizeEditor(param, parent)
    return _EDITORS[param.kind](param, parent)
