"""Sample inputs for the panels, made with numpy alone, and the standalone runner.

``python -m cnnviz.qt.panels.<name>`` opens one panel without the main window
or torch: a synthetic picture goes through a small numpy forward pass of a
preset (TinyVGG by default) with seeded weights, whose first conv layer
starts with a few textbook kernels (Sobel, Laplacian, blur) so the feature
maps show recognisable edges. The numbers are real (a true convolution,
pooling, activation), only the weights are not trained.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnviz.core import kernels
from cnnviz.core.activations import activation_for_layer, is_elementwise_activation
from cnnviz.core.analysis import Analysis, LayerInfo, analyze
from cnnviz.core.blocks import merge_kind
from cnnviz.core.jobs import ForwardResult, KernelEdit, LayerActivation
from cnnviz.core.pooling_view import (
    adaptive_boxes,
    box_means,
    max_pool_winners,
    pool_geometry,
    window_means,
)
from cnnviz.core.presets import load_any
from cnnviz.core.shapes import as_pair, conv_padding
from cnnviz.qt.panels.base import PanelInput

log = logging.getLogger(__name__)

Filters = dict[int, tuple[np.ndarray, np.ndarray | None]]
_TEACHING_START = (kernels.SOBEL_X, kernels.SOBEL_Y, kernels.LAPLACIAN, kernels.GAUSSIAN_BLUR)


def sample_image(channels: int = 3, height: int = 64, width: int = 64) -> np.ndarray:
    """A small synthetic scene with edges in every direction, (C, H, W) in [0, 1]:
    a sky gradient, a sun, a house with a pitched roof, a striped field."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / max(height - 1, 1), x / max(width - 1, 1)
    red, green, blue = 0.55 + 0.3 * y, 0.75 + 0.1 * y, 0.95 - 0.2 * y  # sky
    sun = (x - 0.78) ** 2 + (y - 0.2) ** 2 < 0.012
    red, green, blue = np.where(sun, 1.0, red), np.where(sun, 0.85, green), np.where(sun, 0.2, blue)
    field = y > 0.72
    stripes = (np.floor((x + y) * 14) % 2) == 0
    red = np.where(field, 0.25 + 0.1 * stripes, red)
    green = np.where(field, 0.55 + 0.15 * stripes, green)
    blue = np.where(field, 0.2, blue)
    wall = (x > 0.15) & (x < 0.5) & (y > 0.45) & (y <= 0.72)
    roof = (y > 0.25) & (y <= 0.45) & (np.abs(x - 0.325) < (y - 0.25) * 1.1)
    door = (x > 0.28) & (x < 0.36) & (y > 0.58) & (y <= 0.72)
    for mask, colour in (
        (wall, (0.9, 0.85, 0.7)),
        (roof, (0.7, 0.15, 0.1)),
        (door, (0.3, 0.2, 0.1)),
    ):
        red = np.where(mask, colour[0], red)
        green = np.where(mask, colour[1], green)
        blue = np.where(mask, colour[2], blue)
    rgb = np.stack([red, green, blue]).astype(np.float32)
    if channels == 3:
        return rgb
    grey = rgb.mean(axis=0, keepdims=True)
    return np.repeat(grey, channels, axis=0).astype(np.float32)


def sample_filters(analysis: Analysis, seed: int = 0) -> Filters:
    """He-initialised conv weights; the first conv layer starts with textbook kernels."""
    rng = np.random.default_rng(seed)
    filters: Filters = {}
    for info in analysis.layers:
        if info.layer.type != "Conv2d" or not info.computable:
            continue
        out_c = info.output_shape[0]
        per_group = info.input_shape[0] // info.layer.get("groups")
        kh, kw = as_pair(info.layer.get("kernel_size"))
        fan_in = per_group * kh * kw
        weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), (out_c, per_group, kh, kw))
        bias = rng.normal(0.0, 0.05, out_c) if info.layer.get("bias") else None
        if not filters:  # the first conv layer
            for channel, name in enumerate(_TEACHING_START[:out_c]):
                try:
                    kernel = kernels.teaching_kernel(name, (kh, kw))
                except kernels.KernelError:
                    continue
                weight[channel] = kernels.spread_over_inputs(kernel, per_group)
        filters[info.index] = (
            weight.astype(np.float32),
            None if bias is None else bias.astype(np.float32),
        )
    return filters


