"""History playback in the owner's browser (Debian's Chromium, driven by Playwright).

A camera's recording is made by the real recorder (sealed, 1 s segments, two spans with the
camera down between them) and served by the real server. The owner opens the history from the
live tile and from an event's "Show in history", and the page must play: ``video.currentTime``
advances across segment boundaries and across the gap between spans, a click on the timeline
seeks there, ArrowRight/N/P move as they say. At 1366x768 and 390x844; no console errors.
Screenshots go to /tmp/shots-history/.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from hearthcam.accounts import Accounts
from hearthcam.app import open_media
from hearthcam.config import parse_config
from hearthcam.live import LiveView
from hearthcam.store.db import Store
from hearthcam.types import Event, Verdict
from hearthcam.web import ServerHandle, WebServices, start_server
from tests.support.factories import make_h264_segment
from tests.support.page_errors import collect_errors
from tests.support.recording import record_clip
from tests.support.world import cheap_hasher

pytestmark = pytest.mark.integration

SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1366, "height": 768},
    "phone": {"width": 390, "height": 844},
}
SHOTS = Path("/tmp/shots-history")
OWNER, PASSWORD = "lena", "copper kettle on the stove"
MS = 1000
SPAN_S = 6.0  # each span: six 1 s segments


@dataclass
class Recorded:
    """The running server and what the camera recorded (wall times)."""

    web: ServerHandle
    first: float  # start of the first span
    second: float  # start of the second span
    events: list[Event]


def marker(store: Store, wall: float, verdict: Verdict) -> Event:
    """An event row on "front" (the timeline needs no clip for a marker)."""
    event = Event(
        id=uuid.uuid4().hex,
        camera="front",
        verdict=verdict,
        labels=("person",) if verdict is Verdict.THREAT else (),
        start=0.0,
        end=2.0,
        wall_start=wall,
        wall_end=wall + 2.0,
        score=0.8,
        zones=(),
        tracks=(),
        snapshot=None,
        clip=None,
        alert=False,
    )
    store.save_event(event)
    return event


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    cameras: dict[str, Any] = {"front": {"name": "Front door", "inputs": [{"path": "f.mp4"}]}}
    config = parse_config({"data_dir": str(tmp_path / "data"), "cameras": cameras})
    config.data_dir.mkdir(parents=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    now = time.time()
    Accounts(store, hasher=cheap_hasher()).setup(OWNER, PASSWORD, "Home", ["front"], now)
    media = open_media(store, config.data_dir)
    assert media.sealed
    clip = tmp_path / "camera.mp4"
    make_h264_segment(clip, seconds=SPAN_S, fps=10, size=(320, 240))
    first, second = now - 600, now - 300
    for start in (first, second):
        # Packets up to 40 ms late, as over a network: segment boundaries have small holes
        # and overlaps on the wall-time timeline, which playback must go through.
        # (Cut at 0.9 s: a keyframe a second, late or not, starts a segment.)
        segments = record_clip(
            media, store, config.data_dir, "front", clip, start, segment_seconds=0.9, jitter=0.04
        )
        assert len(segments) == 6
    store.add_gap("front", first + SPAN_S, second, "connection lost")
    events = [
        marker(store, first + 2, Verdict.THREAT),
        marker(store, second + 3, Verdict.PET),
    ]
    services = WebServices(
        config=config,
        store=store,
        accounts=Accounts(store, hasher=cheap_hasher()),
        media=media,
        live={"front": LiveView("front")},
    )
    web = start_server(services, "127.0.0.1", 0)
    try:
        yield Recorded(web, first, second, events)
    finally:
        web.stop()
        store.close()


@pytest.fixture(params=list(SIZES))
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A page at one of the two sizes whose script and console errors fail the test."""
    size = request.param
    context = browser.new_context(
        viewport=SIZES[size], color_scheme="dark" if size == "desktop" else "light"
    )
    context.set_default_timeout(15 * MS)
    opened = context.new_page()
    errors = collect_errors(opened)
    yield opened
    context.close()
    assert not errors, errors


def position(page: Page) -> float:
    """The wall time the page shows (origin + video.currentTime)."""
    return float(page.locator("#history-track").get_attribute("data-position") or "nan")


def current_time(page: Page) -> float:
    return float(page.evaluate("() => document.getElementById('history-video').currentTime"))


WALL_IN = """([low, high]) => {
  const video = document.getElementById('history-video');
  const origin = Number(document.getElementById('history-track').dataset.origin);
  const wall = origin + video.currentTime;
  return low <= wall && wall <= high ? [wall] : null;
}"""


def wait_for_position(page: Page, low: float, high: float, timeout: float = 15.0) -> float:
    """Waits until the player is at a wall time in [low, high]; returns it.

    Checked inside the page on every animation frame: a window of half a second during playback
    is not missed when the machine is loaded (polls over the wire came too late for it in CI)."""
    try:
        found = page.wait_for_function(
            WALL_IN, arg=[low, high], polling="raf", timeout=timeout * MS
        ).json_value()
    except PlaywrightTimeoutError:
        seen = position(page)
        raise AssertionError(
            f"position {seen:.3f} never came into [{low:.3f}, {high:.3f}]"
        ) from None
    return float(found[0])


def wait_for_shown_position(page: Page, low: float, high: float, timeout: float = 15.0) -> float:
    """Waits until the page *shows* (the playhead's data-position) a wall time in [low, high]."""
    deadline = time.monotonic() + timeout
    seen = float("nan")
    while time.monotonic() < deadline:
        seen = position(page)
        if low <= seen <= high:
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"shown position {seen:.3f} never came into [{low:.3f}, {high:.3f}]")


