"""Every layer type is one module that declares everything about it.

The registries (catalogue, shapes.layer_cost, receptive_field.step, formula,
compute's build) only dispatch to what the module declares, so a type with a
missing rule would fail somewhere far away: here it fails by name.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import cnnviz.core.layers as layers_package
from cnnviz.core.catalogue import CATALOGUE, GROUPS, IMPORTED, by_group, layer_type
from cnnviz.core.layer_spec import LayerType
from cnnviz.core.layers import LEAF_TYPES
from cnnviz.core.layers._common import FIELD_KINDS, FieldRule

RULES = ("cost", "size_lines", "param_line", "inferred")


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_catalogue_type_declares_every_rule(name):
    spec = CATALOGUE[name]
    for rule in RULES:
        assert callable(getattr(spec, rule)), f"{name} declares no {rule}"
    assert isinstance(spec.field_rule, FieldRule), f"{name} declares no receptive-field rule"
    assert spec.field_rule.kind in FIELD_KINDS
    if spec.field_rule.kind == "window":
        assert spec.field_rule.window or spec.field_rule.taps, name
    if spec.field_rule.kind == "by parameters":
        assert callable(spec.field_rule.pick), name
    assert spec.group in GROUPS and spec.group != "block"
    assert spec.glyph and spec.summary and len(spec.explanation) > 80, name
    for p in spec.params:
        assert p.help, f"{name}.{p.name} has no help text"
    for starter in spec.starter:
        assert starter in {p.name for p in spec.params}, (name, starter)


def test_each_type_is_declared_in_one_module_under_layers():
    """One module per type (the simple activations share one, see its docstring):
    every module's TYPE/TYPES are in the registry, and nothing else is."""
    declared: list[LayerType] = []
    for info in pkgutil.iter_modules(layers_package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"cnnviz.core.layers.{info.name}")
        found = [module.TYPE] if hasattr(module, "TYPE") else list(module.TYPES)
        declared += found
        if hasattr(module, "TYPE"):  # its file is named after its type
            snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", module.TYPE.name).lower()
            assert info.name == snake.replace("2_d", "2d"), (info.name, module.TYPE.name)
    # The types only an import makes (Opaque) are declared the same way, outside the palette.
    assert sorted(t.name for t in declared) == sorted([*CATALOGUE, *IMPORTED])
    assert len(LEAF_TYPES) == len(CATALOGUE) and not set(CATALOGUE) & set(IMPORTED)


def test_blocks_are_found_but_stay_out_of_the_catalogue_and_palette():
    from cnnviz.core.blocks import BLOCK_TYPES

    for name, spec in BLOCK_TYPES.items():
        assert layer_type(name) is spec and spec.group == "block"
        assert name not in CATALOGUE
    assert "block" not in by_group()
    with pytest.raises(KeyError, match="Residual"):  # the message lists the blocks too
        layer_type("NoSuchLayer")


@pytest.mark.parametrize(
    ("type_name", "params", "normalised"),
    [
        ("ZeroPad2d", {"padding": [1, 2, -3, 0]}, {"padding": (1, 2, -3, 0)}),
        ("ZeroPad2d", {"padding": -2}, {"padding": -2}),
        ("Upsample", {"scale_factor": 2}, {"scale_factor": 2.0}),
        ("Upsample", {"scale_factor": None, "align_corners": None}, None),
        ("Upsample", {"mode": "bilinear", "align_corners": True}, None),
    ],
)
def test_new_parameter_kinds_are_checked_and_normalised(type_name, params, normalised):
    from cnnviz.core.params import check_params

    assert check_params(type_name, params) == (normalised or params)


@pytest.mark.parametrize(
    ("type_name", "params", "message"),
    [
        ("ZeroPad2d", {"padding": [1, 2, 3]}, "(left, right, top, bottom)"),
        ("ZeroPad2d", {"padding": [1, 2, 3, 1.5]}, "whole number"),
        ("ZeroPad2d", {"padding": 5000}, "at most"),
        ("Upsample", {"scale_factor": "x"}, "must be a number"),
        ("Upsample", {"scale_factor": 0.0}, "at least"),
        ("Upsample", {"align_corners": 1}, "true or false"),
        ("GroupNorm", {}, "num_groups is required"),
    ],
)
def test_new_parameter_kinds_refuse_in_one_line(type_name, params, message):
    from cnnviz.core.params import ParamError, check_params

    with pytest.raises(ParamError, match=re.escape(message)):
        check_params(type_name, params)
