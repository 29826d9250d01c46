"""The API form of a camera's history (``store.history``): recorded spans, gaps and event
markers between two times, all in Unix seconds (the page places them on its timeline)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from hearthcam.store.db import Gap
from hearthcam.store.history import Marker, Span
from hearthcam.types import Verdict
from hearthcam.web.schemas import UnixTime

# The longest stretch one listing covers, and the longest window of media one request streams.
MAX_RANGE_S = 8 * 86400
MAX_WINDOW_S = 900.0
MAX_MARKERS = 2000


class HistoryQuery(BaseModel):
    """Which stretch to list: ``since`` to ``until`` (default now), or the ``hours`` (default
    24) before ``until`` (so a page need not trust its own clock)."""

    since: UnixTime | None = None
    until: UnixTime | None = None
    hours: Annotated[float, Field(gt=0, le=MAX_RANGE_S / 3600)] | None = None


class MediaQuery(BaseModel):
    """A window of recording to play, placed on the page's timeline (media time = wall time -
    ``origin``; default ``since``)."""

    since: UnixTime
    until: UnixTime
    origin: UnixTime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> MediaQuery:
        if not self.since < self.until <= self.since + MAX_WINDOW_S:
            raise ValueError(f"until must be after since, by at most {MAX_WINDOW_S:g} s")
        if self.origin is not None and self.origin > self.since:
            raise ValueError("origin must not be after since")
        return self


class SpanOut(BaseModel):
    """Continuous recording."""

    start: float
    end: float
    segments: int

    @classmethod
    def of(cls, span: Span) -> SpanOut:
        return cls(start=span.start, end=span.end, segments=span.segments)


class GapOut(BaseModel):
    """A stretch the camera was down (as the recorder noted it)."""

    start: float
    end: float
    reason: str

    @classmethod
    def of(cls, gap: Gap) -> GapOut:
        return cls(start=gap.start, end=gap.end, reason=gap.reason)


class MarkerOut(BaseModel):
    """An event on the timeline."""

    id: str
    start: float
    end: float
    verdict: Verdict
    labels: list[str]
    url: str = Field(description="the event's page")

    @classmethod
    def of(cls, marker: Marker) -> MarkerOut:
        return cls(
            id=marker.id,
            start=marker.start,
            end=marker.end,
            verdict=marker.verdict,
            labels=list(marker.labels),
            url=f"/events/{marker.id}",
        )


class HistoryOut(BaseModel):
    """One camera's history between ``since`` and ``until``."""

    camera: str
    camera_name: str
    since: float
    until: float
    server_time: float
    spans: list[SpanOut]
    gaps: list[GapOut]
    events: Annotated[list[MarkerOut], Field(max_length=MAX_MARKERS)]
    media_url: str
