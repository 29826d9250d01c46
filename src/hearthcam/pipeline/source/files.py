"""What ``analyze`` accepts: one regular video file, checked before anything is read or stored.

``analyze`` reads a file to its end at full speed, so an input that never ends (a network
stream, a FIFO, ``/dev/zero``) would never finish, and one it cannot use (a still image, a
video of a few pixels) would finish silently with no events. Each is refused here with one line
that says what the input is and what to do instead. Cameras and streams belong to ``run``.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Final

from hearthcam import mp4
from hearthcam.config import SourceConfig
from hearthcam.errors import SourceError, SourceUnreadable
from hearthcam.pipeline.source.inputs import StreamInfo, probe, redact_url

#: The smallest frame side the detect stage accepts (DetectConfig's lower bound on its size).
MIN_SIDE: Final = 64
# A URL ("rtsp://", "http://", "udp://") or FFmpeg's pipe: protocol: never a file to read to
# its end. A name with a colon but no "//" ("front 10:00.mp4") stays a path.
_STREAM: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|pipe:")
# Image demuxers: FFmpeg opens a JPEG or PNG as a one-frame "video".
_IMAGE_DEMUXERS: Final = ("image2", "_pipe")
# Files that look regular but are views of the kernel (/proc/self/mem reads as 0 bytes, then
# fails or never ends).
_KERNEL_TREES: Final = ("/proc/", "/sys/")


class IndexLost(SourceUnreadable):
    """An MP4 cut before or inside its index (moov): no demuxer finds a frame in it."""


def check_video_file(path: str, cfg: SourceConfig) -> StreamInfo:
    """Probes ``path`` as a video file for ``analyze``; raises a SourceError that says why not."""
    _refuse_streams(path)
    _check_regular(path)
    try:
        info = probe(path, cfg)
    except SourceError:
        cut = cut_mp4_index(Path(path))
        if cut is not None:
            raise IndexLost(f"{path}: {cut}") from None
        raise
    if info.demuxer is not None and info.demuxer.endswith(_IMAGE_DEMUXERS):
        raise SourceUnreadable(
            f"{path}: a still image ({info.codec}, {info.width}x{info.height}), not a video"
        )
    if min(info.width, info.height) < MIN_SIDE:
        raise SourceUnreadable(
            f"{path}: the video is {info.width}x{info.height} pixels, smaller than the detector "
            f"can use (at least {MIN_SIDE}x{MIN_SIDE})"
        )
    return info


def _refuse_streams(path: str) -> None:
    """Refuses URLs and devices: they do not end, so ``analyze`` would not either."""
    if _STREAM.match(path) or path.startswith("/dev/video"):
        raise SourceError(
            f"{redact_url(path)}: analyze reads video files; cameras and streams "
            "(rtsp://, http://, /dev/video) are for `hearthcam run`"
        )


def _check_regular(path: str) -> None:
    """A missing file, a FIFO, a device or a kernel file is named as what it is."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SourceUnreadable(f"{path}: no such file") from None
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot read ({error.strerror})") from None
    real = os.path.realpath(path)
    if stat.S_ISDIR(info.st_mode):
        raise SourceUnreadable(f"{path}: a directory, not a video file")
    if not stat.S_ISREG(info.st_mode) or real.startswith(_KERNEL_TREES):
        raise SourceUnreadable(f"{path}: not a regular video file ({_what(info.st_mode, real)})")
    if info.st_size == 0:
        raise SourceUnreadable(f"{path}: the file is empty (0 bytes)")


def _what(mode: int, real: str) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return f"a kernel file in /{real.split('/')[1]}"


def cut_mp4_index(path: Path) -> str | None:
    """Why an MP4 that FFmpeg cannot open is unreadable, if it was cut short before or inside
    its index (moov): recorders that write the index last lose all of it when killed."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            whole = list(mp4.whole_boxes(file))
            if not whole or whole[0].type != "ftyp" or any(b.type == "moov" for b in whole):
                return None
            at = whole[-1].end
            head = mp4.header(file, at, 1 << 62, open_ended=False) if at < size else None
    except (OSError, mp4.BoxError):
        return None
    if head is not None and head.type == "moov":
        cut = f"its index (moov) is cut at byte {size - at} of {head.size}"
    else:
        cut = "its index (moov) is missing"
    return (
        f"file ends early at byte {size} (truncated?): {cut}, so no frame can be found in it; "
        "nothing was analysed"
    )
