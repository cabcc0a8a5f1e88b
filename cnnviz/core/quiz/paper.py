"""Questions answered on paper from the analysis: shapes, counts, fields.

Each maker takes one layer's LayerInfo (and the whole Analysis) and returns a
Question, or None where the kind does not fit that layer. Answers are the
analysis' own numbers, the ones `cnnviz summary --json` prints.
"""

from __future__ import annotations

from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.core.formula import output_size_lines, parameter_line
from cnnviz.core.layers._common import as_pair
from cnnviz.core.quiz.question import ADDRESS, FIELD, INT, SHAPE, Question

WEIGHTED = ("Conv2d", "Linear", "ConvTranspose2d", "BatchNorm2d", "GroupNorm")
MAC_TYPES = ("Conv2d", "Linear")


def x(values) -> str:
    return "×".join(str(v) for v in values)


def title(info: LayerInfo) -> str:
    """'layer 3.body.0, Conv2d(16, 3, padding=1)' as the question names it."""
    desc = info.layer.describe()
    return f"{info.name}, {info.layer.type}" + (f"({desc})" if desc else "")


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def output_shape(info: LayerInfo, analysis: Analysis, rng) -> Question:
    lines = output_size_lines(info.layer, info.input_shape)
    reveal = "\n".join(
        [
            f"input {x(info.input_shape)}",
            *lines,
            f"output {x(info.output_shape)}"
            + (" (C×H×W)" if len(info.output_shape) == 3 else " (a vector)"),
        ]
    )
    return Question(
        "output_shape",
        info.index,
        info.address,
        f"{title(info)} takes an input of {x(info.input_shape)}. What is its output shape "
        "(C×H×W, or the length of a vector)?",
        list(info.output_shape),
        SHAPE,
        reveal,
    )


def sharing_line(info: LayerInfo) -> str:
    """How many parameters a dense layer with the same input and output would need."""
    n_in, n_out = _prod(info.input_shape), _prod(info.output_shape)
    dense = n_in * n_out + n_out
    ratio = dense / info.params if info.params else float("inf")
    return (
        f"A dense layer from the same {n_in:,} inputs to the same {n_out:,} outputs needs "
        f"{n_in:,}·{n_out:,} + {n_out:,} = {dense:,} parameters: sharing the kernel over "
        f"every position saves {dense - info.params:,} ({ratio:,.0f}× fewer)."
    )


def params(info: LayerInfo, analysis: Analysis, rng) -> Question | None:
    if info.layer.type not in WEIGHTED or info.params == 0:
        return None
    reveal = parameter_line(info.layer, info.input_shape)
    if info.layer.type in ("Conv2d", "ConvTranspose2d"):
        reveal += "\n" + sharing_line(info)
    return Question(
        "params",
        info.index,
        info.address,
        f"{title(info)} takes an input of {x(info.input_shape)}. How many learned "
        "parameters (weights and biases) does it have?",
        info.params,
        INT,
        reveal,
    )


def macs(info: LayerInfo, analysis: Analysis, rng) -> Question | None:
    if info.layer.type not in MAC_TYPES or info.macs == 0:
        return None
    out_n = _prod(info.output_shape)
    per = info.macs // out_n
    if info.layer.type == "Conv2d":
        kh, kw = as_pair(info.layer.get("kernel_size"))
        groups = info.layer.get("groups")
        c_in = info.input_shape[0]
        c_term = f"{c_in}/{groups}" if groups > 1 else f"{c_in}"
        how = f"each output value sums {c_term}·{kh}·{kw} = {per} products"
    else:
        how = f"each output value sums {per} products"
    reveal = (
        f"{how}; there are {x(info.output_shape)} = {out_n:,} output values\n"
        f"MACs = {out_n:,} · {per:,} = {info.macs:,} (multiply-accumulates, bias not counted)"
    )
    return Question(
        "macs",
        info.index,
        info.address,
        f"{title(info)} takes an input of {x(info.input_shape)}. How many "
        "multiply-accumulate operations (MACs) does one forward of it take?",
        info.macs,
        INT,
        reveal,
    )


def _previous(info: LayerInfo, analysis: Analysis) -> LayerInfo | None:
    """The layer whose output this one takes (None: the network's input; a path's
    first layer takes what its block takes)."""
    *head, last = info.address.split(".")
    if int(last) > 0:
        return analysis.at(".".join([*head, str(int(last) - 1)]))
    if info.parent is None:
        return None
    return _previous(analysis.layers[info.parent], analysis)


def _field_of(info: LayerInfo | None, analysis: Analysis):
    """A layer's receptive field; None stands for the network's input."""
    return analysis.receptive_field_at(-1) if info is None else info.receptive_field


def _previous_field(info: LayerInfo, analysis: Analysis):
    """The field of this layer's input: the layer before it in its path, or the
    input of the block holding it when it is a path's first layer."""
    return _field_of(_previous(info, analysis), analysis)


