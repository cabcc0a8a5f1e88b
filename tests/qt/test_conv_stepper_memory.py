"""The stepper keeps only the windows it shows of a real layer, not float64 copies
of the whole input, and steps exactly as the walkthrough of the whole layer."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.conv_steps import ConvConfig, conv_walkthrough
from cnnviz.qt.panels.conv_stepper import ConvStepperPanel
from cnnviz.qt.panels.conv_stepper_sources import PaddedWindow, RealLayer

MB = 1 << 20


def held_arrays(panel: ConvStepperPanel) -> list[np.ndarray]:
    """Every array the stepper holds for its real layer and its walkthrough."""
    layer, walk = panel.real, panel.walk
    config = layer.config
    found = [config.input, config.kernel, config.bias, layer.feature_map, walk.cell_kind]
    padded = walk.padded
    found.append(padded.values if isinstance(padded, PaddedWindow) else padded)
    for step in walk.steps:
        found += [step.channels, step.rows, step.cols, step.window, step.products]
        found.append(step.partial_sums)
    return [a for a in found if isinstance(a, np.ndarray)]


def test_a_64_channel_224_layer_keeps_well_under_a_megabyte_of_copies(qtbot):
    rng = np.random.default_rng(0)
    image = rng.standard_normal((64, 224, 224), dtype=np.float32)
    weight = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
    bias = rng.standard_normal(64, dtype=np.float32)
    feature_map = np.zeros((64, 224, 224), np.float32)  # its values do not matter here
    panel = ConvStepperPanel()
    qtbot.addWidget(panel)
    panel.set_real_layer(weight, bias, image, 1, 1, 1, 1, "zeros", 2, feature_map)
    given = (image, feature_map)
    copies = [a for a in held_arrays(panel) if not any(np.shares_memory(a, g) for g in given)]
    # Before: a float64 copy of the input and of the padded input, about 52 MB.
    assert sum(a.nbytes for a in copies) < 1 * MB
    assert panel.real.config.input is image or np.shares_memory(panel.real.config.input, image)


CASES = [  # padding, mode, stride, dilation, groups, region
    (1, "zeros", 1, 1, 1, (0, 0, 4, 4)),
    (2, "reflect", 2, 1, 2, (0, 5, 3, 3)),
    (2, "replicate", 1, 2, 1, (9, 0, 4, 2)),
    (3, "circular", 2, 2, 1, (7, 7, 2, 2)),
    ("same", "zeros", 1, 1, 4, (10, 12, 4, 4)),
]


@pytest.mark.parametrize(("padding", "mode", "stride", "dilation", "groups", "region"), CASES)
def test_the_patch_walkthrough_equals_the_whole_layer_walkthrough(
    padding, mode, stride, dilation, groups, region
):
    rng = np.random.default_rng(1)
    image = rng.standard_normal((4, 14, 16)).astype(np.float32)
    weight = rng.standard_normal((4, 4 // groups, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    layer = RealLayer.from_layer(weight, bias, image, stride, padding, dilation, groups, mode, 0,
                                 None)  # fmt: skip
    layer.out_channel, layer.region = 3, layer.clamp_region(*region)
    ours = layer.walkthrough()
    whole = ConvConfig(image, weight, bias, layer.config.stride, layer.config.padding,
                       layer.config.dilation, groups, mode)  # fmt: skip
    expected = conv_walkthrough(whole, [3], layer.region)
    assert ours.padded.shape == expected.padded.shape
    r0, r1, c0, c1 = ours.window_box()
    assert (r0, r1, c0, c1) == expected.window_box()
    np.testing.assert_allclose(ours.padded[:, r0:r1, c0:c1], expected.padded[:, r0:r1, c0:c1])
    np.testing.assert_array_equal(ours.cell_kind, expected.cell_kind)
    assert (ours.region, ours.pad_before, ours.output_shape, ours.formula) == (
        expected.region, expected.pad_before, expected.output_shape, expected.formula
    )  # fmt: skip
    for mine, theirs in zip(ours.steps, expected.steps, strict=True):
        assert mine.out == theirs.out
        np.testing.assert_array_equal(mine.rows, theirs.rows)
        np.testing.assert_array_equal(mine.cols, theirs.cols)
        np.testing.assert_allclose(mine.products, theirs.products, rtol=1e-12)
        assert mine.value == pytest.approx(theirs.value, rel=1e-12, abs=1e-12)
