"""Sharing one clip of a long event, in Debian's headless Chromium against the real server.

An event whose footage is in two consecutive clips: the owner plays the second, the share button
names it, the receipt says "clip 2 of 2", and the share under My shared clips is that clip (its
copy holds the second clip's bytes, not the first's). Screenshots go to /tmp/shots-share-parts/;
any console or page error fails the test.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from hearthcam.accounts import Accounts
from hearthcam.app import open_media
from hearthcam.config import parse_config
from hearthcam.privacy.consent import copy_path
from hearthcam.store.db import Store
from hearthcam.types import Event, Verdict
from hearthcam.vault.media import read_bytes, write_bytes
from hearthcam.web import ServerHandle, WebServices, start_server
from tests.support.factories import make_h264_segment
from tests.support.page_errors import collect_errors
from tests.support.world import cheap_hasher

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp/shots-share-parts")
OWNER, PASSWORD = "ines", "a kettle of fish on tuesday"


@dataclass
class Running:
    web: ServerHandle
    services: WebServices
    event: Event
    second_clip: bytes


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    config = parse_config({
        "data_dir": str(tmp_path / "data"),
        "cameras": {"front": {"name": "Front door", "inputs": [{"path": "front.mp4"}]}},
    })  # fmt: skip
    config.data_dir.mkdir(parents=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    accounts = Accounts(store, hasher=cheap_hasher())
    accounts.setup(OWNER, PASSWORD, "Home", ["front"], time.time())
    media = open_media(store, config.data_dir)
    event_id = uuid.uuid4().hex
    clips = []
    for part, size in ((1, (320, 240)), (2, (160, 120))):
        plain = tmp_path / f"part{part}.mp4"
        make_h264_segment(plain, seconds=2.0, fps=10, size=size)
        name = f"{event_id}.mp4" if part == 1 else f"{event_id}.part{part}.mp4"
        path = config.data_dir / "clips" / "front" / name
        write_bytes(media, path, "front", plain.read_bytes())
        clips.append((path, plain.read_bytes()))
    wall = time.time() - 900
    event = Event(
        id=event_id, camera="front", verdict=Verdict.THREAT, labels=("person",), start=0.0,
        end=40.0, wall_start=wall, wall_end=wall + 40, score=0.9, zones=(), tracks=(),
        snapshot=None, clip=clips[0][0], clip_parts=(clips[1][0],), alert=True,
    )  # fmt: skip
    store.save_event(event)
    services = WebServices(config=config, store=store, accounts=accounts, media=media)
    web = start_server(services, "127.0.0.1", 0)
    try:
        yield Running(web, services, event, clips[1][1])
    finally:
        web.stop()
        store.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors = collect_errors(opened)
    yield opened
    context.close()
    assert not errors, errors


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_owner_shares_the_second_clip_of_a_long_event(running: Running, page: Page) -> None:
    url, event = running.web.url, running.event
    page.goto(url + "/login")
    page.wait_for_load_state("networkidle")
    page.get_by_label("Username").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(url + "/")

    page.goto(f"{url}/events/{event.id}")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("button", name="Share clip 1 as feedback")).to_be_visible()
    page.get_by_role("button", name="Clip 2 of 2").click()
    expect(page.locator("#clip")).to_have_attribute("src", re.compile(r"/clip\?part=2$"))
    page.get_by_role("button", name="Share clip 2 as feedback").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("clip 2 of 2")
    shoot(page, "receipt-clip-2")
    dialog.get_by_role("button", name="Share this clip").click()

    expect(page).to_have_url(url + "/shared")
    row = page.locator(".share-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("clip 2 of 2")
    expect(row).to_contain_text("Waiting for the checks")
    shoot(page, "shared-clip-2")
    [share] = running.services.sharing.shares.of_event(event.id)
    copy = copy_path(running.services.data_dir, share.id)
    assert read_bytes(running.services.media, copy) == running.second_clip
