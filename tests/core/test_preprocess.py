"""to_network_input and Preprocessing, checked against torch and plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.core.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessing,
    to_network_input,
)

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _random_image(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)


def _torch_resize(chw: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    """torch's antialiased resize (same filters as Pillow) of a (C, H, W) array."""
    tensor = torch.from_numpy(np.ascontiguousarray(chw))[None]
    if mode == "nearest":
        return F.interpolate(tensor, (height, width), mode="nearest-exact")[0].numpy()
    out = F.interpolate(tensor, (height, width), mode=mode, antialias=True, align_corners=False)
    return out[0].numpy()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    source=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    # Output width ≥ 2: torch 2.13's antialiased CPU kernel mixes rows wrongly when the
    # output is one pixel wide (checked by hand below instead).
    target=st.tuples(st.integers(1, 40), st.integers(2, 40)),
    mode=st.sampled_from(["bilinear", "bicubic"]),
)
def test_stretch_matches_torch_antialiased_interpolate(seed, source, target, mode):
    image = _random_image(seed, *source)
    got = to_network_input(image, 3, *target, Preprocessing(interpolation=mode))
    expected = np.clip(_torch_resize(image.transpose(2, 0, 1), *target, mode), 0, 1)
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_one_pixel_wide_output_by_hand():
    # 2×2 → 3×1 bilinear: the two columns average (equal weights at ±0.5 from the centre),
    # then rows 2 → 3 sample at source rows -1/6 (clamped to 0), 1/2 and 7/6 (clamped to 1).
    grey = np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)
    got = to_network_input(grey, 1, 3, 1)
    np.testing.assert_allclose(got[0, :, 0], (0.5, 0.75, 1.0), atol=1e-6)


@pytest.mark.parametrize(("source", "target"), [((8, 8), (32, 32)), ((6, 4), (18, 12))])
def test_nearest_matches_torch_nearest_exact(source, target):
    image = _random_image(1, *source)
    got = to_network_input(image, 3, *target, Preprocessing(interpolation="nearest"))
    np.testing.assert_array_equal(got, _torch_resize(image.transpose(2, 0, 1), *target, "nearest"))


@pytest.mark.parametrize(
    ("source", "target", "cover", "offset"),
    [
        ((40, 60), (20, 20), (20, 30), (0, 5)),  # wide: cut left and right
        ((60, 30), (10, 10), (20, 10), (5, 0)),  # tall: cut top and bottom
        ((24, 48), (12, 36), (18, 36), (3, 0)),  # 3:1 target from 2:1: cut top and bottom
        ((20, 20), (8, 8), (8, 8), (0, 0)),  # same aspect: nothing cut
    ],
)
def test_centre_crop_equals_resizing_to_cover_then_cutting_the_centre(
    source, target, cover, offset
):
    # torchvision's Resize + CenterCrop, done with torch: scale to cover, cut the middle.
    image = _random_image(2, *source)
    got = to_network_input(image, 3, *target, Preprocessing(resize="crop"))
    covered = _torch_resize(image.transpose(2, 0, 1), *cover, "bilinear")
    top, left = offset
    expected = covered[:, top : top + target[0], left : left + target[1]]
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_letterbox_fits_the_whole_image_and_pads_with_fill():
    image = _random_image(3, 20, 40)  # 1:2 into 32×32 → 16×32 band in the middle
    got = to_network_input(image, 3, 32, 32, Preprocessing(resize="letterbox", fill=0.25))
    np.testing.assert_array_equal(got[:, :8], 0.25)
    np.testing.assert_array_equal(got[:, 24:], 0.25)
    band = _torch_resize(image.transpose(2, 0, 1), 16, 32, "bilinear")
    np.testing.assert_allclose(got[:, 8:24], band, atol=2e-5)


def test_letterbox_of_a_tall_strip_pads_left_and_right():
    image = np.ones((100, 1, 3), np.float32)
    got = to_network_input(image, 1, 10, 10, Preprocessing(resize="letterbox"))
    np.testing.assert_array_equal(got[0, :, 4], 1.0)  # the one-pixel column, (10 - 1) // 2
    assert got[0].sum() == 10.0


def test_one_channel_is_bt601_luminance():
    image = _random_image(4, 5, 7)
    got = to_network_input(image, 1, 5, 7)
    np.testing.assert_allclose(got[0], image @ LUMA, atol=1e-6)


def test_grey_picture_gives_three_equal_channels_and_back():
    grey = np.random.default_rng(5).random((6, 6), dtype=np.float32)
    rgb = to_network_input(grey, 3, 6, 6)
    for channel in range(3):
        np.testing.assert_allclose(rgb[channel], grey, atol=1e-6)
    np.testing.assert_allclose(to_network_input(grey, 1, 6, 6)[0], grey, atol=1e-6)


def test_other_channel_counts_repeat_the_luminance():
    image = _random_image(6, 4, 4)
    got = to_network_input(image, 5, 4, 4)
    assert got.shape == (5, 4, 4)
    for channel in range(5):
        np.testing.assert_allclose(got[channel], image @ LUMA, atol=1e-6)


