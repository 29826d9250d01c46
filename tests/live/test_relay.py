"""Live views relayed from another process (a camera actor on a cluster node): which
subscriptions the relay must serve, what each viewer gets, and who is closed when."""

from __future__ import annotations

from hearthcam.live.overlay import Overlay
from hearthcam.live.relay import FRESH_SECONDS, RelayedFeed, RelayedView
from hearthcam.live.subscription import Chunk, ChunkKind


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def part(n: int, seconds: float = 0.2) -> Chunk:
    return Chunk(bytes([n]) * 10, ChunkKind.MEDIA, "image/jpeg", duration=seconds)


def test_each_viewer_is_a_key_the_relay_serves_until_it_leaves() -> None:
    feed = RelayedFeed(max_seconds=5, max_bytes=1 << 20)
    first, second = feed.subscribe(), feed.subscribe()
    keys = feed.wanted()
    assert len(keys) == 2
    assert feed.viewers == 2
    feed.deliver(keys[0], [part(1), part(2)])
    feed.deliver(keys[1], [part(3)])
    assert [c.data[0] for c in first.drain()] == [1, 2]  # each its own stream
    assert [c.data[0] for c in second.drain()] == [3]
    first.close()
    assert feed.wanted() == [keys[1]]  # the relay closes the remote one at its next poll
    feed.deliver(keys[0], [part(4)])  # late chunks for a gone viewer are dropped
    feed.end(keys[1])  # the camera's process ended it (the camera stopped)
    assert second.closed
    assert feed.wanted() == []


def test_a_viewer_too_slow_for_what_is_relayed_is_closed_not_waited_for() -> None:
    feed = RelayedFeed(max_seconds=1.0, max_bytes=1 << 20)
    slow = feed.subscribe()
    (key,) = feed.wanted()
    feed.deliver(key, [part(n, seconds=0.4) for n in range(5)])  # 2 s queued > 1 s bound
    assert slow.closed  # its page reconnects and starts at a keyframe again
    assert feed.wanted() == []


def test_a_new_mjpeg_viewer_gets_the_newest_fresh_picture_at_once() -> None:
    clock = Clock()
    feed = RelayedFeed(max_seconds=5, max_bytes=1 << 20, keep_latest=True, clock=clock)
    watching = feed.subscribe()
    feed.deliver(feed.wanted()[0], [part(1), part(2)])
    assert [c.data[0] for c in feed.subscribe().drain()] == [2]
    clock.now += FRESH_SECONDS + 1
    assert feed.subscribe().drain() == []  # a stale picture is not a live one
    assert len(watching.drain()) == 2


def test_end_all_closes_every_viewer_of_both_streams() -> None:
    view = RelayedView("porch")
    subs = [view.fmp4.subscribe(), view.mjpeg.subscribe(), view.mjpeg.subscribe()]
    assert view.viewers == 3
    view.overlay.update(Overlay(1.0, 640, 360, (), ()))
    view.close()  # the camera moved to another node, or stopped
    assert all(s.closed for s in subs)
    assert view.viewers == 0
    overlay = view.overlay.latest()
    assert overlay is not None
    assert overlay.at == 1.0
