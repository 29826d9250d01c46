"""Walks the boxes of ISO BMFF (MP4) data: the one reader of box headers in the package.

A box is a 32-bit big-endian size and a four-character type, then its body. Size 1 means a 64-bit
size follows the type (the header is then 16 bytes); size 0 means the box runs to the end of the
range that encloses it (the file, or its parent box). Every reader here takes the bytes or a
seekable binary file (``Source``) and a range ``[start, end)`` of it:

- ``header``: the one box at an offset, or None while it is not all there (a growing stream);
- ``boxes``: strict, for whole data: a box cut short or of impossible size is a ``BoxError``;
  descends into container boxes on request (depth first, a parent before its children);
- ``whole_boxes``: lenient, for a killed writer's cut file: the top-level boxes up to the first
  one that is not entirely there, then it stops without an error;
- ``find``: the first box along a path of types (``("moov", "trak", "tkhd")``).

The bottom layer: only the standard library and hearthcam.errors, so the live view may use it.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeAlias

from hearthcam.errors import HearthcamError

_HEAD: Final = struct.Struct(">I4s")
_LARGE: Final = struct.Struct(">Q")
SMALL_HEADER: Final = 8
LARGE_HEADER: Final = 16
# Boxes whose body is nothing but boxes (ISO/IEC 14496-12): what ``boxes(..., into=...)`` may
# descend into. Full boxes with fields before their children (meta, stsd, dref) are not.
CONTAINERS: Final = frozenset(
    {"moov", "trak", "edts", "mdia", "minf", "dinf", "stbl", "mvex", "moof", "traf", "mfra"}
)


class BoxError(HearthcamError, ValueError):
    """Bytes that are not the MP4 boxes expected (truncated, malformed or unsupported)."""


class Readable(Protocol):
    """A seekable binary file: an open file, a BytesIO, a sealed media reader."""

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int: ...

    def read(self, size: int = -1, /) -> bytes: ...


Source: TypeAlias = bytes | bytearray | memoryview | Readable


@dataclass(frozen=True, slots=True)
class Box:
    """One box: its four-character type, where it starts, its total size and header size."""

    type: str
    start: int
    size: int
    header: int

    @property
    def body(self) -> int:
        """Offset of the first byte after the header."""
        return self.start + self.header

    @property
    def end(self) -> int:
        """Offset just past the box."""
        return self.start + self.size


def _read(source: Source, at: int, count: int) -> bytes:
    """Up to ``count`` bytes of ``source`` at ``at`` (fewer only where the source ends)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source[at : at + count])
    source.seek(at)
    data = b""
    while len(data) < count and (more := source.read(count - len(data))):
        data += more
    return data


def _end(source: Source, end: int | None) -> int:
    """Where the range ends: ``end``, but never past the end of the bytes."""
    if isinstance(source, bytes | bytearray | memoryview):
        length = memoryview(source).nbytes
        return length if end is None else min(end, length)
    return source.seek(0, io.SEEK_END) if end is None else end


def header(source: Source, at: int, end: int, *, open_ended: bool = True) -> Box | None:
    """The box starting at ``at`` of a range that ends at ``end``.

    None when its header or its body runs past ``end`` (not all there yet). Size 0 is a box up
    to ``end`` when ``open_ended``, and a BoxError otherwise (a live stream or a file being
    written has no end yet); a size smaller than the header is a BoxError.
    """
    if at < 0 or end - at < SMALL_HEADER:
        return None
    head = _read(source, at, min(LARGE_HEADER, end - at))
    if len(head) < SMALL_HEADER:
        return None
    size, raw = _HEAD.unpack_from(head)
    kind = raw.decode("latin-1")
    length = SMALL_HEADER
    if size == 1:
        if len(head) < LARGE_HEADER:
            return None
        (size,) = _LARGE.unpack_from(head, SMALL_HEADER)
        length = LARGE_HEADER
    elif size == 0:
        if not open_ended:
            raise BoxError(f"box {kind!r} at {at} has no size (size 0: to the end)")
        size = end - at
    if size < length:
        raise BoxError(f"box {kind!r} at {at} claims {size} bytes, less than its header")
    if end - at < size:
        return None
    return Box(kind, at, size, length)


def boxes(
    source: Source,
    start: int = 0,
    end: int | None = None,
    *,
    into: Collection[str] = (),
    open_ended: bool = True,
) -> Iterator[Box]:
    """The boxes laid end to end in ``[start, end)`` (default: to the end of ``source``), and
    those inside every box whose type is in ``into``, each parent before its children.

    Raises BoxError at the first box that is cut short or impossible (see ``header``).
    """
    # A stack, not recursion: garbage nested a thousand deep must be a BoxError at worst.
    ranges = [(start, _end(source, end))]
    while ranges:
        at, stop = ranges.pop()
        if at >= stop:
            continue
        box = header(source, at, stop, open_ended=open_ended)
        if box is None:
            raise BoxError(f"truncated box at {at} (only {stop - at} bytes left)")
        yield box
        ranges.append((box.end, stop))
        if box.type in into:
            ranges.append((box.body, box.end))


def whole_boxes(source: Source, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The top-level boxes from ``start`` that lie entirely before ``end``, up to the first that
    does not: cut short, impossibly small, or of size 0 (in a cut file "to the end" may end
    anywhere). Never raises BoxError: what follows the last whole box is simply not walked."""
    stop = _end(source, end)
    at = start
    while True:
        try:
            box = header(source, at, stop, open_ended=False)
        except BoxError:
            return
        if box is None:
            return
        yield box
        at = box.end


def find(
    source: Source,
    path: Sequence[str],
    start: int = 0,
    end: int | None = None,
    *,
    open_ended: bool = True,
) -> Box | None:
    """The first box along ``path`` (e.g. ``("moof", "traf", "tfdt")``), or None; BoxError as
    ``boxes`` for a malformed box on the way."""
    box: Box | None = None
    for kind in path:
        box = next(
            (b for b in boxes(source, start, end, open_ended=open_ended) if b.type == kind), None
        )
        if box is None:
            return None
        start, end = box.body, box.end
    return box


def duration(source: Source) -> float | None:
    """The movie's duration in seconds from ``moov/mvhd`` (None: no mvhd, or a zero timescale);
    BoxError for malformed boxes on the way."""
    box = find(source, ("moov", "mvhd"))
    if box is None:
        return None
    version = _read(source, box.body, 1)
    # version 0: 4-byte creation and modification times, 4-byte duration; version 1: 8-byte.
    wide = version == b"\x01"
    at = box.body + 4 + (16 if wide else 8)
    fields = _read(source, at, 12 if wide else 8)
    if len(fields) < (12 if wide else 8):
        raise BoxError("mvhd cut short")
    timescale, length = struct.unpack(">IQ" if wide else ">II", fields)
    return None if timescale == 0 else length / timescale
