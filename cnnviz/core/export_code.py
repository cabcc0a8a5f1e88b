"""An architecture as a standalone PyTorch module: the text of ``net.py``.

``export_code(arch)`` writes a file a person can read, copy into their own
project and run with nothing but torch installed:

* a module docstring naming the network, its input shape and parameter count;
* one ``nn.Module`` class per block kind the network uses (``Residual`` with
  ``body``/``shortcut``, ``Parallel`` with ``branches`` and its merge), the
  same layout as cnnviz.compute.blocks, so the state_dict keys are cnnviz's
  own (``3.body.0.weight``) and weights saved by cnnviz load unchanged;
* ``build_model()`` returning the ``nn.Sequential``, each layer on a line of
  its own with explicit constructor arguments (those not at torch's default,
  plus the sizes torch needs from the previous layer, which the analysis
  infers) and a comment with its output shape;
* an imported part cnnviz has no layer type for (an Opaque layer) as
  ``opaque(PROGRAMS["5"])``: the TorchScript archive it holds, embedded in
  base64 at the end of the file and loaded with ``torch.jit.load`` (which
  runs no Python from it); only such a file imports ``base64`` and ``io``.

Arguments are the ones compute/model.py builds with (the type's parameters
and what its module declares it infers), so the file builds the very model
cnnviz runs; tests/core/test_export_code.py checks that against torch. The
text is laid out as ``ruff format`` (and black) would lay it out at their
default line length, 88: the file is the user's, formatted for their tools.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from typing import Any

from cnnviz.core import blocks
from cnnviz.core.analysis import Analysis, LayerInfo, analyze
from cnnviz.core.architecture import Architecture, ArchitectureError
from cnnviz.core.catalogue import CATALOGUE, IMPORTED, layer_type
from cnnviz.core.layer_spec import OPT_PAIR, PAD4, PADDING, PAIR

LINE_LENGTH = 88  # ruff's and black's default
INDENT = "    "

# Written positionally, as torch's own repr of these modules does; every other
# argument (and every argument of a type not listed) is written by keyword.
POSITIONAL = {
    "Conv2d": ("in_channels", "out_channels"),
    "ConvTranspose2d": ("in_channels", "out_channels"),
    "Linear": ("in_features", "out_features"),
    "BatchNorm2d": ("num_features",),
    "GroupNorm": ("num_groups", "num_channels"),
}
# Sizes of these kinds may be written as one number when both (all) sides agree.
_SIZE_KINDS = (PAIR, OPT_PAIR, PADDING, PAD4)

RESIDUAL_CLASS = '''
class Residual(nn.Module):
    """body(x) + shortcut(x); an empty shortcut is the identity."""

    def __init__(self, body: list[nn.Module], shortcut: list[nn.Module]) -> None:
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)
'''

PARALLEL_CLASS = '''
class Parallel(nn.Module):
    """Every branch gets the same input (an empty branch passes it on as it is);
    merge "concat" stacks their outputs along the channels, "add" sums them."""

    def __init__(self, branches: list[list[nn.Module]], merge: str = "concat") -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*branch) for branch in branches)
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [branch(x) for branch in self.branches]
        if self.merge == "concat":
            return torch.cat(outputs, dim=1)
        total = outputs[0]
        for output in outputs[1:]:
            total = total + output
        return total
'''

MAIN_BLOCK = """
if __name__ == "__main__":
    model = build_model().eval()
    with torch.no_grad():
        output = model(torch.randn(1, *INPUT_SHAPE))
    params = sum(p.numel() for p in model.parameters())
    print(f"{params:,} parameters; output shape {tuple(output.shape)}")
