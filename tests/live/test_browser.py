"""The fMP4 stream played by Chromium's Media Source Extensions (Debian's /usr/bin/chromium)."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from av.packet import Packet
from av.video.stream import VideoStream
from playwright.sync_api import sync_playwright

from hearthcam.live import Chunk, ChunkKind, LiveBroadcaster, Subscription
from tests.support.live_media import feed, write_numbered
from tests.support.required import require

CHROMIUM = Path("/usr/bin/chromium")

PAGE = b"""<!doctype html><html><body><video id="v" muted playsinline></video><script>
window.result = null;
(async () => {
  const meta = await (await fetch("/meta")).json();
  const video = document.getElementById("v");
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise(r => source.addEventListener("sourceopen", r, {once: true}));
  let buffer = null, mime = null;
  const inits = meta.filter(m => m.kind === "init");
  const supported = inits.map(m => MediaSource.isTypeSupported(m.mime));
  for (let i = 0; i < meta.length; i++) {
    if (meta[i].kind === "init") {
      if (buffer === null) buffer = source.addSourceBuffer(meta[i].mime);
      else if (meta[i].mime !== mime) buffer.changeType(meta[i].mime);
      mime = meta[i].mime;
    }
    const data = await (await fetch("/chunk/" + i)).arrayBuffer();
    buffer.appendBuffer(data);
    await new Promise((ok, bad) => {
      buffer.addEventListener("updateend", ok, {once: true});
      buffer.addEventListener("error", bad, {once: true});
    });
  }
  source.endOfStream();
  await video.play();
  const ranges = [];
  for (let i = 0; i < video.buffered.length; i++)
    ranges.push([video.buffered.start(i), video.buffered.end(i)]);
  window.result = {supported, ranges, error: video.error && video.error.message};
})().catch(e => { window.result = {failure: String(e)}; });
</script></body></html>"""


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves the page, the chunk list and each chunk."""

    def __init__(self, chunks: list[Chunk], *args: Any) -> None:
        self.chunks = chunks
        super().__init__(*args)

    def do_GET(self) -> None:
        if self.path == "/":
            body, kind = PAGE, "text/html"
        elif self.path == "/meta":
            meta = [{"kind": c.kind.value, "mime": c.mime} for c in self.chunks]
            body, kind = json.dumps(meta).encode(), "application/json"
        elif self.path.startswith("/chunk/"):
            body, kind = self.chunks[int(self.path.removeprefix("/chunk/"))].data, "video/mp4"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


Serve = Callable[[list[Chunk]], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Returns ``serve(chunks) -> url`` of a loopback HTTP server for the page and the chunks."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(chunks: list[Chunk]) -> str:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, chunks)
        )
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def play_in_chromium(url: str) -> dict[str, Any]:
    """Loads the page, waits until every chunk is appended and 1 s has played; its result."""
    require(CHROMIUM.is_file(), "Debian's chromium is not installed (scripts/setup.sh installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("window.result !== null", timeout=20_000)
            result: dict[str, Any] = page.evaluate("window.result")
            assert "failure" not in result, result
            page.wait_for_function("document.getElementById('v').currentTime > 1.0", timeout=10_000)
        finally:
            browser.close()
    return result


@pytest.mark.integration
def test_chromium_plays_a_late_join_and_two_stream_changes_without_a_gap(
    clip: Path, other_clip: Path, serve: Serve
) -> None:
    broadcaster = LiveBroadcaster("cam")
    chunks: list[Chunk] = []
    subs: list[Subscription] = []

    def join_late(i: int, packet: Packet[VideoStream]) -> None:
        if i == 15 and not subs:
            subs.append(broadcaster.subscribe())
        for sub in subs:
            chunks.extend(sub.drain())

    feed(broadcaster, clip, join_late)  # 4 s, joined at 1.5 s: from the keyframe at 1 s
    feed(broadcaster, other_clip, join_late)  # 2 s of High profile, another size
    feed(broadcaster, clip, join_late)  # 4 s
    broadcaster.close()
    chunks += subs[0].drain()
    assert sum(c.kind is ChunkKind.INIT for c in chunks) == 3

    result = play_in_chromium(serve(chunks))
    assert all(result["supported"])
    assert result["error"] is None
    # One buffered range from 0: the three streams joined on one timeline, no hole to stall at.
    [(start, end)] = result["ranges"]
    assert start == pytest.approx(0.0, abs=0.01)
    assert end == pytest.approx(3.0 + 2.0 + 4.0, abs=0.15)


@pytest.mark.integration
def test_chromium_plays_b_frames_from_the_start(tmp_path: Path, serve: Serve) -> None:
    path = write_numbered(tmp_path / "b.mp4", seconds=3.0, bframes=2)
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    feed(broadcaster, path)
    broadcaster.close()
    # Playback gets past the first B-frame's composition offset (there is no edit list).
    result = play_in_chromium(serve(sub.drain()))
    assert result["error"] is None
    [(start, end)] = result["ranges"]
    assert start == pytest.approx(0.2, abs=0.01)  # two B-frames at 10 fps
    assert end == pytest.approx(3.2, abs=0.01)
