"""The real server: uvicorn on a thread, reachable over TCP, stopped promptly with streams open."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from hearthcam.web import ServerError, start_server
from tests.support.world import World


def test_serves_over_tcp_and_stops_with_a_stream_open(world: World) -> None:
    handle = start_server(world.services, "127.0.0.1", 0)
    try:
        assert threading.current_thread() is threading.main_thread()
        response = httpx.get(f"{handle.url}/api/setup", timeout=5)
        assert response.json() == {"needed": False}
        assert response.headers["x-frame-options"] == "DENY"
        token = world.session_token("alice")
        received: list[bytes] = []

        def listen() -> None:
            cookies = {"hc_session": token}
            url = f"{handle.url}/api/events/stream"
            with httpx.stream("GET", url, cookies=cookies, timeout=10) as stream:
                for chunk in stream.iter_bytes():
                    received.append(chunk)

        listener = threading.Thread(target=listen)
        listener.start()
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert received
        assert received[0].startswith(b"retry:")
    finally:
        started = time.monotonic()
        handle.stop()
    assert time.monotonic() - started < 5
    assert not handle.thread.is_alive()
    listener.join(5)
    assert not listener.is_alive()


def test_a_taken_port_is_a_clear_error(world: World) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerError, match=str(port)):
            start_server(world.services, "127.0.0.1", port)
