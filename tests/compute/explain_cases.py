"""What the attribution tests share: the networks (small, branching, presets with
their real weights), an image for each, and a tolerant comparison."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.compute.blocks import flat_modules
from cnnviz.compute.runner import ForwardRunner
from cnnviz.core.analysis import Analysis, analyze
from cnnviz.core.architecture import Architecture
from cnnviz.core.explain_jobs import ExplainRequest
from cnnviz.core.images import load_image, to_network_input
from cnnviz.core.preprocess import declared
from cnnviz.core.presets import load_preset, preset_path, weights_path
from cnnviz.core.samples import sample
from tests.compute.explain_nets import BRANCHY, SMALL, built, image


@dataclass(frozen=True)
class Case:
    name: str
    arch: Architecture
    analysis: Analysis
    model: nn.Sequential
    image: np.ndarray
    weights: str | None = None

    @property
    def x(self) -> torch.Tensor:
        return torch.from_numpy(self.image)[None]

    @property
    def reference(self) -> nn.Module:
        """What captum is given: the model without a final Softmax (scores before it)."""
        ends_in_softmax = isinstance(self.model[-1], nn.Softmax)
        return self.model[:-1] if ends_in_softmax else self.model

    def module(self, index: int) -> nn.Module:
        return flat_modules(self.model)[index]

    def request(self, method: str, **fields) -> ExplainRequest:
        return ExplainRequest(1, self.arch, self.image, method, weights_path=self.weights, **fields)


def small_case(arch: Architecture) -> Case:
    return Case(arch.name, arch, analyze(arch), built(arch), image(arch))


@functools.cache
def preset_case(name: str, photo: str) -> Case:
    """A preset with its bundled (real) weights, as the app builds it, and a photo
    prepared as the preset declares."""
    arch = load_preset(name)
    found = weights_path(arch, preset_path(name))
    weights = str(found) if found else None
    c, h, w = arch.input.as_tuple()
    picture = to_network_input(load_image(sample(photo).path), c, h, w, declared(arch.metadata))
    model = ForwardRunner().model_for(
        ExplainRequest(0, arch, picture, "saliency", weights_path=weights)
    )
    return Case(name, arch, analyze(arch), model.eval(), picture, weights)


def small_cases() -> list[Case]:
    return [small_case(SMALL), small_case(BRANCHY)]


def assert_close(ours, reference, rtol: float = 1e-4) -> None:
    """Equal up to float32 summation order: relative to each value and to the largest."""
    ours = np.asarray(ours.detach() if isinstance(ours, torch.Tensor) else ours, np.float64)
    reference = reference.detach().numpy() if isinstance(reference, torch.Tensor) else reference
    reference = np.asarray(reference, np.float64)
    scale = float(np.abs(reference).max())
    assert scale > 0, "an all-zero reference proves nothing"
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=rtol * scale * 0.1)
