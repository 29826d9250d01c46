"""The annotator workbench and "Who viewed my clips" in Debian's headless Chromium, against the
real server (uvicorn on a free port) over a real store with sealed media.

An annotator logs in with password and TOTP and lands on the workbench (its nav shows only
Workbench and Account), takes a lease, sees the clip play with their watermark burned in (a
frame the page draws matches the watermarked copy, not the redacted clip without it), with no
download control, and records a verdict from the keyboard. The owner then opens /views and sees
the annotator's views, each with a ✓ the page gave only after merkle.js checked its inclusion
proof and the checkpoint's signature. A second annotator walk corrects the pre-labels on a
keyframe with the mouse (move, resize, draw, relabel) and the keyboard (nudge) and checks the
stored keyframes. The pages are photographed at desktop and phone sizes; any page or console
error fails the test.
"""

from __future__ import annotations

import base64
import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pyotp
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from hearthcam.accounts import Accounts, Role
from hearthcam.annotate.desk import ReviewDesk, lease_path
from hearthcam.app import open_media
from hearthcam.config import parse_config
from hearthcam.pipeline.detect import ScriptedDetector
from hearthcam.privacy.consent import redacted_path
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.store.annotations import AnnotationStore
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareStore, receipt_digest
from hearthcam.types import Detections, Event, TrackSummary, Verdict
from hearthcam.vault.media import read_bytes, write_bytes
from hearthcam.vision.redact import FrameBox, PreLabels
from hearthcam.web import ServerHandle, WebServices, start_server
from tests.support.factories import make_h264_segment
from tests.support.world import cheap_hasher
from tests.web.test_browser import Watched, shoot, wait_playing

pytestmark = pytest.mark.integration

OWNER, ANNOTATOR = "lena", "kit"
PASSWORD = "copper kettle on the stove"
PERSON_BOX = (60 / 320, 40 / 240, 140 / 320, 220 / 240)  # relative, on the 320x240 clip


class Running:
    """The server, its services, the annotator's TOTP secret and the published share."""

    def __init__(self, handle: ServerHandle, services: WebServices, secret: str, share: str):
        self.handle, self.services, self.secret, self.share = handle, services, secret, share

    @property
    def url(self) -> str:
        return self.handle.url


def _enroll_annotator(accounts: Accounts) -> str:
    accounts.create_user(ANNOTATOR, PASSWORD, Role.ANNOTATOR, None, time.time())
    first = accounts.authenticate(ANNOTATOR, PASSWORD, ip="t", user_agent="t", now=time.time())
    assert first.token is not None
    secret = accounts.enroll_totp(first.token, time.time()).secret
    code = pyotp.TOTP(secret).at(time.time())
    assert accounts.confirm_totp(first.token, code, time.time()).result.ok
    return secret


