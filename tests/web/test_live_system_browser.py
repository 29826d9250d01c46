"""Live grid, overlay, System page and the zone editor in the owner's browser (Debian's Chromium,
driven by Playwright), at 1366x768 and 390x844.

The grid test serves households of 1, 2, 4 and 9 cameras whose live views are fed pictures
(16:9 and 4:3) and checks that no tile, and no grid, is taller than the window. The walk runs
the whole product (``app.build``, ``app.serve_web``, the packaged detector) on a real RTSP
camera playing real pedestrians: the overlay draws the zone, the motion and the people the
camera follows; a tap opens the camera's history; the System page shows the camera's figures
and the logs by level; the zone editor keeps the picture's shape and lists a camera added a
moment ago. Screenshots go to /tmp/shots-live/.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, ViewportSize, expect

from hearthcam import app
from hearthcam.accounts import Accounts, Role
from hearthcam.config import Polygon, ZoneConfig, parse_config
from hearthcam.live import LiveView
from hearthcam.runtime import Runtime
from hearthcam.store.db import Store
from hearthcam.store.settings import CameraGeometry, save_camera_geometry
from hearthcam.types import Frame
from hearthcam.web import EventBus, ServerHandle, WebServices, start_server
from hearthcam_bench.broker import free_port
from tests.conftest import RtspServer, SceneFile
from tests.support.world import cheap_hasher, detect_image
from tests.web.test_camera_health import scene_mount

pytestmark = pytest.mark.integration

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
SIZES: tuple[tuple[str, ViewportSize], ...] = (("laptop", LAPTOP), ("phone", PHONE))
SHOTS = Path("/tmp/shots-live")
PASSWORD = "copper kettle on the stove"
MS = 1000
HISTORY_PAGE = "<!doctype html><title>History</title><p>history</p>"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page whose script and console errors fail the test at its end; /history/* answers a
    stand-in page (another page of the app, built beside this one)."""
    context = browser.new_context(viewport=LAPTOP, color_scheme="dark", locale="en-GB")
    context.set_default_timeout(15 * MS)
    opened = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text} ({message.location.get('url')})")

    def history(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=HISTORY_PAGE)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: errors.append(f"page: {error}"))
    opened.route(re.compile(r".*/history/.*"), history)
    yield opened
    context.close()
    assert not errors, errors


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.querySelectorAll('.toast').forEach(t => t.remove())")
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


# -- the grid -----------------------------------------------------------------------------------

COUNTS = (1, 2, 4, 9)


def camera_names(count: int) -> list[str]:
    return [f"cam{count}_{i}" for i in range(count)]


def wide(name: str) -> bool:
    return int(name.rsplit("_", 1)[1]) % 3 != 2


def picture(name: str, seed: int) -> np.ndarray:
    """16:9, except every third camera's 4:3."""
    return detect_image(seed, (320, 180) if wide(name) else (240, 180))


