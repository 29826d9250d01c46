"""Plays a camera's recorded segments back as one fragmented MP4 stream for Media Source
Extensions: the history page's media.

Each segment is the recorder's fMP4 (ftyp+moov, then one moof+mdat per keyframe), its times
starting at 0. A window ``[since, until)`` is sent as the init segment (again only when the next
segment's differs: a reconnect may change the stream), then every fragment that overlaps the
window, in order, with its decode time (``tfdt``) rewritten to ``segment start - origin`` plus
its time in the segment. So the page's media timeline is wall time minus one ``origin`` it
chose: any window it asks for later lands where it belongs, and a gap in the recording is a gap
in the buffered ranges (which the page jumps). Nothing is re-encoded or re-muxed; a fragment's
bytes are copied but for its tfdt.

Segments are read through the media I/O (sealed ones are decrypted chunk by chunk, only the
fragments sent). ``open_playback`` opens the first segment before anything is sent, so a locked
household, a shredded key or a damaged file is an error the caller can still answer with a
status; a later segment that fails is logged and left out (its time is a hole the page jumps).
"""

from __future__ import annotations

import contextlib
import logging
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from hearthcam import mp4
from hearthcam.errors import StoreError
from hearthcam.live.boxes import fragment_info, with_decode_time
from hearthcam.live.codecs import mime_type, mse_codec
from hearthcam.mp4 import BoxError
from hearthcam.types import Segment
from hearthcam.vault.media import MediaIO, MediaReader

log = logging.getLogger(__name__)

PIECE: Final = 256 * 1024
# The sample entry's codec record and the codec name ``mse_codec`` knows it by.
_CODEC_RECORDS: Final = ((b"avcC", "h264"), (b"hvcC", "hevc"))
FALLBACK_MIME: Final = "video/mp4"


@dataclass(frozen=True, slots=True)
class Init:
    """A segment's init segment (everything before its first moof) and what it says."""

    data: bytes
    timescale: int
    first_fragment: int  # offset of the first moof
    mime: str


def _timescale(data: bytes) -> int:
    """The media timescale from the moov's first track (mdhd)."""
    mdhd = mp4.find(data, ("moov", "trak", "mdia", "mdhd"))
    if mdhd is None:
        raise BoxError("no mdhd in the init segment")
    version = data[mdhd.body]
    at = mdhd.body + (20 if version == 1 else 12)
    (timescale,) = struct.unpack_from(">I", data, at)
    if timescale <= 0:
        raise BoxError("mdhd timescale is 0")
    return int(timescale)


def _mime(data: bytes) -> str:
    """``video/mp4; codecs="..."`` from the sample entry's codec record, if it is one MSE
    takes."""
    for tag, codec in _CODEC_RECORDS:
        at = data.find(tag)
        if at >= 4:
            (size,) = struct.unpack_from(">I", data, at - 4)
            found = mse_codec(codec, data[at + 4 : at - 4 + size])
            if found:
                return mime_type(found)
    return FALLBACK_MIME


def read_init(reader: MediaReader) -> Init:
    """The init segment of a recorded segment (BoxError if it has none)."""
    for box in mp4.whole_boxes(reader):
        if box.type == "moof":
            reader.seek(0)
            data = reader.read(box.start)
            if mp4.find(data, ("moov",)) is None:
                break
            return Init(data, _timescale(data), box.start, _mime(data))
    raise BoxError("no init segment followed by a fragment")


@dataclass(frozen=True, slots=True)
class Window:
    """What to play: wall times ``[since, until)``, placed on a timeline that starts at
    ``origin`` (media time = wall time - origin)."""

    since: float
    until: float
    origin: float


class Playback:
    """The stream of one window; ``mime`` is known before the first byte."""

    def __init__(
        self, media: MediaIO, segments: Sequence[Segment], window: Window, first: MediaReader
    ) -> None:
        self._media = media
        self._segments = segments
        self._window = window
        self._first: MediaReader | None = first
        try:
            self._init = read_init(first)
        except BaseException:
            first.close()
            raise
        self.mime = self._init.mime
        self.fragments = 0  # sent so far
        self._sent_init: bytes | None = None

    def close(self) -> None:
        """Closes the first segment if the stream was never read."""
        if self._first is not None:
            self._first.close()
            self._first = None

    def chunks(self) -> Iterator[bytes]:
        """The stream's bytes, in pieces; closes every reader it opens."""
        for index, segment in enumerate(self._segments):
            reader = self._first if index == 0 else None
            self._first = None
            try:
                if reader is None:
                    reader = self._media.open(segment.path)
                init = self._init if index == 0 else read_init(reader)
                yield from self._segment(reader, segment, init)
            except (OSError, StoreError, BoxError) as error:
                # A later segment gone (retention), unreadable or damaged: the rest still plays.
                log.warning("history: segment %s left out: %s", segment.path, error)
            finally:
                if reader is not None:
                    with contextlib.suppress(OSError, StoreError):
                        reader.close()

    def _segment(self, reader: MediaReader, segment: Segment, init: Init) -> Iterator[bytes]:
        """The init (if new) and the window's fragments of one segment."""
        window = self._window
        base = round((segment.start - window.origin) * init.timescale)
        size = reader.seek(0, 2)
        at = init.first_fragment
        started = False
        while at < size:
            moof = mp4.header(reader, at, size, open_ended=False)
            if moof is None or moof.type != "moof":
                break
            mdat = mp4.header(reader, moof.end, size, open_ended=False)
            if mdat is None or mdat.type != "mdat":
                break
            at = mdat.end
            reader.seek(moof.start)
            head = reader.read(moof.size)
            info = fragment_info(head)
            start = segment.start + info.decode_time / init.timescale
            end = start + info.duration / init.timescale
            if start >= window.until:
                break
            if end <= window.since or (not started and not info.keyframe):
                continue
            decode_time = base + info.decode_time
            if decode_time < 0:
                continue  # before the origin: not on the page's timeline
            if not started and self._sent_init != init.data:
                self._sent_init = init.data
                yield init.data
            started = True
            yield with_decode_time(head, info, decode_time)
            yield from _body(reader, mdat)
            self.fragments += 1


def _body(reader: MediaReader, box: mp4.Box) -> Iterator[bytes]:
    """A box's bytes, in pieces."""
    reader.seek(box.start)
    left = box.size
    while left > 0:
        piece = reader.read(min(PIECE, left))
        if not piece:
            raise BoxError(f"mdat at {box.start} is cut short")
        left -= len(piece)
        yield piece


def open_playback(media: MediaIO, segments: Sequence[Segment], window: Window) -> Playback:
    """The playback of ``segments`` (oldest first, non-empty) for ``window``.

    Raises what opening the first segment raises (``HouseholdLocked``, ``NoMediaKey``,
    ``FileNotFoundError``, ``SealedError``) and BoxError when it is not a recorder's fMP4."""
    if not segments:
        raise ValueError("no segment to play")
    return Playback(media, segments, window, media.open(segments[0].path))
