"""Request and response bodies of the exports API (``routes.exports``; docs/web-api.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from hearthcam.store.exports import AuditRecord, ExportRecord, ExportState
from hearthcam.web.schemas import CAMERA_NAME_PATTERN, EventId, UnixTime

Seconds = Annotated[float, Field(ge=0, le=3600, description="seconds, 0 to 3600")]


class ExportIn(BaseModel):
    """What to export: ``camera`` from ``start`` to ``end`` (Unix seconds), or the event
    ``event_id`` with ``before`` seconds ahead of it and ``after`` behind it."""

    model_config = ConfigDict(extra="forbid")

    camera: Annotated[str, StringConstraints(pattern=CAMERA_NAME_PATTERN)] | None = None
    start: UnixTime | None = None
    end: UnixTime | None = None
    event_id: EventId | None = None
    before: Seconds = 10.0
    after: Seconds = 10.0

    @model_validator(mode="after")
    def _one_kind(self) -> ExportIn:
        if self.event_id is None:
            if self.camera is None or self.start is None or self.end is None:
                raise ValueError("give camera, start and end, or an event_id")
        elif self.start is not None or self.end is not None:
            raise ValueError("give start and end, or an event_id with before and after: not both")
        return self


class ExportOut(BaseModel):
    """One export and where it stands (times ISO 8601, UTC)."""

    id: str
    camera: str
    camera_name: str
    start: dt.datetime
    end: dt.datetime
    duration: float = Field(description="seconds asked for")
    event_id: str | None
    state: ExportState
    progress: float = Field(description="0 to 1")
    error: str | None
    size: int | None = Field(description="bytes, once done")
    created: dt.datetime
    expires: dt.datetime
    download_url: str | None

    @classmethod
    def of(cls, record: ExportRecord, camera_name: str) -> ExportOut:
        done = record.state is ExportState.DONE
        return cls(
            id=record.id,
            camera=record.camera,
            camera_name=camera_name,
            start=dt.datetime.fromtimestamp(record.start, dt.UTC),
            end=dt.datetime.fromtimestamp(record.end, dt.UTC),
            duration=record.end - record.start,
            event_id=record.event_id,
            state=record.state,
            progress=record.progress,
            error=record.error,
            size=record.size,
            created=dt.datetime.fromtimestamp(record.created, dt.UTC),
            expires=dt.datetime.fromtimestamp(record.expires, dt.UTC),
            download_url=f"/api/exports/{record.id}/download" if done else None,
        )


class ExportAuditOut(BaseModel):
    """One line of the export audit: who did what to which export."""

    time: dt.datetime
    username: str = Field(description="empty: the server (an expiry)")
    action: str = Field(description="created, downloaded, deleted or expired")
    export_id: str
    camera: str
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, line: AuditRecord) -> ExportAuditOut:
        return cls(
            time=dt.datetime.fromtimestamp(line.time, dt.UTC),
            username=line.username,
            action=line.action,
            export_id=line.export_id,
            camera=line.camera,
            start=dt.datetime.fromtimestamp(line.start, dt.UTC),
            end=dt.datetime.fromtimestamp(line.end, dt.UTC),
        )
