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


def test_forwarded_for_from_loopback_is_not_believed(world: World) -> None:
    # Uvicorn believes X-Forwarded-For from 127.0.0.1 by default: every guess could then name
    # a fresh client and never be throttled. Only web.trusted_proxies may forward (none here).
    handle = start_server(world.services, "127.0.0.1", 0)
    try:
        body = {"username": "alice", "password": "wrong password!"}
        codes = [
            httpx.post(
                f"{handle.url}/api/login",
                json=body,
                headers={"x-forwarded-for": f"192.0.2.{i}", "origin": handle.url},
                timeout=5,
            ).status_code
            for i in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        ok = httpx.get(f"{handle.url}/api/setup", headers={"host": "evil.example"}, timeout=5)
        assert ok.status_code == 421  # the Host check holds on the real server too
    finally:
        handle.stop()
