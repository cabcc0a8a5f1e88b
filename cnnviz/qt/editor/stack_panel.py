"""The stack dock: the input shape, column headings, the layer list and totals."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtCore import QEvent, QRect, QSignalBlocker, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from cnnviz.core.architecture import MAX_INPUT_CHANNELS, MAX_INPUT_SIDE, InputShape
from cnnviz.core.layers.hooked import is_hooked_metadata
from cnnviz.qt.editor.commands import SetInputCommand
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.glyphs import ERROR_COLOR
from cnnviz.qt.editor.stack_view import StackView, columns
from cnnviz.qt.style.quiet import QuietBox


def _macs(count: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} "  # "0 MACs", as "416.5 kMACs"


class InputEditor(QWidget):
    """Channels, height and width of the network input; edits merge on the undo stack."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.channels = self._spin(MAX_INPUT_CHANNELS, "Input channels (1 grey, 3 colour)")
        self.height_box = self._spin(MAX_INPUT_SIDE, "Input height in pixels")
        self.width_box = self._spin(MAX_INPUT_SIDE, "Input width in pixels")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 2)
        title = QLabel("<b>Input</b>")
        layout.addWidget(title)
        layout.addStretch(1)
        for label, box in (("C", self.channels), ("H", self.height_box), ("W", self.width_box)):
            layout.addWidget(QLabel(label))
            layout.addWidget(box)
        doc.changed.connect(self.refresh)
        self.refresh()

    def _spin(self, maximum: int, tip: str) -> QSpinBox:
        box = QSpinBox(self)
        box.setRange(1, maximum)
        box.setToolTip(tip)
        box.setAccelerated(True)
        box.valueChanged.connect(self._edited)
        return box

    def refresh(self) -> None:
        shape = self.doc.architecture.input
        for box, value in (
            (self.channels, shape.channels),
            (self.height_box, shape.height),
            (self.width_box, shape.width),
        ):
            if box.value() != value:
                with QSignalBlocker(box):
                    box.setValue(value)

    def _edited(self, _value: int) -> None:
        shape = InputShape(self.channels.value(), self.height_box.value(), self.width_box.value())
        if shape != self.doc.architecture.input:
            self.doc.undo_stack.push(SetInputCommand(self.doc, shape))


def _parameters(arch, analysis) -> str:
    """The rows' parameter count; for a hooked view torch's count for the whole model,
    which also holds what no row shows (modules that did not run, loose parameters)."""
    rows = f"<b>{analysis.total_params:,}</b> parameters"
    entry = arch.metadata["hooked"] if is_hooked_metadata(arch.metadata) else {}
    total = entry.get("total_params", analysis.total_params)
    if total == analysis.total_params:
        return rows
    return f"<b>{total:,}</b> parameters in the model ({analysis.total_params:,} in rows)"


class StackHeader(QWidget):
    """Column headings aligned with the rows the delegate paints."""

    TITLES: ClassVar[dict[str, str]] = {
        "index": "#",
        "layer": "Layer",
        "shape": "Output",
        "count": "Params",
    }

    def __init__(self, view: StackView, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = view
        self.setFixedHeight(self.fontMetrics().height() + 8)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        color = self.palette().color(QPalette.ColorRole.WindowText)
        color.setAlphaF(0.6)
        painter.setPen(color)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        painter.setFont(font)
        # The rows start at the list's viewport, inside the list's frame.
        offset = self.view.x() + self.view.viewport().x() - self.x()
        cols = columns(self.view.viewport().width())
        for name, title in self.TITLES.items():
            x, w = cols[name]
            if name == "layer":
                x, w = cols["badge"][0], cols["layer"][0] + w - cols["badge"][0]
            align = (
                Qt.AlignmentFlag.AlignRight
                if name in ("index", "shape", "count")
                else Qt.AlignmentFlag.AlignLeft
            )
            painter.drawText(
                QRect(offset + x, 0, w, self.height()), align | Qt.AlignmentFlag.AlignVCenter, title
            )
        painter.setPen(self.palette().color(QPalette.ColorRole.Mid))
        painter.drawLine(0, self.height() - 1, self.width(), self.height() - 1)


class StackPanel(QWidget):
    """Everything in the stack dock; `view` is the StackView."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.input_editor = InputEditor(doc, self)
        self.view = StackView(doc, self)
        self.header = StackHeader(self.view, self)
        self.problem = QLabel(self)
        self.problem.setObjectName("stack_problem")
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.setStyleSheet(
            f"QLabel#stack_problem {{ color: {ERROR_COLOR}; padding: 4px 8px;"
            " background: rgba(214,39,40,0.08); }"
        )
        self.totals = QLabel()
        self.totals.setObjectName("stack_totals")
        self.totals.setContentsMargins(8, 2, 8, 4)
        # New totals at every edit must not lay the main window out again.
        totals_line = QuietBox(self.totals, parent=self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.input_editor)
        layout.addWidget(self.header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.problem)
        layout.addWidget(totals_line)
        doc.changed.connect(self.refresh)
        self.view.viewport().installEventFilter(self)
        self.refresh()

    def refresh(self) -> None:
        analysis = self.doc.analysis
        first = analysis.first_error
        self.problem.setText(f"⚠ {first.error}" if first else "")
        self.problem.setVisible(first is not None)
        n_blocks = sum(1 for info in analysis.layers if info.layer.is_block)
        count = len(analysis.layers) - n_blocks
        blocks = f"{n_blocks} block{'s' if n_blocks != 1 else ''} · " if n_blocks else ""
        output = "×".join(map(str, analysis.output_shape)) if analysis.valid else "?"
        dim = QColor(self.palette().color(QPalette.ColorRole.WindowText))
        text = (
            f"<span style='color:{dim.name()}'>{count} layer{'s' if count != 1 else ''} · "
            f"{blocks}"
            f"{_parameters(self.doc.architecture, analysis)} · {_macs(analysis.total_macs)}MACs"
            f" · output {output}</span>"
        )
        self.totals.setText(text)
        self.totals.setToolTip(text)

    def eventFilter(self, watched, event) -> bool:
        """The headings follow the rows' width (a scroll bar showing or hiding
        narrows it); an edit repaints neither them nor every row."""
        if event.type() == QEvent.Type.Resize and watched is self.view.viewport():
            self.header.update()
        return super().eventFilter(watched, event)
