"""The timeline and the event page in a real browser (Debian's Chromium, driven by Playwright),
at a laptop's 1366x768 and a phone's 390x844: scrolling loads pages past the first 100 events,
a run of similar events folds into one card that opens, a filter, mark reviewed (one, then all
that match), the clip preview on hover, the date picker, and the event page's objects grouped
by label with the parked cars apart. Any page or console error fails the test. Screenshots go
to /tmp/shots-timeline/.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from hearthcam.store.event_query import is_reviewed
from hearthcam.types import Event, TrackSummary, Verdict
from hearthcam.web import ServerHandle, start_server
from tests.support.page_errors import collect_errors
from tests.support.world import T0, World

pytestmark = pytest.mark.integration

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
SHOTS = Path("/tmp/shots-timeline")
MS = 1000
OLDER = 230  # events without media below the first page


def track(label: str, travel: float, tid: int, zones: tuple[str, ...] = ()) -> TrackSummary:
    return TrackSummary(tid, label, 0.85, 0.7, 9, 1.0, 3.0, 0.1, travel, frozenset(zones))


def seed(world: World) -> dict[str, Event]:
    """Four threats at the front door within two minutes (a run), a pet at the back, and
    OLDER plain events every 20 minutes before them, alternating camera and verdict."""
    run = [world.add_event("front", T0 - 30 * i, Verdict.THREAT) for i in range(4)]
    busy = dataclasses.replace(
        run[0],
        labels=("car", "person"),
        tracks=(
            track("person", 0.4, 1, ("porch",)),
            track("person", 0.3, 2, ("drive",)),
            track("car", 0.2, 3),
            track("car", 0.0, 4),
            track("car", 0.01, 5),
        ),
    )
    world.store.save_event(busy)
    pet = world.add_event("back", T0 - 900, Verdict.PET)
    for i in range(OLDER):
        verdict = (Verdict.MOTION, Verdict.VEHICLE)[i % 2]
        start = T0 - 1800 - 1200 * i
        world.store.save_event(
            Event(
                id=uuid.uuid4().hex, camera=("front", "back")[i % 2], verdict=verdict,
                labels=("car",) if verdict is Verdict.VEHICLE else (), start=0.0, end=4.0,
                wall_start=start, wall_end=start + 4.0, score=0.5,
                zones=("drive",) if i % 3 == 0 else (),
            )
        )  # fmt: skip
    return {"busy": busy, "pet": pet, "oldest_run": run[-1]}


@pytest.fixture
def server(world: World) -> Iterator[ServerHandle]:
    handle = start_server(world.services, "127.0.0.1", 0)
    yield handle
    handle.stop()


@pytest.fixture(params=[LAPTOP, PHONE], ids=["1366x768", "390x844"])
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A page at one size whose script and console errors fail the test at its end."""
    viewport: ViewportSize = request.param
    context = browser.new_context(
        viewport=viewport, color_scheme="dark" if viewport is LAPTOP else "light",
        locale="en-GB", timezone_id="UTC", has_touch=viewport is PHONE,
    )  # fmt: skip
    context.set_default_timeout(15 * MS)
    opened = context.new_page()
    errors = collect_errors(opened)
    yield opened
    context.close()
    assert not errors, errors


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    assert size is not None
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}-{size['width']}x{size['height']}.png"))


def sign_in(page: Page, world: World, server: ServerHandle) -> None:
    page.context.add_cookies(
        [{"name": "hc_session", "value": world.session_token("alice"), "url": server.url}]
    )


def count_text(page: Page) -> str:
    return page.locator("#event-count").text_content() or ""


def scroll_to_end(page: Page, total: int) -> None:
    """Scrolls down until every event is loaded (the count loses its "+")."""
    for _ in range(30):
        if count_text(page) == f"{total} events":
            return
        page.mouse.wheel(0, 20000)
        page.wait_for_timeout(250)
    expect(page.locator("#event-count")).to_have_text(f"{total} events")


