"""Checking and normalising layer parameter values against the catalogue.

Values come from JSON files and from the editor. Pairs arrive as lists from
JSON and are normalised to tuples so that two equal layers compare equal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cnnviz.core.catalogue import (
    BOOL,
    CHOICE,
    FLOAT,
    INT,
    OPT_BOOL,
    OPT_FLOAT,
    OPT_INT,
    OPT_PAIR,
    PAD4,
    PADDING,
    PAIR,
    Param,
    layer_type,
)
from cnnviz.core.layer_spec import SHAPE, TEXT


class ParamError(ValueError):
    """A parameter value that the layer type does not accept."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param} {message}")
        self.param = param
        self.reason = message


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(p: Param, value: Any) -> int:
    if not _is_int(value):
        raise ParamError(p.name, f"must be a whole number, got {value!r}")
    if p.minimum is not None and value < p.minimum:
        raise ParamError(p.name, f"must be at least {p.minimum:g}, got {value}")
    if p.maximum is not None and value > p.maximum:
        raise ParamError(p.name, f"must be at most {p.maximum:g}, got {value}")
    return value


def _check_pair(p: Param, value: Any) -> int | tuple[int, int]:
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ParamError(p.name, f"must be one number or (height, width), got {value!r}")
        return (_check_int(p, value[0]), _check_int(p, value[1]))
    return _check_int(p, value)


def _check_pad4(p: Param, value: Any) -> int | tuple[int, int, int, int]:
    if isinstance(value, list | tuple):
        if len(value) != 4:
            raise ParamError(
                p.name, f"must be one number or (left, right, top, bottom), got {value!r}"
            )
        return tuple(_check_int(p, v) for v in value)  # type: ignore[return-value]
    return _check_int(p, value)


def _check_bool(p: Param, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParamError(p.name, f"must be true or false, got {value!r}")
    return value


def _check_float(p: Param, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError(p.name, f"must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ParamError(p.name, f"must be finite, got {value}")
    if p.minimum is not None and value < p.minimum:
        raise ParamError(p.name, f"must be at least {p.minimum:g}, got {value:g}")
    if p.maximum is not None and value > p.maximum:
        raise ParamError(p.name, f"must be at most {p.maximum:g}, got {value:g}")
    return value


def _check_text(p: Param, value: Any) -> str:
    if not isinstance(value, str):
        raise ParamError(p.name, f"must be text, got {type(value).__name__}")
    if p.maximum is not None and len(value) > p.maximum:
        raise ParamError(p.name, f"holds {len(value):,} characters; at most {p.maximum:,.0f}")
    return value


def _check_shape(p: Param, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= 3:
        raise ParamError(p.name, f"must be 1 to 3 sizes (C, H, W), got {value!r}")
    return tuple(_check_int(p, v) for v in value)


def check_value(p: Param, value: Any) -> Any:
    """The normalised value, or ParamError saying why it is not accepted."""
    if p.kind == INT:
        return _check_int(p, value)
    if p.kind == PAIR:
        return _check_pair(p, value)
    if p.kind == OPT_PAIR:
        return None if value is None else _check_pair(p, value)
    if p.kind == OPT_INT:
        return None if value is None else _check_int(p, value)
    if p.kind == PADDING:
        if isinstance(value, str):
            if value not in p.choices:
                raise ParamError(
                    p.name, f"must be a number, (h, w), 'same' or 'valid', got {value!r}"
                )
            return value
        return _check_pair(p, value)
    if p.kind == PAD4:
        return _check_pad4(p, value)
    if p.kind == FLOAT:
        return _check_float(p, value)
    if p.kind == OPT_FLOAT:
        return None if value is None else _check_float(p, value)
    if p.kind == BOOL:
        return _check_bool(p, value)
    if p.kind == OPT_BOOL:
        return None if value is None else _check_bool(p, value)
    if p.kind == CHOICE:
        if value not in p.choices:
            raise ParamError(p.name, f"must be one of {', '.join(p.choices)}, got {value!r}")
        return value
    if p.kind == TEXT:
        return _check_text(p, value)
    if p.kind == SHAPE:
        return _check_shape(p, value)
    raise AssertionError(f"unhandled parameter kind {p.kind}")


def check_params(type_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """All of a layer's given parameters, checked and normalised.

    Raises KeyError for an unknown type and ParamError for an unknown, missing
    or out-of-range parameter.
    """
    spec = layer_type(type_name)
    known = {p.name: p for p in spec.params}
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name not in known:
            names = ", ".join(known) or "none"
            raise ParamError(name, f"is not a parameter of {type_name} (parameters: {names})")
        out[name] = check_value(known[name], value)
    for p in spec.params:
        if p.required and p.name not in out:
            raise ParamError(p.name, "is required")
    return out
