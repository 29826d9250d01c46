"""A clip shared with a review hub, walked as its owner and the hub's operator would: the
operator's `hearthcam hub serve` (its own process, terms stated) and `hub code`, the home's
`hub link`, the home's server (the app as `hearthcam run` builds it, with its real share checks:
scan, redaction, second face check), the hub's own checks passing the blurred copy, and the
owner in Debian's headless Chromium choosing the hub in the share dialog, watching the clip
reach the hub, and withdrawing it. The hub's copy is
read back with the hub's own keys: it is the home's redacted copy, not the original; after the
withdrawal the hub holds nothing and the owner sees its signed receipt. Screenshots go to
/tmp/shots-hub-walk/; any console or page error fails the test."""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from typer.testing import CliRunner

from hearthcam import app
from hearthcam.cli import cli
from hearthcam.config import load_config
from hearthcam.hub.clips import HubClips
from hearthcam.hub.identity import load_or_create
from hearthcam.privacy.consent import redacted_path
from hearthcam.store.shares import ShareStore
from hearthcam.types import Event, Verdict
from hearthcam.vault.media import read_bytes, write_bytes
from hearthcam.web import EventBus
from tests.support.hubs import home_config, served_hub
from tests.support.page_errors import collect_errors
from tests.vision.conftest import carphone, carphone_clip
from tests.web.conftest import browser

__all__ = ["browser", "carphone", "carphone_clip"]

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp/shots-hub-walk")
OWNER, PASSWORD = "lena", "copper kettle on the stove"
OPERATOR = "Northwind Review Co-op"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    errors = collect_errors(opened)
    yield opened
    context.close()
    assert not errors, errors


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """`hearthcam hub serve` in its own process: its URL, its database URL, its --data folder;
    stopped by SIGINT at the end, cleanly."""
    with served_hub(tmp_path) as served:
        yield served.url, served.database, served.folder
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(30) == 0, served.said()
    assert "Traceback" not in served.said()


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.timeout(900)
def test_the_owner_shares_a_clip_with_the_hub_and_withdraws_it(
    tmp_path: Path, hub_process: tuple[str, str, Path], carphone_clip: Path, page: Page
) -> None:
    hub_url, hub_database, hub_folder = hub_process
    config_file, data = home_config(tmp_path)
    runner = CliRunner()
    code = runner.invoke(cli, ["hub", "code", "--database", hub_database])
    assert code.exit_code == 0, code.output
    linked = runner.invoke(
        cli, ["hub", "link", hub_url, code.stdout.strip(), "-c", str(config_file)]
    )
    assert linked.exit_code == 0, linked.output
    assert f"run by {OPERATOR}" in " ".join(linked.stdout.split())

    bus = EventBus()
    runtime = app.build(load_config(config_file), [bus.on_change], alerts=False)
    handle = app.serve_web(runtime, bus)
    hub_identity = load_or_create(hub_folder / "hub-identity.pem")
    held = HubClips.from_url(hub_database, hub_folder / "clips", hub_identity)
    try:
        url = handle.url
        owner = {"username": OWNER, "password": PASSWORD, "household": "The Lindqvists"}
        with httpx.Client(base_url=url, headers={"origin": url}) as web:
            assert web.post("/api/setup", json=owner).status_code == 201
        page.goto(url + "/login")
        page.wait_for_selector('body[data-ready="true"]')
        page.get_by_label("Username").fill(OWNER)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(url + "/")

        clip = data / "clips" / "front" / "2026-12-05" / f"{uuid.uuid4().hex}.mp4"
        original = carphone_clip.read_bytes()
        write_bytes(runtime.media, clip, "front", original)
        event = Event(
            id=clip.stem, camera="front", verdict=Verdict.THREAT, labels=("person",), start=0.0,
            end=1.5, wall_start=time.time() - 60, wall_end=time.time() - 58, score=0.8,
            zones=(), tracks=(), snapshot=None, clip=clip, alert=True,
        )  # fmt: skip
        runtime.store.save_event(event)

        page.goto(f"{url}/events/{event.id}")
        page.wait_for_selector('body[data-ready="true"]')
        page.get_by_role("button", name="Share as feedback").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("group", name="Who annotates it")).to_be_visible()
        expect(dialog).not_to_contain_text("Where it goes")  # this installation, by default
        dialog.get_by_label(f"The review hub run by {OPERATOR}").check()
        expect(dialog).to_contain_text("Where it goes")
        expect(dialog).to_contain_text(f"The review hub at {hub_url}, run by {OPERATOR}")
        expect(dialog).to_contain_text(hub_identity.fingerprint())
        expect(dialog).to_contain_text("14 days")
        shoot(page, "1-receipt-hub")
        dialog.get_by_role("button", name="Share this clip").click()

        expect(page).to_have_url(url + "/shared")
        row = page.locator(".share-row")
        expect(row).to_have_count(1)
        # The checks run for real (models load at the first share), then the upload.
        expect(row.locator(".share-hub")).to_contain_text(
            "At the review hub since", timeout=300_000
        )
        expect(row).to_contain_text("Shared with the review hub, blurred.")
        shoot(page, "2-at-the-hub")
        [share] = ShareStore(runtime.store).of_household(1)
        assert share.receipt["hub"]["operator"] == OPERATOR
        [home_clip] = held.list(1)
        at_hub = held.open(1, home_clip.clip_id)
        assert at_hub == read_bytes(runtime.media, redacted_path(data, share.id))
        assert at_hub != original
        assert home_clip.receipt_digest == share.receipt_sha256
        # The hub's own checks (its worker, the real models) pass the blurred copy.
        deadline = time.monotonic() + 180
        while (state := _hub_check(hub_database, home_clip.clip_id)) is None:
            assert time.monotonic() < deadline, "the hub never checked the clip"
            time.sleep(0.5)
        assert state == "passed"

        # The hub's people: an annotator and an admin the operator adds with the CLI, each
        # enrolling in a browser of their own by the link it prints.
        annotator = _enrolled(page, runner, hub_url, hub_database, "ada")
        expect(annotator).to_have_url(hub_url + "/review")
        expect(annotator.locator("#waiting")).to_have_text("1 waiting")
        annotator.get_by_role("button", name="Take the next clip").click()
        expect(annotator.locator("#facts")).to_contain_text("ada ")  # the watermark's text
        expect(annotator.locator("#facts")).not_to_contain_text("Time of day")
        annotator.wait_for_function("document.getElementById('clip').readyState >= 2")
        shoot(annotator, "4-hub-workbench")
        annotator.keyboard.press("3")  # pet
        annotator.get_by_role("button", name="Record").click()
        expect(annotator.locator(".toast").last).to_contain_text("Recorded: Pet.")
        expect(annotator.locator("#idle-text")).to_contain_text("No clip is waiting")
        admin = _enrolled(page, runner, hub_url, hub_database, "root", "--admin")
        expect(admin).to_have_url(hub_url + "/admin")
        expect(admin.locator("[data-field='annotations']")).to_have_text("1")
        expect(admin.locator("#people")).to_contain_text("ada")
        shoot(admin, "5-hub-admin")
        assert _hub_count(hub_database, "hub_annotations") == 1
        # The owner's own check of the hub's view log proves the annotator's view.
        checked = runner.invoke(cli, ["hub", "check", "-c", str(config_file)])
        assert checked.exit_code == 0, checked.output
        assert "checks out" in checked.stdout
        assert " 0 views" not in checked.stdout

        row.get_by_role("button", name="Withdraw").click()
        expect(page.locator(".toast").last).to_contain_text("The review hub deleted its copy")
        deletions = page.locator("#hub-deletions-panel")
        expect(deletions).to_be_visible()
        expect(deletions).to_contain_text("Deleted at the review hub")
        deletions.get_by_text("The hub's deletion receipt").click()
        expect(deletions).to_contain_text(f"clip {home_clip.clip_id}")
        shoot(page, "3-withdrawn")
        assert held.list(1) == []
        assert list((hub_folder / "clips").iterdir()) == []
        assert _hub_count(hub_database, "hub_annotations") == 0  # the annotation went with it
    finally:
        held.close()
        handle.stop()
        runtime.close()


