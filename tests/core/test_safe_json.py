"""Hostile JSON (deep nesting, huge integers, lone surrogates) is one clear error,
and JSON cnnviz writes is strict (no bare NaN or Infinity)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cnnviz.core import safe_json
from cnnviz.core.architecture import ArchitectureError, load, loads
from cnnviz.core.safe_json import MAX_DEPTH, MAX_INT_DIGITS, JsonError, nesting_depth, parse

HEADER = (
    '{"format": "cnnviz-architecture", "version": 1, '
    '"input": {"channels": 1, "height": 4, "width": 4}, "layers": [], '
)


def architecture(tail: str) -> str:
    return HEADER + tail + "}"


def test_depth_counts_brackets_outside_strings_only():
    assert nesting_depth('{"a": [1, [2, {"b": "[[[[{{{{"}]]}') == 4
    assert nesting_depth('["\\"[[[", "\\\\", [[]]]') == 3
    assert nesting_depth("42") == 0


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_deep_nesting_is_refused_before_the_parser_recurses(depth):
    text = "[" * depth + "]" * depth
    with pytest.raises(JsonError, match=f"nested {depth:,} levels deep; at most {MAX_DEPTH}"):
        parse(text)


def test_nesting_up_to_the_limit_is_read():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse(text) is not None


def test_a_2_kb_deeply_nested_architecture_file_is_one_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(architecture('"description": ' + "[" * 1000 + "]" * 1000))
    assert path.stat().st_size < 2200
    with pytest.raises(ArchitectureError) as caught:
        load(path)
    assert str(caught.value) == f"deep.json: nested 1,001 levels deep; at most {MAX_DEPTH}"


def test_huge_integers_are_refused_with_their_length():
    with pytest.raises(JsonError, match=f"5,000 digits; at most {MAX_INT_DIGITS}"):
        parse('{"a": ' + "9" * 5000 + "}")
    with pytest.raises(JsonError, match="101 digits"):
        parse("[-" + "1" * 101 + "]")
    assert parse("[-" + "1" * MAX_INT_DIGITS + "]") == [-int("1" * MAX_INT_DIGITS)]


def test_an_architecture_with_a_5000_digit_number_is_one_line():
    with pytest.raises(ArchitectureError, match="a whole number has 5,000 digits"):
        loads(architecture('"name": "x", "metrics": ' + "9" * 5000))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"name": "a\\ud800b"}', "at name"),
        ('{"classes": ["ok", "\\udc00"]}', "at classes[1]"),
        ('{"a": {"\\udbff": 1}}', "at a key of a"),
        ('["\\ude00\\ud83d"]', "at [0]"),  # low before high is no pair
    ],
)
def test_lone_surrogates_are_refused_where_they_are(text, where):
    with pytest.raises(JsonError) as caught:
        parse(text)
    assert str(caught.value).startswith(f"the text {where} holds '\\u")


def test_surrogate_pairs_and_escaped_backslashes_are_fine():
    assert parse('{"e": "\\ud83d\\ude00"}') == {"e": "😀"}
    assert parse('["\\\\ud800"]') == ["\\ud800"]  # a backslash, then the letters


def test_an_architecture_named_with_a_lone_surrogate_is_refused():
    with pytest.raises(ArchitectureError, match="the text at name holds '\\\\ud800'"):
        loads(architecture('"name": "net\\ud800"'))


def test_syntax_errors_keep_their_line():
    with pytest.raises(JsonError, match=r"not valid JSON \(line 2: Expecting value\)"):
        parse('{"a":\n]')


def test_dumps_is_strict_json():
    value = {
        "nan": float("nan"),
        "inf": np.float32("inf"),
        "rows": [(1.5, -math.inf), [np.float64(2.0)]],
        "ok": 3,
    }
    text = safe_json.dumps(value)

    def refuse(constant):
        raise AssertionError(f"bare {constant} in {text}")

    assert json.loads(text, parse_constant=refuse) == {
        "nan": None,
        "inf": None,
        "rows": [[1.5, None], [2.0]],
        "ok": 3,
    }


def test_dumps_writes_text_that_is_not_unicode_as_visible_escapes():
    # A file name with a byte that is not UTF-8 reaches Python as a lone surrogate.
    text = safe_json.dumps({"image": "\udcfe.png", "\ud800": "ok"}, ensure_ascii=False)
    text.encode("utf-8")  # valid UTF-8, no lone surrogate
    assert json.loads(text) == {"image": "\\udcfe.png", "\\ud800": "ok"}
    assert json.loads(safe_json.dumps(["😀"])) == ["😀"]
