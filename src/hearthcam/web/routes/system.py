"""The System page's API (owner: their cameras; admin: the whole box): per camera the frames
in and analysed a second, drops, the detector's time and the analysis CPU share, the footage
kept and its horizon; the disk's free space; and the last log lines with a level filter. And
the box at a glance for an admin's home page (``/status``): version, uptime, cameras running,
disk free, accounts.

A camera another household owns is never listed for an owner, and a log line about one is never
shown (``log_buffer.visible``); members and annotators get 403.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from hearthcam.pipeline.health import CameraHealth, Connection
from hearthcam.recordings.usage import footage_usage
from hearthcam.web.deps import Admin, Services, SystemViewer, csrf_protect
from hearthcam.web.log_buffer import visible
from hearthcam.web.routes.cameras import display_name
from hearthcam.web.routes.common import errors
from hearthcam.web.system_schemas import (
    LEVELS,
    CameraSystemOut,
    LogLevel,
    LogLineOut,
    LogsOut,
    SystemOut,
)
from hearthcam.web.user_schemas import SystemOut as StatusOut

router = APIRouter(prefix="/api/system", tags=["system"], dependencies=[Depends(csrf_protect)])

MAX_LINES = 500


@router.get("", response_model=SystemOut, responses=errors(401, 403))
def get_system(viewer: SystemViewer, services: Services) -> SystemOut:
    """The caller's cameras' load and footage, and the disk's free space."""
    known = services.cameras()
    names = sorted(known if viewer.cameras is None else (c for c in viewer.cameras if c in known))
    cameras = [
        CameraSystemOut.of(
            display_name(services, name, known),
            services.health(name) or CameraHealth.off(name),
            services.load(name),
            footage_usage(services.store, name),
        )
        for name in names
    ]
    usage = shutil.disk_usage(services.data_dir)
    return SystemOut(
        cameras=cameras,
        footage_bytes=sum(c.footage_bytes for c in cameras),
        free_bytes=usage.free,
        total_bytes=usage.total,
        cpu_count=os.cpu_count() or 1,
        server_time=services.clock(),
    )


@router.get("/logs", response_model=LogsOut, responses=errors(401, 403, 422))
def get_logs(
    viewer: SystemViewer,
    services: Services,
    level: Annotated[LogLevel, Query(description="the lowest level shown")] = "WARNING",
    limit: Annotated[int, Query(ge=1, le=MAX_LINES)] = 200,
) -> LogsOut:
    """The newest log lines at ``level`` or above that the caller may read, newest first."""
    lowest = LEVELS[level]
    lines = [line for line in services.logs.lines() if line.level >= lowest]
    shown = visible(lines, viewer.cameras, set(services.cameras()))
    return LogsOut(
        lines=[LogLineOut.of(line) for line in reversed(shown[-limit:])],
        level=level,
        server_time=services.clock(),
    )


def _version() -> str:
    try:
        return version("hearthcam")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0"


@router.get("/status", response_model=StatusOut, responses=errors(401, 403))
def system_status(_admin: Admin, services: Services) -> StatusOut:
    """Version, how long the web app has run, cameras running of configured, disk, accounts."""
    cameras = list(services.cameras())
    running = 0
    for name in cameras:
        health = services.health(name)
        if health is not None and health.connection is not Connection.STOPPED:
            running += 1
    usage = shutil.disk_usage(services.data_dir)
    roles = Counter(u.role.value for u in services.accounts.list_users())
    return StatusOut(
        version=_version(),
        uptime_s=max(0.0, time.monotonic() - services.started),
        cameras_running=running,
        cameras_total=len(cameras),
        disk_free=usage.free,
        disk_total=usage.total,
        users={role: roles.get(role, 0) for role in ("owner", "member", "admin", "annotator")},
    )
