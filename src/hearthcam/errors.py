"""The exception tree. Everything hearthcam raises on purpose derives from HearthcamError.

HearthcamError
├── ConfigError          a config file or value is wrong (names every key path)
├── SourceError          a camera or file cannot be opened or read
│   ├── SourceUnreadable     corrupt, truncated, empty, or not a video
│   ├── UnsupportedCodec     a codec we cannot decode or record
│   └── SourceTimeout        nothing answered in time
├── ModelError           a model file is missing or does not fit its decoder
└── StoreError           the database or media directory failed
"""

from __future__ import annotations


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
