"""`cnnviz summary` of a read-only hooked view (issue 18): a model torch.fx could
not trace, shown module by module as it ran on a test input.

First one line says what the view is and which line stopped the trace; then
each module call with its output shape and parameters, the modules that did
not run on the test input, and the model's total as torch counts it (which
also holds parameters kept outside the modules). Not a command itself:
summary.py hands a hooked architecture here.
"""

from __future__ import annotations

from typing import Any

from cnnviz.commands.summary import table_lines
from cnnviz.core.architecture import Architecture
from cnnviz.core.layers.hooked import METADATA_KEY, call_name


def _shape(shape) -> str:
    return "×".join(str(s) for s in shape)


def _name(layer) -> str:
    return call_name(layer.get("module"), layer.get("call"))


def _note(layer) -> str:
    """What the label says beyond module and class: "gives a tuple: ...", "shown flat"."""
    note = layer.get("label").removeprefix(f"{_name(layer)} {layer.get('kind')}").strip(" ()")
    if not note and layer.get("call") > 1:
        return f"shares call 1's {layer.get('kind')} parameters"
    return note


def as_json(arch: Architecture) -> dict[str, Any]:
    entry = arch.metadata[METADATA_KEY]
    rows = [
        {
            "index": index,
            "address": _name(layer),
            "module": layer.get("module"),
            "call": layer.get("call"),
            "type": layer.get("kind"),
            "label": layer.get("label"),
            "output_shape": list(layer.get("out_shape")),
            "params": layer.get("params"),
            "note": _note(layer),
        }
        for index, layer in enumerate(arch.layers)
    ]
    return {
        "name": arch.name,
        "read_only": entry.get("message", "read-only view"),
        "source": entry["source"],
        "input": list(arch.input.as_tuple()),
        "layers": rows,
        "not_run": list(entry.get("not_run", [])),
        "total_params": entry.get("total_params", 0),
    }


def as_table(arch: Architecture) -> str:
    data = as_json(arch)
    header = ("#", "module", "class", "output", "params", "note")
    rows = [
        (
            str(r["index"]),
            r["address"],
            r["type"],
            _shape(r["output_shape"]),
            f"{r['params']:,}",
            r["note"],
        )
        for r in data["layers"]
    ]
    out = [data["read_only"], f"{arch.name}  (input {_shape(data['input'])})"]
    out += table_lines(header, rows, right={0, 4})
    if data["not_run"]:
        idle = ", ".join(
            f"{m['module']} ({m['kind']}, {m['params']:,} params)" for m in data["not_run"]
        )
        out.append(f"not run on the test input: {idle}")
    in_rows = sum(r["params"] for r in data["layers"])
    idle_params = sum(m["params"] for m in data["not_run"])
    outside = data["total_params"] - in_rows - idle_params
    held = f"; {outside:,} held outside its modules" if outside else ""
    out.append(f"total parameters: {data['total_params']:,} (torch's count for the model{held})")
    return "\n".join(out)
