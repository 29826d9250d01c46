"""A damaged sealed clip answers one clean, final error before any byte of it is sent.

Real sealed clips (the world's media I/O), one chunk's ciphertext altered on disk, served by the
real server (uvicorn over TCP) so a response cut off mid-body, or an "Exception in ASGI
application", would show as it does for a browser."""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hearthcam.types import Event
from hearthcam.vault.media import write_bytes
from hearthcam.vault.sealed import HEADER_SIZE, TAG_SIZE
from hearthcam.web import ServerHandle, start_server
from hearthcam.web.ranges import DAMAGED
from tests.support.world import World

CHUNKS = 6  # 0 first, 3 middle, 5 last


@pytest.fixture
def server(world: World, caplog: pytest.LogCaptureFixture) -> Iterator[ServerHandle]:
    handle = start_server(world.services, "127.0.0.1", 0)
    # uvicorn's loggers do not reach the root one: listen to them directly.
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(caplog.handler)
    try:
        yield handle
    finally:
        uvicorn_log.removeHandler(caplog.handler)
        handle.stop()


def chunk_size(path: Path) -> int:
    with open(path, "rb") as handle:
        return int(struct.unpack(">I", handle.read(HEADER_SIZE)[12:16])[0])


def clip_of_chunks(world: World) -> tuple[Event, bytes]:
    """An event whose sealed clip spans ``CHUNKS`` chunks (random bytes: the route does not
    care what the clip holds)."""
    event = world.add_event("front")
    assert event.clip is not None
    size = chunk_size(event.clip)
    data = os.urandom((CHUNKS - 1) * size + size // 2)
    write_bytes(world.services.media, event.clip, "front", data)
    return event, data


def damage(path: Path, index: int) -> None:
    """Flips one ciphertext byte of chunk ``index``."""
    at = HEADER_SIZE + index * (chunk_size(path) + TAG_SIZE) + 5
    with open(path, "r+b") as handle:
        handle.seek(at)
        byte = handle.read(1)
        handle.seek(at)
        handle.write(bytes([byte[0] ^ 0x40]))


def get(
    server: ServerHandle, token: str, event: Event, range_header: str | None = None
) -> httpx.Response:
    headers = {} if range_header is None else {"Range": range_header}
    with httpx.Client(cookies={"hc_session": token}, timeout=10) as client:
        return client.get(f"{server.url}/api/events/{event.id}/clip", headers=headers)


@pytest.mark.parametrize("index", [0, 3, CHUNKS - 1])
def test_a_damaged_chunk_is_a_clean_final_error_and_nothing_else_breaks(
    world: World, server: ServerHandle, caplog: pytest.LogCaptureFixture, index: int
) -> None:
    event, data = clip_of_chunks(world)
    intact, intact_data = clip_of_chunks(world)
    assert event.clip is not None
    size = chunk_size(event.clip)
    damage(event.clip, index)
    token = world.session_token("alice")
    caplog.set_level(logging.INFO)

    touching = [None, "bytes=0-", f"bytes={index * size}-{index * size + 9}", "bytes=-5"]
    if index != CHUNKS - 1:
        touching.remove("bytes=-5")  # the last bytes are not in the damaged chunk
    for header in touching:
        answer = get(server, token, event, header)
        assert answer.status_code == 410, (header, answer.status_code)
        assert answer.json() == {"detail": DAMAGED}

    # Ranges clear of the damaged chunk still play (the final chunk is checked at open, so a
    # damaged last chunk leaves no range to play).
    if index != CHUNKS - 1:
        clear = (index + 1) * size
        part = get(server, token, event, f"bytes={clear}-{clear + 99}")
        assert part.status_code == 206
        assert part.content == data[clear : clear + 100]
    whole = get(server, token, intact)
    assert whole.status_code == 200
    assert whole.content == intact_data

    text = caplog.text
    assert "Exception in ASGI application" not in text
    assert "Traceback" not in text
    warnings = [r for r in caplog.records if "damaged media" in r.getMessage()]
    assert len(warnings) == len(touching)  # one line per answer, no traceback


def test_a_big_range_is_checked_through_before_it_is_sent(
    world: World, server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ranges above the held size are read through once, then streamed.
    monkeypatch.setattr("hearthcam.web.ranges.HELD_BYTES", 1000)
    event, data = clip_of_chunks(world)
    assert event.clip is not None
    token = world.session_token("alice")
    assert get(server, token, event).content == data
    damage(event.clip, 3)
    answer = get(server, token, event, "bytes=10-")
    assert answer.status_code == 410
    assert answer.json() == {"detail": DAMAGED}
