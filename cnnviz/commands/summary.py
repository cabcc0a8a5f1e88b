"""`cnnviz summary ARCH`: the stack on paper as a table or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cnnviz.commands import CommandError
from cnnviz.core import safe_json
from cnnviz.core.analysis import Analysis, LayerInfo, analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, check_input
from cnnviz.core.catalogue import IMPORTED
from cnnviz.core.layers.hooked import is_hooked_metadata
from cnnviz.core.memory import estimate, memory_budget, refusal
from cnnviz.core.presets import PRESETS, load_any

NAME = "summary"
HELP = "Print every layer's output shape, parameters, receptive field and MACs."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "arch",
        help=f"architecture file or preset ({', '.join(PRESETS)}), or your own PyTorch model: "
        "FILE.py:CLASS (runs that file), a TorchScript .pt or an exported .pt2",
    )
    parser.add_argument("--json", action="store_true", help="print strict JSON instead of a table")
    parser.add_argument(
        "--input", metavar="C,H,W", help="override the input shape (needed for your own model)"
    )


def parse_input(text: str):
    try:
        c, h, w = (int(part) for part in text.split(","))
    except ValueError:
        raise CommandError(f"--input must be C,H,W (three whole numbers), got {text!r}") from None
    try:
        return check_input(c, h, w)
    except ArchitectureError as exc:
        raise CommandError(str(exc)) from None


def load_architecture(arch_arg: str, input_arg: str | None = None) -> Architecture:
    """The architecture named on the command line, as a CommandError if unusable."""
    from cnnviz.commands.imported import is_model_source, load_imported
    from cnnviz.core.model_sources import missing_name

    if is_model_source(arch_arg):
        return load_imported(arch_arg, input_arg).architecture
    if missing_name(arch_arg):
        raise CommandError(missing_name(arch_arg))
    try:
        arch = load_any(arch_arg)
    except ArchitectureError as exc:
        raise CommandError(str(exc)) from None
    if input_arg:
        arch = arch.with_input(parse_input(input_arg))
    return arch


def _shape(shape) -> str:
    return "×".join(str(s) for s in shape)


def _field(info: LayerInfo) -> tuple[str, str]:
    rf = info.receptive_field
    if rf.is_global:
        return "all", "-"
    size = str(rf.size[0]) if rf.size[0] == rf.size[1] else _shape(rf.size)
    if rf.flattened:  # a vector: each value its own position's field, no grid of them
        return size, "-"
    jump = str(rf.jump[0]) if rf.jump[0] == rf.jump[1] else _shape(rf.jump)
    return size, jump


def layer_record(info: LayerInfo, input_hw) -> dict[str, Any]:
    rf = info.receptive_field
    return {
        "index": info.index,
        "address": info.address,
        "type": info.layer.type,
        "params_desc": info.layer.describe(),
        "output_shape": list(info.output_shape),
        "params": info.params,
        "weights": info.weights,
        "biases": info.biases,
        "receptive_field": list(input_hw) if rf.is_global else list(rf.size),
        "receptive_field_global": rf.is_global,
        "jump": None if rf.is_global else list(rf.jump),
        "start": None if rf.is_global else list(rf.start),
        "macs": info.macs,
    }


def as_json(arch: Architecture, analysis: Analysis) -> dict[str, Any]:
    input_hw = analysis.input_shape[1:]
    return {
        "name": arch.name,
        "input": list(analysis.input_shape),
        "layers": [layer_record(info, input_hw) for info in analysis.layers],
        "output_shape": list(analysis.output_shape),
        "total_params": analysis.total_params,
        "total_macs": analysis.total_macs,
        **_memory_record(analysis),
    }


def _memory_record(analysis: Analysis) -> dict[str, Any]:
    """What a forward needs in memory, in bytes: the total, its parts, and the layer
    that costs most (cnnviz.core.memory)."""
    memory = estimate(analysis)
    dominant = memory.dominant
    return {
        "memory_bytes": memory.total,
        "memory_dominant_layer": None if dominant is None else dominant.index,
        "memory_breakdown": memory.breakdown(),
    }


def table_lines(header: tuple[str, ...], rows: list[tuple[str, ...]], right: set[int]) -> list[str]:
    """The header, a rule, the rows and a rule, in columns as wide as their widest cell;
    the columns in ``right`` are aligned right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row):
        cells = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(header))
    return [line(header), rule, *(line(r) for r in rows), rule]


def as_table(arch: Architecture, analysis: Analysis) -> str:
    header = ("#", "layer", "output", "params", "RF", "jump", "MACs")
    rows = [("", "input", _shape(analysis.input_shape), "", "1", "1", "")]
    for info in analysis.layers:
        label = info.layer.type + (f"({info.layer.describe()})" if info.layer.describe() else "")
        rows.append(
            (
                info.address,  # "3", or "3.body.0" inside a block
                "  " * info.depth + label,
                _shape(info.output_shape),
                f"{info.params:,}",
                *_field(info),
                "not counted" if info.layer.type in IMPORTED else f"{info.macs:,}",
            )
        )
    out = [f"{arch.name}  (input {_shape(analysis.input_shape)})"]
    out += table_lines(header, rows, right={0, 3, 6})
    out += [
        f"total parameters: {analysis.total_params:,}",
        f"total MACs: {analysis.total_macs:,} (conv, linear, batch norm){_uncounted(analysis)}",
        f"output: {_shape(analysis.output_shape)}",
        _memory_line(analysis),
    ]
    return "\n".join(out)


def _uncounted(analysis: Analysis) -> str:
    """What the total leaves out: imported Opaque layers, whose work cnnviz cannot see."""
    n = sum(info.layer.type in IMPORTED for info in analysis.layers)
    return f"; not counted: {n} opaque layer{'s' * (n != 1)}" if n else ""


def _memory_line(analysis: Analysis) -> str:
    memory = estimate(analysis)
    return f"memory for a forward: {memory.describe()}; most: {memory.dominant_phrase()}"


def warn_if_too_big(analysis: Analysis) -> None:
    """One line on stderr when a forward would be refused for lack of memory."""
    memory, budget = estimate(analysis), memory_budget()
    if not budget.allows(memory.total):
        print(f"cnnviz summary: warning: {refusal(memory, budget)}", file=sys.stderr)


def execute(args: argparse.Namespace) -> int:
    arch = load_architecture(args.arch, args.input)
    if is_hooked_metadata(arch.metadata):  # a model torch.fx could not trace
        from cnnviz.commands import hooked_summary

        table = hooked_summary.as_table(arch) if not args.json else None
        print(table or safe_json.dumps(hooked_summary.as_json(arch), indent=2))
        return 0
    analysis = analyze(arch)
    if analysis.first_error is not None:
        raise CommandError(analysis.first_error.error)
    if args.json:
        print(safe_json.dumps(as_json(arch, analysis), indent=2))
    else:
        print(as_table(arch, analysis))
    warn_if_too_big(analysis)
    return 0
