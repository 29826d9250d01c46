"""Linking a home to a review hub from its Settings page, walked in Debian's headless Chromium:
the operator's `hearthcam hub serve` in its own process and its `hub code`, the home's server as
`hearthcam run` builds it, and the home's admin signing in, trying a wrong code (named in one
line), linking with the operator's code, reading the hub's fingerprint and terms, seeing the
running home check the new hub's view log at once; the owner reading the same link (and the
share dialog's hub) without the right to change it; then the admin unlinking through the
confirm, the hub forgetting the home and the page back at the form. The section is shot in both
states at 1366x768 and 390x844 into /tmp/shots-hub-link/; any script or console error fails
the test (but the wrong code's own 400)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from typer.testing import CliRunner

from hearthcam import app
from hearthcam.accounts import Accounts, LoginState, Role
from hearthcam.cli import cli
from hearthcam.config import load_config
from hearthcam.hub.home import HOME_IDENTITY, LINK_FILE, UNLINKED_FILE
from hearthcam.hub.identity import load_or_create
from hearthcam.hub.registry import HubRegistry
from hearthcam.runtime import Runtime
from hearthcam.web import EventBus
from tests.hub.test_hub_walk import hub_process
from tests.support.hubs import home_config
from tests.support.page_errors import collect_errors
from tests.web.conftest import browser

__all__ = ["browser", "hub_process"]

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp/shots-hub-link")
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1366, "height": 768},
    "phone": {"width": 390, "height": 844},
}
OWNER, ADMIN, PASSWORD = "lena", "root", "copper kettle on the stove"
OPERATOR = "Northwind Review Co-op"
# The browser's own line for the wrong code's answer, which the page shows as it should.
# The wrong code (400) and the unlink the hub no longer knows the home for (410): both shown.
REFUSED_CODE = "Failed to load resource: the server responded with a status of (400|410)"


def shoot(page: Page, name: str) -> None:
    """The Review hub section, and the whole page, at each width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(200)
        page.screenshot(path=str(SHOTS / f"{name}-{size}-page.png"), full_page=True)
        # Cut from the whole page at the top (the sticky top bar over nothing of it).
        box = page.locator("#hub").bounding_box()
        assert box is not None
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True, clip=box)
    page.set_viewport_size(VIEWPORTS["desktop"])


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Runtime, str, str]]:
    """The home's server as `hearthcam run` builds it: the runtime, its URL, and the TOTP
    secret of its admin (the owner and the admin made in its accounts, the admin's two-factor
    turned on as the account page does)."""
    config_file, _data = home_config(tmp_path)
    bus = EventBus()
    runtime = app.build(load_config(config_file), [bus.on_change], alerts=False)
    handle = app.serve_web(runtime, bus)
    try:
        accounts, now = Accounts(runtime.store), time.time()
        accounts.setup(OWNER, PASSWORD, "The Lindqvists", ["front"], now)
        accounts.create_user(ADMIN, PASSWORD, Role.ADMIN, None, now)
        first = accounts.authenticate(ADMIN, PASSWORD, ip="127.0.0.1", user_agent="t", now=now)
        assert first.token is not None
        assert first.state is LoginState.ENROLL_PENDING
        secret = accounts.enroll_totp(first.token, now).secret
        confirmed = accounts.confirm_totp(first.token, pyotp.TOTP(secret).at(now), now)
        assert confirmed.result.ok
        yield runtime, handle.url, secret
    finally:
        handle.stop()
        runtime.close()


