"""The stream test is no way into the server's network: real HTTP servers on 127.0.0.1 that
redirect and serve HLS playlists pointing elsewhere, real RTSP/HTTP failures that all read alike,
refused addresses in every spelling, a per-user budget and the allowed camera networks.

Nothing here sends a packet beyond loopback, even against a server that would follow them:
playlists and redirects point at an "internal" server on 127.0.0.2 (another host to the one
typed, and one that logs every request, so a test can tell nothing reached it) or at
``localhost``; the metadata address is only ever refused before anything is resolved."""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import ipaddress
import socket
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from hearthcam.config import SourceConfig, parse_config
from hearthcam.pipeline.source import StreamInfo
from hearthcam.web import WebServices, create_app
from hearthcam.web.stream_test import GENERIC_FAILURE, pinned
from hearthcam_bench.broker import free_port
from tests.support.world import ORIGIN, World

METADATA = "http://169.254.169.254/latest/meta-data/"
BASIC = "Basic " + base64.b64encode(b"viewer:s3cret pw").decode()
JPEG = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()
INSIDE = "127.0.0.2"  # stands for the metadata service or a neighbour's network


@dataclass
class StreamSite:
    """A loopback HTTP server of HLS playlists, redirects and one MPEG-TS segment, and the
    server on ``INSIDE`` they try to send the test to."""

    port: int
    inside: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)  # (Host header, path)
    reached_inside: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _segment(path: Path) -> None:
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for i in range(10):
            image = np.full((120, 160, 3), i * 20, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _playlist(*entries: str) -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    for entry in entries:
        lines += ["#EXTINF:1.0,", entry]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def _serve(
    handler: type[http.server.BaseHTTPRequestHandler], host: str
) -> Generator[int, None, None]:
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamSite]:
    root = tmp_path_factory.mktemp("hls")
    _segment(root / "seg0.ts")
    found = StreamSite(free_port())

    class Inside(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found.reached_inside.append(self.path)
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    inside_server = _serve(Inside, INSIDE)
    found.inside = f"http://{INSIDE}:{next(inside_server)}"
    here = f"http://localhost:{found.port}"
    pages = {
        "/live.m3u8": _playlist("seg0.ts"),
        "/leak.m3u8": _playlist(f"{found.inside}/latest/meta-data/seg.ts"),
        "/other-host.m3u8": _playlist(f"{here}/seg0.ts"),
        "/master.m3u8": f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\n{found.inside}/live.m3u8\n",
    }
    moves = {
        "/moved.m3u8": "/live.m3u8",
        "/to-inside": f"{found.inside}/latest/meta-data/",
        "/to-localhost": f"{here}/live.m3u8",
    }

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            found.requests.append((self.headers.get("Host", ""), self.path))
            if self.path == "/private/seg0.ts" and self.headers.get("Authorization") != BASIC:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/video":  # an MJPEG camera (no extension, as most have)
                self._mjpeg()
                return
            if self.path.startswith("/private/"):
                self.path = self.path.removeprefix("/private")
            if self.path in moves:
                self.send_response(302)
                self.send_header("Location", moves[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path in pages:
                body = pages[self.path].encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.apple.mpegurl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                super().do_GET()

        def _mjpeg(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
            with contextlib.suppress(OSError):  # the test hangs up after its frame
                for _ in range(20):
                    self.wfile.write(head % len(JPEG) + JPEG + b"\r\n")
                    self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", found.port), functools.partial(Handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join()
    inside_server.close()


def client(world: World, services: WebServices, username: str = "alice") -> TestClient:
    token = world.session_token(username)
    c = TestClient(create_app(services), headers={"origin": ORIGIN})
    c.__enter__()
    c.cookies.set("hc_session", token)
    c.headers["X-CSRF-Token"] = world.csrf(token)
    return c


@pytest.fixture
def real(world: World) -> Iterator[TestClient]:
    """Alice, with the real stream test and short timeouts."""
    config = world.config.model_copy(
        update={"source": SourceConfig(connect_timeout=3.0, read_timeout=1.0)}
    )
    c = client(world, replace(world.services, config=config, probe_stream=None))
    yield c
    c.__exit__(None, None, None)


def answer_of(alice: TestClient, url: str) -> dict[str, object]:
    answer = alice.post("/api/cameras/test", json={"url": url})
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


@pytest.mark.integration
def test_an_hls_camera_on_the_lan_still_works_and_a_same_host_redirect_is_followed(
    real: TestClient, site: StreamSite
) -> None:
    for path in ("/live.m3u8", "/moved.m3u8", "/video"):
        found = answer_of(real, site.url(path))
        assert found["ok"] is True, found
        assert (found["width"], found["height"]) == (160, 120)
    assert ("127.0.0.1:" + str(site.port), "/seg0.ts") in site.requests


@pytest.mark.integration
def test_a_camera_password_in_the_url_still_logs_in(real: TestClient, site: StreamSite) -> None:
    locked = site.url("/private/seg0.ts")
    assert answer_of(real, locked)["error"] == GENERIC_FAILURE
    opened = answer_of(real, locked.replace("//", "//viewer:s3cret%20pw@", 1))
    assert opened["ok"] is True, opened


@pytest.mark.integration
@pytest.mark.parametrize(
    "path", ["/leak.m3u8", "/other-host.m3u8", "/master.m3u8", "/to-inside", "/to-localhost"]
)
def test_playlists_and_redirects_that_leave_the_host_are_refused_before_connecting(
    real: TestClient, site: StreamSite, path: str
) -> None:
    site.requests.clear()
    found = answer_of(real, site.url(path))
    assert found["ok"] is False
    assert "another host" in str(found["error"])
    # Only the typed host was asked: "localhost" (another name for it) never was, and the
    # internal server was never reached.
    assert site.requests
    assert {host for host, _ in site.requests} == {f"127.0.0.1:{site.port}"}
    assert site.reached_inside == []


@pytest.mark.integration
def test_every_failure_to_connect_reads_the_same(
    real: TestClient, site: StreamSite, rtsp_closed_port: int
) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        quiet = silent.getsockname()[1]
        urls = [
            f"http://127.0.0.1:{free_port()}/video",  # refused
            f"http://127.0.0.1:{quiet}/video",  # open, silent
            site.url("/no-such-stream"),  # open, HTTP 404
            site.url("/live.m3u8", host="127.0.0.1").replace("live.m3u8", "seg0.ts.missing"),
            f"rtsp://127.0.0.1:{rtsp_closed_port}/cam",  # refused
            f"rtsp://127.0.0.1:{site.port}/cam",  # open, speaks HTTP, not RTSP
        ]
        errors = {str(answer_of(real, url)["error"]) for url in urls}
    finally:
        silent.close()
    assert errors == {GENERIC_FAILURE}


@pytest.fixture
def rtsp_closed_port() -> int:
    return free_port()


@pytest.mark.parametrize(
    "url",
    [
        METADATA,
        "http://2852039166/latest/meta-data/",
        "http://0xa9fea9fe/latest/meta-data/",
        "http://0251.0376.0251.0376/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "rtsp://0.0.0.0:554/cam",
        "rtsp://0:554/cam",
        "rtsp://[::]/cam",
        "rtsp://224.0.0.1/cam",
        "rtsp://255.255.255.255/cam",
        "http://[fe80::1]/",
    ],
)
def test_refused_addresses_in_any_spelling_never_reach_the_probe(world: World, url: str) -> None:
    probed: list[str] = []

    def probe(tried: str) -> StreamInfo:
        probed.append(tried)
        return StreamInfo("h264", 640, 360, 15.0, None)

    alice = client(world, replace(world.services, probe_stream=probe))
    found = answer_of(alice, url)
    assert found["ok"] is False
    assert "not allowed for a camera" in str(found["error"])
    for enabled in (True, False):  # a switched-off camera is not stored with it either
        body = {"name": "Meta", "detect_url": url, "enabled": enabled}
        added = alice.post("/api/cameras", json=body)
        assert added.status_code == 422
        assert "not allowed for a camera" in added.json()["detail"]
    alice.__exit__(None, None, None)
    assert probed == []


def test_app_cameras_stay_inside_the_allowed_networks(world: World) -> None:
    public = "rtsp://142.250.180.10/cam"
    alice = client(world, world.services)
    refused = alice.post("/api/cameras", json={"name": "Far", "detect_url": public})
    assert refused.status_code == 422
    assert "outside the camera networks" in refused.json()["detail"]
    assert answer_of(alice, "rtsp://192.168.1.20/cam")["ok"] is True  # the LAN is the point
    alice.__exit__(None, None, None)

    wider = parse_config(
        {**world.config.model_dump(mode="json", exclude={"cameras_allowed_networks"}),
         "cameras_allowed_networks": ["142.250.180.0/24"]}
    )  # fmt: skip
    alice = client(world, replace(world.services, config=wider))
    assert alice.post("/api/cameras", json={"name": "Far", "detect_url": public}).status_code == 201
    assert "outside" in str(answer_of(alice, "rtsp://192.168.1.20/cam")["error"])
    alice.__exit__(None, None, None)


def test_each_user_runs_ten_stream_tests_a_minute(world: World) -> None:
    alice = client(world, world.services)
    for _ in range(10):
        assert answer_of(alice, "rtsp://192.168.1.20/cam")["ok"] is True
    spent = alice.post("/api/cameras/test", json={"url": "rtsp://192.168.1.20/cam"})
    assert spent.status_code == 429
    assert int(spent.headers["Retry-After"]) >= 1
    adding = alice.post("/api/cameras", json={"name": "X", "detect_url": "rtsp://192.168.1.20/c"})
    assert adding.status_code == 429  # adding tests the stream too
    bob = client(world, world.services, "bob")
    assert answer_of(bob, "rtsp://192.168.1.20/cam")["ok"] is True  # his own budget
    world.clock.advance(61)
    assert answer_of(alice, "rtsp://192.168.1.20/cam")["ok"] is True
    alice.__exit__(None, None, None)
    bob.__exit__(None, None, None)


def test_rtsp_goes_to_the_vetted_address_with_user_password_and_port_kept() -> None:
    v4, v6 = ipaddress.IPv4Address("192.168.1.20"), ipaddress.IPv6Address("fd12::7")
    assert (
        pinned("rtsp://u:p%40w@cam.lan:8554/s?x=1", v4) == "rtsp://u:p%40w@192.168.1.20:8554/s?x=1"
    )
    assert pinned("rtsp://cam.lan/s", v6) == "rtsp://[fd12::7]/s"
    assert pinned("rtsp://0x7f.1/s", ipaddress.IPv4Address("127.0.0.1")) == "rtsp://127.0.0.1/s"
