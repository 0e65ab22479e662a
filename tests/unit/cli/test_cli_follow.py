"""cli.api.follow, the list-then-watch loop of `get -w` and `rollout status`: bookmarks move the
resourceVersion, a 410 relists, an ended stream resumes from the last resourceVersion, an
unreachable server is retried, and closing the generator cancels the stream."""
from __future__ import annotations

import pytest

from cli import api as cli_api
from cli.api import Changed, Listed, ServerError, Unreachable, follow
from client import kinds
from skiffpb.api.v1 import api_pb2
from skiffpb.k8s.core.v1 import core_pb2

pytestmark = pytest.mark.timeout(10)
CM = kinds.by_resource("configmaps")


def cm(name: str, rv: str) -> core_pb2.ConfigMap:
    c = core_pb2.ConfigMap()
    c.metadata.name, c.metadata.namespace, c.metadata.resource_version = name, "default", rv
    return c


def ev(type_: str, obj=None, code: int = 0) -> api_pb2.WatchEvent:
    e = api_pb2.WatchEvent(type=type_)
    if obj is not None:
        e.object.CopyFrom(kinds.wrap(obj))
    if code:
        e.status.code, e.status.reason, e.status.message = code, "Expired", "too old"
    return e


class Stream(list):
    cancelled = False

    def cancel(self):
        self.cancelled = True


class FakeApi:
    """Lists answer from `lists`; each watch call takes the next item of `watches` (a list of events,
    or an exception to raise)."""

    def __init__(self, lists, watches):
        self.lists, self.watches, self.watched_from, self.streams = list(lists), list(watches), [], []

    def list(self, kind, ns, label_selector="", field_selector=""):
        return self.lists.pop(0)

    def watch(self, kind, ns, *, resource_version, label_selector="", field_selector=""):
        self.watched_from.append(resource_version)
        item = self.watches.pop(0)
        if isinstance(item, BaseException):
            raise item
        s = Stream(item)
        self.streams.append(s)
        return s


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(cli_api.time, "sleep", lambda s: None)


def names(item):
    return [o.metadata.name for o in item.objs] if isinstance(item, Listed) else (item.type, item.obj.metadata.name)


def test_list_watch_bookmark_410_resume_and_unreachable():
    api = FakeApi(lists=[([cm("a", "5")], "5"), ([cm("a", "9"), cm("b", "9")], "9")],
                  watches=[[ev("MODIFIED", cm("a", "6")), ev("BOOKMARK", cm("", "7"))],   # ends: resume from 7
                           Unreachable("127.0.0.1:1"),                                        # retried
                           [ev("ERROR", code=410)],                                           # relist at 9
                           [ev("DELETED", cm("b", "10"))],
                           KeyboardInterrupt()])
    got = []
    with pytest.raises(KeyboardInterrupt):
        for item in follow(api, CM, "default"):
            got.append(names(item))
    assert got == [["a"], ("MODIFIED", "a"), ["a", "b"], ("DELETED", "b")]
    assert api.watched_from == ["5", "7", "7", "9", "10"]
    assert api.streams[1].cancelled     # the 410 stream


def test_an_error_event_other_than_410_is_raised():
    api = FakeApi(lists=[([], "1")], watches=[[ev("ERROR", code=500)]])
    with pytest.raises(ServerError):
        list(follow(api, CM, "default"))


def test_closing_cancels_the_stream_and_expired_or_on_stream_stop_it():
    api = FakeApi(lists=[([], "1")], watches=[[ev("ADDED", cm("a", "2")), ev("ADDED", cm("b", "3"))]])
    events = follow(api, CM, "default")
    assert names(next(events)) == [] and names(next(events)) == ("ADDED", "a")
    events.close()
    assert api.streams[0].cancelled
    api = FakeApi(lists=[([], "1")], watches=[[ev("ADDED", cm("a", "2"))]])
    assert [names(i) for i in follow(api, CM, "default", expired=lambda: True)] == [[], ("ADDED", "a")]
    api = FakeApi(lists=[([], "1")], watches=[[ev("ADDED", cm("a", "2"))]])
    assert [names(i) for i in follow(api, CM, "default", on_stream=lambda s: False)] == [[]]


def test_a_server_unreachable_for_too_long_is_raised(monkeypatch):
    clock = iter([100.0, 110.0, 130.5])
    monkeypatch.setattr(cli_api.time, "monotonic", lambda: next(clock))
    api = FakeApi(lists=[([], "1")], watches=[Unreachable("h:1")] * 3)
    with pytest.raises(Unreachable):
        list(follow(api, CM, "default"))
    assert len(api.watched_from) == 3
