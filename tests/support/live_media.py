"""Test media for the live view: numbered H.264/HEVC clips, feeding them, decoding what came out."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from hearthcam.live import Chunk, ChunkKind, LiveBroadcaster
from tests.support.factories import draw_frame_number, read_frame_number

PacketHook = Callable[[int, "Packet[VideoStream]"], None]


def write_numbered(
    path: Path,
    *,
    seconds: float = 3.0,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    gop: int = 10,
    codec: str = "libx264",
    profile: str | None = None,
    bframes: int = 0,
    bit_rate: int | None = None,
) -> Path:
    """An MP4 of frames numbered from 0 (``factories.read_frame_number`` reads them back)."""
    # ultrafast leaves out CABAC and 8x8 transforms, which makes any profile Constrained Baseline.
    options = {"preset": "ultrafast" if profile is None else "veryfast"}
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}"
    if codec == "libx264":
        options["x264-params"] = params
    elif codec == "libx265":
        options["x265-params"] = params + ":log-level=error"
    else:
        options = {"g": str(gop)}
    if profile is not None:
        options["profile"] = profile
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps, options=options)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.time_base = Fraction(1, fps)
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        rng = np.random.default_rng(7)
        for i in range(round(seconds * fps)):
            image = draw_frame_number(i, size)
            if bit_rate is not None:  # camera-like detail, so packets have camera-like sizes
                noise = rng.integers(0, 48, (size[1], size[0], 1), dtype=np.uint8)
                image[32:] = np.clip(image[32:] + noise[32:], 0, 255)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def feed(
    broadcaster: LiveBroadcaster, path: Path, hook: PacketHook | None = None, loops: int = 1
) -> int:
    """Writes a file's packets into the broadcaster (``hook(i, packet)`` first); returns count."""
    written = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        for _ in range(loops):
            for packet in packets:
                if hook is not None:
                    hook(written, packet)
                broadcaster.write(packet, stream, 0.0)
                written += 1
    return written


def keyframe_indices(path: Path) -> list[int]:
    """Indices of the keyframe packets of a file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            i for i, p in enumerate(p for p in container.demux(stream) if p.size) if p.is_keyframe
        ]


def joined(chunks: Iterable[Chunk]) -> bytes:
    """What an MSE SourceBuffer would be given, as one byte string."""
    return b"".join(chunk.data for chunk in chunks)


def decode(data: bytes) -> list[VideoFrame]:
    """Decodes an fMP4 byte string (init segment first); decode errors raise."""
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        return list(container.decode(video=0))


def timestamps(frames: list[VideoFrame]) -> list[int]:
    """The pts of decoded frames (every one must have one)."""
    pts = [f.pts for f in frames]
    assert all(p is not None for p in pts)
    return [p for p in pts if p is not None]


def numbers(frames: list[VideoFrame]) -> list[int]:
    """The frame numbers drawn into decoded frames."""
    return [
        read_frame_number(np.asarray(f.to_ndarray(format="bgr24"), dtype=np.uint8)) for f in frames
    ]


def split_inits(chunks: list[Chunk]) -> list[list[Chunk]]:
    """Chunks grouped per init segment (each group starts with its INIT)."""
    groups: list[list[Chunk]] = []
    for chunk in chunks:
        if chunk.kind is ChunkKind.INIT:
            groups.append([])
        groups[-1].append(chunk)
    return groups
