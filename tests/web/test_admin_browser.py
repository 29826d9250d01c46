"""Users and roles, enrolment links and locked recordings in a real browser (Debian's Chromium,
Playwright) against the real server over the test world's SQLite and sealed media.

Each flow runs at 1366x768 and at 390x844; any script or console error fails it. Screenshots
go to /tmp/shots-admin/.

- The admin lands on /admin (system status, users and roles, review flags), invites an
  annotator; the annotator opens the link, is told why a guessable password is refused (the
  meter and the server agree), sets a strong one, enrols TOTP, sees the recovery codes and lands
  on the workbench. The admin resets their sign-in (the old link is dead, a new one works) and
  removes a user.
- The owner invites a member from Settings, gives them a new link, removes them.
- Recordings locked in password mode: the timeline's thumbnails and the event's player say so,
  the owner unlocks in place and the media load; a member is told only the owner can.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, expect

from hearthcam.web import ServerHandle, start_server
from tests.support.world import PASSWORD, World, build_world

pytestmark = pytest.mark.integration

VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1366, "height": 768},
    "phone": {"width": 390, "height": 844},
}
SHOTS = Path("/tmp/shots-admin")
STRONG = "a kettle sings at dusk"
WEAK = "password1234"
MS = 1000


@dataclass
class Served:
    """The test world served on a free loopback port, on the real clock."""

    world: World
    handle: ServerHandle

    @property
    def url(self) -> str:
        return self.handle.url


@dataclass
class Watched:
    """A browser context whose pages' script and console errors are collected."""

    browser: Browser
    viewport: ViewportSize
    size: str
    errors: list[str] = field(default_factory=list)
    contexts: list[object] = field(default_factory=list)

    def new_page(self) -> Page:
        context = self.browser.new_context(viewport=self.viewport, locale="en-GB")
        context.set_default_timeout(10 * MS)
        self.contexts.append(context)
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"console: {message.text} ({message.location.get('url')})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"page: {error}"))
        return page

    def shoot(self, page: Page, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(200)
        page.screenshot(path=str(SHOTS / f"{name}-{self.size}.png"), full_page=True)


@pytest.fixture
def served(tmp_path: Path, clip_source: Path) -> Iterator[Served]:
    world = build_world(tmp_path, clip_source)
    services = replace(world.services, clock=time.time)
    handle = start_server(services, "127.0.0.1", 0)
    world.services = services
    try:
        yield Served(world, handle)
    finally:
        handle.stop()
        world.store.close()


@pytest.fixture(params=sorted(VIEWPORTS))
def watched(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Watched]:
    size = str(request.param)
    found = Watched(browser, VIEWPORTS[size], size)
    yield found
    for context in found.contexts:
        context.close()  # type: ignore[attr-defined]
    assert not found.errors, found.errors


def sign_in(page: Page, served: Served, username: str) -> None:
    page.goto(served.url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    secret = served.world.secrets.get(username)
    if secret is not None:
        expect(page).to_have_url(served.url + "/login/mfa")
        # The page's script (imported by app.js once loaded) submits six digits as they are
        # typed: typed before it runs, they would just sit there (a flake under load).
        page.wait_for_load_state("networkidle")
        page.locator("#code").fill(pyotp.TOTP(secret).now())
    expect(page.locator(".topbar-name")).to_have_text(username)


def enrol_in_browser(watched: Watched, served: Served, link: str, name: str) -> Page:
    """Opens a one-time link in a fresh browser: weak password refused, then strong + TOTP."""
    page = watched.new_page()
    page.goto(link)
    expect(page.locator("#enrol-lead")).to_contain_text("Welcome")
    assert "#" not in page.url  # the token left the address bar
    page.get_by_label("Choose a password").fill(WEAK)
    meter = page.locator("#enrol-strength")
    expect(meter).to_have_attribute("data-acceptable", "false")
    expect(meter).to_contain_text("common password")
    page.get_by_label("Repeat it").fill(WEAK)
    page.get_by_role("button", name="Next: two-factor").click()
    expect(page.locator("#enrol-password .form-error")).to_contain_text("easy to guess")
    watched.shoot(page, f"{name}-weak")
    page.get_by_label("Choose a password").fill(STRONG)
    expect(meter).to_have_attribute("data-acceptable", "true")
    page.get_by_label("Repeat it").fill(STRONG)
    page.get_by_role("button", name="Next: two-factor").click()
    expect(page.locator("#totp-qr svg")).to_be_visible()
    secret = (page.locator("#totp-secret").text_content() or "").replace(" ", "")
    watched.shoot(page, f"{name}-totp")
    page.get_by_label("Enter the 6-digit code the app shows").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Finish").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    watched.shoot(page, f"{name}-done")
    return page


def test_admin_manages_users_and_roles(served: Served, watched: Watched) -> None:
    page = watched.new_page()
    sign_in(page, served, "ada")
    expect(page).to_have_url(served.url + "/admin")  # an admin's home
    system = page.locator("#system")
    expect(system.locator("[data-field='cameras']")).to_have_text("0 of 3")
    expect(system.locator("[data-field='version']")).not_to_have_text("…")
    expect(page.locator("#flags")).to_contain_text("No flags")
    expect(page.locator(".user-row")).to_have_count(5)
    page.get_by_text("Add a user").click()
    page.get_by_label("Username").fill("rita")
    page.get_by_role("radio", name="Annotator").check()
    page.get_by_role("button", name="Create link").click()
    expect(page.locator("#link-box")).to_be_visible()
    link = page.locator("#link-url").input_value()
    assert link.startswith(served.url + "/enrol#")
    rita = page.locator(".user-row[data-username='rita']")
    expect(rita).to_contain_text("Link sent")
    watched.shoot(page, "admin-link")

    annotator = enrol_in_browser(watched, served, link, "enrol")
    annotator.get_by_role("link", name="I saved them: continue").click()
    expect(annotator).to_have_url(served.url + "/review")

    page.reload()
    expect(rita).to_contain_text("Active")
    rita.get_by_role("button", name="Reset sign-in").click()
    page.locator("dialog").get_by_role("button", name="Reset and create link").click()
    expect(page.locator("#link-for")).to_contain_text("New sign-in link for rita")
    fresh = page.locator("#link-url").input_value()
    assert fresh != link
    expect(rita).to_contain_text("Link sent")
    # The old link is dead; the annotator's session ended.
    old = watched.new_page()
    old.goto(link)
    expect(old.locator("#enrol-invalid")).to_be_visible()
    watched.shoot(old, "enrol-invalid")
    annotator.reload()
    expect(annotator).to_have_url(served.url + "/login")

    page.locator(".user-row[data-username='ann']").get_by_role("button", name="Remove").click()
    page.locator("dialog").get_by_role("button", name="Remove").click()
    expect(page.locator(".user-row[data-username='ann']")).to_have_count(0)
    watched.shoot(page, "admin")


@pytest.fixture
def frames(served: Served) -> Iterator[None]:
    """Fresh detect frames from household A's cameras (the zones panel shows a picture)."""
    stop = threading.Event()

    def feed() -> None:
        seed = 0
        while not stop.is_set():
            for camera in ("front", "back"):
                served.world.feed_frame(camera, seed)
            seed += 1
            stop.wait(0.5)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.mark.usefixtures("frames")
def test_owner_manages_members(served: Served, watched: Watched) -> None:
    page = watched.new_page()
    sign_in(page, served, "alice")
    page.goto(served.url + "/settings")
    panel = page.locator("#users-panel")
    expect(panel.locator(".user-row")).to_have_count(2)
    panel.get_by_text("Add a member").click()
    panel.get_by_label("Username").fill("kid")
    panel.get_by_role("button", name="Create link").click()
    expect(page.locator("#link-url")).to_have_value(re.compile(r"/enrol#.{40,}"))
    link = page.locator("#link-url").input_value()
    assert "/enrol#" in link
    kid = panel.locator(".user-row[data-username='kid']")
    expect(kid).to_contain_text("Link sent")
    kid.get_by_role("button", name="New link").click()
    page.locator("dialog").get_by_role("button", name="Create link").click()
    expect(page.locator("#link-for")).to_have_text("New sign-in link for kid")
    assert page.locator("#link-url").input_value() != link
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"settings-members-{watched.size}.png"))
    kid.get_by_role("button", name="Remove").click()
    page.locator("dialog").get_by_role("button", name="Remove").click()
    expect(kid).to_have_count(0)
    # Other households' people and admins are not listed, so not offered.
    expect(panel).not_to_contain_text("bob")
    expect(panel).not_to_contain_text("ada")


