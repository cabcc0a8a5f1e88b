"""An architecture on paper: an input shape and an ordered stack of layers.

Also the architecture file (DESIGN.md contract, version 1)::

    {"format": "cnnviz-architecture", "version": 1, "name": "TinyVGG",
     "input": {"channels": 3, "height": 64, "width": 64},
     "layers": [{"type": "Conv2d", "out_channels": 10, "kernel_size": 3}, ...]}

Version 2 adds blocks (see blocks.py), which nest::

    {"type": "Residual", "body": [...layers...], "shortcut": [...layers...]}
    {"type": "Parallel", "merge": "concat", "branches": [[...], [...]]}

A file is written as version 2 only when it holds a block, so a network
without blocks stays readable by every cnnviz; every version-1 file loads.

Optional top-level keys kept as metadata: "description", "classes" (class
names for the last layer's outputs, or the name of a shipped list such as
"imagenet"), "weights" (a safetensors file next to the architecture file),
"metrics" (e.g. the test accuracy of those weights), "preprocessing" (how a
picture becomes this network's input, see preprocess.declared),
"hub_weights" (a torchvision checkpoint in the torch hub cache, see hub_files)
and "package_weights" (a Python package that ships the weights, see
package_files).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cnnviz.core import blocks, hub_files, package_files, preprocess, safe_files, safe_json
from cnnviz.core.catalogue import CATALOGUE, IMPORTED, layer_type
from cnnviz.core.class_names import is_named_list, named_classes
from cnnviz.core.layers import hooked
from cnnviz.core.params import ParamError, check_params

FORMAT = "cnnviz-architecture"
VERSION = 2  # the newest this cnnviz reads; files without blocks are written as 1
METADATA_KEYS = (
    "description",
    "classes",
    "weights",
    "metrics",
    "preprocessing",
    "hub_weights",
    "package_weights",
    "hooked",
)
# Room for an imported Opaque layer's program (layers/opaque.MAX_PROGRAM_CHARS).
MAX_FILE_BYTES = 64 * 1024 * 1024


class ArchitectureError(ValueError):
    """An architecture file or layer that cannot be used, with a readable reason."""


@dataclass(frozen=True)
class Layer:
    """One layer: a torch.nn class name and the parameters given explicitly.

    A block (Residual, Parallel) also holds ``paths``: for a Residual (body,
    shortcut), for a Parallel one stack per branch.
    """

    type: str
    params: Mapping[str, Any] = field(default_factory=dict)
    paths: tuple[tuple[Layer, ...], ...] = ()

    @property
    def is_block(self) -> bool:
        return blocks.is_block(self.type)

    @property
    def path_names(self) -> tuple[str, ...]:
        """ "body"/"shortcut" or "branches.K": the names in torch's state_dict keys."""
        return blocks.path_names(self.type, len(self.paths)) if self.is_block else ()

    @classmethod
    def block(cls, type_name: str, paths, **params: Any) -> Layer:
        """A checked block holding `paths` (sequences of layers)."""
        layer = cls.make(type_name, **params)
        paths = tuple(tuple(p) for p in paths)
        if type_name == blocks.RESIDUAL and len(paths) != 2:
            raise ArchitectureError("Residual: needs exactly two paths, body and shortcut")
        if type_name == blocks.PARALLEL and not paths:
            raise ArchitectureError("Parallel: needs at least one branch")
        return replace(layer, paths=paths)

    def with_paths(self, paths) -> Layer:
        """A copy holding other paths (same number for a Residual)."""
        return Layer.block(self.type, paths, **self.params)

    def walk(self, address: str):
        """(address, layer) for this layer and, depth first, every layer inside it."""
        yield address, self
        for name, path in zip(self.path_names, self.paths, strict=True):
            for i, inner in enumerate(path):
                yield from inner.walk(f"{address}.{name}.{i}")

    @classmethod
    def make(cls, type_name: str, **params: Any) -> Layer:
        """A checked layer; raises ArchitectureError with the reason."""
        try:
            checked = check_params(type_name, params)
        except KeyError as exc:
            raise ArchitectureError(exc.args[0]) from None
        except ParamError as exc:
            raise ArchitectureError(f"{type_name}: {exc}") from None
        return cls(type_name, checked)

    def get(self, name: str) -> Any:
        """The parameter's value, explicit or the catalogue default."""
        if name in self.params:
            return self.params[name]
        return layer_type(self.type).param(name).default

    def all_params(self) -> dict[str, Any]:
        """Every parameter with its value (explicit or default)."""
        return {p.name: self.get(p.name) for p in layer_type(self.type).params}

    def with_params(self, **changes: Any) -> Layer:
        """A checked copy with some parameters changed (a block keeps its paths)."""
        merged = {**self.params, **changes}
        return replace(Layer.make(self.type, **merged), paths=self.paths)

    def describe(self) -> str:
        """A short line of the key parameters, e.g. ``10, k3, s1, p1``."""
        parts = []
        for p in layer_type(self.type).params:
            if not p.key:
                continue
            value = self.get(p.name)
            if value is None or (not p.required and value == p.default):
                continue
            parts.append(f"{_ABBREVIATIONS.get(p.name, p.name + '=')}{_fmt(value)}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name, value in self.params.items():
            out[name] = list(value) if isinstance(value, tuple) else value
        if self.type == blocks.RESIDUAL:
            out["body"] = [layer.to_json() for layer in self.paths[0]]
            out["shortcut"] = [layer.to_json() for layer in self.paths[1]]
        elif self.type == blocks.PARALLEL:
            out["branches"] = [[layer.to_json() for layer in path] for path in self.paths]
        return out


_ABBREVIATIONS = {
    "out_channels": "",
    "out_features": "",
    "kernel_size": "k",
    "stride": "s",
    "padding": "p",
    "dilation": "d",
    "output_size": "",
    "size": "n=",
    "label": "",  # an Opaque layer's original class or operation
}


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):  # (h, w), or ZeroPad2d's (left, right, top, bottom)
        return "×".join(_fmt(v) for v in value) if len(value) == 2 else ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class InputShape:
    channels: int
    height: int
    width: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)


