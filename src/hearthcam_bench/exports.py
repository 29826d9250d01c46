"""Scenario ``exports``: how fast a time range is exported, as a multiple of real time.

Footage is recorded as a camera records it: an H.264 1280x720 stream at 15 fps (a moving test
pattern with sensor-like noise, a keyframe every 2 s) fed packet by packet through the
``SegmentRecorder`` into 4 s sealed segments indexed in a real SQLite store. Then exports of
ranges of growing length run through the real export job (``Exporter.run``: decrypt each
segment, remux by stream copy, seal the fragmented MP4). The figures: wall time, media seconds
exported per wall second (x real time), plaintext MB/s, and the process's peak RSS growth (an
export writes front to back, so it should not grow with the range).
"""

from __future__ import annotations

import time
import uuid
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import psutil

from hearthcam.app import open_media
from hearthcam.config import ExportsConfig
from hearthcam.exports import Exporter
from hearthcam.exports.jobs import Requester
from hearthcam.layout import RECORDINGS_DIR
from hearthcam.pipeline.recorder import SegmentRecorder
from hearthcam.store.db import Store
from hearthcam.store.exports import ExportRecord, ExportState
from hearthcam.vault.media import MediaIO
from hearthcam_bench.context import BenchContext
from hearthcam_bench.report import Report

SIZE = (1280, 720)
FPS = 15
T0 = 1_700_000_000.0


def encode_footage(path: Path, seconds: float, size: tuple[int, int] = SIZE) -> Path:
    """An H.264 MP4 of a moving pattern with noise (a camera-like bitrate)."""
    width, height = size
    rng = np.random.default_rng(7)
    base = np.zeros((height, width, 3), dtype=np.uint8)
    base[:, :, 0] = (np.arange(width)[None, :] // 5) % 256
    base[:, :, 1] = (np.arange(height)[:, None] // 3) % 256
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(
            "libx264",
            rate=FPS,
            options={
                "preset": "ultrafast",
                "crf": "28",
                "x264-params": f"keyint={2 * FPS}:min-keyint={2 * FPS}:scenecut=0:bframes=0",
            },
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        for i in range(round(seconds * FPS)):
            image = base.copy()
            x = (9 * i) % (width - 80)
            image[height // 2 : height // 2 + 80, x : x + 80] = 255
            noise = rng.integers(0, 12, size=(height // 8, width // 8, 1), dtype=np.uint8)
            image += np.repeat(np.repeat(noise, 8, axis=0), 8, axis=1)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def record(store: Store, media: MediaIO, data_dir: Path, clip: Path) -> int:
    """Records ``clip`` as camera ``bench`` from T0 into sealed 4 s segments; returns bytes."""
    recorder = SegmentRecorder("bench", data_dir / RECORDINGS_DIR, 4.0, store.add_segment, media)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size and packet.dts is not None:
                recorder.write(packet, stream, T0 + float(packet.dts * packet.time_base))
    recorder.close()
    return sum(p.stat().st_size for p in (data_dir / RECORDINGS_DIR).rglob("*.mp4"))


def run(ctx: BenchContext, minutes: tuple[float, ...] | None = None) -> list[Report]:
    """Exports ranges of ``minutes`` (default 1, 5, 10; quick: 0.5, 1, 2) of recorded footage."""
    lengths = minutes or ((0.5, 1.0, 2.0) if ctx.quick else (1.0, 5.0, 10.0))
    work = ctx.workdir("exports")
    data = work / "data"
    data.mkdir()
    table = Report(
        "exports: a recorded range as one sealed MP4",
        ["range", "wall s", "x real time", "MB", "MB/s", "peak RSS growth MB"],
    )
    process = psutil.Process()
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data) as store:
        media = open_media(store, data)
        clip = encode_footage(work / "footage.mp4", max(lengths) * 60 + 4)
        recorded = record(store, media, data, clip)
        clip.unlink()
        exporter = Exporter(
            store, media, data, ExportsConfig(max_minutes=max(lengths) + 1),
            clock=lambda: T0 + 86400,
        )  # fmt: skip
        who = Requester(1, "bench", 1)
        for length in lengths:
            queued = queue(exporter, T0 + 1.0, T0 + 1.0 + length * 60)
            rss = process.memory_info().rss
            started = time.perf_counter()
            done = exporter.run(queued.id)
            wall = time.perf_counter() - started
            grown = max(0, process.memory_info().rss - rss) / 1e6
            if done is None or done.state is not ExportState.DONE or done.size is None:
                raise RuntimeError(f"export of {length} min failed: {done}")
            megabytes = done.size / 1e6
            table.add(
                f"{length:g} min", f"{wall:.2f}", f"{length * 60 / wall:.0f}x",
                f"{megabytes:.1f}", f"{megabytes / wall:.1f}", f"{grown:.1f}",
            )  # fmt: skip
            exporter.delete(done, who)
    table.notes.append(
        f"footage: {SIZE[0]}x{SIZE[1]} H.264 at {FPS} fps, a keyframe every 2 s, recorded by the "
        f"SegmentRecorder into 4 s sealed segments ({recorded / 1e6:.0f} MB in all)"
    )
    table.notes.append(
        "wall: Exporter.run alone (the job the worker runs): read and decrypt the segments, "
        "remux by stream copy, seal; RSS growth: resident memory after the export minus before"
    )
    return [table]


def queue(exporter: Exporter, start: float, end: float) -> ExportRecord:
    """A queued export row that no worker takes: ``run`` renders it here, timed alone."""
    record = ExportRecord(
        id=uuid.uuid4().hex, household_id=1, camera="bench", start=start, end=end,
        event_id=None, created_by=1, created=T0, state=ExportState.QUEUED, progress=0.0,
        error=None, path=None, size=None, finished=None, expires=T0 + 86400 * 7,
    )  # fmt: skip
    exporter.rows.add(record)
    return record