def signed_in(browser: Browser, url: str, username: str, secret: str | None) -> Page:
    """A fresh browser context of ``username``, signed in (a TOTP code where they have one)."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="en-GB")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(url + "/login")
    page.wait_for_selector('body[data-ready="true"]')
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if secret is not None:
        expect(page).to_have_url(url + "/login/mfa")
        page.wait_for_load_state("networkidle")
        # The next step's code: the one that turned two-factor on cannot be replayed.
        page.locator("#code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    expect(page.locator(".topbar-name")).to_have_text(username)
    return page


@pytest.mark.timeout(300)
def test_an_admin_links_the_home_to_a_hub_from_settings_and_unlinks_it(
    hub_process: tuple[str, str, Path], home: tuple[Runtime, str, str], browser: Browser
) -> None:
    hub_url, hub_database, hub_folder = hub_process
    runtime, url, secret = home
    data = runtime.config.data_dir
    fingerprint = load_or_create(hub_folder / "hub-identity.pem").fingerprint()

    admin = signed_in(browser, url, ADMIN, secret)
    errors = collect_errors(admin)
    expect(admin).to_have_url(url + "/admin")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(admin).to_have_url(url + "/settings")
    section = admin.locator("#hub")
    expect(section).to_have_attribute("data-state", "unlinked")
    expect(section).to_contain_text("sends only this home's public key and its name there, no clip")
    expect(section.get_by_role("button", name="Link to the hub")).to_be_visible()
    expect(admin.locator("#mode")).to_have_count(0)  # the household's settings are not an admin's
    shoot(admin, "1-form")

    section.get_by_label("Hub address").fill(hub_url)
    section.get_by_label("One-time code").fill("ABCDE-FGHJK")
    section.get_by_role("button", name="Link to the hub").click()
    expect(section.locator(".form-error")).to_have_text(
        "The hub refused the code: it is unknown there, or was used already; ask the hub's "
        "operator for a new one."
    )
    assert not (data / LINK_FILE).exists()
    shoot(admin, "2-wrong-code")

    made = CliRunner().invoke(cli, ["hub", "code", "--database", hub_database])
    assert made.exit_code == 0, made.output
    section.get_by_label("One-time code").fill(made.stdout.strip())
    section.get_by_label("This home's name at the hub").fill("The Lindqvists")
    section.get_by_role("button", name="Link to the hub").click()
    expect(section).to_have_attribute("data-state", "linked")
    expect(section.locator(".hub-fingerprint")).to_have_text(fingerprint)
    expect(section).to_contain_text("Compare this fingerprint with the one the operator shows you")
    facts = section.locator("#hub-facts")
    expect(facts).to_contain_text(hub_url)
    expect(facts).to_contain_text(OPERATOR)
    expect(facts).to_contain_text("Portugal")
    expect(facts).to_contain_text("At most 14 days")
    link = json.loads((data / LINK_FILE).read_text())
    home_key = load_or_create(data / HOME_IDENTITY).key_id
    registry = HubRegistry.open(hub_database)
    try:
        assert registry.home_id(home_key) == link["home_id"]
        # The running home takes the new link in at once: its delivery checks the hub's view
        # log at its next pass (woken by the link), not within the hour.
        deadline = time.monotonic() + 60
        while "View log checked" not in (admin.locator("#hub-log").text_content() or ""):
            assert time.monotonic() < deadline, admin.locator("#hub-log").text_content()
            time.sleep(1)
            admin.reload()
            admin.wait_for_selector('body[data-ready="true"]')
        expect(section.locator("#hub-log")).to_contain_text(
            "nobody at the hub has viewed a clip of yours"
        )
        shoot(admin, "3-linked")

        # The owner sees the link, may not change it, and may now share with the hub.
        owner = signed_in(browser, url, OWNER, None)
        owner_errors = collect_errors(owner)
        owner.goto(url + "/settings")
        owner.wait_for_selector('body[data-ready="true"]')
        mine = owner.locator("#hub")
        expect(mine).to_have_attribute("data-state", "linked")
        expect(mine.locator(".hub-fingerprint")).to_have_text(fingerprint)
        expect(mine).to_contain_text("Only an admin of this box")
        expect(mine.get_by_role("button", name="Unlink")).to_be_hidden()
        shoot(owner, "3-owner-linked")
        hub = owner.request.get(url + "/api/hub").json()
        assert (hub["linked"], hub["operator"]) == (True, OPERATOR)  # the share dialog's hub
        owner.context.close()
        assert not owner_errors, owner_errors

        section.get_by_role("button", name="Unlink").click()
        dialog = admin.get_by_role("dialog")
        expect(dialog).to_contain_text("deletes every clip this home shared there")
        expect(dialog).to_contain_text("signs a receipt for each deletion")
        dialog.screenshot(path=str(SHOTS / "4-confirm-desktop.png"))
        dialog.get_by_role("button", name="Unlink").click()
        expect(admin.locator(".toast").last).to_contain_text(
            f"Unlinked from the hub at {hub_url}. It held no clips of this home."
        )
        expect(section).to_have_attribute("data-state", "unlinked")
        expect(section.get_by_label("Hub address")).to_have_value("")
        assert not (data / LINK_FILE).exists()
        assert registry.home_id(home_key) is None  # the hub refuses this home's key now
        # The home's server takes the unlink's receipts in at once (woken by the unlink).
        deadline = time.monotonic() + 30
        while (data / UNLINKED_FILE).exists():
            assert time.monotonic() < deadline, "the unlink's receipts were never taken in"
            time.sleep(0.2)
        admin.locator(".toast-close").last.click()  # read: out of the picture's way
        shoot(admin, "5-unlinked")

        # Linked again; then the operator removes the home at the hub (or its records are
        # lost): the hub cannot unlink what it does not know, so the admin forgets the link.
        again = CliRunner().invoke(cli, ["hub", "code", "--database", hub_database])
        assert again.exit_code == 0, again.output
        section.get_by_label("Hub address").fill(hub_url)
        section.get_by_label("One-time code").fill(again.stdout.strip())
        section.get_by_role("button", name="Link to the hub").click()
        expect(section).to_have_attribute("data-state", "linked")
        assert registry.unlink(home_key, time.time())
        section.get_by_role("button", name="Unlink").click()
        admin.get_by_role("dialog").get_by_role("button", name="Unlink").click()
        forget = admin.get_by_role("dialog")
        expect(forget).to_contain_text("The hub no longer knows this home")
        expect(forget).to_contain_text("cannot delete anything for you or sign receipts")
        forget.screenshot(path=str(SHOTS / "6-forget-desktop.png"))
        forget.get_by_role("button", name="Forget the link").click()
        expect(admin.locator(".toast").last).to_contain_text(
            "Link forgotten: the hub did not know this home any more."
        )
        expect(section).to_have_attribute("data-state", "unlinked")
        assert not (data / LINK_FILE).exists()
    finally:
        registry.close()
        admin.context.close()
    assert [e for e in errors if not re.search(REFUSED_CODE, e)] == [], errors
