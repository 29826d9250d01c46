"""A form sent before its page's script has taken it over (a slow device or network, a quick
Enter) must not put what was typed into a URL, where the access log and the browser's history
would keep the password. Debian's headless Chromium against the real server; the page module is
held back by delaying its file. The press is not lost: it is sent once the page is ready.

Found by the cluster test under load: the login form left as ``GET /login?username=...&password=``
and the server's access log printed the password.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect

from hearthcam.accounts import Accounts
from hearthcam.config import parse_config
from hearthcam.store.db import Store
from hearthcam.web import ServerHandle, WebServices, start_server
from tests.support.world import cheap_hasher

pytestmark = pytest.mark.integration

OWNER, PASSWORD = "ines", "a kettle of fish on tuesday"


@dataclass
class Running:
    web: ServerHandle
    url: str


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    config = parse_config({"data_dir": str(tmp_path / "data")})
    config.data_dir.mkdir(parents=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    accounts = Accounts(store, hasher=cheap_hasher())
    accounts.setup(OWNER, PASSWORD, "Home", [], time.time())
    services = WebServices(config=config, store=store, accounts=accounts)
    web = start_server(services, "127.0.0.1", 0)
    try:
        yield Running(web, web.url)
    finally:
        web.stop()
        store.close()


def test_a_login_sent_before_the_page_is_ready_keeps_the_password_out_of_urls(
    running: Running, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    held: list[Route] = []  # the login page's module: held until released below

    def hold(route: Route) -> None:
        held.append(route)

    page.route(re.compile(r".*/static/js/pages/login\.js$"), hold)
    page.goto(running.url + "/login", wait_until="domcontentloaded")
    page.get_by_label("Username").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")  # before the page is ready
    page.wait_for_timeout(500)
    assert page.url == running.url + "/login"  # nothing was sent: the press is held
    assert not [u for u in requested if "password" in u or "kettle" in u], requested
    assert page.locator("body").get_attribute("data-ready") is None
    assert len(held) == 1
    held[0].continue_()
    # Once the page is ready the held press is sent by the page's own handler: no second press.
    expect(page).to_have_url(running.url + "/")
    assert not [u for u in requested if "password" in u or "kettle" in u], requested
    context.close()


def test_every_form_of_the_app_says_post() -> None:
    """A form that still went out before the app's script ran at all would carry its fields in
    the request body, never in the URL."""
    templates = Path(__file__).resolve().parents[2] / "src" / "hearthcam" / "web" / "templates"
    forms = [
        (path.name, tag)
        for path in sorted(templates.glob("*.html"))
        for tag in re.findall(r"<form\b[^>]*>", path.read_text())
    ]
    assert len(forms) >= 14
    assert [f for f in forms if not re.search(r'method="(post|dialog)"', f[1])] == []