def _conv2d(x: np.ndarray, info: LayerInfo, weight: np.ndarray, bias) -> np.ndarray:
    layer = info.layer
    stride, dilation = as_pair(layer.get("stride")), as_pair(layer.get("dilation"))
    padded = np.pad(x, ((0, 0), *conv_padding(layer)))
    kh, kw = weight.shape[2:]
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    windows = sliding_window_view(padded, span, axis=(1, 2))
    windows = windows[:, :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]
    groups = layer.get("groups")
    per_in, per_out = x.shape[0] // groups, weight.shape[0] // groups
    parts = [
        np.tensordot(
            weight[g * per_out : (g + 1) * per_out],
            windows[g * per_in : (g + 1) * per_in],
            axes=([1, 2, 3], [0, 3, 4]),
        )
        for g in range(groups)
    ]
    out = np.concatenate(parts)
    if bias is not None:
        out += bias[:, None, None]
    return out


def _pool(x: np.ndarray, info: LayerInfo) -> np.ndarray:
    layer = info.layer
    if layer.type == "AdaptiveAvgPool2d":
        boxes = adaptive_boxes(x.shape[1:], info.output_shape[1:])
        return np.stack([box_means(channel, boxes) for channel in x])
    geom = pool_geometry(layer)
    if layer.type == "AvgPool2d":
        return np.stack([window_means(channel, geom) for channel in x])
    # Max pooling: the value at each window's winning cell.
    out = []
    for channel in x:
        winners = max_pool_winners(channel, geom)
        values = channel[winners[..., 0], winners[..., 1]]
        out.append(np.where(winners[..., 0] >= 0, values, -np.inf))  # torch's -inf
    return np.stack(out)


