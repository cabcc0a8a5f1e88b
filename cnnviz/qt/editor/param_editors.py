"""One editor widget per catalogue parameter kind, all with the same small API.

`value()` reads it, `set_value(v)` shows a value without emitting, and
`edited(value)` fires when the person changes it. Ranges come from the
catalogue, so a spin box never offers a value the core would refuse.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
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

_INT_LIMIT = 2**31 - 1


def _spin(param: Param, parent: QWidget) -> QSpinBox:
    box = QSpinBox(parent)
    low = int(param.minimum) if param.minimum is not None else -_INT_LIMIT
    high = int(param.maximum) if param.maximum is not None else _INT_LIMIT
    box.setRange(low, high)
    box.setAccelerated(True)
    box.setToolTip(param.help)
    return box


def _same(shown: Any, value: Any) -> bool:
    """Equal and of the same kind (1 and True, 3 and (3, 3) show differently)."""
    if isinstance(value, list):
        value = tuple(value)
    return type(shown) is type(value) and shown == value


class ParamEditor(QWidget):
    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(parent)
        self.param = param
        self.setToolTip(param.help)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)

    def value(self) -> Any:
        raise NotImplementedError

    def _stack_vertically(self, first: QWidget, second: QWidget) -> None:
        """Two rows, so the properties panel stays narrow."""
        self._layout.setDirection(QBoxLayout.Direction.TopToBottom)
        self._layout.addWidget(first)
        self._layout.addWidget(second)

    def set_value(self, value: Any) -> None:
        # Showing what is shown already would repaint the spin boxes (and the
        # group around them) at every edit of the document.
        if _same(self.value(), value):
            return
        blocker = QSignalBlocker(self)
        self._show(value)
        del blocker

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _emit(self, *_args) -> None:
        if not self.signalsBlocked():
            self.edited.emit(self.value())


class IntEditor(ParamEditor):
    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.box = _spin(param, self)
        self._layout.addWidget(self.box)
        self.box.valueChanged.connect(self._emit)

    def value(self) -> int:
        return self.box.value()

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.box):
            self.box.setValue(int(value))


class PairEditor(ParamEditor):
    """Height and width with a link: linked, both follow and the value is one number."""

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.height_box, self.width_box = _spin(param, self), _spin(param, self)
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
        self.boxes = [_spin(param, self) for _ in self.SIDES]
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


class OptionalIntEditor(ParamEditor):
    """A whole number or torch's implicit choice (None)."""

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.auto = QCheckBox("implicit", self)
        self.box = _spin(param, self)
        self._layout.addWidget(self.auto)
        self._layout.addWidget(self.box, 1)
        self.auto.toggled.connect(lambda on: (self.box.setEnabled(not on), self._emit()))
        self.box.valueChanged.connect(self._emit)

    def value(self) -> int | None:
        return None if self.auto.isChecked() else self.box.value()

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.auto):
            self.auto.setChecked(value is None)
        self.box.setEnabled(value is not None)
        if value is not None:
            with QSignalBlocker(self.box):
                self.box.setValue(int(value))


class CompactDoubleSpinBox(QDoubleSpinBox):
    """Shows 1e-05 and 0.5 alike, without a row of trailing zeros."""

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        from PySide6.QtGui import QValidator

        stripped = text.strip().replace(",", ".")
        if stripped in ("", "-", ".", "-.") or stripped.lower().endswith(("e", "e-", "e+")):
            return QValidator.State.Intermediate, text, pos
        try:
            value = float(stripped)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos


class FloatEditor(ParamEditor):
    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.box = CompactDoubleSpinBox(self)
        self.box.setDecimals(12)
        low = param.minimum if param.minimum is not None else -1e9
        high = param.maximum if param.maximum is not None else 1e9
        self.box.setRange(low, high)
        self.box.setSingleStep(0.05 if high <= 1 else 0.1)
        self.box.setToolTip(param.help)
        self._layout.addWidget(self.box)
        self.box.valueChanged.connect(self._emit)

    def value(self) -> float:
        return float(self.box.value())

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.box):
            self.box.setValue(float(value))


class OptionalFloatEditor(FloatEditor):
    """A number, or nothing (None), e.g. Upsample's scale_factor when a size is given."""

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.unset = QCheckBox("not set", self)
        self._layout.insertWidget(0, self.unset)
        self.unset.toggled.connect(lambda on: (self.box.setEnabled(not on), self._emit()))

    def value(self) -> float | None:
        return None if self.unset.isChecked() else float(self.box.value())

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.unset):
            self.unset.setChecked(value is None)
        self.box.setEnabled(value is not None)
        if value is not None:
            super()._show(value)


class BoolEditor(ParamEditor):
    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.box = QCheckBox(self)
        self.box.setToolTip(param.help)
        self._layout.addWidget(self.box)
        self._layout.addStretch(1)
        self.box.toggled.connect(self._emit)

    def value(self) -> bool:
        return self.box.isChecked()

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.box):
            self.box.setChecked(bool(value))


class ChoiceEditor(ParamEditor):
    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.box = QComboBox(self)
        self.box.addItems(list(param.choices))
        self.box.setToolTip(param.help)
        self._layout.addWidget(self.box)
        self.box.currentTextChanged.connect(self._emit)

    def value(self) -> str:
        return self.box.currentText()

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.box):
            self.box.setCurrentText(str(value))


class OptionalBoolEditor(ParamEditor):
    """true, false, or not set (None: torch decides, e.g. align_corners)."""

    CHOICES = (("not set", None), ("true", True), ("false", False))

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.box = QComboBox(self)
        self.box.addItems([name for name, _ in self.CHOICES])
        self.box.setToolTip(param.help)
        self._layout.addWidget(self.box)
        self.box.currentTextChanged.connect(self._emit)

    def value(self) -> bool | None:
        return dict(self.CHOICES)[self.box.currentText()]

    def _show(self, value: Any) -> None:
        text = next(name for name, v in self.CHOICES if v is value)
        with QSignalBlocker(self.box):
            self.box.setCurrentText(text)


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