def _hub_check(database: str, clip_id: str) -> str | None:
    """The hub's check of a clip, read from its database (None: not checked yet)."""
    path = database.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as db:
        row = db.execute(
            "SELECT state FROM hub_clip_checks WHERE clip_id = ?", (clip_id,)
        ).fetchone()
    return None if row is None else str(row[0])


def _hub_count(database: str, table: str) -> int:
    path = database.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _enrolled(
    owner_page: Page, runner: CliRunner, hub_url: str, database: str, name: str, *role: str
) -> Page:
    """`hearthcam hub annotator add NAME` by the operator, then the person at its link in a
    browser context of their own: a password, two-factor with an authenticator (pyotp here),
    the recovery codes; they land where their role belongs."""
    added = runner.invoke(
        cli, ["hub", "annotator", "add", name, "--database", database, "--url", hub_url, *role]
    )
    assert added.exit_code == 0, added.output
    link = added.stdout.strip()
    assert link.startswith(f"{hub_url}/enrol#")
    browser = owner_page.context.browser
    assert browser is not None
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = collect_errors(page)
    page.goto(link)
    page.wait_for_selector('body[data-ready="true"]')
    password = "walks by the long quiet river path"
    page.get_by_label("Choose a password").fill(password)
    page.get_by_label("Repeat it").fill(password)
    page.get_by_role("button", name="Next: two-factor").click()
    expect(page.locator("#totp-secret")).not_to_be_empty()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Enter the 6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Finish").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I saved them: continue").click()
    page.wait_for_selector('body[data-ready="true"]')
    assert not errors, errors
    return page
