"""Reading a typed answer leniently and judging it.

What counts as right (the choice, documented in the README's Interview mode):

* shapes in cnnviz's order C×H×W: "16x28x28", "16×28×28", "(16, 28, 28)",
  "[16,28,28]", "16 28 28", "16*28*28" — every number must match;
* whole numbers exactly: "1234", "1,234", "1 234", "1_234"; a k/M/G suffix
  ("48.12k") is read as its value and must still be exact (so "1.2k" is not
  1,234: a count rounded is not the count);
* real numbers within 1e-3 relative or 0.005 absolute, whichever is larger
  (two decimals are enough);
* a receptive field as "5" (square) or "5x5"; "all" for a field that is the
  whole input;
* a layer as "7" or "layer 7" or "3.body.0".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cnnviz.core.quiz.question import ADDRESS, FIELD, FLOAT, INT, SHAPE, Question

REL_TOL = 1e-3
ABS_TOL = 0.005
_SUFFIX = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)([kmg]?)$")


@dataclass(frozen=True)
class Verdict:
    correct: bool
    message: str  # "right", or why not, in one line


def _clean(text: str) -> str:
    return re.sub(r"(?<=\d)[,_ ](?=\d{3}\b)", "", text.strip().lower())


def parse_number(text: str) -> float | None:
    """A number as typed ("1,234", "48.12k", "-0.5"), or None."""
    match = _NUMBER.match(_clean(text).replace(" ", ""))
    if not match:
        return None
    value = float(match.group(1)) * _SUFFIX.get(match.group(2), 1)
    return value if math.isfinite(value) else None


def parse_int(text: str) -> int | None:
    """A whole number as typed, or None when it is not one exactly."""
    value = parse_number(text)
    if value is None or abs(value - round(value)) > 1e-9 * max(1.0, abs(value)):
        return None
    return round(value)


def parse_shape(text: str) -> list[int] | None:
    """A shape as typed: numbers separated by x, ×, *, commas or spaces, brackets optional."""
    inner = text.strip().strip("()[]{} ")
    parts = [p for p in re.split(r"\s*[x×*,]\s*|\s+", inner.lower()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def close_enough(value: float, answer: float) -> bool:
    return abs(value - answer) <= max(REL_TOL * abs(answer), ABS_TOL)


def _address(text: str) -> str:
    return re.sub(r"^layer\s+", "", text.strip().lower())


def check(question: Question, typed: str) -> Verdict:
    """Whether ``typed`` answers ``question``; the message says why not."""
    if not typed.strip():
        return Verdict(False, "no answer typed")
    kind = question.answer_type
    if kind == SHAPE:
        return _judge(parse_shape(typed), question.answer, "a shape such as 16x28x28")
    if kind == INT:
        return _judge(parse_int(typed), question.answer, "a whole number such as 1,234")
    if kind == FLOAT:
        value = parse_number(typed)
        if value is None:
            return Verdict(False, f"{typed.strip()!r} is not a number")
        ok = close_enough(value, question.answer)
        return Verdict(ok, "right" if ok else "not within 1e-3 (or 0.005) of the answer")
    if kind == FIELD:
        return _field(question, typed)
    if kind == ADDRESS:
        ok = _address(typed) in {question.answer, *question.also}
        return Verdict(ok, "right" if ok else "another layer holds more")
    raise ValueError(f"unknown answer type {kind!r}")


def _judge(value, answer, example: str) -> Verdict:
    if value is None:
        return Verdict(False, f"not read as {example}")
    return Verdict(value == answer, "right" if value == answer else "not the answer")


def _field(question: Question, typed: str) -> Verdict:
    if typed.strip().lower() in ("all", "global", "whole", "the whole input"):
        ok = "all" in question.also
        return Verdict(ok, "right" if ok else "the field is not the whole input")
    size = parse_shape(typed)
    if size is not None and len(size) == 1:
        size = size * 2
    return _judge(size, question.answer, "a size such as 5 or 5x5")