def wait_until(page: Page, script: str, timeout: float = 10.0) -> None:
    """Polls a function in the page until it is true. Not ``wait_for_function``: its polling
    evaluates a string, which the app's CSP (no unsafe-eval) refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"not true within {timeout} s: {script}"
        page.wait_for_timeout(100)


def headers(served: Served, page: Page) -> dict[str, str]:
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    return {"X-CSRF-Token": csrf, "Origin": served.url}


def snapshots_shown(page: Page, count: int) -> None:
    """Waits until the timeline shows ``count`` snapshots, each loaded."""
    expect(page.locator(".thumb img")).to_have_count(count)
    wait_until(
        page,
        "() => [...document.querySelectorAll('.thumb img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
    )


def lock_now(served: Served, page: Page) -> None:
    """Lock now, through the API as the Account page does it."""
    locked = page.request.post(
        served.url + "/api/me/encryption/lock", headers=headers(served, page)
    )
    assert locked.status == 204, locked.text()


def lock_household(served: Served, page: Page) -> None:
    """Password mode on, then Lock now."""
    on = page.request.put(
        served.url + "/api/me/encryption",
        data={"password_mode": True, "password": PASSWORD},
        headers=headers(served, page),
    )
    assert on.status == 200, on.text()
    lock_now(served, page)


def test_locked_recordings_unlock_in_place(served: Served, watched: Watched) -> None:
    world = served.world
    # Ten minutes apart: the timeline folds runs of similar events within five minutes.
    events = [world.add_event("front", time.time() - 600 - n * 600) for n in range(3)]
    page = watched.new_page()
    sign_in(page, served, "alice")
    member = watched.new_page()
    # Signed in first: the test world's members share the owner's password, which would open it.
    sign_in(member, served, "mia")
    # Her timeline's snapshots loaded before the lock: one requested after it answers 423, which
    # the page handles (it shows the lock) but Chromium logs as a failed resource.
    for signed_in in (page, member):
        snapshots_shown(signed_in, 3)
    lock_household(served, page)

    member.goto(served.url + "/")
    expect(member.locator("#locked-banner")).to_contain_text("Recordings are locked")
    expect(member.locator("#locked-banner form")).to_have_count(0)
    expect(member.locator("#locked-banner")).to_contain_text("They open when the owner signs in")
    watched.shoot(member, "timeline-locked-member")

    page.goto(served.url + "/")
    banner = page.locator("#locked-banner")
    expect(banner).to_contain_text("Recordings are locked: sign in again as the owner to unlock.")
    expect(page.locator(".thumb-locked")).to_have_count(3)
    expect(page.locator(".thumb img")).to_have_count(0)
    watched.shoot(page, "timeline-locked")
    banner.get_by_label("Your password").fill(PASSWORD)
    banner.get_by_role("button", name="Unlock").click()
    expect(banner).to_have_count(0)
    snapshots_shown(page, 3)
    watched.shoot(page, "timeline-unlocked")

    # Locked again; the event page's player and snapshot say so and unlock in place. The
    # pointer leaves the cards first: a hover preview started after the lock would answer 423.
    page.mouse.move(0, 0)
    expect(page.locator(".thumb-preview")).to_have_count(0)
    lock_now(served, page)
    page.goto(f"{served.url}/events/{events[0].id}")
    player = page.locator(".player")
    expect(player.locator(".locked-panel")).to_contain_text("Recordings are locked")
    expect(page.locator("#clip")).to_be_hidden()
    expect(page.locator(".event-snapshot .thumb-locked")).to_be_visible()
    expect(page.locator("#download")).to_be_hidden()
    watched.shoot(page, "event-locked")
    player.get_by_label("Your password").fill(PASSWORD)
    player.get_by_role("button", name="Unlock").click()
    expect(player.locator(".locked-panel")).to_have_count(0)
    expect(page.locator("#clip")).to_be_visible()
    wait_until(page, "() => document.getElementById('clip').readyState >= 1")
    wait_until(
        page,
        "() => { const i = document.getElementById('snapshot'); "
        "return i.complete && i.naturalWidth > 0; }",
    )
    expect(page.locator("#download")).to_be_visible()
    watched.shoot(page, "event-unlocked")


def test_a_hover_preview_that_meets_the_lock_shows_it(served: Served, watched: Watched) -> None:
    # The timeline was loaded unlocked; the recordings are locked since (another tab, a
    # restart). Hovering a card asks for its clip: the page says why it cannot play.
    served.world.add_event("front", time.time() - 600)
    page = watched.new_page()
    sign_in(page, served, "alice")
    snapshots_shown(page, 1)
    lock_household(served, page)
    page.locator(".event-card").first.hover()
    banner = page.locator("#locked-banner")
    expect(banner).to_contain_text("Recordings are locked: sign in again as the owner to unlock.")
    expect(page.locator(".thumb-locked")).to_have_count(1)
    watched.shoot(page, "timeline-preview-locked")
    # Chromium logs the refused clip request; that one is expected, nothing else.
    refused = [e for e in watched.errors if "423" in e and "/clip" in e]
    assert refused, watched.errors
    watched.errors[:] = [e for e in watched.errors if e not in refused]
