"""True convolution against torch's cross-correlation, for the stepper's lab.

torch's Conv2d (like every deep-learning "convolution") slides the kernel as it
is: a cross-correlation. The convolution of signal processing (scipy's
``convolve2d``) rotates the kernel by 180° first. Stepping the *flipped*
kernel through the ordinary walkthrough is exactly that convolution, with the
same padding, stride and dilation, so the picture and the arithmetic stay
those of :mod:`cnnviz.core.conv_steps`; only the kernel and the note change.
tests/core/test_conv_flip.py checks it against a numpy true convolution.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cnnviz.core.conv_steps import ConvConfig, Walkthrough, conv_walkthrough

FLIP_NOTE = (
    "torch's Conv2d is a cross-correlation; a convolution flips the kernel first (rotated 180°)"
)
FLIP_DESCRIPTION = "true convolution (kernel rotated 180°)"


def flip_kernel(kernel: np.ndarray) -> np.ndarray:
    """The kernel rotated by 180° in its two spatial axes (rows and columns reversed)."""
    return np.ascontiguousarray(np.asarray(kernel)[..., ::-1, ::-1])


def flipped_config(config: ConvConfig) -> ConvConfig:
    """The same layer with every filter rotated by 180°: its output is a true convolution."""
    return dataclasses.replace(config, kernel=flip_kernel(config.kernel))


def convolution_walkthrough(config: ConvConfig, out_channels=None, region=None) -> Walkthrough:
    """The steps of a true convolution of `config`: the flipped kernel, saying so."""
    walk = conv_walkthrough(flipped_config(config), out_channels, region)
    names = dataclasses.replace(
        walk.names,
        description=f"{FLIP_DESCRIPTION} · {walk.description()}",
        note=" ".join(filter(None, (f"{FLIP_NOTE}.", walk.padding_note()))),
    )
    return dataclasses.replace(walk, names=names)


def walkthrough_for(config: ConvConfig, flip: bool, out_channels=None, region=None):
    """The cross-correlation walkthrough, or the true convolution's when `flip` is on."""
    if flip:
        return convolution_walkthrough(config, out_channels, region)
    return conv_walkthrough(config, out_channels, region)
