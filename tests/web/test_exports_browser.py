"""Exports in a real browser (Debian's Chromium, driven by Playwright) against the real server
(uvicorn on a free port) over the web world's store and sealed, recorded footage.

At 1366x768 and at 390x844 the owner asks for a range on the Exports page, sees its progress
while the worker makes it, downloads it (the file decodes and lasts what was asked) and deletes
it; on an event's page, Export with seconds around it starts one that the Exports page lists.
The worker waits a little at each progress step, so a 30 s export takes long enough to be seen
running. Screenshots go to /tmp/shots-export/. Any page error or console error fails the test.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from hearthcam.exports import Exporter
from hearthcam.web import ServerHandle, WebServices, start_server
from tests.support.page_errors import collect_errors
from tests.support.world import T0, World

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp/shots-export")
LARGE: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
START = T0 - 620  # 60 s of "front" footage from here
MS = 1000


def local(wall: float) -> str:
    """A datetime-local value (the browser runs in UTC)."""
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def server(world: World) -> Iterator[ServerHandle]:
    world.add_footage("front", START, 60.0)

    def unhurried(_export_id: str, _share: float) -> None:
        time.sleep(0.4)  # long enough between steps for the page's polls to see them

    exporter = Exporter(
        world.store,
        world.services.media,
        world.data_dir,
        world.config.exports,
        clock=world.clock,
        on_progress=unhurried,
    )
    services = WebServices(
        config=world.config,
        store=world.store,
        accounts=world.accounts,
        clock=world.clock,
        media=world.services.media,
        exporter=exporter,
    )
    handle = start_server(services, "127.0.0.1", 0)
    try:
        yield handle
    finally:
        handle.stop()
        exporter.close()


def signed_in(browser: Browser, world: World, server: ServerHandle, size: ViewportSize) -> Page:
    context = browser.new_context(
        viewport=size, timezone_id="UTC", locale="en-GB", accept_downloads=True
    )
    context.set_default_timeout(20 * MS)
    context.add_cookies(
        [{"name": "hc_session", "value": world.session_token("alice"), "url": server.url}]
    )
    return context.new_page()


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.querySelectorAll('.toast').forEach(t => t.remove())")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def mp4_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        times = [
            float(f.pts * stream.time_base) for f in container.decode(stream) if f.pts is not None
        ]
    return max(times) - min(times) + 0.1


@pytest.mark.parametrize(("label", "size"), [("1366x768", LARGE), ("390x844", PHONE)])
def test_an_owner_exports_a_range_sees_progress_downloads_and_deletes_it(
    browser: Browser,
    world: World,
    server: ServerHandle,
    tmp_path: Path,
    label: str,
    size: ViewportSize,
) -> None:
    page = signed_in(browser, world, server, size)
    errors = collect_errors(page)
    page.goto(server.url + "/")
    page.get_by_role("link", name="Exports").click()
    expect(page).to_have_url(server.url + "/exports")
    expect(page.get_by_role("heading", name="Exports", exact=True)).to_be_visible()
    expect(page.locator("#exports-empty")).to_be_visible()
    # Every link of the owner's navigation fits, Exports among them (no sideways scrolling).
    assert page.evaluate("() => { const n = document.querySelector('.nav'); "
                         "return n.scrollWidth <= n.clientWidth; }")  # fmt: skip
    page.get_by_label("Camera").select_option(label="Front door")
    page.get_by_label("From").fill(local(START + 10))
    page.get_by_label("To").fill(local(START + 40))
    shoot(page, f"exports-form-{label}")
    page.get_by_role("button", name="Export", exact=True).click()

    row = page.locator(".export-row").first
    expect(row).to_have_attribute("data-state", "running", timeout=15 * MS)
    bar = row.locator("progress")
    expect(bar).to_be_visible()
    expect(row.locator(".export-percent")).not_to_have_text("0%", timeout=15 * MS)
    shoot(page, f"exports-progress-{label}")
    expect(row).to_have_attribute("data-state", "done", timeout=30 * MS)
    expect(row.locator(".pill")).to_have_text("Ready")
    expect(row.locator("progress")).to_have_count(0)

    with page.expect_download() as info:
        row.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename.startswith("front-")
    saved = tmp_path / "export.mp4"
    download.save_as(saved)
    assert abs(mp4_seconds(saved.read_bytes()) - 30.0) <= 1.0

    audit = page.locator("#audit-rows tr")
    page.reload()
    expect(audit).to_have_count(2)  # created, downloaded
    expect(audit.first).to_contain_text("Downloaded")
    shoot(page, f"exports-ready-{label}")

    row = page.locator(".export-row").first
    row.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator(".export-row")).to_have_count(0)
    expect(page.locator("#exports-empty")).to_be_visible()
    expect(audit.first).to_contain_text("Deleted")
    assert list((world.data_dir / "exports").rglob("*.mp4")) == []
    page.context.close()
    assert not errors, errors


def test_an_event_is_exported_with_seconds_around_it_from_its_page(
    browser: Browser, world: World, server: ServerHandle
) -> None:
    event = world.add_event("front", wall_start=START + 20)
    page = signed_in(browser, world, server, LARGE)
    errors = collect_errors(page)
    page.goto(f"{server.url}/events/{event.id}")
    # The page's script has rendered the event (and wired its buttons) once the title names it.
    expect(page.locator("#event-title")).to_contain_text("Front door")
    page.get_by_role("button", name="Export", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Seconds before").fill("8")
    dialog.get_by_label("Seconds after").fill("6")
    shoot(page, "event-export-dialog-1366x768")
    dialog.get_by_role("button", name="Export").click()

    expect(page).to_have_url(server.url + "/exports")
    row = page.locator(".export-row").first
    expect(row).to_contain_text("Front door")
    expect(row).to_contain_text("16 s")  # 8 + the event's 2 + 6
    expect(row.get_by_role("link", name="Event")).to_have_attribute("href", f"/events/{event.id}")
    expect(row).to_have_attribute("data-state", "done", timeout=30 * MS)
    page.set_viewport_size(PHONE)
    shoot(page, "event-export-listed-390x844")
    page.context.close()
    assert not errors, errors
