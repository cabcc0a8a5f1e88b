"""JSON in and out within limits: every cnnviz file is parsed by `parse`, and
every ``--json`` report is written by `dumps`.

Parsing a file nobody checked (an architecture, a project, an autosave):

* nesting deeper than ``MAX_DEPTH`` is refused *before* `json.loads` sees the
  text, because the decoder recurses and a 2 KB file of ``[[[[...`` raises
  RecursionError (and deep nesting would recurse again in every reader);
* a whole number longer than ``MAX_INT_DIGITS`` is refused, instead of
  Python's ValueError past 4,300 digits (no cnnviz number is that long);
* a lone UTF-16 surrogate (``"\\ud800"``) is refused: json accepts the escape,
  but the string cannot be printed or written as UTF-8 later.

Errors are `JsonError`, one line. Writing (`dumps`) is strict JSON: NaN and
±infinity, which `json.dumps` writes as bare ``NaN``/``Infinity`` that strict
parsers reject, become ``null``; a lone surrogate in text (a file name whose
bytes are not UTF-8) becomes the visible text ``\\udcff``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

# A project nests about 8 levels (project → architecture → layers → layer →
# a kernel's 3 axes); blocks add 2 per level. 64 leaves plenty of room.
MAX_DEPTH = 64
MAX_INT_DIGITS = 100

# A JSON string, unrolled so a long string is matched quickly and without backtracking.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# A \uD800-\uDFFF escape, or such a character already in the text (from a str
# made outside a file): only then is the parsed result searched for a lone one.
_MAYBE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_OPENING = np.frombuffer(b"[{", dtype=np.uint8)


class JsonError(ValueError):
    """JSON that cnnviz will not read; the message is one line."""


def nesting_depth(text: str) -> int:
    """How deeply ``[`` and ``{`` nest in `text`, brackets inside strings not counted."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where(np.isin(codes, _OPENING), 1, -1)
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def _int(digits: str) -> int:
    count = len(digits.lstrip("-"))
    if count > MAX_INT_DIGITS:
        raise JsonError(f"a whole number has {count:,} digits; at most {MAX_INT_DIGITS}")
    return int(digits)


def parse(text: str) -> Any:
    """`text` parsed as JSON within the limits above; JsonError says what is wrong."""
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise JsonError(f"nested {depth:,} levels deep; at most {MAX_DEPTH}")
    try:
        data = json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise JsonError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:  # cannot happen below MAX_DEPTH; a last guard all the same
        raise JsonError(f"nested too deeply; at most {MAX_DEPTH} levels") from None
    if _MAYBE_SURROGATE.search(text):
        _check_text(data)
    return data


def _lone_surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None


def _check_text(data: Any) -> None:
    """JsonError naming where a string (or key) holds a lone surrogate."""
    pending: list[tuple[Any, str]] = [(data, "")]
    while pending:  # a loop, not recursion: the depth is bounded, but why rely on it
        value, where = pending.pop()
        if isinstance(value, str):
            found = _lone_surrogate(value)
            if found is not None:
                at = f" at {where}" if where else ""
                raise JsonError(
                    f"the text{at} holds {found!a}, half of a UTF-16 surrogate pair "
                    "and not a character; fix or remove it"
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                pending.append((key, f"a key of {where}" if where else "a top-level key"))
                pending.append((item, f"{where}.{key}" if where else str(key)))
        elif isinstance(value, list):
            pending.extend((item, f"{where}[{i}]") for i, item in enumerate(value))


def _unicode(text: str) -> str:
    """`text` with any lone surrogate as a visible escape (a file name with bytes
    that are not UTF-8 arrives so from the OS), so the JSON is valid UTF-8."""
    if _lone_surrogate(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def finite_or_null(value: Any) -> Any:
    """`value` with every NaN or ±infinity (Python or numpy float) replaced by None,
    and lone surrogates in text written as backslash escapes."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return _unicode(value)
    if isinstance(value, Mapping):
        return {finite_or_null(key): finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_null(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """Strict JSON: non-finite numbers written as null (never bare NaN/Infinity),
    text always Unicode (never a lone surrogate, escaped or not)."""
    return json.dumps(finite_or_null(value), allow_nan=False, **options)
