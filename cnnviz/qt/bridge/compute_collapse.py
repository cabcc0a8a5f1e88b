"""The compute thread's "one linear map" job: MapRequests in, AffineMaps out, latest wins.

The non-linearity lab asks, after every forward of an activation-free
network, for the affine map x ↦ Wx + b it computes (cnnviz.compute.collapse).
The request waits in a one-request slot: a newer one replaces it before it
starts, it runs as a mailbox call on the compute thread between forwards, and
only the newest request's map or one-line failure reaches the GUI.

The map is taken from a copy of the very model the forwards use (its weights
loaded, trained or kept across the edit that removed the activations) when the
request's stack and seed are that model's; any other stack is built from its
seed and weights file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from cnnviz.core.linear_collapse import AffineMap, MapRequest
from cnnviz.qt.bridge.compute_lane import LatestLane, current_model


class MapJob(LatestLane):
    """The GUI's side: `submit` on the GUI thread; `ready` (an AffineMap) or
    `failed` arrive on it."""

    def __init__(
        self,
        put_call: Callable[[Callable[[Any], None]], None],
        parent: QObject | None = None,
        compute: Callable[[Any, MapRequest], AffineMap] | None = None,
    ):
        """`compute(runner, request)` replaces the real job (tests)."""
        super().__init__(put_call, compute or compute_affine_map, "linear map", parent)


def compute_affine_map(runner: Any, request: MapRequest) -> AffineMap:
    """W, b and the check on the image (on the compute thread; torch is imported here)."""
    if runner is None:
        raise ValueError("the compute engine is not running")
    from cnnviz.compute.collapse import compute_map
    from cnnviz.compute.model import build_model
    from cnnviz.compute.weights import load_into, read_weights
    from cnnviz.core import linearize

    linearize.check_collapsible(request.architecture)  # before any model is built
    model = current_model(runner, request)
    if model is None:
        model = build_model(request.architecture, request.seed)
        if request.weights_path:
            load_into(model, read_weights(request.weights_path), request.weights_path)
    return compute_map(request, model)
