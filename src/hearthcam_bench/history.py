"""Scenario ``history``: how soon 24/7 playback shows a picture, at opening and after a seek.

A camera's recording is made the way a running hearthcam makes it: the benchmark's 1080p
camera clip (15 fps, a keyframe a second) stream-copied by the real ``SegmentRecorder`` into
sealed 60 s segments (10 of them; 3 in quick mode), indexed in a real store. The real web
server (uvicorn on loopback) serves them; a client signed in as the owner times, per request:

- **open**: the history listing (spans, gaps, events), then a 30 s window of media from a
  moment, up to its first frame decoded (PyAV) from the first whole fragment received;
- **seek**: the same without the listing, at other moments (a seek to media the page already
  holds is a local ``currentTime`` change: not measured here).

What is not counted: the browser's own MSE append and decode (a GOP of 1080p H.264 takes it
a few ms on a desktop), and the page's JavaScript.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import httpx

from hearthcam.accounts import Accounts
from hearthcam.app import open_media
from hearthcam.config import Config, parse_config
from hearthcam.layout import RECORDINGS_DIR
from hearthcam.live.boxes import BoxSplitter
from hearthcam.pipeline.recorder import SegmentRecorder
from hearthcam.store.db import Store
from hearthcam.types import Segment
from hearthcam.vault.media import MediaIO
from hearthcam.web import WebServices, start_server
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import percentile
from hearthcam_bench.report import Report

CAMERA = "porch"
OWNER, PASSWORD = "keeper", "copper kettle song at dusk"
SEGMENTS, QUICK_SEGMENTS = 10, 3
SEEKS, QUICK_SEEKS = 20, 6
WINDOW_S = 30.0
FIRST_FRAME_TARGET = 0.5  # seconds, p95, on the server side


@dataclass(frozen=True)
class Sample:
    first_byte: float
    first_frame: float
    window: float  # the whole 30 s window received
    window_bytes: int


def record(media: MediaIO, store: Store, data_dir: Path, clip: Path, start: float) -> float:
    """Records ``clip`` as 60 s segments from ``start``; returns where the recording ends."""
    done: list[Segment] = []

    def finished(segment: Segment) -> None:
        store.add_segment(segment)
        done.append(segment)

    recorder = SegmentRecorder(CAMERA, data_dir / RECORDINGS_DIR, 60.0, finished, media)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size and packet.dts is not None:
                recorder.write(packet, stream, start + float(packet.dts * packet.time_base))
        recorder.close()
    return max(s.end for s in done)


def first_frame(chunks: Iterator[bytes], started: float) -> tuple[float, float, bytes]:
    """(time to the first byte, to the first decoded frame, the bytes read so far)."""
    splitter = BoxSplitter()
    head = b""
    got_byte = 0.0
    boxes: list[bytes] = []
    for chunk in chunks:
        got_byte = got_byte or time.perf_counter() - started
        head += chunk
        boxes += [data for _kind, data in splitter.feed(chunk)]
        if sum(1 for data in boxes if data[4:8] == b"mdat") >= 1:
            break
    with av.open(io.BytesIO(b"".join(boxes)), "r", format="mp4") as container:
        next(container.decode(video=0))
    return got_byte, time.perf_counter() - started, head


def play(client: httpx.Client, since: float, origin: float) -> Sample:
    """One media window from ``since``, timed."""
    params = {"since": since, "until": since + WINDOW_S, "origin": origin}
    started = time.perf_counter()
    with client.stream("GET", f"/api/history/{CAMERA}/media", params=params) as response:
        response.raise_for_status()
        chunks = response.iter_raw()
        first_byte, frame, head = first_frame(chunks, started)
        size = len(head) + sum(len(c) for c in chunks)
    return Sample(first_byte, frame, time.perf_counter() - started, size)


def _row(table: Report, what: str, values: list[float], target: float | None) -> None:
    p95 = percentile(values, 95)
    ok = None if target is None or p95 is None else p95 < target
    table.add(
        what,
        str(len(values)),
        fmt.secs(percentile(values, 50), 3),
        fmt.secs(p95, 3),
        fmt.secs(max(values, default=None), 3),
        "" if target is None else f"p95 < {target:g} s",
        fmt.verdict(ok),
    )


def run(ctx: BenchContext) -> list[Report]:
    work = ctx.workdir("history")
    segments = QUICK_SEGMENTS if ctx.quick else SEGMENTS
    seeks = QUICK_SEEKS if ctx.quick else SEEKS
    clip = ctx.media.quiet(60).main  # one minute of the 1080p camera
    cameras = {CAMERA: {"inputs": [{"path": "porch.mp4"}]}}
    config = parse_config({"data_dir": str(work / "data"), "cameras": cameras})
    config.data_dir.mkdir(parents=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    try:
        return _measure(ctx, store, config, clip, segments, seeks)
    finally:
        store.close()


def _measure(
    ctx: BenchContext, store: Store, config: Config, clip: Path, segments: int, seeks: int
) -> list[Report]:
    data_dir = config.data_dir
    accounts = Accounts(store)
    now = time.time()
    accounts.setup(OWNER, PASSWORD, "Bench", [CAMERA], now)
    media = open_media(store, data_dir)
    start = now - 3600
    end = start
    for _ in range(segments):
        end = record(media, store, data_dir, clip, end)
    login = accounts.authenticate(OWNER, PASSWORD, ip="127.0.0.1", user_agent="bench", now=now)
    assert login.token is not None
    services = WebServices(config=config, store=store, accounts=accounts, media=media, live={})
    server = start_server(services, "127.0.0.1", 0)
    rng = random.Random(11)
    opens: list[Sample] = []
    listings: list[float] = []
    seeked: list[Sample] = []
    try:
        with httpx.Client(
            base_url=server.url, cookies={"hc_session": login.token}, timeout=30
        ) as client:
            origin = time.time() - 3 * 86400
            for _ in range(max(3, seeks // 3)):
                started = time.perf_counter()
                listed = client.get(f"/api/history/{CAMERA}", params={"since": origin})
                listed.raise_for_status()
                listings.append(time.perf_counter() - started)
                at = rng.uniform(start, end - WINDOW_S)
                sample = play(client, at, origin)
                opens.append(
                    Sample(
                        sample.first_byte + listings[-1],
                        sample.first_frame + listings[-1],
                        sample.window + listings[-1],
                        sample.window_bytes,
                    )
                )
            for _ in range(seeks):
                seeked.append(play(client, rng.uniform(start, end - WINDOW_S), origin))
    finally:
        server.stop()
    table = Report(
        f"history: time to first frame ({segments} sealed 60 s segments of 1080p, 15 fps, "
        "a keyframe a second)",
        ["step", "samples", "p50", "p95", "max", "target", "result"],
    )
    _row(table, "listing (3 days of spans, gaps, events)", listings, None)
    _row(table, "open: listing + media → first byte", [s.first_byte for s in opens], None)
    _row(
        table,
        "open: listing + media → first frame",
        [s.first_frame for s in opens],
        FIRST_FRAME_TARGET,
    )
    _row(table, "seek: media → first byte", [s.first_byte for s in seeked], None)
    _row(table, "seek: media → first frame", [s.first_frame for s in seeked], FIRST_FRAME_TARGET)
    _row(table, "seek: whole 30 s window received", [s.window for s in seeked], None)
    mean_bytes = sum(s.window_bytes for s in seeked) / max(1, len(seeked))
    table.notes += [
        "Real uvicorn on loopback, real SQLite, segments sealed (AES-GCM) and decrypted per "
        "request; first frame = the first whole fragment (one GOP) received and its first "
        "frame decoded with PyAV.",
        f"A 30 s window averaged {mean_bytes / 1e6:.1f} MB.",
        "Not counted: the browser's MSE append and decode, and the page's JavaScript; a seek "
        "to media the page already holds is a local currentTime change.",
    ]
    ctx.console.print(f"history: {len(opens)} opens, {len(seeked)} seeks", highlight=False)
    return [table]
