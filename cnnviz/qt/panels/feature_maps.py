"""Feature maps: every channel of the selected layer in one mosaic, and what each pixel sees.

Left, the mosaic (one image, numbered tiles, all-zero channels marked, a colour
bar with the value range). Right, the network input with the receptive field
of the hovered position outlined and the rest dimmed, and the clicked
channel drawn large. Hover anywhere on a map: the panel says which input
rows and columns that one number was computed from.

The mosaic itself (drawing, grid planning, colour bar) is this panel's base,
cnnviz.qt.panels.feature_maps_mosaic (its names are importable from here too).

Standalone: ``python -m cnnviz.qt.panels.feature_maps [--layer N]``.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from cnnviz.core.display_maps import SCREEN_PIXELS, display_stride, normalise_tiles
from cnnviz.core.mosaic import PER_CHANNEL, PER_LAYER
from cnnviz.qt.panels._field_view import FieldView, describe_field
from cnnviz.qt.panels.base import (
    ACCENT,
    DEAD,
    PanelInput,
    format_value,
    info_label,
    shape_text,
    title_label,
)
from cnnviz.qt.panels.feature_maps_mosaic import MosaicPanel
from cnnviz.qt.style import colormaps

# What callers import from here; the mosaic's base among them (feature_maps_mosaic).
__all__ = ["CHANNEL_PIXELS", "FeatureMapPanel", "MosaicPanel", "main"]

CHANNEL_PIXELS = SCREEN_PIXELS // 4  # the side view's share of the screen
_NORMALISATION_LABELS = {PER_CHANNEL: "per channel", PER_LAYER: "per layer"}


class FeatureMapPanel(MosaicPanel):
    """All channels of one layer; hover for values and the receptive field."""

    layer_selected = QtCore.Signal(int)
    channel_selected = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._layer_index: int | None = None
        self._highlighted: tuple[int, int, int] | None = None
        self.field_box: tuple[int, int, int, int] | None = None
        self._build_controls()
        self._build_views()
        self._build_texts()

    # ----- construction -------------------------------------------------

    def _build_controls(self) -> None:
        self.title = title_label()
        self.previous_button = QtWidgets.QToolButton(text="◀")
        self.previous_button.setToolTip("Previous layer with feature maps")
        self.next_button = QtWidgets.QToolButton(text="▶")
        self.next_button.setToolTip("Next layer with feature maps")
        self.previous_button.clicked.connect(lambda: self._step_layer(-1))
        self.next_button.clicked.connect(lambda: self._step_layer(+1))
        self.colormap_box = QtWidgets.QComboBox()
        self.colormap_box.addItems(colormaps.NAMES)
        self.colormap_box.setToolTip("Colormap")
        self.colormap_box.currentTextChanged.connect(self.set_colormap)
        self.normalisation_box = QtWidgets.QComboBox()
        for mode, label in _NORMALISATION_LABELS.items():
            self.normalisation_box.addItem(label, mode)
        self.normalisation_box.setToolTip(
            "Per channel: each tile uses the full colour range (patterns of weak channels "
            "show).\nPer layer: one scale for all tiles (strengths can be compared)."
        )
        self.normalisation_box.currentIndexChanged.connect(
            lambda i: self.set_normalisation(self.normalisation_box.itemData(i))
        )
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.previous_button)
        row.addWidget(self.next_button)
        row.addWidget(self.title, 1)
        row.addWidget(QtWidgets.QLabel("colours"))
        row.addWidget(self.colormap_box)
        row.addWidget(QtWidgets.QLabel("scale"))
        row.addWidget(self.normalisation_box)
        self._controls = row

    def _build_views(self) -> None:
        self._build_mosaic()
        self.side = FieldView()
        self.mosaic_widget.scene().sigMouseMoved.connect(self._hover_mosaic)
        self.mosaic_widget.scene().sigMouseClicked.connect(self._click_mosaic)
        self.side.scene().sigMouseMoved.connect(self._hover_channel)

    def _build_texts(self) -> None:
        self.field_label = info_label("", f"color: {ACCENT}; font-weight: 600;", 13)
        self.hover_label = info_label("Hover a map: value here, and the input it sees.", "")
        self.stats_label = info_label()
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.mosaic_widget)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self._controls)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.field_label)
        layout.addWidget(self.hover_label)
        layout.addWidget(self.stats_label)

    # ----- drawing ---------------------------------------------------------

    def draw(self, data: PanelInput) -> str | None:
        layer = data.activation()
        if layer is None:
            if data.info() is None:
                return "Select a layer in the stack to see its feature maps."
            reason = data.analysis.not_computed_reason(data.layer_index)
            return f"{data.layer_title()} was not computed: {reason}."
        if layer.output.ndim != 3:
            return (
                f"{data.layer_title()} outputs a vector of {layer.output.size} values, not "
                "feature maps: select a layer before the Flatten to see its maps."
            )
        pictures = layer.pictures  # prepared with the result (core/display_maps)
        if pictures is None:
            return f"{data.layer_title()} has no values to show."
        self.maps, self.pictures, self.stats = layer.output, pictures, pictures.statistics
        new_layer = data.layer_index != self._layer_index
        if new_layer or self.selected_channel >= self.maps.shape[0]:
            # A new layer opens on its most active channel, not on an all-zero one.
            self.selected_channel = pictures.strongest
            self._layer_index = data.layer_index
        self.title.setText(f"{data.layer_title()} · output {shape_text(self.maps.shape)}")
        self._draw_mosaic()
        self.side.show_input(data.result.input)
        self._draw_channel()
        # After an edit the same layer keeps the marked position; else its centre.
        kept = None if new_layer else self._highlighted
        if kept is None or self.highlight(*kept) is None:
            row, col = (s // 2 for s in self.maps.shape[1:])
            self.highlight(self.selected_channel, row, col)
        return None

    def _draw_channel(self) -> None:
        assert self.maps is not None and self.stats is not None
        channel = self.selected_channel
        # The side view is a fraction of the panel: a channel larger than that is
        # drawn from every stride-th value (hover still reads `maps`).
        stride = display_stride((1, *self.maps.shape[1:]), CHANNEL_PIXELS)
        picked = slice(channel, channel + 1)
        diverging = colormaps.is_diverging(self.colormap_name)
        sampled = self.maps[picked, ::stride, ::stride]
        shown = normalise_tiles(sampled, self.stats, self.normalisation, diverging, picked)
        self.side.show_channel(
            shown.values[0],
            shown.levels,
            self.colormap_name,
            f"channel {channel}",
            dead=bool(self.stats.dead[channel]),
            stride=stride,
        )
        self._show_statistics()

    def _show_statistics(self) -> None:
        """The selected channel's numbers, then the layer's: size and all-zero channels.
        All zero for this image is not dead (zero for every input): one image cannot tell."""
        assert self.stats is not None and self.maps is not None
        stats, channel = self.stats, self.selected_channel
        text = (
            f"channel {channel}: min {format_value(float(stats.minimum[channel]))}, "
            f"max {format_value(float(stats.maximum[channel]))}, "
            f"mean {format_value(float(stats.mean[channel]))}, "
            f"{stats.zero_fraction[channel]:.0%} zeros"
            + (
                f" <span style='color:{DEAD}'><b>(all zero for this image)</b></span>"
                if stats.dead[channel]
                else ""
            )
        )
        dead = stats.dead_channels
        channels = self.maps.shape[0]
        text += f"  ·  {channels} channels, {self.maps[0].size:,} values each"
        if dead:
            listed = ", ".join(str(c) for c in dead[:20]) + (" …" if len(dead) > 20 else "")
            text += (
                f"  ·  <span style='color:{DEAD}'><b>{len(dead)} all zero</b> for this "
                f"image (inactive here, not necessarily dead): {listed}</span>"
            )
        else:
            text += "  ·  no all-zero channels"
        self.stats_label.setText(text)

    # ----- interaction -----------------------------------------------------

    def highlight(self, channel: int, row: int, col: int) -> tuple[int, int, int, int] | None:
        """Mark (row, col) of `channel` and outline on the input what it sees.

        Returns the receptive-field box (top, left, bottom, right), half-open."""
        data = self.current
        if data is None or self.maps is None or self.layout_ is None:
            return None
        _, height, width = self.maps.shape
        if not (0 <= channel < self.maps.shape[0] and 0 <= row < height and 0 <= col < width):
            return None
        y, x = self.layout_.origin(channel)
        self.mosaic_marker.setRect(QtCore.QRectF(x + col, y + row, 1, 1))
        self.mosaic_marker.show()
        self.side.mark_cell(*((row, col) if channel == self.selected_channel else (None,)))
        field = data.analysis.receptive_field_at(data.layer_index)
        input_hw = tuple(data.result.input.shape[1:])
        box = field.box(row, col, input_hw)
        self.side.show_field(
            box, input_hw, None if field.is_global else field.unclipped_box(row, col)
        )
        self.field_box = box
        self._highlighted = (channel, row, col)
        self.field_label.setText(
            "▣ " + describe_field(data.info().address, channel, row, col, field, input_hw)
        )
        value = float(self.maps[channel, row, col])
        self.hover_label.setText(
            f"channel {channel}, row {row}, col {col}: value <b>{format_value(value)}</b>"
        )
        return box

    def select_channel(self, channel: int) -> None:
        """Show `channel` large beside the mosaic."""
        if self.maps is None or not 0 <= channel < self.maps.shape[0]:
            return
        self.selected_channel = channel
        self.tile_labels.set_selected(channel)
        self._draw_channel()
        self.channel_selected.emit(channel)

    def set_colormap(self, name: str) -> None:
        if name == self.colormap_name:
            return
        self.colormap_name = name
        if self.colormap_box.currentText() != name:
            self.colormap_box.setCurrentText(name)
        self._redraw_maps()

    def set_normalisation(self, mode: str) -> None:
        if mode == self.normalisation:
            return
        self.normalisation = mode
        index = self.normalisation_box.findData(mode)
        if index != self.normalisation_box.currentIndex():
            self.normalisation_box.setCurrentIndex(index)
        self._redraw_maps()

    def _redraw_maps(self) -> None:
        if self.maps is not None and not self.showing_hint:
            self._draw_mosaic()
            self._draw_channel()

    def _hover_mosaic(self, scene_pos) -> None:
        found = self._mosaic_position(scene_pos)
        if found is not None:
            self.highlight(*found)

    def _hover_channel(self, scene_pos) -> None:
        cell = None if self.maps is None else self.side.channel_cell(scene_pos)
        if cell is not None:
            self.highlight(self.selected_channel, *cell)

    def _click_mosaic(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        found = self._mosaic_position(event.scenePos())
        if found is not None:
            self.select_channel(found[0])
            self.highlight(*found)

    def _step_layer(self, step: int) -> None:
        """Ask for the nearest layer in that direction whose output has maps."""
        data = self.current
        if data is None:
            return
        index = data.layer_index + step
        while 0 <= index < len(data.analysis.layers):
            shape = data.analysis.layers[index].output_shape
            if shape is not None and len(shape) == 3:
                self.layer_selected.emit(index)
                return
            index += step


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(FeatureMapPanel, default_layer=2, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
