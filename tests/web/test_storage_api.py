"""The storage condition for the owner: ``GET /api/settings/storage`` and Settings > Storage.

The unit tests use the web world with a storage watch of their own (the runtime's, in the
product: tests/test_disk_full.py fills a real disk); the browser test shows the panel of a full
disk in Debian's Chromium and takes its screenshots (artifacts/screenshots/).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, Page, expect

from hearthcam.pipeline.health import CameraHealth, Connection
from hearthcam.recordings.retention import SweepReport
from hearthcam.recordings.storage import StorageWatch
from hearthcam.web import start_server
from tests.support.world import World
from tests.web.test_camera_health_browser import DESKTOP, MS, shoot
from tests.web.test_camera_setup import client

MB = 1024 * 1024


def full_disk(world: World) -> StorageWatch:
    """A watch whose last pass could not reach a 2 GB floor, after a refused write."""
    now = world.clock()
    watch = StorageWatch(2048 * MB, 10.0)
    watch.write_failed("disk full: front cannot save new footage until space is freed", now - 9)
    report = SweepReport(segments_purged=40, event_media_purged=3, bytes_freed=310 * MB)
    report.below_floor = True
    watch.swept(report, 180 * MB, 2048 * MB, now - 2)
    return watch


def test_the_owner_sees_free_space_the_floor_the_last_pass_and_a_full_disk(world: World) -> None:
    services = replace(world.services, storage=full_disk(world))
    alice = client(world, services, "alice")
    got = alice.get("/api/settings/storage")
    assert got.status_code == 200, got.text
    body = got.json()
    usage = shutil.disk_usage(world.data_dir)  # measured now, on the data directory's disk
    assert 0 < body.pop("free_bytes") <= usage.total
    assert body.pop("total_bytes") == usage.total
    problem = body.pop("problem")
    assert problem.startswith("disk full: 180.0 MB free, below the 2048 MB")
    assert body == {
        "floor_bytes": 2048 * MB,
        "keep_recent_minutes": 10.0,
        "disk_full": True,
        "last_sweep": {
            "at": world.clock() - 2,
            "events_deleted": 0,
            "segments_deleted": 0,
            "segments_purged": 40,
            "event_media_purged": 3,
            "bytes_freed": 310 * MB,
            "errors": 0,
            "below_floor": True,
        },
        "last_write_failure": "disk full: front cannot save new footage until space is freed",
        "last_write_failure_at": world.clock() - 9,
        "server_time": world.clock(),
    }
    alice.__exit__(None, None, None)


def test_with_no_pass_yet_the_status_is_the_configs_and_a_member_may_not_read_it(
    world: World,
) -> None:
    alice = client(world, world.services, "alice")
    body = alice.get("/api/settings/storage").json()
    assert (body["disk_full"], body["problem"], body["last_sweep"]) == (False, None, None)
    assert body["floor_bytes"] == int(world.config.retention.min_free_mb * MB)
    assert body["keep_recent_minutes"] == world.config.retention.keep_recent_minutes
    alice.__exit__(None, None, None)
    mia = client(world, world.services, "mia")  # a member: settings are the owner's
    assert mia.get("/api/settings/storage").status_code == 403
    mia.__exit__(None, None, None)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark", locale="en-GB")
    context.set_default_timeout(15 * MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(f"page: {error}"))
    yield opened
    context.close()
    assert not errors, errors


def refused(world: World) -> Callable[[str], CameraHealth | None]:
    """A stand-in for the runtime: front's footage found no room a second ago."""
    now = world.clock()
    front = CameraHealth(
        "front", Connection.LIVE, 900, 900, 0, 0, now - 0.5, now - 600, 0,
        "disk full: front cannot save new footage until space is freed", now - 1, 37,
    )  # fmt: skip
    return lambda camera: front if camera == "front" else None


@pytest.mark.integration
def test_settings_shows_a_full_disk(world: World, page: Page) -> None:
    services = replace(world.services, storage=full_disk(world), health=refused(world))
    server = start_server(services, "127.0.0.1", 0)
    try:
        page.context.add_cookies(
            [{"name": "hc_session", "value": world.session_token("alice"), "url": server.url}]
        )
        page.goto(server.url + "/settings")
        panel = page.locator("#storage")
        expect(panel).to_have_attribute("data-state", "full")
        expect(panel.locator(".storage-problem")).to_contain_text("Disk full: 180.0 MB free")
        expect(panel.locator('[data-field="floor"]')).to_have_text("2.0 GB")
        expect(panel.locator('[data-field="keep"]')).to_contain_text("the newest 10 min")
        expect(panel.locator('[data-field="sweep"]')).to_have_text(
            "2 s ago: deleted 40 recordings, 3 clips (310 MB)"
        )
        expect(panel.locator(".storage-failure")).to_contain_text("9 s ago")
        shoot(page, "settings-storage-full", panel)
        # The camera whose footage found no room says so in its health.
        front = page.locator('.camera-row[data-camera="front"] .camera-health')
        expect(front.locator(".health-state")).to_have_text("Disk full")
        expect(front.locator(".health-error")).to_contain_text("disk full: front cannot save")
        shoot(page, "settings-camera-disk-full", page.locator("#cameras"))
    finally:
        server.stop()
