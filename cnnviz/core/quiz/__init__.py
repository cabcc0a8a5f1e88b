"""Interview mode: questions generated from any network, checked answers, worked reveals.

    from cnnviz.core.quiz import make_quiz, check
    quiz = make_quiz(analysis, count=10, seed=1, level=2, result=forward_result)
    for q in quiz:
        print(q.text)
        verdict = check(q, typed)     # Verdict(correct, message)
        print(q.reveal)               # the worked formula with this layer's numbers

Numpy only. The paper kinds (shape, parameters, MACs, receptive field, ...)
come from ``core.analysis``; ``conv_value`` and ``pool_value`` need a forward
result (``core.jobs.ForwardResult``): their answer is the real output value,
their reveal the worked sum on the real input. See ``answers`` for what a
typed answer may look like.
"""

from cnnviz.core.quiz.answers import Verdict, check, parse_int, parse_shape
from cnnviz.core.quiz.generate import JSON_KINDS, KINDS, LEVELS, make_quiz
from cnnviz.core.quiz.question import Question

__all__ = [
    "JSON_KINDS",
    "KINDS",
    "LEVELS",
    "Question",
    "Verdict",
    "check",
    "make_quiz",
    "parse_int",
    "parse_shape",
]
