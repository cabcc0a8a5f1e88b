"""One full update of the feature-map panel vs the tutorial way, side by side.

A layer output of 64×112×112 (VGG's first block on a 224 image) is drawn:

* cnnviz: ``FeatureMapPanel.show(PanelInput)`` (statistics, normalisation, the
  one mosaic image, labels, colour bar, the large channel, the receptive field)
  and the panel painted to pixels (``grab()``);
* the tutorial way: ``plt.subplots(8, 8)``, ``imshow`` per channel, ``draw``
  (Agg, so nothing is shown: the cost is the drawing itself);
* for honesty, matplotlib at its best as well: the same figure kept and only
  ``set_data`` + ``draw`` per update.

Each update gets fresh maps so that no cache helps. Run from the repository:

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_feature_maps_render.py

It prints the median times and the ratios; nothing is asserted (timings are
not tests).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

SHAPE = (64, 112, 112)


def _maps(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [np.maximum(rng.normal(size=SHAPE), 0).astype(np.float32) for _ in range(count)]


def _panel_input(maps: np.ndarray):
    from cnnviz.core.analysis import analyze
    from cnnviz.core.architecture import from_json
    from cnnviz.core.jobs import ForwardResult, LayerActivation
    from cnnviz.qt.panels.base import PanelInput

    arch = from_json(
        {
            "format": "cnnviz-architecture",
            "version": 1,
            "name": "bench",
            "input": {"channels": 3, "height": 224, "width": 224},
            "layers": [
                {"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1},
                {"type": "MaxPool2d", "kernel_size": 2},
            ],
        }
    )
    image = np.random.default_rng(1).random((3, 224, 224)).astype(np.float32)
    layers = (
        LayerActivation(0, "Conv2d", np.zeros((64, 224, 224), np.float32)),
        LayerActivation(1, "MaxPool2d", maps),
    )
    return PanelInput(ForwardResult(0, image, layers), analyze(arch), 1)


def time_cnnviz(all_maps: list[np.ndarray], repeats: int) -> tuple[list[float], list[float]]:
    from PySide6 import QtWidgets

    from cnnviz.qt.panels.feature_maps import FeatureMapPanel

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    panel = FeatureMapPanel()
    panel.resize(1400, 900)
    panel.show()
    app.processEvents()
    inputs = [_panel_input(maps) for maps in all_maps]
    panel.show(inputs[0])  # warm-up: first layout, first paint
    panel.grab()
    update_only, full = [], []
    for i in range(repeats):
        data = inputs[(i + 1) % len(inputs)]
        start = time.perf_counter()
        panel.show(data)
        middle = time.perf_counter()
        panel.grab()
        end = time.perf_counter()
        update_only.append(middle - start)
        full.append(end - start)
    panel.close()
    return update_only, full


def time_matplotlib_tutorial(all_maps: list[np.ndarray], repeats: int) -> list[float]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = []
    for i in range(repeats):
        maps = all_maps[i % len(all_maps)]
        start = time.perf_counter()
        fig, axes = plt.subplots(8, 8, figsize=(14, 9))
        for channel, ax in enumerate(axes.flat):
            ax.imshow(maps[channel], cmap="viridis")
            ax.set_title(str(channel), fontsize=7)
            ax.axis("off")
        fig.canvas.draw()
        times.append(time.perf_counter() - start)
        plt.close(fig)
    return times


def time_matplotlib_reused(all_maps: list[np.ndarray], repeats: int) -> list[float]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(8, 8, figsize=(14, 9))
    images = [ax.imshow(all_maps[0][c], cmap="viridis") for c, ax in enumerate(axes.flat)]
    for ax in axes.flat:
        ax.axis("off")
    fig.canvas.draw()
    times = []
    for i in range(repeats):
        maps = all_maps[(i + 1) % len(all_maps)]
        start = time.perf_counter()
        for channel, image in enumerate(images):
            image.set_data(maps[channel])
            image.set_clim(maps[channel].min(), maps[channel].max())
        fig.canvas.draw()
        times.append(time.perf_counter() - start)
    plt.close(fig)
    return times


def main() -> None:
    all_maps = _maps(4)
    update_only, cnnviz = time_cnnviz(all_maps, repeats=20)
    tutorial = time_matplotlib_tutorial(all_maps, repeats=3)
    reused = time_matplotlib_reused(all_maps, repeats=5)
    tutorial_name = "matplotlib tutorial (subplots + imshow + draw)"
    reused_name = "matplotlib reused figure (set_data + draw)"
    ms = {
        "cnnviz show() only": statistics.median(update_only) * 1e3,
        "cnnviz show() + paint": statistics.median(cnnviz) * 1e3,
        tutorial_name: statistics.median(tutorial) * 1e3,
        reused_name: statistics.median(reused) * 1e3,
    }
    print(f"Feature maps {SHAPE[0]}×{SHAPE[1]}×{SHAPE[2]}, median of repeated updates:")
    for name, value in ms.items():
        print(f"  {name:<48} {value:9.1f} ms")
    full = ms["cnnviz show() + paint"]
    print(f"  ratio tutorial / cnnviz:       {ms[tutorial_name] / full:6.0f}×")
    print(f"  ratio reused figure / cnnviz:  {ms[reused_name] / full:6.0f}×")


if __name__ == "__main__":
    main()
