"""The network input as a picture and its numbers, without the widgets.

One channel is drawn grey, three as RGB, any other count (or three when the
channels are split) as a mosaic of grey tiles (``display_picture``). Values
already in [0, 1] are drawn as they are (0 black, 1 white); a normalised
input is drawn from its minimum (black) to its maximum (white)
(``display_levels``), and ``range_text`` says which. ``value_text`` names the
value(s) under a position on the picture. The input panel
(cnnviz.qt.panels.input_image) shows what these compute.
"""

from __future__ import annotations

import numpy as np

from cnnviz.core.mosaic import MosaicLayout, assemble, plan_layout
from cnnviz.qt.panels.base import format_value


def display_levels(tensor: np.ndarray) -> tuple[float, float]:
    """(0, 1) for values in [0, 1]; else the tensor's own range (never empty)."""
    low, high = float(np.nanmin(tensor)), float(np.nanmax(tensor))
    if low >= 0.0 and high <= 1.0:
        return (0.0, 1.0)
    if high <= low:
        return (low - 0.5, high + 0.5)
    return (low, high)


def display_picture(tensor: np.ndarray, split: bool) -> tuple[np.ndarray, MosaicLayout | None]:
    """What the image item draws: (H, W) grey, (H, W, 3) RGB, or a mosaic with its layout."""
    channels = tensor.shape[0]
    if channels == 1:
        return np.ascontiguousarray(tensor[0], dtype=np.float32), None
    if channels == 3 and not split:
        return np.ascontiguousarray(tensor.transpose(1, 2, 0), dtype=np.float32), None
    layout = plan_layout(channels, tensor.shape[1:])
    return assemble(np.asarray(tensor, dtype=np.float32), layout), layout


def range_text(tensor: np.ndarray, levels: tuple[float, float]) -> str:
    """The tensor's min, max and mean, and how the picture maps values to grey."""
    low, high = float(tensor.min()), float(tensor.max())
    text = (
        f"min {format_value(low)} · max {format_value(high)} · "
        f"mean {format_value(float(tensor.mean()))}"
    )
    if levels == (0.0, 1.0):
        return text + " · drawn as is: 0 black, 1 white"
    return text + f" · drawn from {format_value(levels[0])} (black) to {format_value(levels[1])}"


def value_text(tensor: np.ndarray, layout: MosaicLayout | None, y: float, x: float) -> str | None:
    """The value(s) at picture coordinates (y, x): one tile's value in a mosaic
    (``layout``), else every channel's at that pixel; None outside the picture."""
    if layout is not None:
        found = layout.locate(y, x)
        if found is None:
            return None
        value = tensor[found.channel, found.row, found.col]
        return f"channel {found.channel}, row {found.row}, col {found.col}: {value:.4f}"
    row, col = int(np.floor(y)), int(np.floor(x))
    if not (0 <= row < tensor.shape[1] and 0 <= col < tensor.shape[2]):
        return None
    values = tensor[:, row, col]
    if len(values) == 3:
        shown = "  ".join(f"{c} {v:.4f}" for c, v in zip("RGB", values, strict=True))
    else:
        shown = f"{values[0]:.4f}"
    return f"row {row}, col {col}: {shown}"