MAX_INPUT_SIDE = 4096
MAX_INPUT_CHANNELS = 64


def check_input(channels: Any, height: Any, width: Any) -> InputShape:
    """A checked input shape; ArchitectureError names the bad field."""
    for name, value, top in (
        ("channels", channels, MAX_INPUT_CHANNELS),
        ("height", height, MAX_INPUT_SIDE),
        ("width", width, MAX_INPUT_SIDE),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise ArchitectureError(
                f"input {name} must be a whole number from 1 to {top}, got {value!r}"
            )
    return InputShape(channels, height, width)


@dataclass(frozen=True)
class Architecture:
    name: str
    input: InputShape
    layers: tuple[Layer, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def with_layers(self, layers: Iterable[Layer]) -> Architecture:
        return replace(self, layers=tuple(layers))

    def with_input(self, shape: InputShape) -> Architecture:
        return replace(self, input=shape)

    @property
    def classes(self) -> list[str] | None:
        classes = self.metadata.get("classes")
        if is_named_list(classes):
            return list(named_classes(classes))
        return list(classes) if classes else None

    @property
    def has_blocks(self) -> bool:
        return any(layer.is_block for layer in self.layers)

    def walk(self):
        """(address, layer) for every layer, blocks and the layers inside them,
        depth first: "3", "3.body.0", "3.shortcut.0", "4", "5.branches.1.0", ..."""
        for index, layer in enumerate(self.layers):
            yield from layer.walk(str(index))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": 2 if self.has_blocks else 1,
            "name": self.name,
            "input": {
                "channels": self.input.channels,
                "height": self.input.height,
                "width": self.input.width,
            },
            "layers": [layer.to_json() for layer in self.layers],
        }
        for key in METADATA_KEYS:
            if key in self.metadata:
                out[key] = self.metadata[key]
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def check_header(data: Any, fmt: str, version: int, what: str, error: type[Exception]) -> None:
    """Raise `error` unless `data` is a JSON object of format `fmt`, at most `version`.

    Shared by every cnnviz file (architecture, project) so they refuse the same
    things in the same words.
    """
    if not isinstance(data, dict):
        raise error(f"not a cnnviz {what}: the file must hold a JSON object")
    if data.get("format") != fmt:
        raise error(f'not a cnnviz {what}: "format" must be {fmt!r}')
    found = data.get("version")
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise error(f'bad "version": {found!r}')
    if found > version:
        raise error(
            f"written by a newer cnnviz ({what} format version {found}; this one reads "
            f"up to {version}); please update cnnviz"
        )


def from_json(data: Any) -> Architecture:
    """An Architecture from parsed JSON, or ArchitectureError saying what is wrong."""
    check_header(data, FORMAT, VERSION, "architecture", ArchitectureError)
    shape = data.get("input")
    if not isinstance(shape, dict):
        raise ArchitectureError('missing "input": {"channels", "height", "width"}')
    input_shape = check_input(shape.get("channels"), shape.get("height"), shape.get("width"))
    raw_layers = data.get("layers")
    if not isinstance(raw_layers, list):
        raise ArchitectureError('"layers" must be a list')
    layers = tuple(_layer_from_json(str(i), raw) for i, raw in enumerate(raw_layers))
    if layers and any(layer.is_block for layer in layers) and data["version"] < 2:
        raise ArchitectureError('blocks (Residual, Parallel) need "version": 2')
    name = data.get("name", "untitled")
    if not isinstance(name, str):
        raise ArchitectureError('"name" must be text')
    metadata = {k: data[k] for k in METADATA_KEYS if k in data}
    classes = metadata.get("classes")
    if (
        classes is not None
        and not is_named_list(classes)
        and (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes))
    ):
        raise ArchitectureError('"classes" must be a list of names, or "imagenet"')
    try:
        preprocess.declared(metadata)
        if "hub_weights" in metadata:
            hub_files.check_declared(metadata["hub_weights"])
        if "package_weights" in metadata:
            package_files.check_declared(metadata["package_weights"])
        if "hooked" in metadata:
            hooked.check_metadata(metadata["hooked"])
    except ValueError as exc:
        raise ArchitectureError(str(exc)) from None
    return Architecture(name, input_shape, layers, metadata)