def _published_share(services: WebServices, clip: Path, owner_id: int, household: int) -> str:
    wall = time.time() - 600
    event_id = uuid.uuid4().hex
    path = services.data_dir / "clips" / "front" / f"{event_id}.mp4"
    write_bytes(services.media, path, "front", clip.read_bytes())
    track = TrackSummary(1, "person", 0.88, 0.8, 18, 1.0, 5.0, 0.1, 0.4, frozenset())
    second = TrackSummary(2, "person", 0.61, 0.55, 9, 2.0, 4.0, 0.7, 0.4, frozenset())
    event = Event(
        id=event_id, camera="front", verdict=Verdict.THREAT, labels=("person",), start=1.0,
        end=5.0, wall_start=wall, wall_end=wall + 4, score=0.88, zones=(), tracks=(track, second),
        snapshot=None, clip=path, alert=True,
    )  # fmt: skip
    services.store.save_event(event)
    sharing = services.sharing
    digest = receipt_digest(sharing.receipt(event, "Front door", time.time()))
    share = sharing.share(event, household, owner_id, "Front door", digest, time.time())
    write_bytes(
        services.media, redacted_path(services.data_dir, share.id), "front", clip.read_bytes()
    )  # fmt: skip (the checks' own tests make real redactions)
    shares = sharing.shares
    assert shares.set_status(share.id, ShareStatus.CONSENTED.value, "checking", time.time())
    # The checks' pre-labels, found on the original before redaction: one person a keyframe.
    found = PreLabels(
        (8, 16, 24, 32), 320, 240,
        tuple(FrameBox(f, PERSON_BOX, "person", 0.81) for f in (8, 16, 24, 32)),
    )  # fmt: skip
    assert shares.set_status(
        share.id, "checking", ShareStatus.PUBLISHED.value, time.time(), prelabels=found.to_json()
    )
    return share.id


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    config = parse_config({
        "data_dir": str(tmp_path / "data"),
        "cameras": {"front": {"name": "Front door", "inputs": [{"path": "front.mp4"}]}},
    })  # fmt: skip
    config.data_dir.mkdir(parents=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    accounts = Accounts(store, hasher=cheap_hasher())
    media = open_media(store, config.data_dir)
    # The pre-labels are the ones stored with the published copy (``_published_share``; the
    # checks that find them are tests/privacy/test_prelabels.py): a detector on the desk that
    # would box a truck shows the stored person boxes are served, not detected again.
    truck = Detections(
        np.array([[10, 10, 100, 100]], np.float32), np.array([0.9], np.float32),
        np.array([7], np.int32),
    )  # fmt: skip
    desk = ReviewDesk(
        AnnotationStore(store), ShareStore(store), store, config.data_dir, media, config.review,
        detector=lambda: ScriptedDetector([truck] * 8),
    )  # fmt: skip
    services = WebServices(
        config=config, store=store, accounts=accounts, media=media, review_desk=desk
    )
    owner = accounts.setup(OWNER, PASSWORD, "The Lindqvists", ["front"], time.time())
    assert owner.household_id is not None
    secret = _enroll_annotator(accounts)
    clip = tmp_path / "clip.mp4"
    make_h264_segment(clip, seconds=4.0, fps=10, size=(320, 240))
    share = _published_share(services, clip, owner.id, owner.household_id)
    handle = start_server(services, "127.0.0.1", 0)
    try:
        yield Running(handle, services, secret, share)
    finally:
        handle.stop()
        store.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    context.set_default_timeout(15_000)
    watched = Watched(context.new_page())

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(f"console: {message.text}")

    watched.page.on("console", on_console)
    watched.page.on("pageerror", lambda error: watched.errors.append(f"page: {error}"))
    yield watched
    context.close()


def frames_of(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), "r") as container:
        return [f.to_ndarray(format="bgr24").astype(np.int16) for f in container.decode(video=0)]


def shown_frame(page: Page) -> np.ndarray:
    """The frame the <video> shows now, drawn by the page at the video's own size."""
    url = page.eval_on_selector(
        "#clip",
        """v => { v.pause(); const c = document.createElement('canvas');
                  c.width = v.videoWidth; c.height = v.videoHeight;
                  c.getContext('2d').drawImage(v, 0, 0); return c.toDataURL('image/png'); }""",
    )
    png = base64.b64decode(str(url).split(",", 1)[1])
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image.astype(np.int16)


def closest(frame: np.ndarray, frames: list[np.ndarray]) -> float:
    return min(float(np.abs(frame - f).mean()) for f in frames)


def on_the_text(
    frame: np.ndarray, marked: list[np.ndarray], clean: list[np.ndarray]
) -> tuple[float, float]:
    """How far the shown frame is from the watermarked and from the clean copy of the same frame,
    measured only where the watermark's text is (the whole frame's mean is noise-bound: on a
    dark or flat frame the text moves it by less than decoding noise does)."""
    index = int(np.argmin([np.abs(frame - f).mean() for f in marked]))
    text = np.abs(marked[index] - clean[index]).max(axis=2) > 16
    assert text.mean() > 0.005, "the watermark changes too few pixels to tell the copies apart"
    return (
        float(np.abs(frame - marked[index])[text].mean()),
        float(np.abs(frame - clean[index])[text].mean()),
    )


