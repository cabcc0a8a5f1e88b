"""Readable errors for invalid stacks, and what follows them."""

from __future__ import annotations

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.shapes import conv_out_size, pool_out_size


def stack(*layers, shape=(1, 8, 8)):
    return Architecture("t", InputShape(*shape), tuple(layers))


def test_error_names_layer_parameter_and_reason():
    arch = stack(
        Layer.make("Conv2d", out_channels=4, kernel_size=3),
        Layer.make("ReLU"),
        Layer.make("MaxPool2d", kernel_size=2),
        Layer.make("Conv2d", out_channels=4, kernel_size=3),
        Layer.make("ReLU"),
        Layer.make("MaxPool2d", kernel_size=3),
        Layer.make("Flatten"),
    )
    a = analyze(arch)
    assert a.first_error.error == (
        "layer 5 MaxPool2d: kernel 3x3 is larger than its 1x1 input (padding 0)"
    )
    assert [i.status for i in a.layers] == ["ok"] * 5 + ["invalid", "not computable"]
    assert not a.valid and a.layers[6].input_shape is None


def test_not_computed_reason_names_the_layer_itself_or_the_one_above():
    a = analyze(
        stack(
            Layer.make("ReLU"),
            Layer.make("MaxPool2d", kernel_size=9),
            Layer.make("ReLU"),
        )
    )
    # The first invalid layer gives its own reason, never "fix the layer above it".
    assert a.not_computed_reason(1) == (
        "this layer is invalid; kernel 9x9 is larger than its 8x8 input (padding 0)"
    )
    assert a.not_computed_reason(2) == ("layer 1 MaxPool2d above it is invalid; fix that one first")
    assert a.not_computed_reason(0) == "no forward result for it yet"


def test_conv_after_flatten_says_what_to_do():
    a = analyze(stack(Layer.make("Flatten"), Layer.make("Conv2d", out_channels=2, kernel_size=1)))
    assert "move it before the Flatten" in a.first_error.error


def test_groups_and_same_padding_errors():
    a = analyze(
        stack(Layer.make("Conv2d", out_channels=4, kernel_size=3, groups=2), shape=(3, 8, 8))
    )
    assert a.first_error.error == "layer 0 Conv2d: groups 2 does not divide its 3 input channels"
    a = analyze(
        stack(Layer.make("Conv2d", out_channels=4, kernel_size=3, padding="same", stride=2))
    )
    assert "padding 'same' needs stride 1" in a.first_error.error


def test_output_size_formula_textbook_cases():
    # floor((W + 2P - D(K-1) - 1)/S) + 1
    assert conv_out_size(224, 11, 4, 4, 1) == 55  # AlexNet conv1
    assert conv_out_size(32, 5, 1, 0, 1) == 28  # LeNet conv1
    assert conv_out_size(7, 3, 2, 2, 2) == 3
    assert pool_out_size(55, 3, 2, 0, 1, False) == 27
    assert pool_out_size(6, 3, 2, 0, 1, True) == 3  # ceil would give 4, last window dropped


def test_parameter_sharing_conv_vs_dense():
    conv = analyze(
        stack(Layer.make("Conv2d", out_channels=64, kernel_size=3, padding=1), shape=(64, 56, 56))
    ).layers[0]
    assert conv.params == 64 * 64 * 9 + 64 == 36_928
    dense = analyze(
        stack(Layer.make("Flatten"), Layer.make("Linear", out_features=10), shape=(64, 56, 56))
    ).layers[1]
    assert dense.weights == 64 * 56 * 56 * 10