SHOWN = """() => {
  const video = document.getElementById('history-video');
  const origin = Number(document.getElementById('history-track').dataset.origin);
  return [origin + video.currentTime, video.readyState >= 2 && !video.seeking];
}"""


def first_frame_at(page: Page, target: float, started: float, timeout: float = 15.0) -> float:
    """Seconds from ``started`` until the video shows a decoded frame within 0.6 s of
    ``target`` (polled every 10 ms)."""
    while time.perf_counter() - started < timeout:
        wall, ready = page.evaluate(SHOWN)
        if ready and abs(wall - target) < 0.6:
            return time.perf_counter() - started
        page.wait_for_timeout(10)
    raise AssertionError(f"no frame at {target:.3f} within {timeout} s")


def note_timing(page: Page, what: str, seconds: float) -> None:
    """Appends a figure to /tmp/shots-history/timings.txt (the report's, not an assertion)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = "desktop" if page.viewport_size == SIZES["desktop"] else "phone"
    with open(SHOTS / "timings.txt", "a") as out:
        out.write(f"{size}\t{what}\t{seconds:.3f}\n")


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = "desktop" if page.viewport_size == SIZES["desktop"] else "phone"
    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky top bar stays at the top
    page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)


def sign_in(page: Page, url: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Username").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(url + "/")


def test_history_plays_across_segments_and_seeks_by_timeline_and_keys(
    recorded: Recorded, page: Page
) -> None:
    web, first, second = recorded.web, recorded.first, recorded.second
    sign_in(page, web.url)

    # From the live tile.
    page.goto(web.url + "/live")
    tile = page.locator('.live-tile[data-camera="front"]')
    tile.get_by_role("link", name="Front door: open its history").click()
    expect(page).to_have_url(web.url + "/history/front")
    expect(page.locator("#history-title")).to_have_text("History · Front door")
    # It opens near the end of the last span and plays it; the playhead shows where.
    wait_for_shown_position(page, second + 0.5, second + SPAN_S)

    # From the first span's start: play on across at least two segment boundaries.
    started = time.perf_counter()
    page.goto(f"{web.url}/history/front?t={first:.3f}")
    # The first frame shown is within 0.6 s of the asked time.
    note_timing(page, "open: navigation to first frame", first_frame_at(page, first, started))
    start = current_time(page)
    begin = wait_for_position(page, first + 1.0, first + 1.6)
    began = time.perf_counter()
    end = wait_for_position(page, first + 4.0, first + SPAN_S)
    # Three segment boundaries in ~3 s of media: played at about real rate, not stalled at each.
    took = time.perf_counter() - began
    note_timing(page, f"{end - begin:.1f} s of media over 3 segment boundaries played in", took)
    assert took < (end - begin) + 1.5
    assert current_time(page) - start > 3.0  # one element, one timeline: no reload
    # On through the end of the span and over the camera-down gap into the next span.
    wait_for_position(page, second, second + SPAN_S, timeout=20)
    shoot(page, "playing")

    # A click on the timeline seeks there (1 min view, around the second span).
    page.get_by_role("button", name="1 min").click()
    track = page.locator("#history-track")
    box = track.bounding_box()
    assert box is not None
    view_start = float(track.get_attribute("data-view-start") or "nan")
    view_end = float(track.get_attribute("data-view-end") or "nan")
    target = first + 1.5
    if not view_start <= target <= view_end:
        page.keyboard.press("p")  # back to the first span's event; the view follows the playhead
        wait_for_shown_position(page, first + 1.5, first + 3.5)
        view_start = float(track.get_attribute("data-view-start") or "nan")
        view_end = float(track.get_attribute("data-view-end") or "nan")
    x = box["width"] * (target - view_start) / (view_end - view_start)
    started = time.perf_counter()
    track.click(position={"x": x, "y": box["height"] / 2})
    note_timing(page, "seek: timeline click to first frame", first_frame_at(page, target, started))
    landed = wait_for_position(page, target - 0.6, target + 0.6)
    wait_for_position(page, landed + 0.5, first + SPAN_S)  # and plays on from there
    shoot(page, "seeked")

    # Keys: N the next event, P the previous, ArrowLeft/ArrowRight 10 s.
    page.locator("body").press("n")
    wait_for_position(page, second + 3, second + 4)
    page.keyboard.press("p")
    wait_for_position(page, first + 2, first + 3)
    page.keyboard.press("ArrowLeft")  # 10 s before the first span: its start
    wait_for_position(page, first, first + 1)
    page.keyboard.press("ArrowRight")  # 10 s on is the camera-down gap: the next span
    wait_for_position(page, second, second + SPAN_S)
    page.get_by_role("button", name="10 min").click()  # both spans in view
    expect(page.locator(".history-span")).to_have_count(2)
    expect(page.locator(".history-marker")).to_have_count(2)
    expect(page.locator('.history-marker[data-verdict="threat"]')).to_have_count(1)
    expect(page.locator(".history-gap")).to_have_count(1)
    page.get_by_role("button", name="3 days").click()
    shoot(page, "three-days")


def test_an_event_opens_the_history_at_its_time(recorded: Recorded, page: Page) -> None:
    web = recorded.web
    sign_in(page, web.url)
    event = recorded.events[1]
    page.goto(f"{web.url}/events/{event.id}")
    page.get_by_role("link", name="Show in history").click()
    expect(page).to_have_url(re.compile(r"/history/front\?t=\d+\.\d{3}$"))
    opened = float(page.url.rpartition("=")[2])
    assert opened == pytest.approx(event.wall_start, abs=0.002)  # ISO times carry ms
    wait_for_position(page, opened, opened + 2)
    page.wait_for_timeout(300)
    shoot(page, "event")