@pytest.fixture
def grid_app(tmp_path: Path) -> Iterator[str]:
    """Households of 1, 2, 4 and 9 cameras (owners owner1 ... owner9), each fed pictures."""
    names = [n for count in COUNTS for n in camera_names(count)]
    cameras: dict[str, Any] = {n: {"inputs": [{"path": f"{n}.mp4"}]} for n in names}
    config = parse_config({"data_dir": str(tmp_path / "data"), "cameras": cameras})
    config.data_dir.mkdir(parents=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    accounts = Accounts(store, hasher=cheap_hasher())
    now = time.time()
    for count in COUNTS:
        if count == COUNTS[0]:
            accounts.setup("owner1", PASSWORD, "Home 1", camera_names(1), now)
            continue
        household = accounts.create_household(f"Home {count}", now)
        for name in camera_names(count):
            accounts.assign_camera(name, household)
        accounts.create_user(f"owner{count}", PASSWORD, Role.OWNER, household, now)
    views = {n: LiveView(n, mjpeg_fps=2.0) for n in names}
    services = WebServices(config=config, store=store, accounts=accounts, live=views)
    handle = start_server(services, "127.0.0.1", 0)
    stop = threading.Event()

    def feed() -> None:
        seed = 0
        while not stop.wait(0.5):
            seed += 1
            for name, view in views.items():
                view.frame(Frame(name, seed, seed / 2, time.time(), picture(name, seed)))

    feeder = threading.Thread(target=feed, name="feed", daemon=True)
    feeder.start()
    try:
        yield handle.url
    finally:
        stop.set()
        feeder.join()
        handle.stop()
        store.close()


def check_fits(page: Page, viewport: ViewportSize, count: int) -> None:
    """Every tile plays, keeps its picture's shape, and the grid fits the window."""
    tiles = page.locator(".live-tile")
    expect(tiles).to_have_count(count)
    for name in camera_names(count):
        expect(page.locator(f'.live-tile[data-camera="{name}"]')).to_have_attribute(
            "data-state", "playing", timeout=20 * MS
        )
    names = camera_names(count)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)  # the layout follows the pictures' shapes
    boxes: list[dict[str, float]] = page.eval_on_selector_all(
        ".live-tile",
        """tiles => tiles.map(t => {
            const frame = t.querySelector('.live-frame');
            const f = frame.getBoundingClientRect();
            // The picture's own shape, as the player read it from the picture.
            const aspect = Number(frame.style.getPropertyValue('--aspect')) || 0;
            return {top: f.top, bottom: f.bottom, left: f.left, right: f.right,
                    width: f.width, height: f.height, aspect};
        })""",
    )
    grid = page.locator("#live-grid").bounding_box()
    assert grid is not None
    for name, box in zip(names, boxes, strict=True):
        assert box["aspect"] == pytest.approx(16 / 9 if wide(name) else 4 / 3, rel=0.01), box
        assert box["height"] <= viewport["height"], box
        # The grid fits the window, unless fitting would make the pictures smaller than the
        # readable minimum (live.js MIN_WIDTH, 150 px): then it scrolls, one picture at a time
        # still never taller than the window (9 cameras on a phone under an 8-link menu).
        fits = box["bottom"] <= viewport["height"] + 0.5
        assert fits or box["width"] >= 150 - 0.5, (count, viewport, box)
        assert box["left"] >= -0.5, box
        assert box["right"] <= viewport["width"] + 0.5, box
        assert box["width"] >= 100, box  # still a picture one can see
        assert box["width"] / box["height"] == pytest.approx(box["aspect"], rel=0.03), box
    scrolls = grid["y"] + grid["height"] > viewport["height"] + 0.5
    assert not scrolls or all(b["width"] >= 150 - 0.5 for b in boxes), (count, viewport, grid)
    # No two pictures overlap.
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["right"] <= b["left"] + 0.5
                or b["right"] <= a["left"] + 0.5
                or a["bottom"] <= b["top"] + 0.5
                or b["bottom"] <= a["top"] + 0.5
            )
            assert apart, (a, b)


def test_the_live_grid_fits_the_window(grid_app: str, page: Page) -> None:
    for count in COUNTS:
        page.context.clear_cookies()
        log_in(page, grid_app, f"owner{count}")
        for size, viewport in SIZES:
            page.set_viewport_size(viewport)
            page.goto(grid_app + "/live?path=mjpeg")
            check_fits(page, viewport, count)
            shoot(page, f"live-grid-{count}-{size}")
        page.set_viewport_size(LAPTOP)
        # A tap on a picture opens that camera's history.
        first = camera_names(count)[0]
        page.locator(f'.live-tile[data-camera="{first}"] .live-link').click()
        expect(page).to_have_url(f"{grid_app}/history/{first}")
        page.get_by_text("history").wait_for()


# -- the walk on a real camera ------------------------------------------------------------------


@pytest.fixture
def running(
    tmp_path: Path, rtsp_servers: Callable[..., RtspServer], people_scene: SceneFile
) -> Iterator[tuple[Runtime, ServerHandle, RtspServer]]:
    """hearthcam with one config camera ("porch", real pedestrians over RTSP) and its owner."""
    server = rtsp_servers(scene_mount("porch", people_scene), scene_mount("shed", people_scene))
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "web": {"port": free_port()},
            "record": {"segment_seconds": 4},
            "cameras": {"porch": {"name": "Porch", "inputs": [{"path": server.url("porch")}]}},
        }
    )
    bus = EventBus()
    # As `hearthcam run` logs (cli.run): INFO and above.
    logger = logging.getLogger("hearthcam")
    level = logger.level
    logger.setLevel(logging.INFO)
    runtime = app.build(config, listeners=[bus.on_change])
    Accounts(runtime.store, hasher=cheap_hasher()).setup(
        "lena", PASSWORD, "Home", ["porch"], time.time()
    )
    web = app.serve_web(runtime, bus)
    geometry = CameraGeometry(
        mask=[],
        zones={
            "step": ZoneConfig(coordinates=Polygon(points=[(0.1, 0.6), (0.5, 0.6), (0.5, 0.95)]))
        },
    )
    save_camera_geometry(web.services.settings, "porch", geometry, time.time())
    web.services.registry.draw("porch", geometry)
    try:
        yield runtime, web, server
    finally:
        web.stop()
        runtime.close()
        runtime.store.close()
        logger.setLevel(level)


