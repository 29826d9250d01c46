"""The exception tree. Everything hearthcam raises on purpose derives from HearthcamError.

HearthcamError
├── ConfigError          a config file or value is wrong (names every key path)
├── SourceError          a camera or file cannot be opened or read
│   ├── SourceUnreadable     corrupt, truncated, empty, or not a video
│   ├── UnsupportedCodec     a codec we cannot decode or record
│   └── SourceTimeout        nothing answered in time
├── ModelError           a model file is missing or does not fit its decoder
└── StoreError           the database or media directory failed
    ├── MediaLocked          media need the owner's password first
    └── DiskFull             the disk had no room for a write (ENOSPC, SQLite's "disk is full")
"""

from __future__ import annotations

import errno


class HearthcamError(Exception):
    """Base of every error hearthcam raises on purpose."""


class ConfigError(HearthcamError):
    """A configuration is invalid; ``problems`` holds one 'key.path: what was expected' per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class SourceError(HearthcamError):
    """A camera stream or a video file cannot be opened or read."""


class SourceUnreadable(SourceError):
    """The input is not a readable video (corrupt, truncated, empty, wrong format)."""


class UnsupportedCodec(SourceError):
    """The input uses a codec hearthcam cannot decode or record."""


class SourceTimeout(SourceError):
    """The source did not answer within the configured time."""


class ModelError(HearthcamError):
    """A model file is missing, unreadable, or has outputs the decoder does not understand."""


class StoreError(HearthcamError):
    """The database or the media directory failed."""


class MediaLocked(StoreError):
    """Media cannot be read now: its household's key needs the owner's password (password mode).

    Not a failure of the media: whatever needed to read it should wait for the unlock."""


class ClusterError(HearthcamError):
    """The Ray cluster named by ``cluster.address`` cannot be reached."""


class DiskFull(StoreError):
    """A write found no room on the disk. Not a bug: retention frees space and the next write
    tries again, so whoever catches it reports it once and goes on."""


# errno values that mean "no room": a full file system, or a user's quota reached.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})
# SQLite's result code for a full disk (sqlite3.OperationalError.sqlite_errorcode).
_SQLITE_FULL = 13


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from, says the disk had no room.

    Follows ``__cause__``, ``__context__`` and SQLAlchemy's ``orig`` (the driver's error), so a
    StoreError wrapping an OSError, or a database error wrapping SQLite's, is recognised.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return True
        if isinstance(current, OSError) and current.errno in _NO_ROOM:
            return True
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        orig = getattr(current, "orig", None)
        pending += [current.__cause__, current.__context__]
        if isinstance(orig, BaseException):
            pending.append(orig)
    return False