def _field_growth(info: LayerInfo, analysis: Analysis, most: int = 6) -> str:
    """How the field got its size: each earlier layer that changed it, from the input."""
    steps, here = [], info
    while here is not None:
        before = _previous(here, analysis)
        rf, old = here.receptive_field, _field_of(before, analysis)
        if rf is not None and (old is None or (old.size, old.jump) != (rf.size, rf.jump)):
            steps.append(f"{here.name} {here.layer.type} {x(rf.size)}")
        here = before
    shown = list(reversed(steps))
    if len(shown) > most:
        shown = [*shown[: most // 2], "…", *shown[-most // 2 :]]
    return "grown by: input 1×1 → " + " → ".join(shown) if shown else ""


def receptive_field(info: LayerInfo, analysis: Analysis, rng) -> Question | None:
    rf = info.receptive_field
    if rf is None or rf.flattened or not rf.regular or len(info.output_shape) != 3:
        return None
    hw = list(analysis.input_shape[1:]) if rf.is_global else list(rf.size)
    return Question(
        "receptive_field",
        info.index,
        info.address,
        f"{title(info)}: how many input pixels (height × width) can one of its output "
        "values see — its receptive field on the network's input?",
        hw,
        FIELD,
        _field_reveal(info, analysis, hw),
        also=("all",) if rf.is_global else (),
    )


def _field_reveal(info: LayerInfo, analysis: Analysis, hw) -> str:
    rf = info.receptive_field
    if rf.is_global:
        return f"every output mixes the whole input: the field is all {x(hw)} pixels"
    if info.layer.is_block:
        return (
            f"a block's field is the union of its paths' fields: {x(rf.size)} "
            f"(jump {x(rf.jump)} input pixels between neighbours)"
        )
    before = _previous_field(info, analysis)
    lines = []
    if before is not None and before.size == rf.size and before.jump == rf.jump:
        lines.append("this layer has no window (k_eff = 1): the field stays its input's")
    elif before is not None and before.regular and not before.is_global:
        for axis, name in enumerate(("height", "width")):
            grow = rf.size[axis] - before.size[axis]
            lines.append(
                f"{name}: r = r_in + (k_eff − 1)·jump_in = {before.size[axis]} + "
                f"{grow // max(before.jump[axis], 1)}·{before.jump[axis]} = {rf.size[axis]}"
            )
        lines.insert(0, "k_eff = d·(k − 1) + 1 is the window's span (1 for element-wise layers)")
    lines.append(f"field {x(rf.size)}, neighbours {x(rf.jump)} input pixels apart")
    growth = _field_growth(info, analysis)
    if growth:
        lines.append(growth)
    return "\n".join(lines)


def largest_layer(analysis: Analysis, rng) -> Question | None:
    leaves = [i for i in analysis.layers if not i.layer.is_block and i.computable]
    if not leaves or max(i.params for i in leaves) == 0:
        return None
    most = max(i.params for i in leaves)
    best = [i for i in leaves if i.params == most]
    ranked = sorted(leaves, key=lambda i: -i.params)[:3]
    reveal = "\n".join(f"{i.name} {i.layer.type}: {i.params:,} parameters" for i in ranked)
    return Question(
        "largest_layer",
        best[0].index,
        best[0].address,
        "Which layer holds the most parameters? (type its address, e.g. 3 or 3.body.0)",
        best[0].address,
        ADDRESS,
        reveal + f"\nof {analysis.total_params:,} in all",
        also=tuple(i.address for i in best[1:]),
    )


def dropout_eval(info: LayerInfo, analysis: Analysis, rng) -> Question | None:
    if info.layer.type not in ("Dropout", "Dropout2d"):
        return None
    p = float(info.layer.get("p"))
    scale = "∞" if p >= 1 else f"{1 / (1 - p):.4g}"
    reveal = (
        "At evaluation (model.eval()) dropout is the identity: every value passes "
        "unchanged, ×1.\n"
        f"In training torch zeroes each {'channel' if info.layer.type == 'Dropout2d' else 'value'}"
        f" with probability p = {p:g} and scales the kept ones by 1/(1−p) = {scale}, "
        "so the expected value is the same and nothing needs rescaling at evaluation "
        "(the older convention instead multiplies by 1−p at evaluation)."
    )
    return Question(
        "dropout_eval",
        info.index,
        info.address,
        f"{title(info)}: at evaluation, what does it multiply each value by?",
        1,
        INT,
        reveal,
    )


def batchnorm_params(info: LayerInfo, analysis: Analysis, rng) -> Question | None:
    if info.layer.type != "BatchNorm2d":
        return None
    c = info.input_shape[0]
    learned = 2 * c if info.layer.get("affine") else 0
    buffers = 2 * c + 1 if info.layer.get("track_running_stats") else 0
    ask_buffers = bool(rng.integers(2)) and buffers > 0
    reveal = (
        f"learned: γ (weight) and β (bias), one each per channel: 2·{c} = {learned}"
        + ("" if learned else " — but affine=False: none")
        + f"\nbuffers (saved, not learned): running_mean and running_var, one each per "
        f"channel, and num_batches_tracked: 2·{c} + 1 = {buffers}"
        + ("" if buffers else " — but track_running_stats=False: none")
    )
    what = "buffer values (saved but not learned)" if ask_buffers else "learned parameters"
    return Question(
        "batchnorm_params",
        info.index,
        info.address,
        f"{title(info)} normalises {c} channels. How many {what} does it hold?",
        buffers if ask_buffers else learned,
        INT,
        reveal,
    )