def overlay_walk(page: Page, url: str) -> None:
    """The zone, then motion and the people followed, drawn over the live picture."""
    page.set_viewport_size(LAPTOP)
    page.goto(url + "/live")
    tile = page.locator('.live-tile[data-camera="porch"]')
    expect(tile).to_have_attribute("data-state", "playing", timeout=30 * MS)
    toggles = page.locator("#overlay-toggles")
    zones = toggles.get_by_role("button", name="Zones")
    zones.click()
    expect(zones).to_have_attribute("aria-pressed", "true")
    expect(tile.locator(".overlay-zone")).to_have_count(1)
    expect(tile.locator(".live-label-zone")).to_have_text("step")
    objects = toggles.get_by_role("button", name="Objects")
    motion = toggles.get_by_role("button", name="Motion")
    objects.click()
    motion.click()
    expect(tile.locator(".overlay-box").first).to_be_attached(timeout=60 * MS)
    expect(tile.locator(".live-label-box").first).to_contain_text("person")
    expect(tile.locator(".overlay-motion").first).to_be_attached(timeout=10 * MS)
    frame = tile.locator(".live-frame").bounding_box()
    drawing = tile.locator(".live-drawing").bounding_box()
    assert frame is not None
    assert drawing == pytest.approx(frame)  # drawn over the picture exactly
    boxes = tile.locator(".overlay-box")
    expect(boxes.first).to_be_attached(timeout=30 * MS)
    for i in range(boxes.count()):
        box = boxes.nth(i).bounding_box()
        if box is not None:  # replaced meanwhile: the next frame's
            assert frame["x"] - 1 <= box["x"] <= frame["x"] + frame["width"], (box, frame)
            assert box["y"] + box["height"] <= frame["y"] + frame["height"] + 1, (box, frame)
    shoot(page, "live-overlay-laptop")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(400)
    box = tile.bounding_box()
    assert box is not None
    assert box["height"] <= PHONE["height"]
    shoot(page, "live-overlay-phone")
    page.set_viewport_size(LAPTOP)
    objects.click()
    expect(objects).to_have_attribute("aria-pressed", "false")
    expect(tile.locator(".overlay-box")).to_have_count(0)
    expect(tile.locator(".overlay-zone")).to_have_count(1)
    # Remembered in this browser.
    page.reload()
    expect(toggles.get_by_role("button", name="Zones")).to_have_attribute("aria-pressed", "true")
    expect(toggles.get_by_role("button", name="Objects")).to_have_attribute("aria-pressed", "false")
    tile.locator(".live-link").click()
    expect(page).to_have_url(url + "/history/porch")


def figure(page: Page, field: str) -> str:
    return page.locator(
        f'.system-camera[data-camera="porch"] [data-field="{field}"] dd'
    ).inner_text()


