"""load_image and array_to_image: the generated corpus, checked by values."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from cnnviz.core import images
from cnnviz.core.images import (
    ImageError,
    Preprocessing,
    array_to_image,
    load_image,
    looks_like_image_file,
    to_network_input,
)
from tests.image_corpus import (
    CORPUS_ERRORS,
    EXPECTED_SHAPES,
    PIXEL_COLOUR,
    exif_pattern,
    write_corpus,
)

ONE_STEP = 1 / 255 + 1e-6  # one 8-bit level


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_covers_the_issue_list(corpus):
    # Every named case of the issue, so a shrinking corpus cannot go unnoticed.
    required = {
        "truncated_png", "truncated_jpeg", "empty", "text_named_png", "bomb_png", "cmyk_jpeg",
        "grey16_png", "rgba_png", "la_png", "palette_transparent_png", "animated_gif",
        "exif_rotated_jpeg", "one_pixel_png", "strip_1x5000_png",
    }  # fmt: skip
    assert required <= set(corpus)
    assert set(corpus) == set(CORPUS_ERRORS) | set(EXPECTED_SHAPES)


@pytest.mark.parametrize("name", sorted(CORPUS_ERRORS))
def test_broken_files_give_one_line_errors_naming_the_file(corpus, name):
    path = corpus[name]
    with pytest.raises(ImageError) as caught:
        load_image(path)
    message = str(caught.value)
    assert message.startswith(f"{path.name}: ")
    assert "\n" not in message
    assert CORPUS_ERRORS[name] in caught.value.reason.lower()


@pytest.mark.parametrize("name", sorted(EXPECTED_SHAPES))
def test_decodable_files_give_rgb_float_arrays(corpus, name):
    image = load_image(corpus[name])
    assert image.shape == (*EXPECTED_SHAPES[name], 3)
    assert image.dtype == np.float32
    assert image.flags.c_contiguous
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_rgba_is_composited_on_white(corpus):
    image = load_image(corpus["rgba_png"])
    half = 1 - 128 / 255  # red at alpha 128/255 over white
    np.testing.assert_allclose(image[0, 0], (1.0, half, half), atol=1e-6)
    np.testing.assert_allclose(image[0, 1], (1.0, 1.0, 1.0))  # fully transparent
    np.testing.assert_allclose(image[1, 0], (0.0, 0.0, 1.0))
    np.testing.assert_allclose(image[1, 1], (0.0, 0.0, 0.0))


def test_grey_with_alpha_is_composited_on_white(corpus):
    image = load_image(corpus["la_png"])
    expected = np.array([[1 - 128 / 255, 100 / 255], [1.0, 0.0]], np.float32)
    for channel in range(3):
        np.testing.assert_allclose(image[:, :, channel], expected, atol=1e-6)


def test_palette_transparency_becomes_white(corpus):
    image = load_image(corpus["palette_transparent_png"])
    np.testing.assert_allclose(image[0, 0], (1, 1, 1))
    np.testing.assert_allclose(image[0, 1], (1, 0, 0))
    np.testing.assert_allclose(image[1, 0], (0, 0, 1))
    np.testing.assert_allclose(image[1, 1], (1, 0, 0))


@pytest.mark.parametrize("name", ["grey16_png", "grey16_tiff"])
def test_16_bit_grey_scales_by_65535(corpus, name):
    image = load_image(corpus[name])
    expected = np.ones((4, 3), np.float32)
    expected[0] = (0.0, 32768 / 65535, 1.0)
    for channel in range(3):
        np.testing.assert_allclose(image[:, :, channel], expected, atol=1e-6)


def test_cmyk_red_is_red(corpus):
    image = load_image(corpus["cmyk_jpeg"])
    np.testing.assert_allclose(image.reshape(-1, 3).mean(axis=0), (1, 0, 0), atol=3 / 255)


def test_animated_gif_gives_its_first_frame(corpus):
    image = load_image(corpus["animated_gif"])
    np.testing.assert_allclose(image.reshape(-1, 3), np.tile((1.0, 0.0, 0.0), (64, 1)))


def test_exif_orientation_6_rotates_clockwise(corpus):
    image = load_image(corpus["exif_rotated_jpeg"])
    expected = np.rot90(exif_pattern(), k=-1) / 255.0  # numpy's clockwise quarter turn
    assert image.shape[:2] == expected.shape
    assert np.abs(image[:, :, 0] - expected).mean() < 0.02
    # The stored top-left white block is displayed top-right, the grey one bottom-right.
    assert image[2:14, 34:46].mean() > 0.95
    assert abs(image[50:62, 34:46].mean() - 128 / 255) < 0.03
    assert image[2:14, 2:14].mean() < 0.05


def test_one_pixel_keeps_its_colour(corpus):
    image = load_image(corpus["one_pixel_png"])
    np.testing.assert_allclose(image[0, 0], np.array(PIXEL_COLOUR) / 255, atol=1e-6)


def test_long_strip_is_reduced_keeping_its_ramp(corpus):
    image = load_image(corpus["strip_1x5000_png"])[:, 0, 0]
    centres = (np.arange(2048) + 0.5) / 2048  # where each reduced row samples the ramp
    np.testing.assert_allclose(image[8:-8], centres[8:-8], atol=0.01)


def test_bilevel_image_is_black_and_white(corpus):
    image = load_image(corpus["bilevel_png"])[:, :, 0]
    np.testing.assert_array_equal(image, [[1, 0, 1, 0], [0, 1, 0, 1]])


def test_content_not_extension_decides_the_format(corpus):
    image = load_image(corpus["png_named_jpg"])
    np.testing.assert_allclose(image.reshape(-1, 3), np.tile((1.0, 0.0, 0.0), (15, 1)))


def test_large_jpeg_is_reduced_to_the_maximum_side(corpus):
    image = load_image(corpus["large_jpeg"])[:, :, 0]
    assert max(image.shape) == images.MAX_SIDE
    assert image[:, :1000].min() > 0.9 and image[:, 1048:].max() < 0.1


def test_jpeg_draft_mode_decodes_a_huge_jpeg_that_a_png_of_its_size_cannot(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 1_000_000)
    monkeypatch.setattr(images, "MAX_SIDE", 512)
    picture = Image.new("RGB", (3000, 3000), (200, 40, 90))  # 9 megapixels
    picture.save(tmp_path / "big.jpg", quality=95)
    picture.save(tmp_path / "big.png")
    image = load_image(tmp_path / "big.jpg")  # drafted at 1/4: 750², then 512²
    assert image.shape == (512, 512, 3)
    np.testing.assert_allclose(image.mean(axis=(0, 1)), np.array((200, 40, 90)) / 255, atol=0.02)
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(tmp_path / "big.png")


def test_pillow_bomb_warning_is_an_error(tmp_path, monkeypatch):
    # Below Pillow's error threshold Pillow only warns; that warning must refuse the file.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    Image.new("RGB", (40, 40)).save(tmp_path / "warns.png")  # 1600 pixels: a warning
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(tmp_path / "warns.png")


def test_bytes_are_decoded_and_named(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), (0, 255, 0)).save(buffer, "PNG")
    image = load_image(buffer.getvalue(), name="clipboard")
    np.testing.assert_allclose(image.reshape(-1, 3), np.tile((0.0, 1.0, 0.0), (6, 1)))
    with pytest.raises(ImageError, match=r"^clipboard: the file is empty"):
        load_image(b"", name="clipboard")
    with pytest.raises(ImageError, match=r"^pasted image: "):
        load_image(b"GIF89a broken")


def test_missing_file_and_folder_are_named(tmp_path):
    with pytest.raises(ImageError, match=r"^nothing\.png: no such file$"):
        load_image(tmp_path / "nothing.png")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)


def test_svg_gets_a_specific_hint(tmp_path):
    path = tmp_path / "logo.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    with pytest.raises(ImageError, match="SVG drawings are not supported"):
        load_image(path)


def test_image_error_survives_a_round_trip_through_its_message():
    error = ImageError("a.png", "the file is empty (0 bytes)")
    again = ImageError(str(error))
    assert str(again) == str(error) == "a.png: the file is empty (0 bytes)"
    assert isinstance(error, ValueError)


def test_looks_like_image_file(tmp_path, corpus):
    assert looks_like_image_file(corpus["png_named_jpg"])
    assert looks_like_image_file(corpus["text_named_png"])  # by its extension
    unnamed = tmp_path / "photo_without_extension"
    unnamed.write_bytes(corpus["cmyk_jpeg"].read_bytes())
    assert looks_like_image_file(unnamed)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert not looks_like_image_file(notes)
    assert not looks_like_image_file(tmp_path / "missing")


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(4))))
def test_rgba_png_matches_pillows_own_compositing(rgba):
    # Reference: Pillow's alpha_composite over an opaque white background.
    picture = Image.fromarray(rgba, "RGBA")
    white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
    reference = np.asarray(Image.alpha_composite(white, picture).convert("RGB")) / 255.0
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    np.testing.assert_allclose(load_image(buffer.getvalue()), reference, atol=ONE_STEP)
    np.testing.assert_allclose(array_to_image(rgba), reference, atol=ONE_STEP)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 8), st.integers(1, 8))))
def test_array_to_image_grey_uint8_and_float_agree(grey):
    expected = np.repeat((grey / 255.0)[:, :, None], 3, axis=2)
    np.testing.assert_allclose(array_to_image(grey), expected, atol=1e-6)
    np.testing.assert_allclose(array_to_image(grey / 255.0), expected, atol=1e-6)
    np.testing.assert_allclose(array_to_image(grey[:, :, None]), expected, atol=1e-6)


def test_array_to_image_other_types_and_shapes():
    np.testing.assert_allclose(array_to_image(np.array([[65535, 0]], np.uint16))[0, :, 0], (1, 0))
    np.testing.assert_allclose(array_to_image(np.array([[True, False]]))[0, :, 1], (1, 0))
    grey_alpha = np.array([[[0, 255], [0, 0]]], np.uint8)  # opaque black, transparent black
    np.testing.assert_allclose(array_to_image(grey_alpha)[0, :, 2], (0, 1))
    wide = array_to_image(np.zeros((10, 5000), np.uint8))
    assert wide.shape == (4, 2048, 3)


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.zeros((0, 4), np.uint8), "no pixels"),
        (np.zeros((2, 2, 5), np.uint8), "shape"),
        (np.zeros(7, np.uint8), "shape"),
        (np.full((2, 2), 1.5, np.float32), "[0, 1]"),
        (np.full((2, 2), np.nan, np.float32), "finite"),
        (np.zeros((2, 2), np.int64), "pixel type"),
    ],
)
def test_array_to_image_rejects_bad_arrays_by_name(array, reason):
    with pytest.raises(ImageError) as caught:
        array_to_image(array, name="drawing")
    assert str(caught.value).startswith("drawing: ")
    assert reason in caught.value.reason


@pytest.mark.parametrize("policy", ["stretch", "crop", "letterbox"])
def test_every_decodable_file_becomes_a_network_input(corpus, policy):
    prep = Preprocessing(resize=policy)
    for name in EXPECTED_SHAPES:
        image = load_image(corpus[name])
        for shape in ((1, 32, 32), (3, 64, 64)):
            x = to_network_input(image, *shape, prep)
            assert x.shape == shape and x.dtype == np.float32, name
            assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0, name
    # Uniform pictures stay uniform whatever the policy (letterbox adds its black fill).
    pixel = to_network_input(load_image(corpus["one_pixel_png"]), 3, 8, 8, Preprocessing())
    np.testing.assert_allclose(
        pixel, np.broadcast_to(np.array(PIXEL_COLOUR)[:, None, None] / 255, (3, 8, 8)), atol=1e-6
    )
    red = to_network_input(load_image(corpus["animated_gif"]), 3, 4, 4, prep)
    np.testing.assert_allclose(
        red[:, 1:3, 1:3], np.broadcast_to([[[1.0]], [[0.0]], [[0.0]]], (3, 2, 2))
    )


def test_bomb_messages_state_the_size_and_the_limit(corpus):
    with pytest.raises(ImageError) as png:
        load_image(corpus["bomb_png"])
    assert "900 megapixels is over the safety limit of 64 megapixels" in str(png.value)
    with pytest.raises(ImageError) as jpeg:
        load_image(corpus["bomb_jpeg"])
    assert "65000×65000 pixels (4225 megapixels; 66 megapixels even at reduced size)" in str(
        jpeg.value
    )
