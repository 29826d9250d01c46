"""Tests of ntfy push against a real HTTP server on 127.0.0.1: method, path, headers and body."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from email.header import decode_header

import pytest

from hearthcam.alerts.checkpoints import notice
from hearthcam.alerts.ntfy import NtfyNotifier, encoded_word
from hearthcam.alerts.text import Alert, AlertFormatter
from hearthcam.alerts.webhook import RetryPolicy
from hearthcam.config import NtfyConfig
from hearthcam.types import Event, Verdict
from tests.alerts.test_webhook import RecordingServer, Reply

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    """A recording server answering 200."""
    recorder = RecordingServer()
    yield recorder
    recorder.close()


def alert(
    verdict: Verdict = Verdict.THREAT,
    labels: tuple[str, ...] = ("person",),
    names: dict[str, str] | None = None,
) -> Alert:
    event = Event(
        id="ev9",
        camera="front_door",
        verdict=verdict,
        labels=labels,
        start=0.0,
        end=3.0,
        wall_start=dt.datetime(2024, 1, 8, 21, 4, tzinfo=dt.UTC).timestamp(),
        wall_end=dt.datetime(2024, 1, 8, 21, 5, tzinfo=dt.UTC).timestamp(),
        score=0.9,
        alert=True,
    )
    names = names or {"front_door": "Front door"}
    return AlertFormatter("http://127.0.0.1:8971", names, dt.UTC).alert(event)


def push(url: str, token: str | None = None) -> NtfyNotifier:
    return NtfyNotifier(
        NtfyConfig(url=f"{url}/", topic="hearth-alerts", token=token),
        RetryPolicy(retries=2, initial=0.02, total=5.0),
    )


def test_threat_push_has_ntfy_headers(server: RecordingServer) -> None:
    channel = push(server.url, token="tk_secret")
    channel.send(alert())
    channel.close()
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/hearth-alerts")
    headers = request.headers
    assert headers["Title"] == "Person at Front door, 21:04"
    assert headers["Tags"] == "rotating_light,front_door"
    assert headers["Click"] == "http://127.0.0.1:8971/events/ev9"
    assert headers["Priority"] == "high"
    assert headers["Authorization"] == "Bearer tk_secret"
    assert request.body.decode("utf-8") == "Person at Front door, 21:04."


def test_pet_push_is_not_urgent_and_sends_no_token(server: RecordingServer) -> None:
    channel = push(server.url)
    channel.send(alert(Verdict.PET, ("dog",)))
    channel.close()
    (request,) = server.requests
    assert request.headers["Title"] == "Dog at Front door, 21:04"
    assert request.headers["Tags"] == "dog,front_door"
    assert request.headers["Priority"] == "default"
    assert "Authorization" not in request.headers


def test_non_ascii_title_is_an_encoded_word(server: RecordingServer) -> None:
    channel = push(server.url)
    channel.send(alert(names={"front_door": "Küche"}))
    channel.close()
    title = server.requests[0].headers["Title"]
    assert title.isascii()
    ((raw, charset),) = decode_header(title)
    assert isinstance(raw, bytes)
    assert raw.decode(charset or "ascii") == "Person at Küche, 21:04"
    assert server.requests[0].body.decode("utf-8") == "Person at Küche, 21:04."
    assert encoded_word("plain") == "plain"


def test_server_error_is_retried() -> None:
    recorder = RecordingServer([Reply(502), Reply(200)])
    try:
        channel = push(recorder.url)
        channel.send(alert())
        channel.close()
        assert len(recorder.requests) == 2
        assert channel.failures == 0
    finally:
        recorder.close()


def test_a_checkpoint_is_a_quiet_text_push_ending_with_its_json(server: RecordingServer) -> None:
    text = (
        '{"origin": "hearthcam view log", "size": 7, "root": "' + "ab" * 32 + '", '
        '"time_ms": 1, "signature": "c2ln", "public_key": null}'
    )
    channel = push(server.url, token="tk_secret")
    channel.send_checkpoint(notice(3, text))
    channel.close()
    (request,) = server.requests
    assert request.path == "/hearth-alerts"
    assert request.headers["Title"] == "hearthcam view log checkpoint"
    assert request.headers["Priority"] == "low"
    assert request.headers["Authorization"] == "Bearer tk_secret"
    assert "Click" not in request.headers
    assert "Attach" not in request.headers
    lines = request.body.decode("utf-8").splitlines()
    assert "household 3: 7 entries" in lines[0]
    assert json.loads(lines[-1])["size"] == 7  # the line to save for `audit verify --against`