"""


def export_code(arch: Architecture, analysis: Analysis | None = None) -> str:
    """The network as the text of a Python module; ArchitectureError if a layer
    is invalid (torch could not build it either)."""
    analysis = analysis or analyze(arch)
    bad = analysis.first_error
    if bad is not None:
        raise ArchitectureError(bad.error)
    programs = _programs(analysis)
    for info in analysis.layers:
        is_layer = not info.layer.is_block and info.address not in programs
        if is_layer and info.layer.type not in CATALOGUE:
            raise ArchitectureError(
                f"{info.name} {info.layer.type}: not a torch.nn layer cnnviz can write as code"
            )
    kinds = {info.layer.type for info in analysis.layers if info.layer.is_block}
    parts = [OPAQUE_IMPORTS if programs else "import torch\nfrom torch import nn"]
    if programs:
        parts.append(OPAQUE_FUNCTION)
    if blocks.RESIDUAL in kinds:
        parts.append(RESIDUAL_CLASS)
    if blocks.PARALLEL in kinds:
        parts.append(PARALLEL_CLASS)
    shape = ", ".join(str(n) for n in analysis.input_shape)
    parts.append(f"INPUT_SHAPE = ({shape})  # channels, height, width")
    parts.append(_build_function(arch, analysis))
    if programs:  # defined before the main block calls build_model()
        parts.append(_programs_text(programs))
    parts.append(MAIN_BLOCK)
    # Two blank lines around top-level definitions; one after the docstring, and
    # one between the imports and a plain statement (ruff's isort rule).
    body = parts[0]
    for part in parts[1:]:
        gap = "\n\n" if body == parts[0] and part.startswith("INPUT") else "\n\n\n"
        body += gap + part.strip("\n")
    return f"{_docstring(arch, analysis)}\n{body}\n"


# -- imported parts cnnviz cannot express (Opaque layers) -------------------------------

# Only such a network needs the standard library's base64 and io besides torch.
OPAQUE_IMPORTS = "import base64\nimport io\n\nimport torch\nfrom torch import nn"

OPAQUE_FUNCTION = '''
def opaque(program: str) -> nn.Module:
    """A part of the imported model that cnnviz has no layer type for, as the
    TorchScript it was kept as (PROGRAMS below; torch.jit.load runs no Python code
    from it). Its state_dict keys are the original module's."""
    return torch.jit.load(io.BytesIO(base64.b64decode(program))).eval()
