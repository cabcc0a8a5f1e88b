"""Convolution step-through speed: figures printed, nothing asserted.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_conv_stepper.py

Side by side in one run, in a 1200×760 panel:
* one animation frame (the window glides: setPos + repaint of the view) against
  the 16.7 ms a 60 fps frame may take, and against a full redraw of the scene
  (what drawing every cell each frame would cost);
* one step (products, sums, output cell) and one parameter change (rebuild);
* GIF export per frame; the walkthrough itself (core, numpy).
Cases: the classroom example; 3 input channels × 2 filters; a real 64-channel
layer on a 12×12 patch. Then the memory a 64×224×224 real layer costs the stepper,
beside the whole-layer walkthrough it used to keep.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6 import QtWidgets

from cnnviz.core.conv_gif import write_gif
from cnnviz.qt.panels.conv_stepper import ConvStepperPanel

FRAME_BUDGET_MS = 1000 / 60


def median_ms(action: Callable[[int], object], repeats: int) -> float:
    times = []
    for n in range(repeats):
        start = time.perf_counter()
        action(n)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(panel: ConvStepperPanel, label: str, app: QtWidgets.QApplication) -> None:
    scene, view, count = panel.scene, panel.view, panel.player.count
    app.processEvents()

    def frame(n: int) -> None:
        scene.glide(n % (count - 1), (n % 10) / 10)
        view.viewport().repaint()

    def full(n: int) -> None:
        for item in scene.items():  # drop every cached grid: drawing all cells each frame
            item.update()
        view.viewport().repaint()

    def step(n: int) -> None:
        panel.player.seek(n % count)
        view.viewport().repaint()

    glide, redraw = median_ms(frame, 120), median_ms(full, 20)
    stepped, rebuilt = median_ms(step, 40), median_ms(lambda n: panel.rebuild(), 8)
    print(f"{label} ({count} steps)")
    share = glide / FRAME_BUDGET_MS
    print(f"  frame (window glides)   {glide:7.2f} ms  = {share:5.1%} of a 60 fps frame")
    print(f"  full redraw, no cache   {redraw:7.2f} ms  = {redraw / glide:4.1f}× a frame")
    print(f"  step (products, output) {stepped:7.2f} ms")
    print(f"  rebuild (new parameter) {rebuilt:7.2f} ms")


def gif_ms_per_frame(panel: ConvStepperPanel, path: Path) -> float:
    start = time.perf_counter()
    frames = write_gif(panel.walk, path, 100)
    return (time.perf_counter() - start) * 1000 / frames


def held_copies(panel: ConvStepperPanel, given: tuple[np.ndarray, ...]) -> int:
    """Bytes of the arrays the stepper holds that are not the arrays it was given."""
    layer, walk = panel.real, panel.walk
    padded = getattr(walk.padded, "values", walk.padded)
    held = [layer.config.input, layer.config.kernel, padded, walk.cell_kind]
    for step in walk.steps:
        held += [step.window, step.products, step.rows, step.cols, step.channels]
    return sum(a.nbytes for a in held if not any(np.shares_memory(a, g) for g in given))


def real_layer_224(panel: ConvStepperPanel) -> None:
    """A VGG-sized layer (64 channels, 224×224): what the stepper keeps, beside what
    a walkthrough of the whole layer (the way before issue 14) holds and costs."""
    from cnnviz.core.conv_steps import ConvConfig, conv_walkthrough

    rng = np.random.default_rng(0)
    image = rng.standard_normal((64, 224, 224), dtype=np.float32)
    weight = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
    start = time.perf_counter()
    panel.set_real_layer(weight, None, image, 1, 1, 1, 1, "zeros", 2, None)
    shown = (time.perf_counter() - start) * 1000
    kept = held_copies(panel, (image,))
    start = time.perf_counter()
    whole = conv_walkthrough(ConvConfig(image, weight, None, 1, 1), [0], panel.real.region)
    before = (time.perf_counter() - start) * 1000
    old = whole.config.input.nbytes + whole.padded.nbytes
    print("real layer 64→64 channels, 224×224 (the region of 4×4 output cells):")
    print(f"  arrays kept beyond the given ones  {kept / 2**20:7.2f} MB   whole-layer way "
          f"{old / 2**20:6.1f} MB ({old / max(kept, 1):.0f}×)")  # fmt: skip
    print(f"  set_real_layer, shown              {shown:7.1f} ms   whole-layer walkthrough "
          f"alone {before:.1f} ms")  # fmt: skip


def main() -> None:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    panel = ConvStepperPanel()
    panel.resize(1200, 760)
    panel.show()
    measure(panel, "classroom 5×5, X filter", app)
    out = Path("/tmp/bench_conv_stepper.gif")
    print(f"  GIF export              {gif_ms_per_frame(panel, out):7.2f} ms per frame")
    controls = panel.classroom_controls
    controls.channels.setValue(3)
    controls.out_channels.setValue(2)
    controls.padding.setValue(1)
    measure(panel, "classroom 3 channels × 2 filters, padding 1", app)
    print(f"  GIF export              {gif_ms_per_frame(panel, out):7.2f} ms per frame")
    rng = np.random.default_rng(0)
    image = rng.normal(size=(64, 56, 56)).astype(np.float32)
    weight = rng.normal(size=(128, 64, 3, 3)).astype(np.float32)
    start = time.perf_counter()
    panel.set_real_layer(weight, None, image, 1, 1, 1, 1, "zeros", 4, None)
    print(f"set_real_layer 64→128 channels, 56×56: {(time.perf_counter() - start) * 1000:.1f} ms")
    panel.real_controls.rows.setValue(10)
    panel.real_controls.cols.setValue(10)
    measure(panel, "real layer, 64 input channels (4 drawn), 10×10 output cells", app)
    real_layer_224(panel)
    panel.close()


if __name__ == "__main__":
    main()
