"""Serving media by HTTP range (RFC 9110): one ``bytes=a-b`` range, decrypted piece by piece.

Shared by the owner's clip routes and the annotators' leased clip, so both answer alike.

Every sealed chunk a response needs is authenticated *before* its status goes out: a range up to
``HELD_BYTES`` (a whole clip, usually) is decrypted into memory and sent from there; a bigger
one is read through once to check it, then streamed. A chunk that fails answers 410 with
``DAMAGED`` (logged once), instead of a 200 cut off mid-body: retrying cannot mend it, and
ranges that do not touch the damaged chunk still play.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Final

from fastapi import HTTPException, status
from fastapi.responses import StreamingResponse

from hearthcam.vault.media import MediaReader
from hearthcam.vault.sealed import SealedError

_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")
_PIECE: Final = 256 * 1024
# Ranges up to this are held in memory once checked (one decryption); larger ones are read twice.
HELD_BYTES: Final = 8 * 1024 * 1024
DAMAGED: Final = "this recording is damaged and cannot be played"

log = logging.getLogger(__name__)


def damaged(what: object, error: SealedError) -> HTTPException:
    """The final answer for media that fails authentication (logged here, once)."""
    log.warning("damaged media, answered 410: %s (%s)", what, error)
    return HTTPException(status.HTTP_410_GONE, DAMAGED)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single ``bytes=a-b`` range; None for the whole file (no or
    an unusable header, as RFC 9110 allows); 416 when it lies outside the file."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(0, size - int(last)), size  # the last N bytes
    else:
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
        if end <= start and last != "":
            return None  # b < a: ignored
    if start >= size or end <= start:
        raise HTTPException(
            status.HTTP_416_RANGE_NOT_SATISFIABLE,
            "range not satisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


def checked(reader: MediaReader, start: int, end: int) -> bytes | None:
    """Reads [start, end) so that every chunk it needs is authenticated (SealedError if one
    fails): returns the bytes when they fit in ``HELD_BYTES``, else None (read and dropped)."""
    reader.seek(start)
    if end - start <= HELD_BYTES:
        return reader.read(end - start)
    left = end - start
    while left > 0 and (piece := reader.read(min(_PIECE, left))):
        left -= len(piece)
    return None


def pieces(reader: MediaReader, start: int, end: int) -> Iterator[bytes]:
    """The plaintext of [start, end) in pieces; closes the reader when done or dropped."""
    try:
        reader.seek(start)
        left = end - start
        while left > 0:
            piece = reader.read(min(_PIECE, left))
            if not piece:
                break
            left -= len(piece)
            yield piece
    finally:
        reader.close()


def ranged_response(
    reader: MediaReader,
    range_header: str | None,
    media_type: str,
    headers: Mapping[str, str],
    before_send: Callable[[int, int], None] | None = None,
) -> StreamingResponse:
    """The reader's plaintext, whole (200) or the one range asked for (206; 416 outside it).

    ``before_send(first, last)`` (inclusive byte offsets) runs once the range is known and
    checked, before any byte is sent; if it raises, nothing is sent. The reader is closed when
    the body is done, or at once on any error here (410 ``DAMAGED`` for a chunk that fails)."""
    try:
        size = reader.seek(0, io.SEEK_END)
        wanted = byte_range(range_header, size)
        start, end = wanted or (0, size)
        held = checked(reader, start, end)
        if before_send is not None:
            before_send(start, max(start, end - 1))
    except SealedError as error:
        reader.close()
        raise damaged(getattr(reader, "path", "a media file"), error) from None
    except BaseException:
        reader.close()
        raise
    answer = {**headers, "Accept-Ranges": "bytes", "Content-Length": str(end - start)}
    code = status.HTTP_200_OK
    if wanted is not None:
        code = status.HTTP_206_PARTIAL_CONTENT
        answer["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    body: Iterator[bytes]
    if held is None:
        body = pieces(reader, start, end)
    else:
        reader.close()
        body = iter((held,))
    return StreamingResponse(body, status_code=code, media_type=media_type, headers=answer)
