"""EventRecorder against the fake API: Events as Kubernetes writes them, repeats folded, failures swallowed."""
from __future__ import annotations

import pytest

from client.errors import Unavailable
from client.events import EventRecorder, new_event
from client.fake import FakeApi
from skiffpb.k8s.apps.v1 import apps_pb2
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(10)


def _pod(api_name="web-1") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace, p.metadata.uid = api_name, "shop", "uid-1"
    return p


def test_new_event_refers_to_its_object():
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace, d.metadata.uid = "web", "shop", "u"
    ev = new_event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set web-1 to 3", "deployment-controller",
                   now=0.0, suffix="abc")
    assert ev.metadata.name == "web.abc" and ev.metadata.namespace == "shop"
    o = ev.involved_object
    assert (o.kind, o.api_version, o.namespace, o.name, o.uid) == ("Deployment", "apps/v1", "shop", "web", "u")
    assert (ev.count, ev.first_timestamp, ev.source.component) == (1, "1970-01-01T00:00:00Z", "deployment-controller")


async def test_repeats_fold_into_one_event_with_a_count():
    api = FakeApi()
    clock = iter(range(100, 200))
    rec = EventRecorder(api, "scheduler", clock=lambda: float(next(clock)))
    for _ in range(3):
        rec.event(_pod(), "Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.")
    rec.event(_pod(), "Normal", "Scheduled", "Successfully assigned shop/web-1 to n1")
    await rec.close()
    events, _ = await api.list("events", "shop")
    by_reason = {e.reason: e for e in events}
    assert len(events) == 2
    assert by_reason["FailedScheduling"].count == 3
    assert by_reason["FailedScheduling"].first_timestamp == "1970-01-01T00:01:40Z"
    assert by_reason["FailedScheduling"].last_timestamp == "1970-01-01T00:01:42Z"
    assert by_reason["Scheduled"].count == 1


async def test_a_failing_apiserver_loses_the_event_not_the_caller():
    api = FakeApi()
    api.fail_next("create", Unavailable("down"))
    rec = EventRecorder(api, "scheduler")
    rec.event(_pod(), "Normal", "Scheduled", "one")
    rec.event(_pod(), "Normal", "Scheduled", "two")
    await rec.close()
    events, _ = await api.list("events", "shop")
    assert [e.message for e in events] == ["two"]