def _local_response_norm(x: np.ndarray, layer) -> np.ndarray:
    size, alpha, beta, k = (layer.get(n) for n in ("size", "alpha", "beta", "k"))
    squares = np.pad(x**2, ((size // 2, (size - 1) // 2), (0, 0), (0, 0)))
    window_sum = sum(squares[i : i + x.shape[0]] for i in range(size))
    return x / (k + alpha / size * window_sum) ** beta


def _softmax(x: np.ndarray, axis: int = 0) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _layer_forward(x: np.ndarray, info: LayerInfo, filters: Filters, linear_rng) -> np.ndarray:
    kind = info.layer.type
    if kind == "Conv2d":
        return _conv2d(x, info, *filters[info.index])
    if kind in ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"):
        return _pool(x, info)
    if is_elementwise_activation(kind):
        return activation_for_layer(info.layer).function(x)
    if kind == "Softmax":
        return _softmax(x, axis=0)
    if kind == "Flatten":
        return x.reshape(-1)
    if kind == "Linear":
        n_in, n_out = x.shape[-1], info.layer.get("out_features")
        weight = linear_rng.normal(0.0, np.sqrt(1.0 / n_in), (n_out, n_in))
        return x @ weight.T
    if kind == "BatchNorm2d":  # eval mode with fresh running statistics (mean 0, var 1)
        return x / np.sqrt(1.0 + info.layer.get("eps"))
    if kind == "LocalResponseNorm":
        return _local_response_norm(x, info.layer)
    return x  # Dropout in eval mode


def numpy_forward(
    analysis: Analysis, image: np.ndarray, filters: Filters, seed: int = 0
) -> ForwardResult:
    """Every computable layer's input and output, as the compute thread would return:
    one LayerActivation per flat entry (a block's merged output and every layer
    inside it, in pre-order), stopping at the first top-level entry that cannot
    be computed, as the controller cuts the stack there."""
    linear_rng = np.random.default_rng(seed + 1)
    x = image.astype(np.float32)
    found: dict[int, LayerActivation] = {}
    for info in analysis.top_level:
        if not info.computable:
            break
        x = _run(analysis, info, x, filters, linear_rng, found)
    layers = tuple(found[index] for index in sorted(found))
    probabilities = None
    last = found.get(analysis.top_level[len(analysis.top_level) - 1].index) if found else None
    if last is not None and last.output.ndim == 1:
        probabilities = last.output if last.type == "Softmax" else _softmax(last.output)
    return ForwardResult(0, image, layers, filters, probabilities, device="numpy sample")


def _run(analysis: Analysis, info: LayerInfo, x, filters, linear_rng, found) -> np.ndarray:
    """Layer (or block) `info` on `x`; records its activation (and those inside) in `found`."""
    if info.layer.is_block:
        ends = []
        for name in info.layer.path_names:
            prefix = f"{info.address}.{name}."
            end = x
            for inner in analysis.children(info.index):
                if inner.address.startswith(prefix):
                    end = _run(analysis, inner, end, filters, linear_rng, found)
            ends.append(end)
        kind = merge_kind(info.layer.type, info.layer.params)
        out = np.sum(ends, axis=0) if kind == "add" else np.concatenate(ends, axis=0)
    else:
        out = _layer_forward(x, info, filters, linear_rng)
        if out.shape != info.output_shape:  # a type this stand-in does not compute
            log.debug("numpy sample: %s left as zeros", info.layer.type)
            out = np.zeros(info.output_shape, np.float32)
    out = out.astype(np.float32)
    found[info.index] = LayerActivation(info.index, info.layer.type, out, input=x)
    return out


def apply_kernel_edits(filters: Filters, edits: Sequence[KernelEdit]) -> Filters:
    edited = {
        index: (w.copy(), None if b is None else b.copy()) for index, (w, b) in filters.items()
    }
    for edit in edits:
        weight, bias = edited[edit.layer]
        weight[edit.out_channel] = edit.kernel
        if edit.bias is not None and bias is not None:
            bias[edit.out_channel] = edit.bias
    return edited


def sample_input(
    preset="tinyvgg",
    layer_index: int | str = 0,
    kernel_edits: Sequence[KernelEdit] = (),
    seed: int = 0,
):
    """A PanelInput of `preset` (a name, or an Architecture) on the synthetic picture,
    layer `layer_index` (a flat index or an address such as "3.body.0") selected."""
    architecture = load_any(preset) if isinstance(preset, str) else preset
    analysis = analyze(architecture)
    if isinstance(layer_index, str):
        layer_index = (
            int(layer_index)
            if layer_index.lstrip("-").isdigit()
            else analysis.at(layer_index).index
        )
    image = sample_image(*architecture.input.as_tuple())
    filters = apply_kernel_edits(sample_filters(analysis, seed), kernel_edits)
    result = numpy_forward(analysis, image, filters, seed)
    classes = tuple(architecture.classes) if architecture.classes else None
    return PanelInput(result, analysis, layer_index, classes)


def settle(widget, rounds: int = 3) -> None:
    """Let layouts and axes reach their final size before a screenshot: axes
    widen to fit their tick labels only after a first paint."""
    from PySide6 import QtWidgets

    for _ in range(rounds):
        QtWidgets.QApplication.processEvents()
        widget.grab()


def _follow_colour_scheme(app) -> None:
    """Light or dark like the main window (cnnviz.qt.style.theme), when it is there."""
    try:
        from cnnviz.qt.style.theme import apply_color_scheme
    except ImportError:
        return
    apply_color_scheme(app)


def run_standalone(
    make_panel: Callable,
    default_layer: int,
    argv: Sequence[str] | None = None,
    size: tuple[int, int] = (1100, 700),
):
    """Open one panel on sample arrays: ``python -m cnnviz.qt.panels.<name>``."""
    parser = argparse.ArgumentParser(description="Show one cnnviz panel on sample arrays.")
    parser.add_argument(
        "--preset", default="tinyvgg", help="preset network or architecture file (default tinyvgg)"
    )
    parser.add_argument(
        "--layer",
        default=str(default_layer),
        help='selected layer: its index, or its address inside a block ("3.body.0")',
    )
    parser.add_argument("--screenshot", metavar="PNG", help="save a picture and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    _follow_colour_scheme(app)
    panel = make_panel()
    edits: list[KernelEdit] = []
    state = {"layer": args.layer}

    def refresh():
        panel.show(sample_input(args.preset, state["layer"], edits))

    def select(index: int):
        state["layer"] = index
        refresh()

    def edit(kernel_edit: KernelEdit):
        edits.append(kernel_edit)
        refresh()

    if hasattr(panel, "layer_selected"):
        panel.layer_selected.connect(select)
    if hasattr(panel, "kernel_edit_requested"):
        panel.kernel_edit_requested.connect(edit)
    refresh()
    panel.resize(*size)
    panel.setWindowTitle(f"cnnviz · {type(panel).__name__} · {args.preset}")
    panel.show()
    if args.screenshot:
        settle(panel)
        panel.grab().save(args.screenshot)
        return 0
    return app.exec()
