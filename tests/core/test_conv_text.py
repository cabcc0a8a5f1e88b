"""Numbers, formulas and matrix files around the convolution walkthrough."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.conv_text import (
    MatrixFileError,
    ascii_text,
    describe_layer,
    format_matrices,
    format_value,
    parse_matrices,
    pool_formula,
    read_matrix,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [(4.0, "4"), (-3.0, "−3"), (0.25, "0.25"), (-0.0048, "−0.00"), (12.345, "12.3"),
     (123.7, "124"), (-np.inf, "−∞")],
)  # fmt: skip
def test_values_are_short_and_whole_numbers_stay_whole(value, text):
    assert format_value(value) == text


def test_matrix_text_round_trips_with_channels():
    array = np.arange(12, dtype=np.float64).reshape(2, 2, 3) - 5.5
    np.testing.assert_array_equal(parse_matrices(format_matrices(array)), array)


def test_read_matrix_wants_exactly_one_block(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("1,2\n3;4  # a comment\n")
    np.testing.assert_array_equal(read_matrix(path), [[1, 2], [3, 4]])
    path.write_text("1 2\n\n3 4\n")
    with pytest.raises(MatrixFileError, match="expected one matrix but found 2"):
        read_matrix(path)


def test_folder_and_binary_files_are_refused(tmp_path):
    with pytest.raises(MatrixFileError, match="is a folder"):
        read_matrix(tmp_path)
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(MatrixFileError, match="not a text file"):
        read_matrix(binary)


def test_ceil_mode_formula_says_when_torch_drops_the_last_window():
    # 5 + 2·1 − 1 − 1 = 5, ⌈5/3⌉ + 1 = 3, but the third window would start at 6 ≥ 5 + 1.
    lines = pool_formula((5, 5), (2, 2), (3, 3), (1, 1), (1, 1), True)
    assert lines[-1].endswith("⌈5 / 3⌉ + 1 − 1 = 2 (last window would start in the padding)")


def test_layer_description_and_ascii_fallback():
    text = describe_layer("conv", (3, 3), (2, 2), ((1, 1), (1, 1)), (2, 2))
    assert text == "convolution 3×3 · stride 2 · padding 1 · dilation 2"
    assert ascii_text("⌊5 / 2⌋ − 1·2") == "floor(5 / 2) - 1*2"