def log_in(page: Page, app: Running, username: str, secret: str | None) -> None:
    page.goto(app.url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if secret is not None:
        expect(page).to_have_url(re.compile(r"/login/mfa$"))
        # The page's script submits six digits as they are typed: wait until it runs.
        page.wait_for_load_state("networkidle")
        page.locator("#code").fill(fresh_code(secret))


_USED_STEPS: dict[str, int] = {}


def fresh_code(secret: str) -> str:
    """A code the server still takes: a step after the last it accepted (the enrolment's, at
    most now) and at most one after now (the app is shared by the module's tests, so two
    log-ins within one step would replay a code)."""
    step = max(int(time.time() // 30) + 1, _USED_STEPS.get(secret, -1) + 1)
    while step > int(time.time() // 30) + 1:  # every nearby step used: wait for the next
        time.sleep(1)
    _USED_STEPS[secret] = step
    return pyotp.TOTP(secret).at(step * 30)


def annotate_one(page: Page, app: Running) -> None:
    log_in(page, app, ANNOTATOR, app.secret)
    expect(page).to_have_url(app.url + "/review")
    nav = page.get_by_role("navigation", name="Main").get_by_role("link")
    expect(nav).to_have_text(["Workbench", "Account"])
    expect(page.locator("#waiting")).to_have_text("1 waiting")
    page.get_by_role("button", name="Take the next clip").click()
    video = page.locator("#clip")
    expect(video).to_be_visible()
    wait_playing(page, "#clip", 0.5)
    assert "nodownload" in (video.get_attribute("controlslist") or "")
    assert video.get_attribute("disablepictureinpicture") is not None
    assert page.locator("a[download], a[href*='/clip']").count() == 0
    lease = app.services.desk.annotations.leases(state="active")[0]
    media, data_dir = app.services.media, app.services.data_dir
    marked = frames_of(read_bytes(media, lease_path(data_dir, app.share, lease.id)))
    clean = frames_of(read_bytes(media, redacted_path(data_dir, app.share)))
    frame = shown_frame(page)
    # What the annotator sees is the watermarked copy (up to decoding noise), not the clip:
    # on the watermark's text it is far nearer the marked frame than the clean one.
    assert closest(frame, marked) < 3
    to_marked, to_clean = on_the_text(frame, marked, clean)
    assert to_marked * 3 < to_clean, (to_marked, to_clean)
    # The objects followed, grouped by label: two people, the best at 88 %.
    expect(page.locator("#facts")).to_contain_text("person \u00d72 (best 88%)")
    expect(page.locator("#facts")).not_to_contain_text("Front door")
    # The pre-label boxes are drawn over the video (yellow pixels on the overlay canvas).
    page.evaluate("() => { const v = document.getElementById('clip'); v.currentTime = 0.8; }")
    page.wait_for_function(
        """() => { const c = document.getElementById('boxes');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0) return true;
                   return false; }"""
    )
    page.evaluate("() => document.getElementById('clip').play()")
    shoot(page, "review")
    page.keyboard.press("3")
    expect(page.locator("#verdicts [aria-pressed=true]")).to_contain_text("Pet")
    page.keyboard.press("Enter")
    expect(page.locator("#idle")).to_be_visible()
    expect(page.locator("#idle-text")).to_have_text("No clip is waiting. Look again later.")
    (annotation,) = app.services.desk.annotations.annotations(app.share)
    assert (annotation.verdict, annotation.lease_id) == ("pet", lease.id)
    boxes = [b for k in annotation.keyframes for b in k["boxes"]]
    assert len(boxes) == 4  # the model's boxes on its 4 keyframes, confirmed as they were
    assert {b["label"] for b in boxes} == {"person"}
    shoot(page, "review-idle")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def owner_checks_views(page: Page, app: Running) -> None:
    log_in(page, app, OWNER, None)
    expect(page).to_have_url(app.url + "/")
    page.get_by_role("link", name="Views").click()
    expect(page).to_have_url(app.url + "/views")
    logged = len(app.services.audit.entries())
    assert logged >= 1
    # One row per viewing (the lease's byte ranges), each entry's proof behind its toggle.
    rows = page.locator("#viewings > li")
    expect(rows).to_have_count(1)
    expect(page.locator("#viewings .view-entry[data-verified=true]")).to_have_count(logged)
    expect(rows.first).to_contain_text("✓")
    expect(rows.first).to_contain_text(ANNOTATOR)
    expect(rows.first).to_contain_text("redacted")
    expect(page.locator("#checkpoint")).to_contain_text("Checked against")
    shoot(page, "views")


def test_annotator_annotates_and_owner_sees_verified_views(running: Running, page: Watched) -> None:
    annotate_one(page.page, running)
    page.check("workbench")
    owner_checks_views(page.page, running)
    page.check("views")


def picture(page: Page) -> tuple[float, float, float, float]:
    """Where the video's picture is on the page (left, top, width, height; object-fit: contain)."""
    box = page.evaluate(
        """() => { const v = document.getElementById('clip'); const r = v.getBoundingClientRect();
                   const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
                   const w = v.videoWidth * s, h = v.videoHeight * s;
                   return [r.left + (r.width - w) / 2, r.top + (r.height - h) / 2, w, h]; }"""
    )
    left, top, width, height = (float(v) for v in box)
    return left, top, width, height


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    page.mouse.move(*end)
    page.mouse.up()


def test_annotator_corrects_boxes_on_a_keyframe(running: Running, page: Watched) -> None:
    app, p = running, page.page
    log_in(p, app, ANNOTATOR, app.secret)
    expect(p).to_have_url(app.url + "/review")
    p.get_by_role("button", name="Take the next clip").click()
    wait_playing(p, "#clip", 0.2)
    # The clip is 40 frames at 10 fps: keyframes 8, 16, 24, 32. "." pauses on the next one.
    p.evaluate("() => { const v = document.getElementById('clip'); v.pause(); v.currentTime = 0; }")
    p.wait_for_function("() => document.getElementById('clip').currentTime === 0")
    p.keyboard.press(".")
    p.wait_for_function("() => Math.abs(document.getElementById('clip').currentTime - 0.8) < 1e-3")
    expect(p.locator("#boxes.is-editing")).to_be_visible()
    expect(p.locator("#box-add")).to_be_enabled()
    expect(p.locator("#key-status")).to_have_text("Keyframe 1 of 4: editing")
    left, top, w, h = picture(p)
    x0, y0, x1, y1 = 60 / 320, 40 / 240, 140 / 320, 220 / 240  # the scripted person box

    def at(u: float, v: float) -> tuple[float, float]:
        return left + u * w, top + v * h

    # Move the person 40 px right and 20 px down, then drag its bottom-right corner up-right.
    middle = at((x0 + x1) / 2, (y0 + y1) / 2)
    drag(p, middle, (middle[0] + 40, middle[1] + 20))
    dx, dy = 40 / w, 20 / h
    corner = at(x1 + dx, y1 + dy)
    drag(p, corner, (corner[0] + 30, corner[1] - 30))
    # Draw a new box on empty space and call it a dog.
    drag(p, at(0.6, 0.2), at(0.85, 0.5))
    label = p.locator("#box-label")
    label.focus()
    label.select_option("dog")
    p.keyboard.press("Delete")  # in the select: not an edit key, the new box stays
    expect(p.locator("#box-delete")).to_be_enabled()
    shoot(p, "review-editing")
    p.evaluate("() => document.activeElement.blur()")
    # The keyboard's way: the next keyframe, select its box, nudge it 2 % right.
    p.keyboard.press(".")
    expect(p.locator("#key-status")).to_have_text("Keyframe 2 of 4: editing")
    p.keyboard.press("b")
    p.keyboard.press("ArrowRight")
    p.keyboard.press("ArrowRight")
    p.keyboard.press("2")
    p.keyboard.press("Enter")
    expect(p.locator("#idle")).to_be_visible()
    (annotation,) = app.services.desk.annotations.annotations(app.share)
    assert annotation.verdict == "benign_person"
    frames = {k["frame"]: k["boxes"] for k in annotation.keyframes}
    assert sorted(frames) == [8, 16, 24, 32]
    person, dog = frames[8]
    tol = 0.01
    assert person["label"] == "person"
    assert person["xyxy"][0] == pytest.approx(x0 + dx, abs=tol)
    assert person["xyxy"][1] == pytest.approx(y0 + dy, abs=tol)
    assert person["xyxy"][2] == pytest.approx(x1 + dx + 30 / w, abs=tol)
    assert person["xyxy"][3] == pytest.approx(y1 + dy - 30 / h, abs=tol)
    assert dog["label"] == "dog"
    assert dog["xyxy"] == pytest.approx([0.6, 0.2, 0.85, 0.5], abs=tol)
    assert dog["track"] not in {b["track"] for f in (16, 24, 32) for b in frames[f]}
    assert all(0 <= v <= 1 for f in frames.values() for b in f for v in b["xyxy"])
    ((nudged,),) = (frames[16],)
    assert nudged["xyxy"] == pytest.approx([x0 + 0.02, y0, x1 + 0.02, y1], abs=1e-3)
    for f in (24, 32):  # untouched keyframes: the model's box, confirmed as it was
        ((box,),) = (frames[f],)
        assert box["label"] == "person"
        assert box["xyxy"] == pytest.approx([x0, y0, x1, y1], abs=1e-3)
    page.check("box editing")
