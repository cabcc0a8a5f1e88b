"""What-if questions: the output size after changing one window parameter.

The answer comes from the same formula the stack uses (the layer type's own
shape rule on the changed layer); tests check it against torch.
"""

from __future__ import annotations

from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.formula import output_size_lines
from cnnviz.core.layers._common import as_pair
from cnnviz.core.quiz.paper import title, x
from cnnviz.core.quiz.question import SHAPE, Question
from cnnviz.core.shapes import ShapeError, layer_cost

WINDOWED = ("Conv2d", "MaxPool2d", "AvgPool2d")
# Which parameters each level may change; dilation is the hard one.
CHANGES = {1: ("stride", "padding"), 2: ("stride", "padding"), 3: ("dilation", "stride")}


def _can_change(info: LayerInfo, name: str) -> bool:
    if name == "dilation" and info.layer.type == "AvgPool2d":
        return False  # AvgPool2d has no dilation
    return not (name == "padding" and isinstance(info.layer.get("padding"), str))


def _current(info: LayerInfo, name: str) -> int:
    value = info.layer.get(name)
    if name == "stride" and value is None:  # pooling: the stride defaults to the kernel
        value = info.layer.get("kernel_size")
    return as_pair(value)[0]


def what_if(info: LayerInfo, analysis: Analysis, rng, level: int = 2) -> Question | None:
    if info.layer.type not in WINDOWED or info.output_shape is None:
        return None
    names = [n for n in CHANGES[level] if _can_change(info, n)]
    if not names:
        return None
    name = names[int(rng.integers(len(names)))]
    old = _current(info, name)
    low = 0 if name == "padding" else 1
    options = [v for v in range(low, old + 4) if v != old]
    for pick in rng.permutation(len(options)):
        new = int(options[pick])
        try:
            changed = info.layer.with_params(**{name: new})
            cost = layer_cost(changed, info.input_shape)
        except (ArchitectureError, ShapeError):
            continue
        if min(cost.output_shape[1:]) < 1:
            continue
        return _question(info, name, old, new, changed, cost.output_shape)
    return None


def _question(info: LayerInfo, name: str, old: int, new: int, changed, out) -> Question:
    lines = output_size_lines(changed, info.input_shape)
    reveal = "\n".join(
        [
            f"with {name} {new} (was {old}), on the input {x(info.input_shape)}:",
            *lines,
            f"output {x(out)} (it was {x(info.output_shape)})",
        ]
    )
    return Question(
        "what_if",
        info.index,
        info.address,
        f"{title(info)} takes an input of {x(info.input_shape)} and gives "
        f"{x(info.output_shape)}. If its {name} were {new} instead of {old}, what would "
        "its output shape be (C×H×W)?",
        list(out),
        SHAPE,
        reveal,
        extra={"change": {name: new}},
    )
