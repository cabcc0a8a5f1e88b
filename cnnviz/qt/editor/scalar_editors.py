"""The editors of one value: a whole number, a float, a switch, a choice, each
optionally "not set" (None); and ParamEditor, the small API every parameter
editor shares (param_editors.py adds the editors of sizes: pairs, padding,
four sides, and picks an editor per parameter kind).

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
    QSpinBox,
    QWidget,
)

from cnnviz.core.catalogue import Param

_INT_LIMIT = 2**31 - 1


def spin_box(param: Param, parent: QWidget) -> QSpinBox:
    """A whole-number box over the parameter's range (the size editors use it too)."""
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
        self.box = spin_box(param, self)
        self._layout.addWidget(self.box)
        self.box.valueChanged.connect(self._emit)

    def value(self) -> int:
        return self.box.value()

    def _show(self, value: Any) -> None:
        with QSignalBlocker(self.box):
            self.box.setValue(int(value))


class OptionalIntEditor(ParamEditor):
    """A whole number or torch's implicit choice (None)."""

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(param, parent)
        self.auto = QCheckBox("implicit", self)
        self.box = spin_box(param, self)
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