def test_timeline_scrolls_groups_filters_and_marks_reviewed(
    world: World, server: ServerHandle, page: Page
) -> None:
    seeded = seed(world)
    total = 4 + 1 + OLDER
    sign_in(page, world, server)
    page.goto(server.url + "/")
    expect(page.locator("#event-count")).to_have_text("100+ events")
    shoot(page, "timeline")

    # A run of four threats at the front door is one card with its count; it opens in place.
    group = page.locator(".event-group").first
    expect(group).to_have_attribute("data-count", "4")
    expect(group.locator(".event-card")).to_have_count(1)
    group.get_by_role("button", name="Show all 4").click()
    opened = page.locator(".event-group.is-open")
    expect(opened.locator(".event-card")).to_have_count(4)
    shoot(page, "timeline-group-open")
    opened.get_by_role("button", name="Fold").click()
    expect(page.locator(".event-group.is-open")).to_have_count(0)

    # Infinite scroll: past the first page of 100, to the end, with every event once.
    scroll_to_end(page, total)
    ids = page.locator(".event-card").evaluate_all("cards => cards.map(c => c.dataset.id)")
    assert len(ids) == len(set(ids)) == total - 3  # the folded run shows one card of four
    expect(page.locator("#more-text")).to_have_text("That is everything.")
    shoot(page, "timeline-end")

    # A filter: people only (the run); one marked reviewed by its button, then the rest at once.
    page.evaluate("() => window.scrollTo(0, 0)")
    page.locator("#filter-label").select_option("person")
    expect(page.locator("#event-count")).to_have_text("4 events")
    assert "label=person" in page.url
    page.locator(".event-group").get_by_role("button", name="Show all 4").click()
    first = page.locator(f'.event-card[data-id="{seeded["busy"].id}"]')
    first.hover()
    first.locator(".review-button").click()
    expect(first).to_have_class(re.compile(r"\bis-reviewed\b"))
    assert is_reviewed(world.store, seeded["busy"].id)
    page.locator("#filter-reviewed").select_option("false")
    expect(page.locator("#event-count")).to_have_text("3 events")
    shoot(page, "timeline-filtered")
    page.get_by_role("button", name="Mark all reviewed").click()
    page.get_by_role("dialog").get_by_role("button", name="Mark reviewed").click()
    expect(page.locator(".toast").last).to_contain_text("Marked 3 events reviewed.")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty-title")).to_have_text("No matching events")
    assert is_reviewed(world.store, seeded["oldest_run"].id)
    assert not is_reviewed(world.store, seeded["pet"].id)  # not a person: not in the filter
    shoot(page, "timeline-all-reviewed")

    # The date picker: the listing starts at the end of the chosen day.
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#event-count")).to_have_text("100+ events")
    day = dt.datetime.fromtimestamp(T0 - 2 * 86400, dt.UTC).date()
    page.locator("#filter-day").fill(day.isoformat())
    newest = page.locator(".event-card time").first
    expect(newest).to_have_attribute("datetime", re.compile(rf"^{day.isoformat()}T"))
    assert f"day={day.isoformat()}" in page.url
    shoot(page, "timeline-day")


def test_a_card_previews_its_clip(world: World, server: ServerHandle, page: Page) -> None:
    event = world.add_event("back", T0 - 60, Verdict.PET)
    sign_in(page, world, server)
    page.goto(server.url + "/")
    card = page.locator(f'.event-card[data-id="{event.id}"]')
    if page.viewport_size == PHONE:
        card.locator(".preview-button").tap()
    else:
        card.hover()
    video = card.locator("video.thumb-preview")
    expect(video).to_have_count(1)
    page.wait_for_function(
        "v => v.muted && v.readyState >= 2 && v.currentTime > 0", arg=video.element_handle()
    )
    shoot(page, "timeline-preview")
    if page.viewport_size == PHONE:
        card.locator(".preview-button").tap()
    else:
        page.mouse.move(0, 0)
    expect(video).to_have_count(0)


def test_event_page_groups_objects_and_shows_parked_cars_apart(
    world: World, server: ServerHandle, page: Page
) -> None:
    seeded = seed(world)
    sign_in(page, world, server)
    page.goto(server.url + f"/events/{seeded['busy'].id}")
    objects = page.locator("#tracks table.objects tbody tr")
    expect(objects).to_have_count(2)
    person = page.locator('#tracks tr[data-label="person"]')
    expect(person.locator("th")).to_have_text("Person")
    expect(person.locator(".object-count")).to_have_text("2")
    expect(person).to_contain_text("drive, porch")
    expect(page.locator('#tracks tr[data-label="car"] .object-count')).to_have_text("1")
    parked = page.locator("#parked-panel")
    expect(parked).to_be_visible()
    expect(parked.locator('tr[data-label="car"] .object-count')).to_have_text("2")
    # The clip's own duration (the 2 s test clip), in the one date format of the app.
    expect(page.locator("#facts")).to_contain_text("Clip")
    expect(page.locator("#event-when")).to_have_text(re.compile(r"· 2 s$"))
    shoot(page, "event")
    size = page.viewport_size
    assert size is not None
    page.locator(".event-side").screenshot(
        path=str(SHOTS / f"event-objects-{size['width']}x{size['height']}.png")
    )
