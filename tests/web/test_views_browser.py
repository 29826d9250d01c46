""" "Who viewed my clips" in Debian's headless Chromium, against the real server over a real store.

One row per viewing (every byte range of one lease), naming the clip by camera and time, with the
proof of each entry behind a details toggle; no horizontal scroll at 1366x768 or 390x844. The
page keeps each checkpoint it verified in localStorage and raises an alarm when, on a later
visit, the log was cut back to an earlier checkpoint (raw SQL on the SQLite file, head rewritten
so that the database agrees with itself) or rewritten past it. Screenshots go to
/tmp/shots-viewlog/; any console or page error fails the test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from hearthcam.accounts import Accounts, Role
from hearthcam.app import open_media
from hearthcam.config import parse_config
from hearthcam.store.db import Store
from hearthcam.viewlog.log import Derivative, ViewEntry
from hearthcam.viewlog.signing import parse_saved
from hearthcam.web import ServerHandle, WebServices, start_server
from tests.support.factories import make_h264_segment
from tests.support.page_errors import collect_errors
from tests.support.world import cheap_hasher
from tests.viewlog.test_tampering import truncate_to
from tests.web.test_workbench_browser import OWNER, PASSWORD, _published_share

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp/shots-viewlog")
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}


class App:
    """The server, its services and what the test logged."""

    def __init__(self, handle: ServerHandle, services: WebServices, db: Path, share: str) -> None:
        self.handle, self.services, self.db, self.share = handle, services, db, share
        self.household = 0
        self.viewers: dict[str, int] = {}

    @property
    def url(self) -> str:
        return self.handle.url

    def view(self, who: str, lease: str, ranges: int, at: float) -> None:
        """``who`` fetches the shared clip in ``ranges`` byte ranges within one lease."""
        for i in range(ranges):
            self.services.audit.append(
                ViewEntry(
                    viewer_id=self.viewers[who],
                    viewer_role="annotator",
                    household_id=self.household,
                    clip_id=self.share,
                    derivative=Derivative.REDACTED,
                    time=at + i * 2,
                    lease_id=lease,
                    byte_range=(i * 65536, i * 65536 + 65535),
                )
            )


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    config = parse_config({
        "data_dir": str(tmp_path / "data"),
        "cameras": {"front": {"name": "Front door", "inputs": [{"path": "front.mp4"}]}},
    })  # fmt: skip
    config.data_dir.mkdir(parents=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    accounts = Accounts(store, hasher=cheap_hasher())
    services = WebServices(
        config=config, store=store, accounts=accounts, media=open_media(store, config.data_dir)
    )
    owner = accounts.setup(OWNER, PASSWORD, "The Lindqvists", ["front"], time.time())
    assert owner.household_id is not None
    clip = tmp_path / "clip.mp4"
    make_h264_segment(clip, seconds=1.0, fps=10, size=(160, 120))
    share = _published_share(services, clip, owner.id, owner.household_id)
    running = App(start_server(services, "127.0.0.1", 0), services, config.data_dir, share)
    running.db = config.data_dir / "hearthcam.db"
    running.household = owner.household_id
    for name in ("kit", "margarethe-von-annotatorsdottir"):
        user = accounts.create_user(name, PASSWORD, Role.ANNOTATOR, None, time.time())
        running.viewers[name] = user.id
    try:
        yield running
    finally:
        running.handle.stop()
        store.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    width, height = SIZES["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors = collect_errors(opened)
    yield opened, errors
    context.close()


def log_in(page: Page, app: App) -> None:
    page.goto(app.url + "/login")
    page.get_by_label("Username").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(app.url + "/")


def open_views(page: Page, app: App) -> None:
    page.goto(app.url + "/views")
    expect(page.locator("#log-panel")).not_to_have_attribute("aria-busy", "true")


def no_horizontal_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow} px of horizontal scroll"


def shoot_sizes(page: Page, name: str) -> None:
    """Screenshots at both sizes (details open), each checked for horizontal scroll."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        no_horizontal_scroll(page)
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
    width, height = SIZES["desktop"]
    page.set_viewport_size({"width": width, "height": height})


