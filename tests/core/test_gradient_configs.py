"""The gradient view's configurations: deep stacks, and variants that change one thing."""

from __future__ import annotations

import pytest

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.gradient_configs import (
    DEPTH,
    LESSONS,
    PRESETS,
    deep_stack,
    preset,
    variant,
    variant_problem,
    with_activation,
    with_shortcuts,
    without_shortcuts,
)


def types(arch: Architecture) -> list[str]:
    return [layer.type for _, layer in arch.walk()]


@pytest.mark.parametrize("title", list(PRESETS))
def test_every_preset_is_a_valid_digits_classifier(title):
    arch, init = preset(title)
    analysis = analyze(arch)
    assert analysis.first_error is None
    assert arch.input.as_tuple() == (1, 28, 28)
    assert analysis.layers[-1].output_shape == (10,)
    weight_layers = [t for t in types(arch) if t in ("Conv2d", "Linear")]
    assert len(weight_layers) == DEPTH
    assert init in ("default", "he", "xavier")


def test_lessons_name_presets():
    for _title, left, right in LESSONS:
        assert left in PRESETS and right in PRESETS


def test_shortcuts_come_and_go_without_changing_the_layers():
    plain, residual = deep_stack("Sigmoid"), deep_stack("Sigmoid", residual=True)
    assert with_shortcuts(plain).layers == residual.layers
    assert without_shortcuts(residual).layers == plain.layers
    leaves = [t for t in types(residual) if t != "Residual"]
    assert leaves == types(plain)


def test_a_shape_changing_pair_stays_plain():
    arch = Architecture(
        "strided",
        InputShape(1, 8, 8),
        (
            Layer.make("Conv2d", out_channels=4, kernel_size=3, stride=2, padding=1),
            Layer.make("ReLU"),
            Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
            Layer.make("ReLU"),
        ),
    )
    assert [layer.type for layer in with_shortcuts(arch).layers] == ["Conv2d", "ReLU", "Residual"]


def test_activations_are_swapped_inside_blocks_too():
    swapped = with_activation(deep_stack("ReLU", residual=True), "Tanh")
    assert "ReLU" not in types(swapped)
    assert types(swapped).count("Tanh") == DEPTH - 1
    assert swapped.layers == deep_stack("Tanh", residual=True).layers


def test_variants_change_one_thing_or_say_why_not():
    relu = deep_stack("ReLU")
    assert variant("Same with He init", relu, "default") == (relu, "he")
    assert variant("Same with Sigmoid", relu, "xavier") == (
        with_activation(relu, "Sigmoid"),
        "xavier",
    )
    assert variant_problem("Same with ReLU", relu) is not None
    assert "no layers this changes" in variant_problem("Same without residual shortcuts", relu)
    assert variant_problem("Same with residual shortcuts", relu) is None
