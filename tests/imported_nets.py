"""What the import tests share: an imported network as the torch model cnnviz builds."""

from __future__ import annotations

from torch import nn

from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_into


def converted(imported) -> nn.Module:
    """The network cnnviz builds from an import, with the weights the import carried."""
    model = build_model(imported.architecture)
    load_into(model, imported.state)
    return model.eval()
