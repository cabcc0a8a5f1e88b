"""The gradient view's comparisons: deep textbook stacks and one-change variants.

A learner compares the gradients of two configurations side by side. The
presets here are generated, not files: deep stacks of 3×3 convolutions on a
1×28×28 input (so the bundled digits batch fits them) whose only difference
is the one the lesson is about. The variants change one thing of any network:
every activation swapped for another, residual shortcuts added or removed
(the initialisation is the request's ``init``, not a change of the stack).

Weights are seeded per layer by its type, parameters and input shape
(cnnviz.compute.model), so a variant's convolutions start with exactly the
weights of the original's: the bars differ only by what the lesson changes.
"""

from __future__ import annotations

from collections.abc import Callable

from cnnviz.core.activations import COMPARABLE
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.blocks import RESIDUAL

DIGITS_INPUT = InputShape(1, 28, 28)
DEPTH = 10  # weight layers: DEPTH - 1 convolutions and the classifier
WIDTH = 16  # channels of every convolution

ACTIVATIONS = ("Sigmoid", "Tanh", "ReLU")
INITS = ("default", "he", "xavier")
INIT_TITLES = {"default": "default init", "he": "He init", "xavier": "Xavier init"}


def deep_stack(activation: str = "ReLU", *, residual: bool = False) -> Architecture:
    """DEPTH weight layers: a 3×3 convolution and `activation`, DEPTH - 1 times, then a
    linear classifier over 10 digits. With `residual`, every convolution after the
    first and its activation sit in a Residual block with an identity shortcut."""
    layers = [Layer.make("Conv2d", out_channels=WIDTH, kernel_size=3, padding=1)]
    layers.append(Layer.make(activation))
    for _ in range(DEPTH - 2):
        pair = (
            Layer.make("Conv2d", out_channels=WIDTH, kernel_size=3, padding=1),
            Layer.make(activation),
        )
        layers.extend([Layer.block(RESIDUAL, (pair, ()))] if residual else pair)
    layers += [Layer.make("Flatten"), Layer.make("Linear", out_features=10)]
    name = f"Deep {activation} stack" + (" with shortcuts" if residual else "")
    classes = [str(d) for d in range(10)]
    return Architecture(name, DIGITS_INPUT, tuple(layers), {"classes": classes})


# Preset title → (architecture maker, init). Menu order: the lessons' pairs.
PRESETS: dict[str, tuple[Callable[[], Architecture], str]] = {
    "Deep sigmoid stack (10 layers)": (lambda: deep_stack("Sigmoid"), "default"),
    "Deep tanh stack (10 layers)": (lambda: deep_stack("Tanh"), "default"),
    "Deep ReLU stack (10 layers)": (lambda: deep_stack("ReLU"), "default"),
    "Deep ReLU stack, He init": (lambda: deep_stack("ReLU"), "he"),
    "Deep ReLU stack, Xavier init": (lambda: deep_stack("ReLU"), "xavier"),
    "Deep sigmoid stack with residual shortcuts": (
        lambda: deep_stack("Sigmoid", residual=True),
        "default",
    ),
    "Deep ReLU stack with residual shortcuts": (
        lambda: deep_stack("ReLU", residual=True),
        "default",
    ),
}

# One-click lessons: (title, left preset, right preset).
LESSONS = (
    ("Sigmoid vs ReLU", "Deep sigmoid stack (10 layers)", "Deep ReLU stack (10 layers)"),
    ("Tanh vs ReLU", "Deep tanh stack (10 layers)", "Deep ReLU stack (10 layers)"),
    (
        "Plain vs residual",
        "Deep sigmoid stack (10 layers)",
        "Deep sigmoid stack with residual shortcuts",
    ),
    ("Xavier vs He", "Deep ReLU stack, Xavier init", "Deep ReLU stack, He init"),
)


def preset(title: str) -> tuple[Architecture, str]:
    """(architecture, init) of the preset called `title`; KeyError names the choices."""
    if title not in PRESETS:
        raise KeyError(f"no gradient preset {title!r} (presets: {', '.join(PRESETS)})")
    make, init = PRESETS[title]
    return make(), init


def _map_layers(layers, change: Callable[[Layer], list[Layer]]) -> tuple[Layer, ...]:
    out: list[Layer] = []
    for layer in layers:
        if layer.is_block:
            layer = layer.with_paths(tuple(_map_layers(p, change) for p in layer.paths))
        out.extend(change(layer))
    return tuple(out)


def count_activations(arch: Architecture) -> int:
    return sum(1 for _, layer in arch.walk() if layer.type in COMPARABLE)


def with_activation(arch: Architecture, activation: str) -> Architecture:
    """Every element-wise activation (inside blocks too) replaced by `activation`."""

    def change(layer: Layer) -> list[Layer]:
        return [Layer.make(activation) if layer.type in COMPARABLE else layer]

    return arch.with_layers(_map_layers(arch.layers, change))


def without_shortcuts(arch: Architecture) -> Architecture:
    """Every Residual block replaced by its body alone (the shortcut path dropped)."""

    def change(layer: Layer) -> list[Layer]:
        return list(layer.paths[0]) if layer.type == RESIDUAL else [layer]

    return arch.with_layers(_map_layers(arch.layers, change))


def with_shortcuts(arch: Architecture) -> Architecture:
    """Each top-level [weight layer, activation] pair that keeps its input's shape wrapped
    in a Residual block with an identity shortcut (a pair that changes the shape cannot
    be added to its input, so it stays plain)."""
    from cnnviz.core.analysis import analyze

    top = [info for info in analyze(arch).layers if info.parent is None]
    out: list[Layer] = []
    i = 0
    while i < len(top):
        info = top[i]
        pair = top[i : i + 2]
        if (
            len(pair) == 2
            and info.layer.type in ("Conv2d", "Linear")
            and pair[1].layer.type in COMPARABLE
            and info.input_shape is not None
            and info.input_shape == pair[1].output_shape
        ):
            out.append(Layer.block(RESIDUAL, ((info.layer, pair[1].layer), ())))
            i += 2
            continue
        out.append(info.layer)
        i += 1
    return arch.with_layers(out)


def has_shortcuts(arch: Architecture) -> bool:
    return any(layer.type == RESIDUAL for _, layer in arch.walk())


# The "same network with one change" comparisons: title → (change, init or None).
# init None keeps the left side's; the change None keeps the stack.
VARIANTS: dict[str, tuple[Callable[[Architecture], Architecture] | None, str | None]] = {
    "Same with Sigmoid": (lambda a: with_activation(a, "Sigmoid"), None),
    "Same with Tanh": (lambda a: with_activation(a, "Tanh"), None),
    "Same with ReLU": (lambda a: with_activation(a, "ReLU"), None),
    "Same without residual shortcuts": (without_shortcuts, None),
    "Same with residual shortcuts": (with_shortcuts, None),
    "Same with He init": (None, "he"),
    "Same with Xavier init": (None, "xavier"),
    "Same with default init": (None, "default"),
}


def variant(title: str, arch: Architecture, init: str) -> tuple[Architecture, str]:
    """(architecture, init) of `arch` (initialised by `init`) changed as `title` says."""
    change, new_init = VARIANTS[title]
    return (change(arch) if change else arch), (new_init or init)


def variant_problem(title: str, arch: Architecture) -> str | None:
    """Why the variant would not change `arch`, in one line; None when it does."""
    change = VARIANTS[title][0]
    if change is None:
        return None
    if change(arch) == arch:
        if "shortcuts" in title:
            return f"{title.lower()}: the network has no layers this changes"
        return f"{title.lower()}: the network has no activation that differs"
    return None
