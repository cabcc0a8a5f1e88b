"""The teaching controls of the filters panel: set one filter by hand.

Pick an output channel, a preset (identity, blur, Sobel, …) or type numbers
into the grid, choose which input channels it looks at, and apply. The
editor only describes the filter; the panel turns it into a KernelEdit that
the main window puts on its undo stack.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from cnnviz.core import kernels
from cnnviz.qt.panels.base import MUTED_STYLE

MAX_TABLE_SIDE = 11  # larger kernels take presets only: a 12×12 grid of fields is unusable
CUSTOM = "custom (typed)"
ALL_INPUTS = -1
_EXACT = QtCore.Qt.ItemDataRole.UserRole


class KernelEditor(QtWidgets.QGroupBox):
    """Emits ``apply_requested(out_channel, kernel (kh, kw), input_channel or -1, zero_bias)``."""

    apply_requested = QtCore.Signal(int, object, int, bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("Set a filter by hand", parent)
        self.kernel_size = (3, 3)
        self._filling = False
        self.out_spin = QtWidgets.QSpinBox()
        self.out_spin.setToolTip("The output channel (filter) to replace")
        self.preset_box = QtWidgets.QComboBox()
        self.preset_box.addItems([*kernels.PRESETS, CUSTOM])
        self.preset_box.currentTextChanged.connect(self._preset_chosen)
        self.input_box = QtWidgets.QComboBox()
        self.input_box.setToolTip(
            "Every input channel: the kernel divided by their number, so the filter sees\n"
            "their mean (the grey image for RGB). One channel: the others get zeros."
        )
        self.zero_bias = QtWidgets.QCheckBox("bias = 0")
        self.zero_bias.setChecked(True)
        self.zero_bias.setToolTip("With bias 0, identity reproduces its input exactly")
        self.apply_button = QtWidgets.QPushButton("Apply")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self._apply)
        self.out_spin.valueChanged.connect(
            lambda v: self.apply_button.setText(f"Apply to output channel {v}")
        )
        self.description = QtWidgets.QLabel()
        self.description.setStyleSheet(MUTED_STYLE)
        self.description.setWordWrap(True)
        self.table = QtWidgets.QTableWidget()
        self.table.horizontalHeader().setDefaultSectionSize(58)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.itemChanged.connect(self._typed)
        self.note = QtWidgets.QLabel()
        self.note.setStyleSheet(MUTED_STYLE)
        self._lay_out()
        self._preset_chosen(self.preset_box.currentText())

    def _lay_out(self) -> None:
        form = QtWidgets.QFormLayout()
        form.addRow("output channel", self.out_spin)
        form.addRow("kernel", self.preset_box)
        form.addRow("looks at", self.input_box)
        form.addRow("", self.zero_bias)
        form.addRow(self.apply_button)
        column = QtWidgets.QVBoxLayout(self)
        column.addLayout(form)
        column.addWidget(self.description)
        column.addWidget(self.table, 1)
        column.addWidget(self.note)
        self.setMinimumWidth(260)  # the kernels beside it need the width more
        self.setMaximumWidth(460)

    def configure(self, out_channels: int, in_channels: int, kernel_size: tuple[int, int]) -> None:
        """Fit the controls to a conv layer; keeps the choices that still apply."""
        self.out_spin.setRange(0, out_channels - 1)
        self.apply_button.setText(f"Apply to output channel {self.out_spin.value()}")
        previous = self.input_box.currentData()
        self.input_box.blockSignals(True)
        self.input_box.clear()
        self.input_box.addItem(f"all {in_channels} input channels (mean)", ALL_INPUTS)
        for channel in range(in_channels):
            self.input_box.addItem(f"input channel {channel} only", channel)
        found = self.input_box.findData(previous)
        self.input_box.setCurrentIndex(max(found, 0))
        self.input_box.blockSignals(False)
        if tuple(kernel_size) != self.kernel_size or self.table.rowCount() == 0:
            self.kernel_size = tuple(kernel_size)
            self._preset_chosen(self.preset_box.currentText())

    def set_target(self, out_channel: int, in_channel: int | None = None) -> None:
        self.out_spin.setValue(out_channel)
        if in_channel is not None:
            self.input_box.setCurrentIndex(max(self.input_box.findData(in_channel), 0))

    def set_values(self, kernel: np.ndarray) -> None:
        """Put numbers in the grid (e.g. a clicked filter's current weights)."""
        self._fill(np.asarray(kernel, dtype=np.float32))
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentText(CUSTOM)
        self.preset_box.blockSignals(False)
        self.description.setText("the clicked filter's weights: edit them and apply")

    def values(self) -> np.ndarray:
        """The kernel in the grid (or the preset, for kernels too large for a grid)."""
        if not self._table_usable():
            return kernels.teaching_kernel(self._preset_name(), self.kernel_size)
        kh, kw = self.kernel_size
        out = np.zeros((kh, kw), dtype=np.float32)
        for r in range(kh):
            for c in range(kw):
                out[r, c] = _cell_value(self.table.item(r, c))
        return out

    def _preset_name(self) -> str:
        name = self.preset_box.currentText()
        return kernels.IDENTITY if name == CUSTOM else name

    def _table_usable(self) -> bool:
        return max(self.kernel_size) <= MAX_TABLE_SIDE

    def _preset_chosen(self, name: str) -> None:
        if name == CUSTOM:
            self.description.setText("type numbers into the grid, then apply")
            return
        try:
            kernel = kernels.teaching_kernel(name, self.kernel_size)
        except kernels.KernelError as exc:
            self.description.setText(str(exc))
            self.apply_button.setEnabled(False)
            return
        self.apply_button.setEnabled(True)
        self.description.setText(f"{name}: {kernels.DESCRIPTIONS[name]}")
        self._fill(kernel)

    def _fill(self, kernel: np.ndarray) -> None:
        usable = self._table_usable()
        self.table.setVisible(usable)
        kh, kw = self.kernel_size
        self.note.setText(
            "" if usable else f"{kh}×{kw} is too large to type; presets apply as they are"
        )
        if not usable:
            return
        self._filling = True
        self.table.setRowCount(kh)
        self.table.setColumnCount(kw)
        # Rows and columns numbered from 0, like the weight indices.
        self.table.setVerticalHeaderLabels([str(r) for r in range(kh)])
        self.table.setHorizontalHeaderLabels([str(c) for c in range(kw)])
        for r in range(kh):
            for c in range(kw):
                item = QtWidgets.QTableWidgetItem(_shown(kernel[r, c]))
                # The exact value rides along: applying an untouched clicked
                # filter must not round its weights to the 3 digits shown.
                item.setData(_EXACT, float(kernel[r, c]))
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
        self._filling = False

    def _typed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if self._filling:
            return
        if not _is_number(item.text()):
            self.description.setText(f"“{item.text()}” is not a number; it counts as 0")
        else:
            self.description.setText("typed by hand")
        self.apply_button.setEnabled(True)
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentText(CUSTOM)
        self.preset_box.blockSignals(False)

    def _apply(self) -> None:
        self.apply_requested.emit(
            self.out_spin.value(),
            self.values(),
            int(self.input_box.currentData() if self.input_box.count() else ALL_INPUTS),
            self.zero_bias.isChecked(),
        )


def _shown(value: float) -> str:
    return f"{value:.3g}"


def _cell_value(item: QtWidgets.QTableWidgetItem | None) -> float:
    """The typed number, or the exact value behind an untouched cell."""
    if item is None:
        return 0.0
    exact = item.data(_EXACT)
    if exact is not None and item.text() == _shown(exact):
        return float(exact)
    return _number(item.text())


def _is_number(text: str) -> bool:
    try:
        return np.isfinite(float(text.replace("−", "-")))
    except ValueError:
        return False


def _number(text: str) -> float:
    return float(text.replace("−", "-")) if _is_number(text) else 0.0
