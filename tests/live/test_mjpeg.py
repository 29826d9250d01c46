"""Tests for the MJPEG fallback: real JPEG encoding, multipart framing, rate and watchers."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from hearthcam.live.mjpeg import CONTENT_TYPE, MjpegBroadcaster
from hearthcam.live.subscription import Chunk
from hearthcam.types import BGRImage, Frame
from tests.support.factories import draw_frame_number, read_frame_number

SIZE = (320, 240)
PART = re.compile(
    rb"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: (\d+)\r\n\r\n", re.MULTILINE
)


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def frame(index: int) -> Frame:
    return Frame(
        "cam", index, index / 25, 1_700_000_000 + index / 25, draw_frame_number(index, SIZE)
    )


def jpeg_image(jpeg: bytes) -> BGRImage:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def parse_parts(body: bytes) -> list[bytes]:
    """The JPEGs of a multipart/x-mixed-replace body; checks every header and length."""
    jpegs = []
    at = 0
    while at < len(body):
        head = PART.match(body, at)
        assert head is not None, body[at : at + 80]
        length = int(head.group(1))
        start = head.end()
        jpegs.append(body[start : start + length])
        assert body[start + length : start + length + 2] == b"\r\n"
        at = start + length + 2
    return jpegs


def play(broadcaster: MjpegBroadcaster, clock: FakeClock, count: int, fps: float = 25) -> None:
    for i in range(count):
        broadcaster.frame(frame(i))
        clock.now += 1 / fps


def body(chunks: list[Chunk]) -> bytes:
    return b"".join(c.data for c in chunks)


def test_nothing_is_encoded_while_nobody_watches() -> None:
    clock = FakeClock()
    broadcaster = MjpegBroadcaster("cam", clock=clock)
    play(broadcaster, clock, 100)
    assert broadcaster.encoded == 0


def test_parts_are_valid_jpegs_with_the_right_length() -> None:
    clock = FakeClock()
    broadcaster = MjpegBroadcaster("cam", max_fps=5, clock=clock)
    sub = broadcaster.subscribe()
    chunks: list[Chunk] = []
    for i in range(50):  # 2 s at 25 fps
        broadcaster.frame(frame(i))
        clock.now += 1 / 25
        chunks += sub.drain()
    jpegs = parse_parts(body(chunks))
    assert len(jpegs) == len(chunks) == 10
    for chunk, jpeg in zip(chunks, jpegs, strict=True):
        assert chunk.mime == CONTENT_TYPE
        assert jpeg[:2] == b"\xff\xd8"
        assert jpeg[-2:] == b"\xff\xd9"
        image = jpeg_image(jpeg)
        assert image.shape == (SIZE[1], SIZE[0], 3)
    # Every fifth frame of the 25 fps stream: at most max_fps, evenly.
    shown = [read_frame_number(jpeg_image(j)) for j in jpegs]
    assert shown == list(range(0, 50, 5))


def test_quality_trades_size() -> None:
    sizes = {}
    for quality in (30, 70, 95):
        clock = FakeClock()
        broadcaster = MjpegBroadcaster("cam", quality=quality, clock=clock)
        sub = broadcaster.subscribe()
        play(broadcaster, clock, 1)
        sizes[quality] = len(parse_parts(body(sub.drain()))[0])
    assert sizes[30] < sizes[70] < sizes[95]


def test_a_new_viewer_gets_a_fresh_picture_at_once_but_not_a_stale_one() -> None:
    clock = FakeClock()
    broadcaster = MjpegBroadcaster("cam", clock=clock)
    play(broadcaster, clock, 10)
    assert broadcaster.encoded == 0
    assert len(broadcaster.subscribe().drain()) == 1
    clock.now += 5.0
    assert broadcaster.subscribe().drain() == []


def test_a_slow_viewer_keeps_the_newest_parts_and_does_not_hold_back_others() -> None:
    clock = FakeClock()
    broadcaster = MjpegBroadcaster("cam", max_fps=5, clock=clock)
    slow, fast = broadcaster.subscribe(), broadcaster.subscribe()
    got: list[Chunk] = []
    for i in range(250):  # 10 s
        broadcaster.frame(frame(i))
        clock.now += 1 / 25
        got += fast.drain()  # the fast viewer reads as parts come
    assert len(got) == 50
    assert broadcaster.encoded == 50  # once per part, not once per viewer
    left = parse_parts(body(slow.drain()))
    assert 1 <= len(left) <= 5  # about a second
    newest = jpeg_image(left[-1])
    assert read_frame_number(newest) == 245
    assert slow.resyncs > 0


def test_a_viewer_that_stopped_reading_long_ago_is_dropped() -> None:
    clock = FakeClock()
    broadcaster = MjpegBroadcaster("cam", max_fps=5, stall_seconds=30.0, clock=clock)
    sub = broadcaster.subscribe()
    play(broadcaster, clock, 40 * 25)
    assert sub.closed
    assert broadcaster.viewers == 0
    encoded = broadcaster.encoded
    play(broadcaster, clock, 25)
    assert broadcaster.encoded == encoded


def test_close_ends_every_viewer() -> None:
    broadcaster = MjpegBroadcaster("cam")
    subs = [broadcaster.subscribe() for _ in range(3)]
    broadcaster.close()
    assert all(s.closed for s in subs)
    assert [list(s) for s in subs] == [[], [], []]


@pytest.mark.parametrize("fps", [1.0, 10.0])
def test_the_rate_follows_max_fps(fps: float) -> None:
    clock = FakeClock()
    broadcaster = MjpegBroadcaster("cam", max_fps=fps, clock=clock)
    sub = broadcaster.subscribe()
    got = []
    for i in range(100):  # 4 s at 25 fps
        broadcaster.frame(frame(i))
        clock.now += 1 / 25
        got += sub.drain()
    assert abs(len(got) - 4 * fps) <= 1
