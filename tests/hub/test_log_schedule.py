"""The home's server checks its hub's view log on its own, hourly: a real hub on loopback with its
signed view log, the home's delivery pass (``HubDelivery.run_once``) doing the round, the state
moving on only when the round is clean, and the owner reading the outcome on My shared clips in
Debian's headless Chromium, including a hub that cut its log back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from hearthcam.accounts import Accounts
from hearthcam.alerts.notify import AlertDispatcher
from hearthcam.alerts.text import AlertFormatter
from hearthcam.hub.delivery import HubDelivery, owners_alarm
from hearthcam.hub.home import CHECK_FILE, STATE_FILE, read_check
from hearthcam.web import WebServices, start_server
from tests.alerts.test_ntfy import push
from tests.alerts.test_webhook import RecordingServer
from tests.hub.test_delivery import Home, home, hub
from tests.support.hubs import TestHub
from tests.support.page_errors import collect_errors
from tests.viewlog.test_log import view
from tests.viewlog.test_tampering import truncate_to
from tests.web.conftest import browser

__all__ = ["browser", "home", "hub"]

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp/shots-hub-log")


def _views(hub: TestHub, home_id: int, count: int) -> None:
    for _ in range(count):
        hub.log.append(view(hub.log.size(), household=home_id, viewer=7))


def _delivery(
    home: Home, clock: list[float], alarm: Callable[[str, list[str], float], object] | None = None
) -> HubDelivery:
    return HubDelivery(
        home.sharing, home.deliveries, home.data_dir, clock=lambda: clock[0],
        alarm=alarm or (lambda url, findings, now: None),
    )  # fmt: skip


def test_the_delivery_checks_the_hubs_view_log_hourly_and_holds_it_to_the_last_round(
    hub: TestHub, home: Home
) -> None:
    clock = [time.time()]
    # The owner's alert channel, as the app wires it: the dispatcher, ntfy, a real receiver.
    receiver = RecordingServer()
    dispatcher = AlertDispatcher([push(receiver.url)], AlertFormatter("http://127.0.0.1", {}))
    tell = owners_alarm(dispatcher.send_hub_alarm, lambda: [1])
    delivery = _delivery(home, clock, tell)
    _views(hub, home.home_id, 2)
    _views(hub, home.home_id + 1, 1)  # another home's view: never shown to this one
    assert delivery.run_once().checked is True
    first = read_check(home.data_dir)
    assert first is not None
    assert (first["ok"], first["views"], first["size"]) == (True, 2, 3)
    assert (home.data_dir / STATE_FILE).is_file()
    assert delivery.run_once().checked is None  # not due again within the hour

    _views(hub, home.home_id, 1)
    clock[0] += 3600
    assert delivery.run_once().checked is True
    second = read_check(home.data_dir)
    assert second is not None
    assert (second["views"], second["size"]) == (3, 4)

    truncate_to(hub.database, 2)  # the hub erases views of this home's clips
    hub.stop()
    hub.log = type(hub.log)(hub.store, hub.log.key)  # restarted: it reads its (cut) log anew
    hub.start()
    clock[0] += 3600
    assert delivery.run_once().checked is False
    alarm = read_check(home.data_dir)
    assert alarm is not None
    assert alarm["ok"] is False
    assert any(f.startswith("shrunk") for f in alarm["findings"]), alarm
    kept = json.loads((home.data_dir / STATE_FILE).read_text())
    assert kept["checkpoint"]["size"] == 4  # held to the last clean round: named every hour
    clock[0] += 3600
    assert delivery.run_once().checked is False
    dispatcher.close()
    receiver.close()
    # The owner was told at once on their channel, and again at the next round; never when
    # the log checked out.
    assert len(receiver.requests) == 2
    told = receiver.requests[0]
    assert told.headers["Priority"] == "urgent"
    assert "shrunk" in told.body.decode("utf-8")
    assert hub.url in told.body.decode("utf-8")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors = collect_errors(opened)
    yield opened
    context.close()
    assert not errors, errors


def test_the_owner_reads_the_round_on_my_shared_clips(
    tmp_path: Path, hub: TestHub, home: Home, page: Page
) -> None:
    from hearthcam.config import parse_config
    from tests.support.world import cheap_hasher

    config = parse_config({"data_dir": str(home.data_dir), "cameras": {}})
    accounts = Accounts(home.store, hasher=cheap_hasher())
    services = WebServices(
        config=config, store=home.store, accounts=accounts, media=home.media,
        sharing_service=home.sharing, hub_log_check=lambda: read_check(home.data_dir),
    )  # fmt: skip
    web = start_server(services, "127.0.0.1", 0)
    try:
        page.goto(web.url + "/login")
        page.wait_for_selector('body[data-ready="true"]')
        page.get_by_label("Username").fill("lena")
        page.get_by_label("Password", exact=True).fill("copper kettle on the stove")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(web.url + "/")

        clock = [time.time()]
        _views(hub, home.home_id, 2)
        _delivery(home, clock).run_once()
        page.goto(web.url + "/shared")
        notice = page.locator("#hub-log")
        expect(notice).to_contain_text("2 views of your clips, every one in its signed log")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "1-clean.png"), full_page=True)

        record = json.loads((home.data_dir / CHECK_FILE).read_text())
        record |= {"ok": False, "findings": ["shrunk: the log holds 1 entries, 2 were kept"]}
        (home.data_dir / CHECK_FILE).write_text(json.dumps(record))
        page.reload()
        expect(notice).to_contain_text("The review hub's view log does NOT check out")
        expect(notice).to_contain_text("shrunk: the log holds 1 entries")
        page.screenshot(path=str(SHOTS / "2-alarm.png"), full_page=True)
    finally:
        web.stop()