def test_invert_turns_dark_on_light_into_light_on_dark():
    image = _random_image(7, 4, 6)
    got = to_network_input(image, 3, 4, 6, Preprocessing(invert=True))
    np.testing.assert_allclose(got, 1.0 - image.transpose(2, 0, 1), atol=1e-6)


def test_invert_leaves_the_letterbox_fill_alone():
    image = np.ones((4, 8, 3), np.float32)  # white → black after inverting
    prep = Preprocessing(resize="letterbox", invert=True, fill=0.0)
    np.testing.assert_array_equal(to_network_input(image, 1, 8, 8, prep), 0.0)


def test_imagenet_normalisation():
    image = _random_image(8, 3, 3)
    got = to_network_input(image, 3, 3, 3, Preprocessing(normalize="imagenet"))
    mean = np.array(IMAGENET_MEAN, np.float32)[:, None, None]
    std = np.array(IMAGENET_STD, np.float32)[:, None, None]
    np.testing.assert_allclose(got, (image.transpose(2, 0, 1) - mean) / std, rtol=1e-5, atol=1e-6)
    grey = to_network_input(image, 1, 3, 3, Preprocessing(normalize="imagenet"))
    np.testing.assert_allclose(grey[0], (image @ LUMA - 0.449) / 0.226, rtol=1e-5, atol=1e-5)


def test_mean_std_normalisation_per_channel_or_shared():
    image = _random_image(9, 2, 2)
    shared = to_network_input(image, 3, 2, 2, Preprocessing(normalize="mean_std"))
    np.testing.assert_allclose(shared, image.transpose(2, 0, 1) * 2 - 1, atol=1e-6)
    prep = Preprocessing(normalize="mean_std", mean=(0.1, 0.2, 0.3), std=(1.0, 2.0, 4.0))
    got = to_network_input(image, 3, 2, 2, prep)
    chw = image.transpose(2, 0, 1)
    for channel, (m, s) in enumerate([(0.1, 1.0), (0.2, 2.0), (0.3, 4.0)]):
        np.testing.assert_allclose(got[channel], (chw[channel] - m) / s, atol=1e-6)
    with pytest.raises(ValueError, match="mean has 3 values but the network input has 1"):
        to_network_input(image, 1, 2, 2, prep)


def test_output_is_c_contiguous_float32_of_the_requested_shape():
    image = _random_image(10, 30, 50)[:, ::2]  # a non-contiguous view is fine as input
    for prep in (Preprocessing(), Preprocessing(resize="crop"), Preprocessing(resize="letterbox")):
        got = to_network_input(image, 3, 17, 23, prep)
        assert got.shape == (3, 17, 23)
        assert got.dtype == np.float32 and got.flags.c_contiguous


def test_uint8_images_are_scaled():
    image = np.full((2, 2, 3), 255, np.uint8)
    np.testing.assert_array_equal(to_network_input(image, 1, 2, 2), 1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros((2, 2, 3)), 0, 2, 2), "channels must be a positive integer"),
        ((np.zeros((2, 2, 3)), 1, -1, 2), "height must be a positive integer"),
        ((np.zeros((2, 2, 3)), 1, 2, 2.5), "width must be a positive integer"),
        ((np.zeros((2, 2, 2)), 1, 2, 2), "expected an"),
        ((np.zeros((2, 2, 3)), 3, 10_000, 10_000), "too large"),
    ],
)
def test_bad_arguments_give_one_line_reasons(args, message):
    with pytest.raises(ValueError, match=message):
        to_network_input(*args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resize": "squash"}, "resize must be one of stretch, crop, letterbox"),
        ({"normalize": "zscore"}, "normalize must be one of"),
        ({"interpolation": "lanczos"}, "interpolation must be one of"),
        ({"std": (0.0,)}, "std must be positive"),
        ({"mean": ()}, "mean must be one or more finite numbers"),
        ({"mean": "abc"}, "mean must be a number or a list"),
        ({"fill": 2}, "fill must lie in"),
    ],
)
def test_invalid_preprocessing_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Preprocessing(**kwargs)


def test_preprocessing_json_round_trip_and_errors():
    prep = Preprocessing(resize="crop", normalize="mean_std", invert=True, mean=[0.1], std=[0.3])
    assert prep.mean == (0.1,)  # lists from JSON become tuples: hashable, comparable
    data = prep.to_json()
    assert data["mean"] == [0.1]
    assert Preprocessing.from_json(data) == prep
    assert hash(Preprocessing.from_json(data)) == hash(prep)
    with pytest.raises(ValueError, match="unknown keys: colour"):
        Preprocessing.from_json({"colour": "red"})
    with pytest.raises(ValueError, match="must be a JSON object"):
        Preprocessing.from_json(["crop"])


def test_describe():
    assert Preprocessing().describe() == "stretch"
    prep = Preprocessing(resize="crop", normalize="imagenet", invert=True)
    assert prep.describe() == "crop · ImageNet mean/std · inverted"
