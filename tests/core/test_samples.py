"""The bundled samples: listed, present, licensed, decodable, the right kind."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.images import load_image
from cnnviz.core.resources import resource_path
from cnnviz.core.samples import DIGIT, PHOTO, default_sample, list_samples, sample, samples

SAMPLES_DIR = resource_path("samples")


def test_every_file_is_listed_and_licensed_and_every_listing_exists():
    on_disk = {p.name for p in SAMPLES_DIR.iterdir() if p.name != "LICENSES.md"}
    listed = {s.file for s in list_samples()}
    assert on_disk == listed
    licences = (SAMPLES_DIR / "LICENSES.md").read_text(encoding="utf-8")
    for s in list_samples(PHOTO):
        assert f"`{s.file}`" in licences
    assert "digit_0.png" in licences and "CC BY 4.0" in licences


def test_samples_stay_small():
    total = sum(p.stat().st_size for p in SAMPLES_DIR.iterdir())
    assert total < 1.5 * 1024 * 1024


@pytest.mark.parametrize("name", [s.name for s in list_samples()])
def test_each_sample_decodes_at_most_512_pixels(name):
    image = load_image(sample(name).path)
    assert max(image.shape[:2]) <= 512
    assert image.std() > 0.05  # a real picture, not a blank


def test_digits_are_white_on_black_in_order():
    digits = list_samples(DIGIT)
    assert [s.name for s in digits] == [f"digit_{d}" for d in range(10)]
    for s in digits:
        image = load_image(s.path)[:, :, 0]
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        assert np.percentile(image, 25) < 0.02  # a black background
        assert border.mean() < 0.2  # dark edges
        assert image[8:24, 8:24].mean() > 0.3  # a bright digit inside


def test_kinds_lookup_and_default():
    assert len(list_samples(PHOTO)) >= 5
    assert samples("digit") == list_samples("digit")
    assert {s.kind for s in list_samples()} == {PHOTO, DIGIT}
    assert default_sample(1).kind == DIGIT
    assert default_sample(3).kind == PHOTO
    with pytest.raises(KeyError, match="no sample called 'dog'"):
        sample("dog")
    with pytest.raises(ValueError, match="unknown sample kind"):
        list_samples("video")
