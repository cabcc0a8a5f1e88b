"""What the import tests share: an imported network as the torch model cnnviz builds."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_into


def converted(imported) -> nn.Module:
    """The network cnnviz builds from an import, with the weights the import carried."""
    model = build_model(imported.architecture)
    load_into(model, imported.state)
    return model.eval()


def model_in_file(path: Path, name: str) -> nn.Module:
    """A new ``name`` from a person's model file, run as Python itself (not by the
    import under test), so a test compares cnnviz with the model on its own terms."""
    namespace: dict = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace[name]()
