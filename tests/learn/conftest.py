"""The share fixtures, for tests that withdraw clips."""

from tests.privacy.conftest import plain_clip

__all__ = ["plain_clip"]
