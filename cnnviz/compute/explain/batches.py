"""Many images through the network in bounded batches, with progress and cancel.

Integrated gradients (one image per step) and occlusion (one per window
position) run far more images than fit at once in memory on a large network.
The batch size comes from the analysis: what one image's activations take
(with their gradients, when the method differentiates), under a fixed budget.
Between batches the caller's ``should_cancel`` is asked (``Cancelled`` when a
newer request waits) and ``progress(done, total)`` is told how far it got.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from cnnviz.compute.forward import CancelCheck, Cancelled
from cnnviz.core.analysis import Analysis

Progress = Callable[[int, int], None] | None

# Activations of one batch, gradients included: small enough to leave room for
# the rest of the app on a laptop, large enough that a batch costs far more
# than the Python around it.
BATCH_BYTES = 256 * 1024 * 1024
# More images per batch would report progress too rarely for the panel's bar.
MOST_PER_BATCH = 64


def image_bytes(analysis: Analysis, backward: bool) -> int:
    """What one image takes going through the network (float32): its input and
    every layer's output, three times over with autograd (the saved outputs,
    their gradients, and a layer's working copies)."""
    values = math.prod(analysis.input_shape) + sum(
        math.prod(info.output_shape) for info in analysis.layers if info.output_shape
    )
    return 4 * values * (3 if backward else 1)


def batch_size(analysis: Analysis, total: int, backward: bool, budget: int = BATCH_BYTES) -> int:
    """Images per batch for ``total`` images: at least 1, within ``budget``."""
    fits = budget // max(1, image_bytes(analysis, backward))
    return max(1, min(total, MOST_PER_BATCH, fits))


def in_batches(
    total: int, size: int, should_cancel: CancelCheck = None, progress: Progress = None
) -> Iterator[slice]:
    """Slices of ``range(total)``; progress is reported after each batch is done."""
    if progress is not None:
        progress(0, total)
    for start in range(0, total, size):
        if should_cancel is not None and should_cancel():
            raise Cancelled
        stop = min(total, start + size)
        yield slice(start, stop)
        if progress is not None:
            progress(stop, total)
