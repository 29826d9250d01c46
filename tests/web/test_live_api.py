"""Live view over the API: fMP4 over a WebSocket, MJPEG, the latest-frame snapshot, and refusals."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from starlette.testclient import WebSocketDenialResponse, WebSocketTestSession

from hearthcam.live import LiveBroadcaster
from hearthcam.web.routes import live as live_module
from tests.support.asgi import running
from tests.support.world import World
from tests.web.conftest import ClientFor


def _feed(broadcaster: LiveBroadcaster, path: Path) -> int:
    """Writes a file's packets into the broadcaster, as the camera's I/O thread would."""
    written = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size:
                broadcaster.write(packet, stream, 0.0)
                written += 1
    return written


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def _receive_until_closed(ws: WebSocketTestSession, limit: int = 10_000) -> int:
    """Takes messages until the server closes; returns the close code.

    ``receive`` hands the close over as a message (only the typed ``receive_*`` raise on it),
    and a bounded loop makes a server that never closes fail instead of hang.
    """
    for _ in range(limit):
        message = ws.receive()
        if message["type"] == "websocket.close":
            return int(message.get("code", 1000))
    raise AssertionError(f"the server sent {limit} messages without closing")


def _box(data: bytes) -> bytes:
    """The type of the first MP4 box of a message."""
    return data[4:8]


def test_websocket_sends_mime_then_init_then_fragments(
    world: World, client_for: ClientFor, clip_source: Path
) -> None:
    owner = client_for("alice")
    broadcaster = world.services.live["front"].fmp4
    with owner.websocket_connect("/api/live/front/mse") as ws:
        _wait_for(lambda: broadcaster.viewers == 1)
        feeder = threading.Thread(target=_feed, args=(broadcaster, clip_source))
        feeder.start()
        first = json.loads(ws.receive_text())
        assert first["mime"].startswith('video/mp4; codecs="avc1.')
        init = ws.receive_bytes()
        assert _box(init) == b"ftyp"
        assert b"moov" in init
        fragments = [ws.receive_bytes() for _ in range(5)]
        assert all(_box(f) == b"moof" for f in fragments)
        feeder.join()
    _wait_for(lambda: broadcaster.viewers == 0)  # leaving closed the subscription


def test_websocket_refusals_match_http(world: World, client_for: ClientFor) -> None:
    def refused(client_name: str, path: str, **kwargs: object) -> tuple[int, object]:
        client = client_for(client_name)
        with (
            pytest.raises(WebSocketDenialResponse) as denied,
            client.websocket_connect(path, **kwargs),  # type: ignore[arg-type]
        ):
            pass
        return denied.value.status_code, denied.value.json()

    assert refused("", "/api/live/front/mse")[0] == 401
    assert refused("ada", "/api/live/front/mse")[0] == 403
    assert refused("ann", "/api/live/front/mse")[0] == 403
    # Another household's camera answers exactly as a camera that does not exist.
    assert refused("bob", "/api/live/front/mse") == refused("bob", "/api/live/nosuch/mse")
    assert refused("bob", "/api/live/front/mse")[0] == 404
    assert (
        refused("alice", "/api/live/front/mse", headers={"origin": "https://evil.example"})[0]
        == 403
    )
    client = client_for("alice")
    del client.headers["origin"]
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/api/live/front/mse"),
    ):
        pass
    assert denied.value.status_code == 403  # browsers always send Origin on a WebSocket


def test_mjpeg_streams_parts(world: World) -> None:
    token = world.session_token("alice")

    async def scenario() -> None:
        async with running(world.app) as app:
            world.feed_frame("front", 1)
            call = app.call("GET", "/api/live/front/mjpeg", {"cookie": f"hc_session={token}"})
            await call.started()
            assert call.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
            await call.read_until(lambda b: b.count(b"--frame\r\n") >= 1)
            await asyncio.sleep(0.25)  # the MJPEG view sends at most 5 frames a second
            await asyncio.to_thread(world.feed_frame, "front", 2)
            body = await call.read_until(lambda b: b.count(b"--frame\r\n") >= 2)
            await call.close()
            part = body.split(b"--frame\r\n")[1]
            head, _, jpeg = part.partition(b"\r\n\r\n")
            assert b"Content-Type: image/jpeg" in head
            image = cv2.imdecode(np.frombuffer(jpeg.removesuffix(b"\r\n"), np.uint8), 1)
            assert image is not None
            assert image.shape == (120, 160, 3)
            assert world.services.live["front"].mjpeg.viewers == 0

            bob = world.session_token("bob")
            for camera in ("front", "nosuch"):
                denied = await app.request(
                    "GET", f"/api/live/{camera}/mjpeg", {"cookie": f"hc_session={bob}"}
                )
                assert (denied.status, denied.body) == (404, b'{"detail":"not found"}')

    asyncio.run(scenario())


def test_camera_snapshot_is_the_latest_frame(world: World, client_for: ClientFor) -> None:
    owner = client_for("mia")
    assert owner.get("/api/cameras/front/snapshot").status_code == 404  # no frame yet
    world.feed_frame("front", 3)
    response = owner.get("/api/cameras/front/snapshot")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (120, 160, 3)
    assert world.services.live["front"].mjpeg.viewers == 0
    bob = client_for("bob")
    assert (
        bob.get("/api/cameras/front/snapshot").json()
        == bob.get("/api/cameras/nosuch/snapshot").json()
    )


def test_cameras_list_only_the_households(world: World, client_for: ClientFor) -> None:
    cameras = client_for("alice").get("/api/cameras").json()
    assert [c["name"] for c in cameras] == ["back", "front"]
    front = cameras[1]
    assert front == {
        "name": "front",
        "display_name": "Front door",
        "mse_url": "/api/live/front/mse",
        "mjpeg_url": "/api/live/front/mjpeg",
        "snapshot_url": "/api/cameras/front/snapshot",
    }
    assert [c["name"] for c in client_for("bob").get("/api/cameras").json()] == ["garage"]


@pytest.mark.timeout(60)  # a server that never closes blocks receive(): fail soon, not in 300 s
def test_live_views_end_when_the_session_ends(
    world: World, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_module, "RECHECK", 0.0)
    owner = client_for("alice")
    token = owner.cookies["hc_session"]
    broadcaster = world.services.live["front"].mjpeg
    with owner.websocket_connect("/api/live/front/mse") as ws:
        _wait_for(lambda: world.services.live["front"].fmp4.viewers == 1)
        world.accounts.logout(token)
        feeder = threading.Thread(
            target=_feed, args=(world.services.live["front"].fmp4, world.clip_source)
        )
        feeder.start()
        code = _receive_until_closed(ws)
        assert code == 1008  # policy violation: the session is over
        feeder.join()
    assert broadcaster.viewers == 0
