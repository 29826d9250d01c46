"""The People page in a real browser (Debian's Chromium, Playwright) against the real server
over the web world (sealed media), with real faces and the real models.

At 1366x768 and at 390x844 the owner turns familiar faces on, enrols the carphone man from an
uploaded photo and the astronaut from an event's snapshot (each only after the consent text is
shown and confirmed), sees the photos used, sees the event page name who it recognised, deletes
a person and turns the feature off (everything destroyed). Screenshots go to /tmp/shots-people/.
Any page error or console error fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from hearthcam.types import Verdict
from hearthcam.vault.media import write_bytes
from hearthcam.web import ServerHandle, start_server
from tests.support.known_faces import astronaut, carphone_man
from tests.support.page_errors import collect_errors
from tests.support.world import World

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp/shots-people")
LARGE: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
MS = 1000


@pytest.fixture
def server(world: World) -> Iterator[ServerHandle]:
    handle = start_server(world.services, "127.0.0.1", 0)
    try:
        yield handle
    finally:
        handle.stop()


def signed_in(browser: Browser, world: World, server: ServerHandle, size: ViewportSize) -> Page:
    context = browser.new_context(viewport=size, timezone_id="UTC", locale="en-GB")
    context.set_default_timeout(30 * MS)
    context.add_cookies(
        [{"name": "hc_session", "value": world.session_token("alice"), "url": server.url}]
    )
    return context.new_page()


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.querySelectorAll('.toast').forEach(t => t.remove())")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def consent(page: Page, name: str) -> None:
    page.get_by_label("Name").fill(name)
    expect(page.locator("#consent-text")).to_contain_text(f"{name} agreed to be recognised")
    page.get_by_label("This person agreed, as written above").check()


@pytest.mark.parametrize(("label", "size"), [("1366x768", LARGE), ("390x844", PHONE)])
def test_an_owner_enrols_people_sees_them_recognised_and_deletes_them(
    browser: Browser, world: World, server: ServerHandle, tmp_path: Path,
    label: str, size: ViewportSize,
) -> None:  # fmt: skip
    event = world.add_event("front")
    assert event.snapshot is not None
    # The event's snapshot shows the astronaut (a real face), sealed like the recorder's.
    world.services.media.delete([event.snapshot])
    ok, jpeg = cv2.imencode(".jpg", astronaut())
    assert ok
    write_bytes(world.services.media, event.snapshot, "front", jpeg.tobytes())
    photo = tmp_path / "sam.png"
    cv2.imwrite(str(photo), carphone_man()[0])

    page = signed_in(browser, world, server, size)
    errors = collect_errors(page)
    page.goto(server.url + "/")
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="People").click()
    expect(page).to_have_url(server.url + "/people")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => { const n = document.querySelector('.nav'); "
                         "return n.scrollWidth <= n.clientWidth; }")  # fmt: skip
    expect(page.locator("#enrol-panel")).to_be_hidden()  # off by default
    page.get_by_label("Recognise the people I enrol").check()
    expect(page.locator("#enrol-panel")).to_be_visible()

    consent(page, "Sam")
    page.get_by_label("Photo of their face").set_input_files(str(photo))
    shoot(page, f"people-consent-{label}")
    page.get_by_role("button", name="Add person").click()
    sam = page.locator(".person", has_text="Sam")
    expect(sam).to_be_visible()
    expect(sam.locator(".consent-text")).to_contain_text("Sam agreed")
    expect(sam.locator("img")).to_have_count(1)
    page.wait_for_function("() => [...document.querySelectorAll('.person img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")  # fmt: skip

    page.goto(f"{server.url}/events/{event.id}")
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="Add this person to People").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#from-event")).to_be_visible()
    consent(page, "Eileen")
    page.get_by_role("button", name="Add person").click()
    expect(page.locator(".person")).to_have_count(2)
    page.wait_for_function("() => [...document.querySelectorAll('.person img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")  # fmt: skip
    shoot(page, f"people-enrolled-{label}")

    familiar = world.services.familiar
    assert familiar is not None
    people = {p.name: p.id for p in familiar.people(world.household_a)}
    assert set(people) == {"Sam", "Eileen"}
    sources = {f.source for p in people.values() for f in familiar.faces(world.household_a, p)}
    assert sources == {"upload", f"event:{event.id}"}
    # What the live path does when it recognises her: the verdict, and who it was.
    world.store.save_event(replace(event, verdict=Verdict.FAMILIAR))
    familiar.record_sighting(event.id, people["Eileen"], 0.3)
    page.goto(f"{server.url}/events/{event.id}")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#event-title")).to_contain_text("Household member at Front door")
    expect(page.locator("#facts")).to_contain_text("Recognised")
    expect(page.locator(".event-people")).to_have_text("Eileen")
    shoot(page, f"event-recognised-{label}")

    page.goto(server.url + "/people")
    page.wait_for_load_state("networkidle")
    sam = page.locator(".person", has_text="Sam")
    sam.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator(".person")).to_have_count(1)
    page.get_by_label("Recognise the people I enrol").uncheck()
    page.get_by_role("dialog").get_by_role("button", name="Turn off and delete").click()
    expect(page.locator("#people-panel")).to_be_hidden()
    assert familiar.people(world.household_a) == []
    assert not familiar.enabled(world.household_a)
    page.context.close()
    assert not errors, errors
