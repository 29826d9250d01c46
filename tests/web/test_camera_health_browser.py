"""A camera's health in the owner's browser (Debian's Chromium, driven by Playwright).

The walk runs the whole product (``app.build``, ``app.serve_web``, the packaged detector, a real
RTSP camera): the owner signs in, adds the camera in Settings > Cameras, watches its frames being
analysed with no error there, and sees its status on the live tile. A second test shows how a
failing camera reads (its health comes from a stand-in: a camera cannot be made to fail on cue).
Screenshots at desktop (dark) and phone (light) sizes go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from hearthcam import app
from hearthcam.accounts import Accounts
from hearthcam.config import parse_config
from hearthcam.pipeline.health import CameraHealth, Connection
from hearthcam.runtime import Runtime
from hearthcam.web import EventBus, ServerHandle, start_server
from hearthcam_bench.broker import free_port
from tests.conftest import RtspServer
from tests.support.page_errors import collect_errors
from tests.support.world import T0, World, cheap_hasher

pytestmark = pytest.mark.integration

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
LOOKS: tuple[tuple[str, ViewportSize, Literal["dark", "light"]], ...] = (
    ("desktop", DESKTOP, "dark"),
    ("phone", PHONE, "light"),
)
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
OWNER, PASSWORD = "lena", "copper kettle on the stove"
MS = 1000


def shoot(page: Page, name: str, target: Locator | None = None) -> None:
    """Full-page screenshots at desktop and phone sizes, and close-ups of ``target`` (with the
    sticky top bar out of the way: it would cover the part scrolled under it)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.querySelectorAll('.toast').forEach(t => t.remove())")
    for size, viewport, scheme in LOOKS:
        page.set_viewport_size(viewport)
        page.emulate_media(color_scheme=scheme)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(250)
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
        if target is not None:
            # CSSOM, not a <style> tag: the CSP refuses inline style elements.
            bar = "document.querySelector('.topbar').style.visibility"
            page.evaluate(f"() => {{ {bar} = 'hidden'; }}")
            target.screenshot(path=str(SHOTS / f"{name}-{size}-part.png"))
            page.evaluate(f"() => {{ {bar} = ''; }}")
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="dark")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page whose script and console errors fail the test at its end."""
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark", locale="en-GB")
    context.set_default_timeout(15 * MS)
    opened = context.new_page()
    errors = collect_errors(opened)
    yield opened
    context.close()
    assert not errors, errors


@pytest.fixture
def hearthcam(tmp_path: Path) -> Iterator[tuple[Runtime, ServerHandle]]:
    """A running hearthcam with no camera yet and one owner, serving its web app."""
    config = parse_config({"data_dir": str(tmp_path / "data"), "web": {"port": free_port()}})
    bus = EventBus()
    runtime = app.build(config, listeners=[bus.on_change])
    Accounts(runtime.store, hasher=cheap_hasher()).setup(OWNER, PASSWORD, "Home", [], time.time())
    web = app.serve_web(runtime, bus)
    runtime.start(retention=False)
    try:
        yield runtime, web
    finally:
        web.stop()
        runtime.close()
        runtime.store.close()


def stat(row: Locator, field: str) -> int:
    text = row.locator(f'[data-field="{field}"] strong').text_content() or ""
    return int(re.sub(r"\D", "", text))


def test_an_owner_adds_a_camera_and_watches_its_health(
    hearthcam: tuple[Runtime, ServerHandle], page: Page, rtsp_server: RtspServer
) -> None:
    runtime, web = hearthcam
    page.goto(web.url + "/login")
    page.get_by_label("Username").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(web.url + "/")

    page.get_by_role("link", name="Settings").click()
    panel = page.locator("#cameras")
    panel.get_by_text("Add a camera").first.click()
    panel.get_by_label("Name", exact=True).fill("Garden")
    panel.get_by_label("Stream URL", exact=True).fill(rtsp_server.url())
    panel.get_by_role("button", name="Test and add").click()
    expect(page.locator(".toast").last).to_contain_text("Garden is recording", timeout=30 * MS)
    [key] = runtime.pipelines  # the runtime runs it: no restart
    row = panel.locator(f'.camera-row[data-camera="{key}"]')
    health = row.locator(".camera-health")
    expect(health).to_have_attribute("data-state", "live", timeout=30 * MS)
    expect(health.locator(".health-state")).to_have_text("Live")
    expect(health.locator('[data-field="last_frame"]')).to_contain_text(re.compile(r"ago|now"))
    first = stat(row, "frames_analysed")
    expect(row.locator('[data-field="frames_analysed"]')).not_to_have_text(
        re.compile(rf"^{first}\b"), timeout=15 * MS
    )  # the page refreshes it on its own
    assert stat(row, "frames_analysed") > first
    expect(health.locator(".health-error")).to_have_count(0)
    expect(health).not_to_contain_text("null")
    assert runtime.pipelines[key].health().analysis_errors == 0
    shoot(page, "settings-camera-health", panel)

    page.get_by_role("link", name="Live").click()
    tile = page.locator(f'.live-tile[data-camera="{key}"]')
    status = tile.locator(".live-health")
    expect(status).to_have_attribute("data-state", "live", timeout=15 * MS)
    expect(status).to_contain_text("Analysing")
    expect(tile.locator(".live-name")).to_have_text("Garden")
    expect(tile).to_have_attribute("data-state", "playing", timeout=20 * MS)
    shoot(page, "live-health")


def failing(camera: str) -> CameraHealth | None:
    """A stand-in for the runtime: front fails on every frame, back lost its stream."""
    if camera == "front":
        return CameraHealth(
            "front", Connection.LIVE, 5120, 4310, 810, 4310, T0 - 1, T0 - 900, 0,
            "front: analysis failed: KeyError: 'front'", T0 - 1, 4310, analysis_failing=True,
        )  # fmt: skip
    if camera == "back":
        return CameraHealth(
            "back", Connection.RECONNECTING, 880, 880, 0, 0, T0 - 95, None, 3,
            "back: rtsp://admin:***@192.168.1.20/stream2: Connection refused", T0 - 4, 12,
        )  # fmt: skip
    return None


def test_a_failing_camera_says_so_in_settings_and_on_its_tile(
    world: World, browser: Browser, page: Page
) -> None:
    services = replace(world.services, health=failing)
    server = start_server(services, "127.0.0.1", 0)
    feeding = threading.Event()

    def feed() -> None:  # a fresh picture, as from a camera, for the mask editor and the tiles
        while not feeding.wait(0.5):
            for i, camera in enumerate(("front", "back")):
                world.feed_frame(camera, seed=i)

    feeder = threading.Thread(target=feed, name="feed", daemon=True)
    feeder.start()
    try:
        page.context.add_cookies(
            [{"name": "hc_session", "value": world.session_token("alice"), "url": server.url}]
        )
        page.goto(server.url + "/settings")
        front = page.locator('.camera-row[data-camera="front"] .camera-health')
        expect(front).to_have_attribute("data-state", "failing")
        expect(front.locator(".health-state")).to_have_text("Analysis failing")
        expect(front.locator(".health-error")).to_contain_text("KeyError: 'front'")
        expect(front.locator(".health-repeats")).to_have_text(re.compile("\u00d74[,.\u202f]?310"))
        back = page.locator('.camera-row[data-camera="back"] .camera-health')
        expect(back).to_have_attribute("data-state", "reconnecting")
        expect(back.locator('[data-field="reconnects"]')).to_have_text("3 reconnects")
        expect(back.locator('[data-field="last_frame"]')).to_have_text("last frame 1 min ago")
        expect(back.locator(".health-error")).to_contain_text("Last error 4 s ago")
        assert "admin:***@" in (back.text_content() or "")
        shoot(page, "settings-camera-failing", page.locator("#cameras"))

        page.goto(server.url + "/live")
        tile = page.locator('.live-tile[data-camera="front"] .live-health')
        expect(tile).to_have_attribute("data-state", "failing")
        expect(tile).to_have_text(
            re.compile("^Analysis failing \u00d74[,.\u202f]?310: KeyError: 'front'$")
        )
        expect(page.locator('.live-tile[data-camera="back"] .live-health')).to_contain_text(
            "Reconnecting"
        )
        shoot(page, "live-failing")
    finally:
        feeding.set()
        feeder.join()
        server.stop()
