"""A seeded quiz for any network: which kinds, which layers, at which level.

Levels:
1. easy — shapes, parameter counts and pooled values of the top-level layers,
   dropout at evaluation, BatchNorm's parameters, the largest layer, what-if
   with stride or padding;
2. medium — every kind on every layer, blocks included;
3. hard — layers inside blocks (or deep in a plain network) first: receptive
   fields through blocks, conv values with stride, what-if with dilation.

The same analysis, result, seed, level and kinds give the same questions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.core.catalogue import IMPORTED
from cnnviz.core.quiz import paper, values, what_if
from cnnviz.core.quiz.question import Question

JSON_KINDS = ("output_shape", "params", "macs", "receptive_field", "conv_value", "pool_value")
KINDS = (*JSON_KINDS, "largest_layer", "dropout_eval", "batchnorm_params", "what_if")
VALUE_KINDS = ("conv_value", "pool_value")
LEVELS = (1, 2, 3)
EASY_KINDS = ("output_shape", "params", "pool_value", *KINDS[6:])
MAX_TRIES = 50


def _maker(kind: str, level: int, result) -> Callable[[LayerInfo, Analysis, object], Question]:
    if kind in VALUE_KINDS:
        make = getattr(values, kind)
        return lambda info, analysis, rng: make(info, result, rng)
    if kind == "what_if":
        return lambda info, analysis, rng: what_if.what_if(info, analysis, rng, level)
    return getattr(paper, kind)


def _askable(analysis: Analysis) -> list[LayerInfo]:
    """The layers a question can be about: computable, and with a rule to work out
    (an imported Opaque layer only reports what the import measured)."""
    return [i for i in analysis.layers if i.computable and i.layer.type not in IMPORTED]


def _layers(analysis: Analysis, level: int) -> list[LayerInfo]:
    usable = _askable(analysis)
    if level == 1:
        return [i for i in usable if i.parent is None and not i.layer.is_block] or usable
    if level == 3:
        inside = [i for i in usable if i.parent is not None or i.layer.is_block]
        return inside or [i for i in usable if _worth_a_hard_question(i, usable)] or usable
    return usable


def _worth_a_hard_question(info: LayerInfo, usable: list[LayerInfo]) -> bool:
    """On a plain stack: a layer that holds parameters or changes the shape (a conv,
    a pool, a Linear), or any layer in the deeper two thirds (receptive fields grow
    there). An element-wise layer near the input would only ask what the question
    already says ("Tanh takes 6×28×28…")."""
    deep = info.index >= usable[len(usable) // 3].index
    return info.params > 0 or info.output_shape != info.input_shape or deep


def _candidates(analysis: Analysis, level: int, kinds, result) -> dict[str, list]:
    layers = _layers(analysis, level)
    found: dict[str, list] = {}
    for kind in kinds:
        if kind in VALUE_KINDS and result is None:
            continue
        if kind == "largest_layer":
            found[kind] = [None]
            continue
        pool = layers
        if kind in ("what_if", "dropout_eval", "batchnorm_params", "largest_layer"):
            pool = _askable(analysis)  # rare layers: take any
        if level == 3 and kind == "output_shape":  # the shape a layer keeps is no question
            pool = [i for i in pool if i.output_shape != i.input_shape] or pool
        found[kind] = list(pool)
    return found


def make_quiz(
    analysis: Analysis,
    count: int,
    seed: int = 0,
    level: int = 2,
    result=None,
    kinds: Sequence[str] = KINDS,
) -> list[Question]:
    """``count`` questions (fewer only when the network offers none of ``kinds``).

    ``result`` (a ForwardResult of this network) enables conv_value and pool_value.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be 1, 2 or 3, got {level}")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown question kind {unknown[0]!r}; kinds: {', '.join(KINDS)}")
    if level == 1:
        kinds = [k for k in kinds if k in EASY_KINDS] or list(kinds)
    rng = np.random.default_rng(seed)
    full = _candidates(analysis, level, kinds, result)
    left = {k: list(v) for k, v in full.items()}
    quiz: list[Question] = []
    seen: set = set()
    while len(quiz) < count and full:
        question = _one(analysis, level, result, rng, left, seen)
        if question is None:
            if not any(left.values()):
                left = {k: list(v) for k, v in full.items()}  # every one asked: again
                seen.clear()
                question = _one(analysis, level, result, rng, left, seen)
            if question is None:
                break
        quiz.append(question)
    return quiz


def _one(analysis, level, result, rng, left: dict[str, list], seen: set) -> Question | None:
    """The next question: a kind at random, then one of its layers; a layer the
    kind does not fit is dropped from that kind's list."""
    for _ in range(MAX_TRIES * 4):
        kinds = [k for k, v in left.items() if v]
        if not kinds:
            return None
        kind = kinds[int(rng.integers(len(kinds)))]
        pool = left[kind]
        pick = int(rng.integers(len(pool)))
        info = pool[pick]
        if info is None:
            question = paper.largest_layer(analysis, rng)
        else:
            question = _maker(kind, level, result)(info, analysis, rng)
        key = None if question is None else (kind, question.layer, question.cell)
        if question is None or key in seen or kind not in VALUE_KINDS:
            pool.pop(pick)
        if question is not None and key not in seen:
            seen.add(key)
            return question
    return None
