"""The view log's entry: one delivery of a clip's bytes, and its canonical bytes.

The bytes are what the Merkle tree hashes and what every reader (the owner's page, the flags,
``hearthcam audit``) reads the entry from; the side columns of ``audit_views`` only index them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum

_FORMAT = 1  # the "v" of an entry's bytes


class Derivative(StrEnum):
    """What form of a clip was sent."""

    REDACTED = "redacted"
    ORIGINAL = "original"
    THUMBNAIL = "thumbnail"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True, slots=True)
class ViewEntry:
    """One delivery of a clip's bytes to someone other than its owner."""

    viewer_id: int
    viewer_role: str
    household_id: int  # the clip's household: whose "Who viewed my clips" lists the entry
    clip_id: str  # the clip or share id
    derivative: Derivative
    time: float  # Unix seconds
    lease_id: str | None = None
    byte_range: tuple[int, int] | None = None  # first and last byte, as in HTTP Range

    def __post_init__(self) -> None:
        if not math.isfinite(self.time):
            raise ValueError(f"time {self.time} is not a finite Unix time")
        if self.byte_range is not None and not 0 <= self.byte_range[0] <= self.byte_range[1]:
            raise ValueError(f"byte range {self.byte_range} is not first <= last")


def entry_bytes(index: int, entry: ViewEntry) -> bytes:
    """The canonical bytes of entry ``index``: compact UTF-8 JSON with sorted keys."""
    fields = {
        "v": _FORMAT,
        "seq": index,
        "viewer": entry.viewer_id,
        "role": entry.viewer_role,
        "household": entry.household_id,
        "clip": entry.clip_id,
        "derivative": entry.derivative.value,
        "time": entry.time,
        "lease": entry.lease_id,
        "range": None if entry.byte_range is None else list(entry.byte_range),
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def stored_as(value: object) -> str:
    """How SQL would name the storage class of a column value read back (for messages)."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | int):
        return "an integer"
    if isinstance(value, float):
        return "a real"
    return "null" if value is None else type(value).__name__


def parse_entry(data: object) -> tuple[int, ViewEntry]:
    """(index, entry) from bytes ``entry_bytes`` wrote; ValueError if they are not such bytes
    (a column rewritten as text or a number included)."""
    if not isinstance(data, bytes):
        raise ValueError(f"stored as {stored_as(data)}, not bytes")
    try:
        f = json.loads(data.decode("utf-8"))
        span = f["range"]
        entry = ViewEntry(
            viewer_id=int(f["viewer"]),
            viewer_role=str(f["role"]),
            household_id=int(f["household"]),
            clip_id=str(f["clip"]),
            derivative=Derivative(f["derivative"]),
            time=float(f["time"]),
            lease_id=None if f["lease"] is None else str(f["lease"]),
            byte_range=None if span is None else (int(span[0]), int(span[1])),
        )
        index = int(f["seq"])
    except (UnicodeDecodeError, TypeError, KeyError, IndexError, ValueError) as error:
        raise ValueError(f"not a view log entry: {error}") from error
    if entry_bytes(index, entry) != data:
        raise ValueError("not in canonical form")
    return index, entry