'''

PROGRAM_LINE = 76  # base64 characters per line of a program's text


def _programs(analysis: Analysis) -> dict[str, str]:
    """Each Opaque layer's address → its program (base64 TorchScript)."""
    out = {}
    for info in analysis.layers:
        spec = IMPORTED.get(info.layer.type)
        program = spec.program if spec is not None else None
        if program is not None:
            out[info.address] = info.layer.get(program)
    return out


def _programs_text(programs: dict[str, str]) -> str:
    lines = [
        "# The imported parts' TorchScript archives (torch.jit.save), in base64.",
        "PROGRAMS = {",
    ]
    for address, text in programs.items():
        lines.append(f'    "{address}": (')
        for start in range(0, len(text), PROGRAM_LINE):
            lines.append(f'        "{text[start : start + PROGRAM_LINE]}"')
        lines.append("    ),")
    return "\n".join([*lines, "}"]) + "\n"


# -- the docstring ---------------------------------------------------------------------


def dims(shape) -> str:
    return "×".join(str(n) for n in shape)


def _plain(text: str) -> str:
    """`text` safe inside a triple-quoted docstring and one line of it: no control
    characters, backslashes or double quotes (which could end it), valid UTF-8."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text.replace("\\", "/").replace('"', "'")


def _docstring(arch: Architecture, analysis: Analysis) -> str:
    name = _plain(arch.name) or "A network"
    title = textwrap.fill(
        f"{name}, exported by cnnviz as a standalone PyTorch module.", LINE_LENGTH - 3
    )
    keys = [f'"{info.address}.weight"' for info in analysis.layers if info.weights][:2]
    examples = f" ({', '.join(keys)}, ...)" if keys else ""
    usage = textwrap.fill(
        "build_model() returns an nn.Sequential whose state_dict keys are cnnviz's "
        f"layer addresses{examples}, so weights saved by cnnviz load unchanged:",
        LINE_LENGTH,
    )
    return (
        f'"""{title}\n\n'
        f"Input: {dims(analysis.input_shape)} (channels × height × width); "
        f"output: {dims(analysis.output_shape)}.\n"
        f"Parameters: {analysis.total_params:,}.\n\n"
        f"{usage}\n\n"
        "    from safetensors.torch import load_file\n\n"
        "    model = build_model()\n"
        '    model.load_state_dict(load_file("weights.safetensors"))\n\n'
        "Each layer's comment gives its output shape for one input.\n"
        '"""\n'
    )


# -- build_model() ---------------------------------------------------------------------


def _build_function(arch: Architecture, analysis: Analysis) -> str:
    name = _plain(arch.name) or "the network"
    doc = f'    """{name}: {analysis.total_params:,} parameters."""'
    if len(doc) > LINE_LENGTH:
        doc = f'    """The network: {analysis.total_params:,} parameters."""'
    head = f"def build_model() -> nn.Sequential:\n{doc}\n"
    top = analysis.top_level
    if not top:
        return head + "    return nn.Sequential()\n"
    children = defaultdict(list)
    for info in analysis.layers:
        if info.parent is not None:
            children[info.parent].append(info)
    lines = ["    return nn.Sequential("]
    for info in top:
        lines += _item(info, 2, children)
    lines.append("    )")
    return head + "\n".join(lines) + "\n"


def _item(info: LayerInfo, depth: int, children) -> list[str]:
    """The lines of one layer or block inside a list, ending in ``,  # shape``."""
    indent = INDENT * depth
    comment = f"  # {dims(info.output_shape)}"
    layer = info.layer
    if layer.type in IMPORTED:  # an imported part cnnviz cannot express: its TorchScript
        what = _plain(f"{layer.get('label')} ({layer.get('source')})")
        return [f'{indent}opaque(PROGRAMS["{info.address}"]),{comment}, {what}'[:LINE_LENGTH]]
    if not layer.is_block:
        args = constructor_args(layer.type, layer, info.input_shape)
        return _call(f"nn.{layer.type}", args, indent, comment)
    paths: dict[str, list[LayerInfo]] = {name: [] for name in layer.path_names}
    for child in children[info.index]:
        paths[child.path].append(child)
    inner = indent + INDENT
    if layer.type == blocks.RESIDUAL:
        lines = [f"{indent}Residual("]
        for name in ("body", "shortcut"):
            lines += _list(f"{inner}{name}=", paths[name], depth + 1, children)
    else:
        merge = blocks.merge_kind(layer.type, layer.params)
        lines = [f"{indent}Parallel(", f'{inner}merge="{merge}",', f"{inner}branches=["]
        for branch in paths.values():
            lines += _list(inner + INDENT, branch, depth + 2, children)
        lines.append(f"{inner}],")
    return [*lines, f"{indent}),{comment}"]


def _list(start: str, infos: list[LayerInfo], depth: int, children) -> list[str]:
    """A path as a list of modules; an empty one says it passes its input on."""
    if not infos:
        return [f"{start}[],  # the input as it is"]
    lines = [f"{start}["]
    for info in infos:
        lines += _item(info, depth + 1, children)
    return [*lines, f"{INDENT * depth}],"]


def _call(name: str, args: list[str], indent: str, comment: str) -> list[str]:
    """``name(args),  # comment`` on one line, or one argument per line (with the
    trailing comma that keeps ruff from joining them) when that is too long."""
    one = f"{indent}{name}({', '.join(args)}),{comment}"
    if len(one) <= LINE_LENGTH or not args:
        return [one]
    return [f"{indent}{name}(", *(f"{indent}{INDENT}{a}," for a in args), f"{indent}),{comment}"]


# -- constructor arguments ---------------------------------------------------------------


def constructor_values(layer, input_shape) -> dict[str, Any]:
    """The arguments torch needs beyond its defaults: the sizes the type infers from
    the input (in_channels ← C, ...) first, then the parameters not at torch's
    default, in the catalogue's (torch's) order. ``inplace`` is left out, as
    compute/model.py builds every layer out of place."""
    spec = layer_type(layer.type)
    values = dict(spec.inferred(layer, tuple(input_shape))) if spec.inferred else {}
    for param in spec.params:
        if param.name == "inplace" or param.name in values:
            continue
        value = layer.get(param.name)
        if param.kind in _SIZE_KINDS and isinstance(value, tuple) and len(set(value)) == 1:
            value = value[0]  # (3, 3) is written 3, as people write it
        if param.required or value != param.default:
            values[param.name] = value
    return values


def constructor_args(type_name: str, layer, input_shape) -> list[str]:
    """The arguments as source text, the positional ones first."""
    values = constructor_values(layer, input_shape)
    positional = [n for n in POSITIONAL.get(type_name, ()) if n in values]
    if positional != list(POSITIONAL.get(type_name, ())):
        positional = []  # a size missing: keywords say which is which
    args = [literal(values[n]) for n in positional]
    args += [f"{n}={literal(v)}" for n, v in values.items() if n not in positional]
    return args


def literal(value: Any) -> str:
    """Python source for a parameter value, in ruff's style (double quotes)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise ArchitectureError(f"cannot write {value!r} as Python")
