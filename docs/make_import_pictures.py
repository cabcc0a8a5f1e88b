"""Render the README's import pictures. Run from the repository root:

    python docs/make_import_pictures.py     # docs/import_net.png, docs/import_error.png

The first is tests/import_models.py:Net, a model written the usual way
(functional ReLUs, a residual add inside a submodule, a torch.cat of two
branches, torch.flatten), imported and showing the feature maps of the
layer inside its residual block. The second is File > Import PyTorch Model…
on a model whose forward branches on its values: one line in the status bar,
and the work open before stays.
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


def imported_network() -> int:
    from cnnviz.cli import main

    return main(
        [
            f"{MODELS}:Net", "--input", "3,16,16",
            "--image", str(ROOT / "resources" / "samples" / "cat.jpg"),
            "--select-layer", "2.body.3", "--screenshot", str(OUT / "import_net.png"),
        ]
    )  # fmt: skip


def import_error() -> int:
    from PySide6.QtCore import QEventLoop, QTimer

    from cnnviz.app import _application
    from cnnviz.qt.window.main_window import MainWindow

    app = _application()
    window = MainWindow(saved_layout=False)
    window.open_preset("lenet5")
    window.resize(1500, 900)
    window.show()
    loop = QEventLoop()
    window.model_import.done.connect(lambda _ok: QTimer.singleShot(500, loop.quit))
    window.model_import.start(f"{MODELS}:Branchy", "3,32,32")
    loop.exec()
    for box in window.files._boxes:  # the status bar says it; the box would cover it
        box.close()
    app.processEvents()
    saved = window.grab().save(str(OUT / "import_error.png"))
    window.shutdown()
    return 0 if saved else 1


if __name__ == "__main__":
    sys.exit(imported_network() or import_error())
