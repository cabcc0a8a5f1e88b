"""`cnnviz quiz ARCH`: interview questions generated from the network.

In a terminal it asks, checks what you type, shows the worked answer and a
score (end of input or Ctrl+C ends it cleanly). ``--json`` prints the
questions and answers instead: a list of {"kind", "layer", "question",
"answer"} of the kinds output_shape, params, macs, receptive_field,
conv_value and pool_value, each answer as `cnnviz summary --json` gives it.

conv_value and pool_value are asked on a real forward (torch): the input is
the bundled sample picture the window starts with (a digit for one channel,
the cat for three), sized as the network declares; a network of another
channel count gets a seeded standard-normal input. The weights are the
preset's trained ones where it ships them, else the seed's initialisation.
Both are named in each value question's JSON ("input", "weights").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cnnviz.commands import CommandError
from cnnviz.commands.summary import load_architecture
from cnnviz.core import safe_json
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture
from cnnviz.core.presets import PRESETS, preset_path, weights_path
from cnnviz.core.quiz import JSON_KINDS, KINDS, check, make_quiz
from cnnviz.core.quiz.generate import VALUE_KINDS

NAME = "quiz"
HELP = "Interview questions about a network (shapes, parameters, MACs, fields, values)."
MAX_COUNT = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help=f"architecture file or preset ({', '.join(PRESETS)})")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same questions (default 0)")
    parser.add_argument("--count", type=int, default=10, help="how many questions (default 10)")
    parser.add_argument(
        "--level",
        type=int,
        choices=(1, 2, 3),
        default=2,
        help="1 easy (top-level shapes and counts), 2 medium, 3 hard (blocks, dilation)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the questions and answers as JSON"
    )


def quiz_input(arch: Architecture, seed: int) -> tuple[np.ndarray, str]:
    """The input value questions are asked on, and its name for the JSON."""
    from cnnviz.core.images import load_image, to_network_input
    from cnnviz.core.preprocess import Preprocessing, declared
    from cnnviz.core.samples import default_sample

    c, h, w = arch.input.as_tuple()
    if c in (1, 3):
        sample = default_sample(c)
        prep = declared(arch.metadata) or Preprocessing()
        image = to_network_input(load_image(sample.path), c, h, w, prep)
        return np.ascontiguousarray(image, np.float32), f"sample {sample.name}"
    rng = np.random.default_rng(seed)
    return rng.standard_normal((c, h, w)).astype(np.float32), f"random normal (seed {seed})"


def quiz_weights(arch_arg: str, arch: Architecture) -> str | None:
    """The preset's (or the file's) trained weights, when it names some that exist."""
    try:
        arch_file = Path(arch_arg) if Path(arch_arg).suffix else preset_path(arch_arg)
    except ValueError:
        arch_file = None
    found = weights_path(arch, arch_file)
    return str(found) if found else None


def forward(arch: Architecture, image: np.ndarray, seed: int, weights: str | None):
    from cnnviz.compute.runner import ComputeError, ForwardRunner
    from cnnviz.core.jobs import ForwardRequest

    request = ForwardRequest(
        request_id=1, architecture=arch, image=image, seed=seed, weights_path=weights
    )
    try:
        return ForwardRunner().run(request)
    except ComputeError as exc:
        raise CommandError(str(exc)) from None


def execute(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= MAX_COUNT:
        raise CommandError(f"--count must be 1 to {MAX_COUNT}, got {args.count}")
    arch = load_architecture(args.arch)
    analysis = analyze(arch)
    if analysis.first_error is not None:
        raise CommandError(analysis.first_error.error)
    image, input_name = quiz_input(arch, args.seed)
    weights = quiz_weights(args.arch, arch)
    result = forward(arch, image, args.seed, weights)
    kinds = JSON_KINDS if args.json else KINDS
    quiz = make_quiz(analysis, args.count, args.seed, args.level, result, kinds)
    if args.json:
        made_of = {
            "input": input_name,
            "weights": Path(weights).name if weights else f"random init (seed {args.seed})",
        }
        records = [{**q.as_json(), **(made_of if q.kind in VALUE_KINDS else {})} for q in quiz]
        print(safe_json.dumps(records, indent=2))
        return 0
    return ask(
        quiz,
        f"{arch.name}: {len(quiz)} questions, level {args.level}, "
        f"seed {args.seed}; values on the {input_name}",
    )


def ask(quiz, heading: str, read=input, out=sys.stdout) -> int:
    """The terminal session: each question, the verdict and the worked answer."""
    print(heading + " (Ctrl+D to stop)", file=out)
    right = asked = 0
    for n, question in enumerate(quiz, 1):
        print(f"\n{n}/{len(quiz)} [{question.kind}] {question.text}", file=out)
        try:
            typed = read("> ")
        except (EOFError, KeyboardInterrupt):
            print("", file=out)
            break
        verdict = check(question, typed)
        asked += 1
        right += verdict.correct
        mark = "right" if verdict.correct else f"wrong ({verdict.message})"
        print(f"{mark}: the answer is {_shown(question.answer)}", file=out)
        print("  " + question.reveal.replace("\n", "\n  "), file=out)
    print(f"\nscore: {right}/{asked}", file=out)
    return 0


def _shown(answer) -> str:
    if isinstance(answer, list):
        return "×".join(str(v) for v in answer)
    if isinstance(answer, float):
        return f"{answer:.4f}"
    return f"{answer:,}" if isinstance(answer, int) else str(answer)
