"""Tests of signed webhooks against a real HTTP server on 127.0.0.1: signatures, replays, retries.

``RecordingServer`` is also used by the ntfy tests.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hearthcam.alerts.notify import AlertDispatcher
from hearthcam.alerts.text import Alert, AlertFormatter
from hearthcam.alerts.webhook import (
    RetryPolicy,
    WebhookNotifier,
    encode_body,
    sign,
    verify_signature,
)
from hearthcam.config import WebhookConfig
from hearthcam.types import Change, Event, Verdict
from tests.conftest import free_port

SECRET = "s3cret-s3cret-s3cret"
FAST = RetryPolicy(retries=5, initial=0.05, factor=2.0, max_delay=1.0, total=10.0)


@dataclass(frozen=True)
class Request:
    """One request the server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass(frozen=True)
class Reply:
    """What the server answers."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class RecordingServer:
    """An HTTP server on 127.0.0.1 that records requests and answers from a script.

    Replies are used in order; the last one repeats.
    """

    def __init__(self, replies: list[Reply] | None = None) -> None:
        self.replies = replies or [Reply()]
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll interval keeps shutdown() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                reply = recorder.record(
                    Request("POST", self.path, dict(self.headers), body, time.monotonic())
                )
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        return Handler

    def record(self, request: Request) -> Reply:
        """Stores a request and picks its reply."""
        with self._lock:
            self.requests.append(request)
            return self.replies[min(len(self.requests), len(self.replies)) - 1]

    def close(self) -> None:
        """Stops serving and closes the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def servers() -> Iterator[list[RecordingServer]]:
    """Collects servers a test starts and closes them afterwards."""
    made: list[RecordingServer] = []
    yield made
    for server in made:
        server.close()


def serve(servers: list[RecordingServer], *replies: Reply) -> RecordingServer:
    server = RecordingServer(list(replies) or None)
    servers.append(server)
    return server


def alert(event_id: str = "ev7") -> Alert:
    event = Event(
        id=event_id,
        camera="front",
        verdict=Verdict.THREAT,
        labels=("person",),
        start=0.0,
        end=3.0,
        wall_start=1_704_744_000.0,
        wall_end=1_704_744_003.0,
        score=0.9,
        alert=True,
    )
    return AlertFormatter("http://127.0.0.1:8971", {"front": "Front door"}, dt.UTC).alert(event)


def notifier(url: str, policy: RetryPolicy = FAST) -> WebhookNotifier:
    return WebhookNotifier(WebhookConfig(url=url, secret=SECRET, timeout=2.0), policy=policy)


@pytest.mark.integration
def test_signed_request_verifies_and_tampering_does_not(servers: list[RecordingServer]) -> None:
    server = serve(servers)
    hook = notifier(f"{server.url}/hook")
    sent = alert()
    hook.send(sent)
    hook.close()
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Hearthcam-Delivery"] == "ev7.alert"
    assert json.loads(request.body) == dict(sent.payload)
    timestamp = request.headers["X-Hearthcam-Timestamp"]
    signature = request.headers["X-Hearthcam-Signature"]
    assert signature.startswith("sha256=")
    assert abs(int(timestamp) - time.time()) < 5
    assert verify_signature(SECRET, timestamp, request.body, signature)
    assert not verify_signature("another-secret-entirely", timestamp, request.body, signature)
    assert not verify_signature(SECRET, timestamp, request.body.replace(b"ev7", b"ev8"), signature)
    # The timestamp is signed too: moving it forward to pass the age check breaks the signature.
    assert not verify_signature(SECRET, str(int(timestamp) + 600), request.body, signature)
    later = int(timestamp) + 301
    assert not verify_signature(SECRET, timestamp, request.body, signature, now=later)
    assert verify_signature(SECRET, timestamp, request.body, signature, tolerance=400, now=later)
    assert hook.last is not None
    assert hook.last.ok


def test_signature_covers_timestamp_dot_body() -> None:
    body = encode_body({"id": "x", "n": 1})
    assert body == b'{"id":"x","n":1}'
    assert sign("k" * 16, "1700000000", body) == sign("k" * 16, "1700000000", body)
    assert sign("k" * 16, "1700000000", body) != sign("k" * 16, "1700000001", body)
    assert not verify_signature("k" * 16, "not-a-time", body, sign("k" * 16, "1", body))


@pytest.mark.integration
def test_server_errors_are_retried_with_growing_delays(servers: list[RecordingServer]) -> None:
    server = serve(servers, Reply(500), Reply(500), Reply(200))
    hook = notifier(server.url)
    hook.send(alert())
    hook.close()
    assert len(server.requests) == 3
    first, second = (
        b.at - a.at for a, b in zip(server.requests, server.requests[1:], strict=False)
    )
    assert first >= 0.05
    assert second >= 0.1
    assert second > first * 1.5
    assert hook.last is not None
    assert (hook.last.ok, hook.last.attempts, hook.last.status) == (True, 3, 200)
    # Every attempt is signed afresh, and keeps its delivery id for de-duplication.
    for request in server.requests:
        headers = request.headers
        assert headers["X-Hearthcam-Delivery"] == "ev7.alert"
        assert verify_signature(
            SECRET, headers["X-Hearthcam-Timestamp"], request.body, headers["X-Hearthcam-Signature"]
        )


@pytest.mark.integration
def test_rate_limit_honours_retry_after(servers: list[RecordingServer]) -> None:
    server = serve(servers, Reply(429, {"Retry-After": "1"}), Reply(204))
    hook = notifier(server.url, RetryPolicy(retries=3, initial=0.01, total=10.0))
    hook.send(alert())
    hook.close()
    assert len(server.requests) == 2
    assert server.requests[1].at - server.requests[0].at >= 0.95
    assert hook.last is not None
    assert hook.last.ok


@pytest.mark.integration
def test_client_errors_are_not_retried(servers: list[RecordingServer]) -> None:
    server = serve(servers, Reply(400), Reply(200))
    hook = notifier(server.url)
    hook.send(alert())  # does not raise
    hook.close()
    assert len(server.requests) == 1
    assert hook.last is not None
    assert (hook.last.ok, hook.last.status) == (False, 400)
    assert hook.failures == 1


@pytest.mark.integration
def test_total_time_is_bounded(servers: list[RecordingServer]) -> None:
    server = serve(servers, Reply(503))
    hook = notifier(server.url, RetryPolicy(retries=20, initial=0.1, factor=1.0, total=0.5))
    started = time.monotonic()
    hook.send(alert())
    hook.close()
    assert time.monotonic() - started < 3.0  # 20 retries at 0.1 s would take over 2 s
    assert 2 <= len(server.requests) <= 6


@pytest.mark.integration
def test_unreachable_receiver_gives_up_quietly() -> None:
    hook = notifier(f"http://127.0.0.1:{free_port()}/hook", RetryPolicy(retries=3, initial=0.01))
    dispatcher = AlertDispatcher([hook], AlertFormatter("http://127.0.0.1:8971", {}, dt.UTC))
    dispatcher(Change.UPDATED, alert().event)
    dispatcher.close(timeout=5.0)
    assert hook.last is not None
    assert (hook.last.ok, hook.last.attempts) == (False, 4)
    assert "ConnectError" in hook.last.error
    assert hook.failures == 1
    assert dispatcher.failures == 0  # nothing was raised into the dispatcher
    assert [d.channel for d in dispatcher.deliveries()] == ["webhook"]
