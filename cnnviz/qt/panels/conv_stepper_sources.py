"""Where the step-through panel's numbers come from (numpy only, no widgets).

"Classroom": small editable matrices, by default the classic 5x5 binary image
with the X-shaped 3x3 filter (valid convolution [[4,3,4],[2,4,3],[2,3,4]]) and
the 4x4 map whose 2x2 max pooling is [[5,7],[8,9]].

"Real layer": a Conv2d of the stack with its real weights on a patch of the
image it received, in conv_stepper_real.py (re-exported here, so the panel
imports both sources from one place).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnviz.core.conv_flip import convolution_walkthrough
from cnnviz.core.conv_steps import (
    CLASSROOM_IMAGE,
    CLASSROOM_KERNEL,
    CLASSROOM_POOL_INPUT,
    ConvConfig,
    PoolConfig,
    StepError,
    Walkthrough,
    walkthrough,
)
from cnnviz.qt.panels.conv_stepper_real import (
    MAX_PATCH,
    PaddedWindow,
    RealLayer,
    real_layer_arguments,
    real_padding,
)

__all__ = [
    "AVG",
    "CONV",
    "LIMITS",
    "MAX",
    "MAX_PATCH",
    "Classroom",
    "PaddedWindow",
    "RealLayer",
    "real_layer_arguments",
    "real_padding",
    "x_filter",
]

CONV, MAX, AVG = "conv", "max", "avg"
LIMITS = {  # classroom spin box ranges
    "height": (1, 16), "width": (1, 16), "channels": (1, 4), "kernel_h": (1, 7),
    "kernel_w": (1, 7), "out_channels": (1, 4), "stride": (1, 4), "padding": (0, 4),
    "dilation": (1, 4),
}  # fmt: skip

# Extra filters for more output channels: classic hand-made kernels.
_TEACHING_KERNELS = (
    CLASSROOM_KERNEL,
    np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64),  # vertical edges
    np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=np.float64),  # horizontal edges
    np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),  # Laplacian
)


def x_filter(kh: int, kw: int) -> np.ndarray:
    """The X-shaped filter at any size: ones on both diagonals."""
    kernel = np.zeros((kh, kw))
    for i in range(kh):
        j = round(i * (kw - 1) / (kh - 1)) if kh > 1 else 0
        kernel[i, j] = kernel[i, kw - 1 - j] = 1.0
    return kernel


def _resized(block: np.ndarray, shape: tuple[int, int], filler: np.ndarray) -> np.ndarray:
    """`block` cropped or grown to `shape`; new cells come from `filler` (same position)."""
    out = filler[: shape[0], : shape[1]].copy()
    h, w = min(shape[0], block.shape[0]), min(shape[1], block.shape[1])
    out[:h, :w] = block[:h, :w]
    return out


def _input_filler(channel: int, shape: tuple[int, int]) -> np.ndarray:
    """Deterministic 0/1 cells for grown inputs and new channels."""
    rng = np.random.default_rng(1000 + channel)
    return rng.integers(0, 2, size=shape).astype(np.float64)


def _kernel_filler(index: int, shape: tuple[int, int]) -> np.ndarray:
    teaching = _TEACHING_KERNELS[index % len(_TEACHING_KERNELS)]
    if index % len(_TEACHING_KERNELS) == 0:
        return x_filter(*shape)
    grown = np.zeros((max(shape[0], 3), max(shape[1], 3)))
    grown[:3, :3] = teaching
    return grown[: shape[0], : shape[1]]


@dataclass
class Classroom:
    """The editable teaching example; every setter keeps the arrays consistent."""

    mode: str = CONV
    image: np.ndarray = field(default_factory=lambda: CLASSROOM_IMAGE[np.newaxis].copy())
    kernel: np.ndarray = field(default_factory=lambda: CLASSROOM_KERNEL[None, None].copy())
    pool_input: np.ndarray = field(default_factory=lambda: CLASSROOM_POOL_INPUT[None].copy())
    conv: dict = field(
        default_factory=lambda: {"stride": 1, "padding": 0, "dilation": 1,
                                 "padding_mode": "zeros", "bias": 0.0, "relu": False,
                                 "flip": False}
    )  # fmt: skip
    pool: dict = field(
        default_factory=lambda: {"kernel": 2, "stride": 2, "padding": 0, "dilation": 1,
                                 "ceil_mode": False}
    )  # fmt: skip

    @property
    def input(self) -> np.ndarray:
        return self.image if self.mode == CONV else self.pool_input

    def params(self) -> dict:
        return self.conv if self.mode == CONV else self.pool

    def config(self) -> ConvConfig | PoolConfig:
        """The layer as configured; StepError with one line when it cannot be made."""
        if self.mode == CONV:
            p = self.conv
            return ConvConfig(
                self.image, self.kernel, np.full(self.kernel.shape[0], p["bias"]), p["stride"],
                p["padding"], p["dilation"], 1, p["padding_mode"], "relu" if p["relu"] else "none",
            )  # fmt: skip
        p = self.pool
        return PoolConfig(
            self.pool_input, self.mode, p["kernel"], p["stride"], p["padding"],
            p["dilation"] if self.mode == MAX else 1, p["ceil_mode"],
        )  # fmt: skip

    def walkthrough(self) -> Walkthrough:
        """Forward steps; with "flip" a true convolution (the kernel rotated 180°)."""
        if self.mode == CONV and self.conv["flip"]:
            return convolution_walkthrough(self.config())
        return walkthrough(self.config())

    def set_input(self, values: np.ndarray) -> None:
        """A typed-in input (C, H, W); the kernel follows its channel count."""
        values = np.asarray(values, dtype=np.float64)
        if self.mode != CONV:
            self.pool_input = values
            return
        self.image = values
        if self.kernel.shape[1] != values.shape[0]:
            self._rebuild_kernel(self.kernel.shape[0], values.shape[0], self.kernel.shape[2:])

    def set_kernel(self, values: np.ndarray) -> None:
        """Typed-in filters: blocks in order filter 0 channel 0, filter 0 channel 1, …"""
        values = np.asarray(values, dtype=np.float64)
        channels = self.image.shape[0]
        if values.shape[0] % channels:
            raise StepError(
                f"the kernel has {values.shape[0]} blocks; with {channels} input channels "
                f"it needs a multiple of {channels} (one block per channel per filter)"
            )
        self.kernel = values.reshape(values.shape[0] // channels, channels, *values.shape[1:])

    def resize_input(self, height: int, width: int) -> None:
        source = self.input
        grown = np.stack(
            [_resized(c, (height, width), _input_filler(n, (height, width)))
             for n, c in enumerate(source)]
        )  # fmt: skip
        self.set_input(grown)

    def set_channels(self, channels: int) -> None:
        source = self.input
        h, w = source.shape[1:]
        kept = [source[n] if n < source.shape[0] else _input_filler(n, (h, w))
                for n in range(channels)]  # fmt: skip
        self.set_input(np.stack(kept))

    def resize_kernel(self, kh: int, kw: int) -> None:
        if self.mode != CONV:
            self.pool["kernel"] = (kh, kw) if kh != kw else kh
            return
        self._rebuild_kernel(self.kernel.shape[0], self.kernel.shape[1], (kh, kw))

    def set_out_channels(self, out_channels: int) -> None:
        self._rebuild_kernel(out_channels, self.kernel.shape[1], self.kernel.shape[2:])

    def _rebuild_kernel(self, out_channels: int, channels: int, shape) -> None:
        shape = (int(shape[0]), int(shape[1]))
        old = self.kernel
        blocks = []
        for o in range(out_channels):
            for c in range(channels):
                index = o * channels + c
                filler = _kernel_filler(index, shape)
                if o < old.shape[0] and c < old.shape[1]:
                    block = old[o, c]
                    is_x = np.array_equal(block, x_filter(*block.shape))
                    blocks.append(filler if is_x and index == 0 else _resized(block, shape, filler))
                else:
                    blocks.append(filler)
        self.kernel = np.array(blocks).reshape(out_channels, channels, *shape)
