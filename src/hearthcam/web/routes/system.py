"""The box at a glance for an admin: version, uptime, cameras running, disk free, accounts."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends

from hearthcam.pipeline.health import Connection
from hearthcam.web.deps import Admin, Services, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.user_schemas import SystemOut

router = APIRouter(prefix="/api/system", tags=["system"], dependencies=[Depends(csrf_protect)])


def _version() -> str:
    try:
        return version("hearthcam")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0"


@router.get("", response_model=SystemOut, responses=errors(401, 403))
def system_status(_admin: Admin, services: Services) -> SystemOut:
    """Version, how long the web app has run, cameras running of configured, disk, accounts."""
    cameras = list(services.cameras())
    running = 0
    for name in cameras:
        health = services.health(name)
        if health is not None and health.connection is not Connection.STOPPED:
            running += 1
    usage = shutil.disk_usage(services.data_dir)
    roles = Counter(u.role.value for u in services.accounts.list_users())
    return SystemOut(
        version=_version(),
        uptime_s=max(0.0, time.monotonic() - services.started),
        cameras_running=running,
        cameras_total=len(cameras),
        disk_free=usage.free,
        disk_total=usage.total,
        users={role: roles.get(role, 0) for role in ("owner", "member", "admin", "annotator")},
    )