def test_viewings_are_grouped_proven_and_the_log_is_watched(
    app: App, page: tuple[Page, list[str]]
) -> None:
    browser_page, errors = page
    now = time.time()
    app.view("kit", "lease-aaaa-1111", 5, now - 7200)
    app.view("margarethe-von-annotatorsdottir", "lease-bbbb-2222", 3, now - 3600)
    app.view("kit", "lease-cccc-3333", 1, now - 600)
    log_in(browser_page, app)
    open_views(browser_page, app)

    viewings = browser_page.locator("#viewings > li")
    expect(viewings).to_have_count(3)
    expect(browser_page.locator("#viewings > li[data-verified=true]")).to_have_count(3)
    expect(browser_page.locator(".view-entry[data-verified=true]")).to_have_count(9)
    newest, middle, oldest = viewings.nth(0), viewings.nth(1), viewings.nth(2)
    expect(newest).to_contain_text("kit (annotator) viewed Front door")
    expect(newest).to_contain_text("1 byte range")
    expect(middle).to_contain_text("margarethe-von-annotatorsdottir")
    expect(oldest).to_contain_text("redacted copy · 5 byte ranges · lease lease-aa")
    # The proof of each entry is behind the toggle.
    proof = oldest.locator("details.viewing-proof")
    expect(proof.locator(".proof-table")).not_to_be_visible()
    proof.locator("summary").click()
    expect(proof.locator(".view-entry")).to_have_count(5)
    expect(proof.locator(".view-entry").first).to_contain_text("0\N{EN DASH}65535")
    expect(browser_page.locator("#checkpoint")).to_contain_text("Checked against")
    expect(browser_page.locator("#kept")).to_contain_text("keeps 1 signed checkpoint")
    expect(browser_page.locator("#log-alarm")).to_be_hidden()
    for details in browser_page.locator("details.viewing-proof").all():
        details.evaluate("d => { d.open = true; }")
    shoot_sizes(browser_page, "views")

    # The owner saves the kept checkpoints: the file `audit verify --against` reads.
    with browser_page.expect_download() as download:
        browser_page.get_by_role("button", name="Save kept checkpoints").click()
    saved = Path(download.value.path()).read_text()
    ((checkpoint, key),) = parse_saved(saved)
    assert checkpoint.size == 9
    assert key == app.services.audit.key.public_raw()  # type: ignore[union-attr]

    # The log grows: the next visit proves it extends the kept checkpoint and keeps the new one.
    app.view("kit", "lease-dddd-4444", 2, now - 60)
    open_views(browser_page, app)
    expect(browser_page.locator("#viewings > li")).to_have_count(4)
    expect(browser_page.locator("#kept")).to_contain_text("keeps 2 signed checkpoints")
    expect(browser_page.locator("#log-alarm")).to_be_hidden()
    assert not errors, errors

    # Someone with the database cuts it back to the first checkpoint: 2 views erased.
    truncate_to(app.db, 9)
    open_views(browser_page, app)
    alarm = browser_page.locator("#log-alarm")
    expect(alarm).to_be_visible()
    expect(alarm).to_contain_text("smaller than when this browser last checked it")
    expect(alarm).to_contain_text("held 11 entries; now it holds 9 entries: 2 were erased")
    expect(browser_page.locator("#kept")).to_contain_text("keeps 2 signed checkpoints")
    shoot_sizes(browser_page, "views-cut-back")

    # ... and pads it with other views up to more than it had: no longer the log kept.
    app.view("kit", "lease-eeee-5555", 4, now - 30)
    open_views(browser_page, app)
    expect(alarm).to_contain_text("no longer the one this browser checked")
    expect(alarm).to_contain_text("log of 11 entries this browser checked")
    stored = browser_page.evaluate(
        f"() => localStorage.getItem('hearthcam.viewlog.{app.household}')"
    )
    assert [c["size"] for c in json.loads(stored)["checkpoints"]] == [9, 11]  # nothing kept since
    shoot_sizes(browser_page, "views-rewritten")
    assert not errors, errors
