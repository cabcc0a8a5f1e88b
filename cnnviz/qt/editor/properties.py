"""The properties panel: edit the selected layer and see why its output has its size.

Shows the layer's type and shapes, any error from the analysis (the value is
kept in the stack, and the reason is printed here and in the row), an editor
per visible parameter, the output-size and parameter formulas with this
layer's numbers, the receptive field, and the catalogue's explanation.
Every edit is a SetParamCommand on the document's undo stack.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from cnnviz.core.analysis import LayerInfo
from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.catalogue import layer_type
from cnnviz.core.formula import output_size_lines, parameter_line
from cnnviz.core.layers.hooked import is_hooked_metadata
from cnnviz.core.param_sharing import sharing_line
from cnnviz.qt.editor.commands import SetParamCommand
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.glyphs import ERROR_COLOR, layer_icon
from cnnviz.qt.editor.param_editors import OptionalPairEditor, ParamEditor, make_editor
from cnnviz.qt.editor.stack_looks import format_count, format_shape
from cnnviz.qt.editor.stack_rows import block_lines, path_rows
from cnnviz.qt.editor.undo_keys import route_to_document

log = logging.getLogger(__name__)


def receptive_field_line(info: LayerInfo) -> str:
    rf = info.receptive_field
    return "" if rf is None else rf.describe()


def block_html(analysis, info: LayerInfo) -> str:
    """A block's arithmetic: a table of its paths (layers, output, parameters),
    then the merge rule in numbers, its MACs, the parameters and the field."""
    cells = "".join(
        f"<tr><td>{html.escape(name)}</td><td align='right'>{n or 'identity'}</td>"
        f"<td align='right'>{format_shape(shape) if shape else '?'}</td>"
        f"<td align='right'>{count:,}</td></tr>"
        for name, n, shape, count in path_rows(analysis, info)
    )
    head = "<tr><th align='left'>path</th><th>layers</th><th>output</th><th>params</th></tr>"
    table = f"<table cellspacing='0' cellpadding='2' width='100%'>{head}{cells}</table>"
    lines = [*block_lines(analysis, info), receptive_field_line(info)]
    return table + "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)


def _label(text: str = "", *, wrap: bool = True, selectable: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class PropertiesPanel(QScrollArea):
    """Edits `doc.architecture.layers[row]`; `set_row(-1)` shows the network summary."""

    # An edit the core refused (out of range): plain words for the status bar.
    edit_rejected = Signal(str)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.row = -1
        self.editors: dict[str, ParamEditor] = {}
        self._editor_type: str | None = None
        self._editor_row = -1
        self._shown = None  # the analysis last shown
        self.setObjectName("properties")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._build()
        doc.changed.connect(self.refresh)
        self.refresh()

    # -- layout ------------------------------------------------------------------

    def _build(self) -> None:
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(10, 8, 10, 10)
        outer.setSpacing(8)
        header = QHBoxLayout()
        self.icon = QLabel()
        self.icon.setFixedSize(34, 34)
        self.title = _label(wrap=False)
        title_font = QFont(self.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.35)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.subtitle = _label(selectable=True)
        self.subtitle.setObjectName("subtitle")
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        header.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(titles, 1)
        outer.addLayout(header)
        self.error = _label(selectable=True)
        self.error.setObjectName("error")
        self.error.setStyleSheet(
            f"QLabel#error {{ color: {ERROR_COLOR}; background: rgba(214,39,40,0.08);"
            f" border: 1px solid {ERROR_COLOR}; border-radius: 4px; padding: 6px; }}"
        )
        outer.addWidget(self.error)
        self.params_box = QGroupBox("Parameters")
        self.form = QFormLayout(self.params_box)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        outer.addWidget(self.params_box)
        self.formula_box = QGroupBox("Output size")
        formula_layout = QVBoxLayout(self.formula_box)
        self.formula = _label(selectable=True)
        self.formula.setObjectName("formula")
        # The UI font, not a fixed one: ⌊ ⌋ · − read better and the lines fit.
        self.formula.setStyleSheet("QLabel#formula { line-height: 140%; }")
        formula_layout.addWidget(self.formula)
        outer.addWidget(self.formula_box)
        self.explanation = _label()
        self.explanation.setObjectName("explanation")
        self.explanation.setStyleSheet("QLabel#explanation { color: palette(placeholder-text); }")
        outer.addWidget(self.explanation)
        outer.addStretch(1)
        self.setWidget(body)

    # -- showing a layer ---------------------------------------------------------

    def set_row(self, row: int) -> None:
        # An edit refreshes the panel (doc.changed) and then reselects its row:
        # the same layer of the same analysis is shown already.
        if row == self.row and self.doc.analysis is self._shown:
            return
        self.row = row
        self.refresh()

    def refresh(self) -> None:
        self._shown = self.doc.analysis
        layers = self.doc.analysis.layers
        if not 0 <= self.row < len(layers):
            self._show_network()
            return
        info = layers[self.row]
        spec = layer_type(info.layer.type)
        self.icon.setPixmap(layer_icon(spec.name).pixmap(34, 34))
        self.title.setText(spec.name)
        shapes = f"{format_shape(info.input_shape)} → {format_shape(info.output_shape)}"
        if info.input_shape is None:
            shapes = "after an invalid layer: not computable"
        elif info.output_shape is None:
            shapes = f"{format_shape(info.input_shape)} → ?"
        elif is_hooked_metadata(self.doc.architecture.metadata):
            # A hooked view's rows are module calls, not a chain: the row above is
            # not this one's input, so only what the module gave is named.
            shapes = f"output {format_shape(info.output_shape)}"
        count = self.doc.analysis.params_within(info.index)
        params = f" · {format_count(count)} parameters" if count else ""
        # Its name, as the stack numbers it: "3" or "3.body.0" (not the flat index).
        self.subtitle.setText(f"Layer {info.address} · {shapes}{params}")
        self._show_error(info)
        self._show_editors(info)
        self._show_formula(info)
        self.explanation.setText(spec.explanation)

    def _show_error(self, info: LayerInfo) -> None:
        if info.error:
            self.error.setText(f"⚠ Invalid: {info.error}")
        elif not info.computable:
            self.error.setText("Not computable: an earlier layer is invalid; fix that one first.")
        self.error.setVisible(bool(info.error) or not info.computable)

    def _show_formula(self, info: LayerInfo) -> None:
        if info.layer.is_block:
            self.formula_box.setTitle("Paths and merge")
            self.formula.setTextFormat(Qt.TextFormat.RichText)
            self.formula.setText(block_html(self.doc.analysis, info))
            self.formula_box.setVisible(info.input_shape is not None)
            return
        self.formula_box.setTitle("Output size")
        self.formula.setTextFormat(Qt.TextFormat.PlainText)
        lines = output_size_lines(info.layer, info.input_shape)
        extra = [
            parameter_line(info.layer, info.input_shape),
            sharing_line(info.layer, info.input_shape),
            receptive_field_line(info),
        ]
        lines += [line for line in extra if line]
        self.formula.setText("\n".join(lines))
        self.formula_box.setVisible(bool(lines))

    def _show_network(self) -> None:
        arch, analysis = self.doc.architecture, self.doc.analysis
        self.icon.clear()
        self.title.setText(arch.name or "untitled")
        output = format_shape(analysis.output_shape) if analysis.valid else "?"
        self.subtitle.setText(
            f"{len(arch.layers)} layers · input {format_shape(arch.input.as_tuple())} → "
            f"{output} · {analysis.total_params:,} parameters"
        )
        first = analysis.first_error
        self.error.setText(f"⚠ {first.error}" if first else "")
        self.error.setVisible(first is not None)
        self._clear_editors()
        self.params_box.hide()
        self.formula_box.hide()
        description = arch.metadata.get("description", "")
        self.explanation.setText(
            (description + "\n\n" if description else "")
            + "Select a layer in the stack to edit its parameters."
        )

    # -- editors -------------------------------------------------------------------

    def _clear_editors(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        self._editor_type, self._editor_row = None, -1

    def _show_editors(self, info: LayerInfo) -> None:
        layer = info.layer
        if (layer.type, info.index) != (self._editor_type, self._editor_row):
            # Rebuild only when the layer changes: editing in place keeps focus.
            self._clear_editors()
            for param in layer_type(layer.type).params:
                if param.hidden:
                    continue
                editor = make_editor(param)
                editor.setObjectName(f"param_{param.name}")
                route_to_document(editor)  # Ctrl+Z here means the document's undo
                editor.edited.connect(lambda value, name=param.name: self._edited(name, value))
                label = QLabel(param.name.replace("_", " "))
                label.setToolTip(param.help)
                self.form.addRow(label, editor)
                self.editors[param.name] = editor
            self._editor_type, self._editor_row = layer.type, info.index
        for name, editor in self.editors.items():
            editor.set_value(layer.get(name))
            if isinstance(editor, OptionalPairEditor):
                editor.show_fallback(layer.get("kernel_size"))
        self.params_box.setVisible(bool(self.editors))

    def _edited(self, name: str, value) -> None:
        row = self.row
        if not 0 <= row < len(self.doc.analysis.layers):
            return
        try:
            command = SetParamCommand(self.doc, row, name, value)
        except ArchitectureError as exc:
            log.info("edit refused: %s", exc)
            self.edit_rejected.emit(str(exc))
            self.refresh()
            return
        self.doc.undo_stack.push(command)