def _layer_from_json(address: str, raw: Any, depth: int = 0) -> Layer:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise ArchitectureError(f'layer {address}: must be an object with a "type"')
    if blocks.is_block(raw["type"]):
        return _block_from_json(address, raw, depth)
    if raw["type"] not in CATALOGUE and raw["type"] not in IMPORTED:
        known = ", ".join([*CATALOGUE, *blocks.BLOCK_TYPES])
        raise ArchitectureError(
            f"layer {address}: unknown layer type {raw['type']!r} (known: {known})"
        )
    params = {k: v for k, v in raw.items() if k != "type"}
    try:
        return Layer.make(raw["type"], **params)
    except ArchitectureError as exc:
        raise ArchitectureError(f"layer {address} {exc}") from None


# The keys of each block that hold stacks of layers rather than parameters.
_PATH_KEYS = {blocks.RESIDUAL: ("body", "shortcut"), blocks.PARALLEL: ("branches",)}


def _path_from_json(address: str, raw: Any, depth: int) -> tuple[Layer, ...]:
    if not isinstance(raw, list):
        raise ArchitectureError(f"layer {address}: must be a list of layers")
    return tuple(_layer_from_json(f"{address}.{i}", r, depth) for i, r in enumerate(raw))


def _block_from_json(address: str, raw: dict, depth: int) -> Layer:
    type_name = raw["type"]
    if depth >= blocks.MAX_NESTING:
        raise ArchitectureError(
            f"layer {address} {type_name}: blocks nest at most {blocks.MAX_NESTING} deep"
        )
    path_keys = _PATH_KEYS[type_name]
    params = {k: v for k, v in raw.items() if k != "type" and k not in path_keys}
    if type_name == blocks.RESIDUAL:
        if "body" not in raw:
            raise ArchitectureError(f'layer {address} Residual: missing "body": [...layers...]')
        paths = [
            _path_from_json(f"{address}.{key}", raw.get(key, []), depth + 1) for key in path_keys
        ]
    else:
        branches = raw.get("branches")
        if not isinstance(branches, list) or not branches:
            raise ArchitectureError(
                f'layer {address} Parallel: "branches" must be a list of one or more '
                "lists of layers"
            )
        paths = [
            _path_from_json(f"{address}.branches.{k}", branch, depth + 1)
            for k, branch in enumerate(branches)
        ]
    try:
        return Layer.block(type_name, paths, **params)
    except ArchitectureError as exc:
        raise ArchitectureError(f"layer {address} {exc}") from None


def loads(text: str) -> Architecture:
    """An Architecture from JSON text; ArchitectureError says what is wrong."""
    try:
        data = safe_json.parse(text)
    except safe_json.JsonError as exc:
        raise ArchitectureError(str(exc)) from None
    return from_json(data)


def read_text_file(path: Path, what: str, error: type[Exception]) -> str:
    """A cnnviz file's text, or `error` naming the file: missing, too large, binary,
    or no regular file at all (a FIFO or device is refused before it is opened)."""
    try:
        return safe_files.read_text(path, MAX_FILE_BYTES, f"a cnnviz {what}")
    except safe_files.UnreadableFile as exc:
        raise error(str(exc)) from None


def load(path: str | Path) -> Architecture:
    """Read an architecture file; ArchitectureError names the file and the problem."""
    path = Path(path)
    text = read_text_file(path, "architecture", ArchitectureError)
    try:
        return loads(text)
    except ArchitectureError as exc:
        raise ArchitectureError(f"{path.name}: {exc}") from None


def save(arch: Architecture, path: str | Path) -> None:
    """Write the file via a temporary file and rename, so a crash never leaves half."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(arch.dumps(), encoding="utf-8")
    tmp.replace(path)