def system_walk(page: Page, url: str, runtime: Runtime) -> None:
    """The camera's figures (non-zero while it runs) and the logs by level."""
    logging.getLogger("hearthcam.tests").warning(
        "porch: a test warning about rtsp://admin:hunter2@192.0.2.1/stream"
    )
    page.set_viewport_size(LAPTOP)
    page.get_by_role("link", name="System").click()
    expect(page).to_have_url(url + "/system")
    row = page.locator('.system-camera[data-camera="porch"]')
    expect(row).to_have_attribute("data-state", "live", timeout=30 * MS)
    deadline = time.monotonic() + 60
    while True:
        system = page.request.get(url + "/api/system").json()
        porch = system["cameras"][0]
        if porch["footage_bytes"] > 0 and porch["detector_ms"] is not None:
            break
        assert time.monotonic() < deadline, porch
        page.wait_for_timeout(1000)
    assert porch["fps_in"] > 0
    assert porch["fps_analysed"] > 0
    assert porch["cpu_share"] > 0
    assert porch["detector_ms"] > 0
    assert porch["oldest_footage_at"] <= time.time()
    assert system["free_bytes"] > 0
    assert runtime.pipelines["porch"].load().cpu_share > 0
    expect(row.locator('[data-field="footage"] dd')).not_to_have_text(
        re.compile(r"^0 KB"), timeout=10 * MS
    )
    fps = figure(page, "fps")
    assert re.match(r"^\d+(\.\d)? in · \d+(\.\d)? analysed$", fps), fps
    assert not fps.startswith("0.0 in"), fps
    cpu = figure(page, "cpu")
    assert re.match(r"^\d+\.\d %$", cpu), cpu
    assert cpu != "0.0 %"
    expect(row.locator('[data-field="horizon"] dd')).to_contain_text("back")
    disk = page.locator("#system-disk")
    expect(disk.locator('[data-field="free"]')).to_contain_text(" of ")

    logs = page.locator("#log-list")
    expect(logs).to_contain_text("porch: a test warning about rtsp://***@192.0.2.1/stream")
    expect(logs).not_to_contain_text("hunter2")
    expect(logs).not_to_contain_text("porch: connected")  # INFO: not shown at Warning
    level = page.get_by_label("Show from level")
    level.select_option("INFO")
    expect(logs).to_contain_text("porch: connected")
    expect(logs.locator('.log-line[data-level="INFO"]').first).to_be_visible()
    level.select_option("ERROR")
    expect(logs.locator('.log-line[data-level="WARNING"]')).to_have_count(0)
    expect(logs.locator('.log-line[data-level="INFO"]')).to_have_count(0)
    level.select_option("WARNING")
    expect(logs).to_contain_text("a test warning")
    shoot(page, "system-laptop")
    page.set_viewport_size(PHONE)
    page.emulate_media(color_scheme="light")
    page.wait_for_timeout(300)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width  # nothing wider than the phone
    page.screenshot(path=str(SHOTS / "system-phone.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size(LAPTOP)


def frame_aspect(page: Page) -> tuple[float, float]:
    """(the drawing's width / height, the picture's own)."""
    page.wait_for_function(
        "() => { const i = document.getElementById('geometry-picture');"
        " return !i.hidden && i.complete && i.naturalWidth > 0; }",
        timeout=40 * MS,
    )
    box = page.locator("#geometry-svg").bounding_box()
    assert box is not None
    natural = page.eval_on_selector("#geometry-picture", "i => i.naturalWidth / i.naturalHeight")
    return box["width"] / box["height"], float(natural)


def editor_walk(page: Page, url: str, server: RtspServer) -> None:
    """The editor draws on the picture's own shape and lists a camera added a moment ago."""
    page.set_viewport_size(LAPTOP)
    page.get_by_role("link", name="Settings").click()
    select = page.locator("#geometry-camera")
    expect(select.locator("option")).to_have_count(1)
    shown, natural = frame_aspect(page)
    assert natural == pytest.approx(768 / 576, rel=0.01)  # the pedestrians' camera is 4:3
    assert shown == pytest.approx(natural, rel=0.01)
    # Coordinates stay relative to the picture: three corners, saved, read back.
    svg = page.locator("#geometry-svg")
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    assert box is not None
    corners = [(0.2, 0.2), (0.8, 0.25), (0.5, 0.9)]
    page.locator("input[name='shape-kind'][value='mask']").check(force=True)
    for x, y in corners:
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.get_by_role("button", name="Finish shape").click()
    page.locator("#geometry").get_by_role("button", name="Save").click()
    expect(page.locator(".toast").last).to_contain_text("Zones and masks saved")
    stored = page.request.get(url + "/api/cameras/porch/geometry").json()
    flat = [v for point in stored["mask"][0]["points"] for v in point]
    assert flat == pytest.approx([v for c in corners for v in c], abs=0.01)
    shoot(page, "editor-laptop")

    panel = page.locator("#cameras")
    panel.get_by_text("Add a camera").first.click()
    panel.get_by_label("Name", exact=True).fill("Shed")
    panel.get_by_label("Stream URL", exact=True).fill(server.url("shed"))
    panel.get_by_role("button", name="Test and add").click()
    expect(page.locator(".toast").last).to_contain_text("Shed is recording", timeout=30 * MS)
    expect(select.locator("option")).to_have_count(2)  # no reload
    key = next(
        n
        for n in page.eval_on_selector_all("#geometry-camera option", "os => os.map(o => o.value)")
        if n != "porch"
    )
    select.select_option(key)
    shown, natural = frame_aspect(page)
    assert shown == pytest.approx(natural, rel=0.01)
    page.set_viewport_size(PHONE)
    page.locator("#geometry").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    shown, natural = frame_aspect(page)
    assert shown == pytest.approx(natural, rel=0.01)
    shoot(page, "editor-phone")
    page.set_viewport_size(LAPTOP)


def test_overlay_system_page_and_editor_on_a_real_camera(
    running: tuple[Runtime, ServerHandle, RtspServer], page: Page
) -> None:
    runtime, web, server = running
    runtime.start(retention=False)
    log_in(page, web.url, "lena")
    overlay_walk(page, web.url)
    page.goto(web.url + "/live")
    system_walk(page, web.url, runtime)
    editor_walk(page, web.url, server)
