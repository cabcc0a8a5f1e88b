"""Render the README's import pictures. Run from the repository root:

    python docs/make_import_pictures.py     # docs/import_net.png, docs/import_hooked.png,
                                            # docs/import_opaque.png

The first is tests/import_models.py:Net, a model written the usual way
(functional ReLUs, a residual add inside a submodule, a torch.cat of two
branches, torch.flatten), imported and showing the feature maps of the
layer inside its residual block. The second is tests/untraceable_models.py:
EarlyExit, whose forward decides on its values how many blocks run, so
torch.fx cannot trace it: the read-only view hooked per module, the status
bar naming the line that stopped the trace, the first block's conv selected.
The third is tests/opaque_models.py:Showcase, with parts cnnviz has no layer
type for (a hand-written LayerNorm2d, an inline Swish) kept as Opaque layers
that run the original: the LayerNorm2d selected, its feature maps shown.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CNNVIZ_COLOR_SCHEME", "light")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs"
MODELS = ROOT / "tests" / "import_models.py"
UNTRACEABLE = ROOT / "tests" / "untraceable_models.py"
OPAQUE = ROOT / "tests" / "opaque_models.py"


def picture(model: str, input_size: str, layer: str, out_name: str) -> int:
    """The window on `model` with the cat photo and `layer` selected, saved as docs/out_name."""
    from cnnviz.cli import main

    return main(
        [
            model, "--input", input_size,
            "--image", str(ROOT / "resources" / "samples" / "cat.jpg"),
            "--select-layer", layer, "--screenshot", str(OUT / out_name),
        ]
    )  # fmt: skip


def imported_network() -> int:
    return picture(f"{MODELS}:Net", "3,16,16", "2.body.3", "import_net.png")


def hooked_view() -> int:
    return picture(f"{UNTRACEABLE}:EarlyExit", "3,64,64", "1", "import_hooked.png")


def opaque_layers() -> int:
    return picture(f"{OPAQUE}:Showcase", "3,64,64", "2", "import_opaque.png")


if __name__ == "__main__":
    sys.exit(imported_network() or hooked_view() or opaque_layers())
