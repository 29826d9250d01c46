"""The JSON shapes of the annotator workbench (/api/review) and "Who viewed my clips" (/api/views).

What an annotator is sent never names a household, a camera or a date: a lease carries the
time-of-day bucket, the clip's length and the model's pre-labels only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hearthcam.annotate.workbench import FalseAlarmReason, ReviewVerdict, TimeBucket

Unit = Annotated[float, Field(ge=0, le=1)]
LEASE_ID_PATTERN = r"^[0-9a-f]{32}$"


class QueueOut(BaseModel):
    """The annotator's queue: a count and their quota, nothing about the clips."""

    available: int = Field(description="clips waiting that this annotator may be offered")
    quota: int = Field(description="leases an annotator may take per UTC day")
    taken_today: int
    quota_left: int
    lease_id: str | None = Field(description="the lease this annotator holds now, if any")


class TrackOut(BaseModel):
    """One object the model followed in the event."""

    label: str
    best_score: float
    hits: int


class PreLabelOut(BaseModel):
    """One detector box on a keyframe, relative to the frame."""

    frame: int
    time: float = Field(description="seconds from the clip's start")
    xyxy: tuple[float, float, float, float]
    label: str
    score: float


class LeaseOut(BaseModel):
    """A lease: its clip to stream and what the model thought of it."""

    id: str
    state: str
    clip_url: str
    # Seconds, not a time: today's date would say when a recent clip was recorded.
    expires_in: float = Field(description="seconds left (count down from the receipt)")
    watermark: str = Field(description="the text burned into the clip")
    time_of_day: TimeBucket | None
    duration: float | None
    frames: int | None
    fps: float | None
    width: int | None
    height: int | None
    keyframes: list[int]
    tracks: list[TrackOut]
    boxes: list[PreLabelOut]
    suggested: ReviewVerdict | None = Field(description="the model's verdict, to confirm")


class BoxIn(BaseModel):
    """A corrected box on a keyframe."""

    model_config = ConfigDict(extra="forbid")

    xyxy: tuple[Unit, Unit, Unit, Unit]
    label: str = Field(pattern=r"^[a-z][a-z ]{0,31}$")
    track: int = Field(0, ge=0, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> BoxIn:
        x0, y0, x1, y1 = self.xyxy
        if x1 < x0 or y1 < y0:
            raise ValueError("xyxy must be [left, top, right, bottom]")
        return self


class KeyframeIn(BaseModel):
    """The corrected boxes on one frame."""

    model_config = ConfigDict(extra="forbid")

    frame: int = Field(ge=0, le=1_000_000)
    boxes: list[BoxIn] = Field(default_factory=list, max_length=64)


class AnnotationIn(BaseModel):
    """What the annotator records: the verdict and, optionally, corrected boxes."""

    model_config = ConfigDict(extra="forbid")

    verdict: ReviewVerdict
    reason: FalseAlarmReason | None = Field(None, description="required for false_alarm only")
    keyframes: list[KeyframeIn] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _reason(self) -> AnnotationIn:
        if (self.verdict is ReviewVerdict.FALSE_ALARM) != (self.reason is not None):
            raise ValueError("a false alarm needs a reason; other verdicts take none")
        return self


class AnnotationOut(BaseModel):
    """A recorded annotation."""

    id: int
    lease_id: str


class ReportOut(BaseModel):
    """What "should not be here" did."""

    disposed: bool


class FlagOut(BaseModel):
    """An unusual pattern in the view log."""

    kind: Literal["over_quota", "repeated_household"]
    text: str
    viewer_id: int
    viewer: str
    views: int


class CheckpointOut(BaseModel):
    """A signed tree head of the view log (the text signed: see docs/privacy.md)."""

    size: int
    root: str = Field(description="hex")
    time_ms: int
    signature: str = Field(description="Ed25519, base64")


class ViewOut(BaseModel):
    """One view-log entry about the household's clips, with its inclusion proof."""

    index: int
    entry: str = Field(description="the entry's exact bytes, base64 (the page reads them)")
    proof: list[str] = Field(description="audit path to the checkpoint's root, hex")
    viewer: str = Field(description="the viewer's username ('' once the account is gone)")
    event_id: str | None = Field(description="the shared clip's event, while the share lasts")
    camera: str | None = Field(
        default=None, description="the shared clip's camera, from its consent receipt"
    )
    clip_start: str | None = Field(
        default=None, description="when the shared clip begins (ISO 8601, UTC), from its receipt"
    )


class ViewsOut(BaseModel):
    """ "Who viewed my clips": entries, the checkpoint they are proven against, its key, flags."""

    public_key: str = Field(description="the log's Ed25519 public key, raw 32 bytes base64")
    household_id: int = Field(description="whose log this is: the page keeps checkpoints per id")
    checkpoint: CheckpointOut
    entries: list[ViewOut]
    flags: list[FlagOut]


class ConsistencyOut(BaseModel):
    """RFC 6962 consistency proof: the log of ``first`` entries is a prefix of ``second``'s."""

    first: int
    second: int
    proof: list[str] = Field(description="hex, RFC 6962 §2.1.2 order")
