"""The lab's map job: a newer request replaces one not started, only the newest
request's map or one-line failure reaches the GUI."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.linear_collapse import AffineMap, MapRequest
from cnnviz.qt.bridge.compute_collapse import MapJob, compute_affine_map
from cnnviz.qt.bridge.compute_lane import LaneOfThread

ARCH = Architecture("t", InputShape(1, 2, 2), (Layer.make("Flatten"),))


def fake_map(runner, request: MapRequest) -> AffineMap:
    if request.seed < 0:
        raise ValueError("ReLU at layer 1 is not linear\nsecond line")
    return AffineMap(request.request_id, np.eye(4), np.zeros(4), (1, 2, 2))


def test_latest_wins_and_failures_are_one_line(qtbot):
    calls = []
    job = MapJob(calls.append, compute=fake_map)
    ready, failed = [], []
    job.ready.connect(ready.append)
    job.failed.connect(failed.append)
    job.submit(MapRequest(1, ARCH))
    job.submit(MapRequest(2, ARCH))
    for call in calls:
        call(None)
    qtbot.waitUntil(lambda: len(ready) == 1)
    assert job.computed == 1 and ready[0].request_id == 2
    job.submit(MapRequest(3, ARCH, seed=-1))
    calls[-1](None)
    qtbot.waitUntil(lambda: len(failed) == 1)
    assert failed[0].request_id == 3 and failed[0].message == "ReLU at layer 1 is not linear"


def test_a_lane_is_made_once_per_compute_thread():
    class Thread:
        def __init__(self):
            self.calls = []

        def put_call(self, function):
            self.calls.append(function)

    lanes = LaneOfThread(lambda put_call: MapJob(put_call, compute=fake_map))
    assert lanes.on(None) is None and lanes.on(object()) is None  # no thread that takes calls
    first, second = Thread(), Thread()
    lane = lanes.on(first)
    assert lane is not None and lanes.on(first) is lane
    lane.submit(MapRequest(1, ARCH))
    assert len(first.calls) == 1  # the lane posts to its own thread's mailbox
    other = lanes.on(second)  # a restarted engine: a new lane on the new thread
    assert other is not lane and other is lanes.lane
    other.submit(MapRequest(2, ARCH))
    assert len(first.calls) == 1 and len(second.calls) == 1


def test_the_real_job_refuses_before_building_anything():
    relu = ARCH.with_layers((Layer.make("ReLU"), Layer.make("Flatten")))
    for runner, message in ((None, "not running"), (object(), "ReLU at layer 0 is not linear")):
        with pytest.raises(ValueError, match=message):
            compute_affine_map(runner, MapRequest(1, relu))
    found = compute_affine_map(object(), MapRequest(1, ARCH, image=np.ones((1, 2, 2))))
    np.testing.assert_allclose(found.weight, np.eye(4))  # Flatten alone: the identity map
    assert found.max_diff == 0.0
