"""The bundled sample images (``resources/samples/``), for the Samples menu.

    from cnnviz.core.samples import list_samples, sample, default_sample
    for s in list_samples():     # Sample(name, file, kind, title); also list_samples("digit")
        menu.addAction(s.title)  # then load_image(s.path)

``kind`` is ``"photo"`` (photographs with clear edges and textures) or
``"digit"`` (handwritten digits, white on black like the drawing pad and the
bundled digit data). Sources and licences: ``resources/samples/LICENSES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnnviz.core.resources import resource_path

PHOTO = "photo"
DIGIT = "digit"


@dataclass(frozen=True)
class Sample:
    """One bundled image: a short name, its file in resources/samples, its kind."""

    name: str
    file: str
    kind: str  # PHOTO | DIGIT
    title: str

    @property
    def path(self) -> Path:
        return resource_path("samples", self.file)


_PHOTOS = (
    ("cat", "cat.jpg", "Cat (Chelsea)"),
    ("coffee", "coffee.jpg", "Coffee cup"),
    ("astronaut", "astronaut.jpg", "Astronaut"),
    ("rocket", "rocket.jpg", "Rocket launch"),
    ("camera", "camera.jpg", "Cameraman (grey)"),
    ("brick", "brick.jpg", "Brick wall (texture)"),
    ("gravel", "gravel.jpg", "Gravel (texture)"),
)

SAMPLES: tuple[Sample, ...] = tuple(
    Sample(name, file, PHOTO, title) for name, file, title in _PHOTOS
) + tuple(Sample(f"digit_{d}", f"digit_{d}.png", DIGIT, f"Digit {d}") for d in range(10))


def list_samples(kind: str | None = None) -> tuple[Sample, ...]:
    """All samples, or those of one kind (``"photo"`` or ``"digit"``)."""
    if kind is None:
        return SAMPLES
    if kind not in (PHOTO, DIGIT):
        raise ValueError(f"unknown sample kind {kind!r}; expected 'photo' or 'digit'")
    return tuple(s for s in SAMPLES if s.kind == kind)


samples = list_samples  # the same function under the name the menu code may use


def sample(name: str) -> Sample:
    """The sample called `name` (e.g. ``"cat"``, ``"digit_7"``); KeyError naming the choices."""
    for s in SAMPLES:
        if s.name == name:
            return s
    choices = ", ".join(s.name for s in SAMPLES)
    raise KeyError(f"no sample called {name!r}; the samples are: {choices}")


def default_sample(channels: int = 3) -> Sample:
    """A sensible first input: a digit for 1-channel networks, the cat otherwise."""
    return sample("digit_3") if channels == 1 else sample("cat")
