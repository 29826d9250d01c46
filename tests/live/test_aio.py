"""Tests for consuming live subscriptions from asyncio while a camera thread writes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path

from av.packet import Packet
from av.video.stream import VideoStream

from hearthcam.live import Chunk, ChunkKind, LiveBroadcaster, MjpegBroadcaster, chunks
from hearthcam.types import Frame
from tests.support.factories import draw_frame_number
from tests.support.live_media import decode, feed, joined, numbers


def camera_thread(broadcaster: LiveBroadcaster, clip: Path, pace: float = 0.0) -> threading.Thread:
    """Writes a clip from another thread (at ``pace`` seconds a packet), then closes."""

    def run() -> None:
        feed(broadcaster, clip, lambda i, p: time.sleep(pace))
        broadcaster.close()

    return threading.Thread(target=run, name="camera", daemon=True)


def test_an_asyncio_viewer_gets_the_whole_stream_and_ends_with_it(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")

    async def view() -> list[Chunk]:
        sub = broadcaster.subscribe()
        camera = camera_thread(broadcaster, clip, pace=0.002)
        camera.start()
        got = [chunk async for chunk in chunks(sub)]
        camera.join()
        return got

    got = asyncio.run(asyncio.wait_for(view(), 20.0))
    assert got[0].kind is ChunkKind.INIT
    assert numbers(decode(joined(got))) == list(range(40))


def test_the_event_loop_stays_free_while_a_viewer_waits(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    async def view() -> int:
        sub = broadcaster.subscribe()
        stop = asyncio.Event()
        tick_task = asyncio.create_task(ticker(stop))
        camera = camera_thread(broadcaster, clip, pace=0.01)  # 0.4 s
        camera.start()
        count = 0
        async for _ in chunks(sub):
            count += 1
        stop.set()
        await tick_task
        camera.join()
        return count

    count = asyncio.run(asyncio.wait_for(view(), 20.0))
    assert count == 41  # init + 40 fragments
    assert ticks >= 20  # the loop kept running other tasks between chunks


def test_leaving_early_unsubscribes(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    done = threading.Event()

    def camera() -> None:
        while not done.is_set():
            feed(broadcaster, clip)

    async def view() -> int:
        first = []
        async with contextlib.aclosing(chunks(sub)) as stream:
            async for chunk in stream:
                first.append(chunk)
                if len(first) == 3:
                    break
        return broadcaster.viewers

    feeding = threading.Thread(target=camera)
    feeding.start()
    try:
        assert asyncio.run(asyncio.wait_for(view(), 20.0)) == 0
    finally:
        done.set()
        feeding.join()
    assert sub.closed
    assert broadcaster.stats.errors == 0


def test_a_closed_event_loop_does_not_trouble_the_camera(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    streams: list[AsyncGenerator[Chunk, None]] = []

    async def abandon() -> None:
        stream = chunks(sub)
        streams.append(stream)
        await anext(stream)  # its waker is installed, and stays: the generator is not closed

    def hook(i: int, packet: Packet[VideoStream]) -> None:
        if i == 5:  # chunks are queued by now, so anext returns at once
            loop = asyncio.new_event_loop()
            loop.run_until_complete(abandon())
            loop.close()  # gone, as when a server stops while a viewer is connected

    feed(broadcaster, clip, hook)
    assert broadcaster.stats.errors == 0
    assert broadcaster.stats.muxed == 40
    asyncio.run(streams[0].aclose())
    assert sub.closed


def test_mjpeg_parts_through_asyncio() -> None:
    broadcaster = MjpegBroadcaster("cam", max_fps=50)

    def camera() -> None:
        for i in range(20):
            image = draw_frame_number(i, (160, 120))
            broadcaster.frame(Frame("cam", i, i / 25, 0.0, image))
            time.sleep(0.02)
        broadcaster.close()

    async def view() -> bytes:
        sub = broadcaster.subscribe()
        thread = threading.Thread(target=camera)
        thread.start()
        body = b"".join([chunk.data async for chunk in chunks(sub)])
        thread.join()
        return body

    body = asyncio.run(asyncio.wait_for(view(), 20.0))
    assert body.startswith(b"--frame\r\nContent-Type: image/jpeg\r\n")
    assert body.count(b"--frame\r\n") >= 10
