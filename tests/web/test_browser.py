"""The owner's app in a real browser: Debian's Chromium, driven by Playwright, against the real
server (uvicorn on a free port, ``start_server``) over a real store with real media.

One walk through the product: create the owner on /setup, turn on two-factor (the QR code must
decode to the otpauth link), log out, log in with password and code, see the timeline (and an
event pushed by the server appear without a reload), filter it, watch the live view (MSE: the
<video>'s time must advance, close to live; the MJPEG fallback must show frames), open an event,
play and seek its clip (HTTP range requests), delete it (gone from the timeline, from the API and
from disk), bulk-delete two more, change settings (adding a real RTSP camera) and invite a member
by link.

Every main page is photographed at desktop (1280x800, dark) and phone (390x844, light) sizes into
artifacts/screenshots/. Any page error or console error fails the test.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np
import pyotp
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    ViewportSize,
    expect,
)

from hearthcam.accounts import Accounts
from hearthcam.alerts.rules import in_schedule
from hearthcam.alerts.webpush import VapidKeys
from hearthcam.app import open_media
from hearthcam.config import CameraConfig, parse_config
from hearthcam.live import LiveView
from hearthcam.privacy.review import FAILED_REASON
from hearthcam.store.db import Store
from hearthcam.types import Change, Event, Frame, TrackSummary, Verdict
from hearthcam.vault.media import SealedMedia, read_bytes, write_bytes
from hearthcam.vault.sealed import plaintext_media_signatures
from hearthcam.web import ServerHandle, WebServices, start_server
from hearthcam_bench.broker import free_port
from tests.conftest import RtspServer
from tests.support.cameras import ToldCameras
from tests.support.factories import make_h264_segment
from tests.support.world import cheap_hasher

pytestmark = pytest.mark.integration

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# (file name suffix, viewport, colour scheme) of every screenshot
LOOKS: tuple[tuple[str, ViewportSize, Literal["dark", "light"]], ...] = (
    ("desktop", DESKTOP, "dark"),
    ("phone", PHONE, "light"),
)
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# Real footage of a fixed camera (Debian's opencv-doc); the numbered test pattern if it is absent.
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")

OWNER = "lena"
PASSWORD = "copper kettle on the stove"
NEW_PASSWORD = "a longer kettle song at dusk"
MEMBER = "noah"
CAMERAS = {"front": "Front door", "drive": "Driveway"}
MS = 1000  # Playwright timeouts are in milliseconds


# -- media --------------------------------------------------------------------------------------


def encode_h264(frames: list[np.ndarray], path: Path, fps: int, gop: int) -> Path:
    """BGR frames as an H.264 MP4 (Constrained Baseline, a keyframe every ``gop`` frames)."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "ultrafast",
                "crf": "26",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
            },
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def decode_frames(path: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` frames of a video file, BGR."""
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8))
            if len(frames) == count:
                break
    return frames


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the live camera's looping H.264 clip, the events' clip)."""
    root = tmp_path_factory.mktemp("browser-media")
    event_clip = root / "event.mp4"
    make_h264_segment(event_clip, seconds=4.0, fps=10, size=(320, 240))
    if VTEST.is_file():
        frames = [cv2.resize(f, (640, 480)) for f in decode_frames(VTEST, 60)]
        live_clip = encode_h264(frames, root / "live.mp4", fps=10, gop=10)
    else:
        live_clip = root / "live.mp4"
        make_h264_segment(live_clip, seconds=6.0, fps=10, size=(640, 480))
    return live_clip, event_clip


class LiveFeed:
    """Plays a clip into the cameras' live views in real time, looping, on its own thread.

    The container stays open while packets are written: the live muxer copies the stream's
    parameters from it, which FFmpeg must not do from a closed input."""

    def __init__(self, clip: Path, views: list[LiveView]) -> None:
        self._clip, self._views = clip, views
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self.written = 0

    def __enter__(self) -> LiveFeed:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for view in self._views:
            view.close()

    def _run(self) -> None:
        with av.open(str(self._clip)) as container:
            stream = container.streams.video[0]
            packets = [p for p in container.demux(stream) if p.size]
            images = decode_frames(self._clip, len(packets))
            fps = float(stream.average_rate or 10)
            start = time.monotonic()
            while not self._stop.is_set():
                i = self.written
                now = time.time()
                for view in self._views:
                    view.write(packets[i % len(packets)], stream, now)
                    view.frame(Frame(view.fmp4.camera, i, i / fps, now, images[i % len(images)]))
                self.written += 1
                self._stop.wait(max(0.0, start + self.written / fps - time.monotonic()))


# -- the server ---------------------------------------------------------------------------------


@dataclass
class App:
    """The running app and what the test checks behind the browser's back."""

    handle: ServerHandle
    services: WebServices
    events: dict[str, Event] = field(default_factory=dict)
    drawn: list[tuple[str, CameraConfig]] = field(default_factory=list)  # new masks and zones
    started: list[tuple[str, CameraConfig | None]] = field(default_factory=list)  # runtime told
    rtsp_url: str = ""  # a real RTSP camera the walk adds in Settings

    @property
    def url(self) -> str:
        return self.handle.url

    def household(self) -> int:
        """The owner's household (the walk's setup creates it)."""
        household = self.services.accounts.camera_household("front")
        assert household is not None
        return household

    def add_event(
        self,
        snapshot: np.ndarray,
        clip_source: Path | bytes,
        camera: str,
        verdict: Verdict,
        ago: float,
        *,
        labels: tuple[str, ...] = (),
        zones: tuple[str, ...] = (),
        seconds: float = 14.0,
    ) -> Event:
        """A finished event with a real clip and JPEG snapshot in the data directory."""
        data_dir = self.services.data_dir
        wall = time.time() - ago
        event_id = uuid.uuid4().hex
        day = dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%d")
        clip = data_dir / "clips" / camera / day / f"{event_id}.mp4"
        jpeg = data_dir / "snapshots" / camera / day / f"{event_id}.jpg"
        # Sealed, through the app's own media I/O, as a running hearthcam writes them.
        media = self.services.media
        source = clip_source if isinstance(clip_source, bytes) else clip_source.read_bytes()
        write_bytes(media, clip, camera, source)
        ok, encoded = cv2.imencode(".jpg", snapshot)
        assert ok
        write_bytes(media, jpeg, camera, encoded.tobytes())
        tracks = tuple(
            TrackSummary(
                n + 1, label, 0.91 - n * 0.2, 0.8, 18, 1.0, 5.0, 0.1, 0.4, frozenset(zones)
            )
            for n, label in enumerate(labels)
        )
        event = Event(
            id=event_id,
            camera=camera,
            verdict=verdict,
            labels=labels,
            start=100.0,
            end=100.0 + seconds,
            wall_start=wall,
            wall_end=wall + seconds,
            score=tracks[0].best_score if tracks else 0.0,
            zones=zones,
            tracks=tracks,
            snapshot=jpeg,
            clip=clip,
            alert=verdict is Verdict.THREAT,
        )
        self.services.store.save_event(event)
        self.events[event_id] = event
        return event


@pytest.fixture
def app(tmp_path: Path, media: tuple[Path, Path], rtsp_server: RtspServer) -> Iterator[App]:
    live_clip, event_clip = media
    cameras: dict[str, Any] = {
        name: {"name": display, "inputs": [{"path": f"{name}.mp4"}]}
        for name, display in CAMERAS.items()
    }
    config = parse_config({"data_dir": str(tmp_path / "data"), "cameras": cameras})
    config.data_dir.mkdir(parents=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    views = {name: LiveView(name) for name in CAMERAS}
    told = ToldCameras()
    services = WebServices(
        config=config,
        store=store,
        accounts=Accounts(store, hasher=cheap_hasher()),
        media=open_media(store, config.data_dir),
        live=views,
        push_key=VapidKeys.load_or_create(tmp_path / "vapid.pem").application_server_key,
    )
    services.registry.subscribe(told)  # as the runtime would
    handle = start_server(services, "127.0.0.1", 0)
    running = App(
        handle, services, drawn=told.geometries, started=told.cameras, rtsp_url=rtsp_server.url()
    )
    try:
        add_events(running, decode_frames(live_clip, 60), event_clip)
        with LiveFeed(live_clip, list(views.values())):
            yield running
    finally:
        handle.stop()
        store.close()


def add_events(app: App, shots: list[np.ndarray], clip: Path) -> None:
    """The four events the timeline starts with, one of each verdict, over the last 5 hours."""
    app.add_event(
        shots[5],
        clip,
        "front",
        Verdict.THREAT,
        130,
        labels=("person",),
        zones=("porch", "path"),
        seconds=24,
    )
    app.add_event(
        shots[25],
        clip,
        "front",
        Verdict.PET,
        2400,
        labels=("dog",),
        zones=("garden",),
        seconds=9,
    )
    app.add_event(
        shots[40],
        clip,
        "drive",
        Verdict.VEHICLE,
        3 * 3600,
        labels=("car",),
        zones=("driveway",),
        seconds=31,
    )
    app.add_event(shots[55], clip, "drive", Verdict.MOTION, 5 * 3600, seconds=6)


# -- the browser --------------------------------------------------------------------------------


@dataclass
class Watched:
    """A page whose script errors and console errors are collected."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def check(self, where: str) -> None:
        assert not self.errors, f"browser errors by {where}: {self.errors}"


@pytest.fixture
def page(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark", locale="en-GB")
    context.set_default_timeout(10 * MS)
    watched = Watched(context.new_page())

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(f"console: {message.text} ({message.location.get('url')})")

    watched.page.on("console", on_console)
    watched.page.on("pageerror", lambda error: watched.errors.append(f"page: {error}"))
    yield watched
    context.close()


def shoot(page: Page, name: str) -> None:
    """Full-page screenshots at desktop (dark) and phone (light) sizes; back to desktop.

    Toasts are dismissed first (they would cover the page) and the page is scrolled to the top
    (a full-page shot of a scrolled page paints the sticky top bar where the viewport was)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => { document.querySelectorAll('.toast').forEach(t => t.remove()); }")
    for size, viewport, scheme in LOOKS:
        page.set_viewport_size(viewport)
        page.emulate_media(color_scheme=scheme)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(250)  # layout, and lazy thumbnails that came into view
        page.wait_for_function(
            "[...document.images].every(i => i.complete || i.loading === 'lazy')"
        )
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="dark")


def media_time(page: Page, selector: str) -> float:
    return float(page.eval_on_selector(selector, "v => v.currentTime"))


def wait_playing(page: Page, selector: str, beyond: float, timeout: float = 15.0) -> float:
    """Polls a <video>'s currentTime until it passes ``beyond`` seconds; returns it."""
    deadline = time.monotonic() + timeout
    current = media_time(page, selector)
    while current <= beyond:
        assert time.monotonic() < deadline, f"{selector} stuck at {current:.2f} s"
        page.wait_for_timeout(200)
        current = media_time(page, selector)
    return current


def decode_qr(png: bytes) -> str:
    """The text of the QR code in a screenshot (OpenCV's two detectors, a few scales: each
    misses some valid codes at some sizes)."""
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    for scale in (1, 2, 3):
        scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
            text, _points, _straight = detector.detectAndDecode(scaled)
            if text:
                return str(text)
    return ""


# -- the walk -----------------------------------------------------------------------------------


def create_owner(page: Page, app: App) -> None:
    page.goto(app.url + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", name="Welcome to hearthcam")).to_be_visible()
    page.get_by_label("Household name").fill("The Lindqvists")
    page.get_by_label("Username").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    expect(page.locator(".strength")).to_have_attribute("data-score", re.compile("[34]"))
    shoot(page, "setup")
    page.get_by_role("button", name="Create owner account").click()
    expect(page).to_have_url(app.url + "/")


def turn_on_totp(page: Page) -> str:
    """Enrolls TOTP on the account page; returns the secret."""
    page.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Set up two-factor").click()
    qr = page.locator("#totp-qr svg")
    expect(qr).to_be_visible()
    uri = page.locator("#totp-uri").text_content() or ""
    assert uri.startswith("otpauth://totp/"), uri
    assert decode_qr(page.locator("#totp-qr").screenshot()) == uri
    secret = (page.locator("#totp-secret").text_content() or "").replace(" ", "")
    assert f"secret={secret}" in uri
    shoot(page, "account-enroll")
    page.get_by_label("Enter the 6-digit code the app shows").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    expect(page.locator("#tfa-status")).to_have_text("On")
    shoot(page, "account-codes")
    page.get_by_role("button", name="I saved them").click()
    expect(page.locator("#recovery-codes li")).to_have_count(0)
    return secret


def log_in_again(page: Page, app: App, secret: str) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    shoot(page, "login")
    page.get_by_label("Username").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/mfa$"))
    shoot(page, "mfa")
    # The code of the next 30 s step: the one used to turn TOTP on cannot be replayed.
    page.locator("#code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    expect(page).to_have_url(app.url + "/")  # 6 digits submit on their own


def see_timeline(page: Page, app: App) -> None:
    cards = page.locator(".event-card")
    expect(cards).to_have_count(4)
    expect(page.locator("#stream-state")).to_have_attribute("data-state", "open")
    # A new event, announced by the server, shows up without a reload.
    live_clip = next(iter(app.events.values()))
    assert live_clip.clip is not None
    assert live_clip.snapshot is not None
    media = app.services.media
    jpeg = np.frombuffer(read_bytes(media, live_clip.snapshot), np.uint8)
    snapshot = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert snapshot is not None
    new = app.add_event(
        snapshot,
        read_bytes(media, live_clip.clip),
        "drive",
        Verdict.THREAT,
        5,
        labels=("person",),
        zones=("driveway",),
        seconds=12,
    )
    app.services.bus.on_change(Change.STARTED, new)
    expect(page.locator(f'.event-card[data-id="{new.id}"]')).to_be_visible()
    expect(cards).to_have_count(5)
    # Filters: one verdict, then one camera, then everything again.
    page.locator("#verdict-chips").get_by_role("button", name="Pet").click()
    expect(cards).to_have_count(1)
    expect(page).to_have_url(re.compile(r"verdict=pet"))
    page.locator("#verdict-chips").get_by_role("button", name="All").click()
    page.locator("#camera-chips").get_by_role("button", name="Driveway").click()
    expect(cards).to_have_count(3)
    page.locator("#camera-chips").get_by_role("button", name="All cameras").click()
    expect(cards).to_have_count(5)
    shoot(page, "timeline")


def watch_live(page: Page) -> dict[str, str]:
    """Both cameras play over MSE; returns what each tile reports."""
    page.get_by_role("link", name="Live").click()
    tiles = page.locator(".live-tile")
    expect(tiles).to_have_count(len(CAMERAS))
    for camera in CAMERAS:
        tile = f'.live-tile[data-camera="{camera}"]'
        expect(page.locator(tile)).to_have_attribute("data-state", "playing", timeout=15 * MS)
        expect(page.locator(tile)).to_have_attribute("data-path", "mse")
        first = wait_playing(page, f"{tile} video", 1.0)
        wait_playing(page, f"{tile} video", first + 0.5)
    page.wait_for_timeout(1500)
    info: dict[str, str] = page.eval_on_selector_all(
        ".live-tile",
        """tiles => Object.fromEntries(tiles.map(t => {
            const v = t.querySelector('video');
            const end = v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0;
            return [t.dataset.camera, `${t.dataset.path} t=${v.currentTime.toFixed(2)} ` +
                    `behind=${(end - v.currentTime).toFixed(2)} ${v.videoWidth}x${v.videoHeight}`];
        }))""",
    )
    for camera in CAMERAS:
        behind = re.search(r"behind=([\d.]+)", info[camera])
        assert behind is not None, info
        assert float(behind.group(1)) < 1.5, info  # close to live
    shoot(page, "live")
    # The fallback: MJPEG of the detect frames in an <img>.
    page.goto(page.url + "?path=mjpeg")
    tile = '.live-tile[data-camera="front"]'
    expect(page.locator(tile)).to_have_attribute("data-path", "mjpeg")
    expect(page.locator(tile)).to_have_attribute("data-state", "playing", timeout=15 * MS)
    width = page.eval_on_selector(f"{tile} img", "i => i.naturalWidth")
    assert width == 640
    shoot(page, "live-mjpeg")
    return info


def share_and_withdraw(page: Page, app: App) -> None:
    """The pet event's clip shared as feedback after reading the receipt, then withdrawn from
    My shared clips: afterwards no byte and no row of the share remains."""
    pet = next(e for e in app.events.values() if e.verdict is Verdict.PET)
    page.get_by_role("link", name="Timeline").click()
    page.locator(f'.event-card[data-id="{pet.id}"] a').click()
    expect(page).to_have_url(re.compile(rf"/events/{pet.id}$"))
    page.get_by_role("button", name="Share as feedback").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Share this clip as feedback?")
    for heading in ("Why", "Who may see it", "What they see", "How long it is kept"):
        expect(dialog.locator("dt", has_text=heading)).to_be_visible()
    expect(dialog).to_contain_text("30 days")
    shoot(page, "share-receipt")
    dialog.get_by_role("button", name="Don't share").click()
    expect(dialog).to_have_count(0)
    assert app.services.sharing.shares.count() == 0  # nothing happens without consent
    page.get_by_role("button", name="Share as feedback").click()
    page.get_by_role("dialog").get_by_role("button", name="Share this clip").click()
    expect(page).to_have_url(app.url + "/shared")
    row = page.locator(".share-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Waiting for the checks")
    expect(row).to_contain_text("Front door")
    [share] = app.services.sharing.shares.of_household(app.household())
    assert share.event_id == pet.id
    copy = app.services.data_dir / "shares" / share.id
    assert any(copy.rglob("*.mp4"))
    row.locator("summary", has_text="What you agreed to").click()
    expect(row.locator(".receipt")).to_contain_text("blurred")
    shoot(page, "shared")
    rerun_failed_checks(page, app, share.id)
    row.get_by_role("button", name="Withdraw").click()
    expect(page.locator(".toast").last).to_contain_text("Withdrawn: 1 file deleted")
    expect(page.locator(".share-row")).to_have_count(0)
    expect(page.locator("#shares-empty")).to_be_visible()
    assert app.services.sharing.shares.count() == 0
    assert not copy.exists()
    assert pet.clip is not None
    assert pet.clip.exists()  # the owner's own clip stays


def rerun_failed_checks(page: Page, app: App, share_id: str) -> None:
    """The share's checks fail (the second check refused, as the checker records it): the owner
    reads which step decided and presses Re-run the checks; the share waits for the checks again
    under the same receipt, and its history says who asked."""
    shares, now = app.services.sharing.shares, time.time()
    assert shares.set_status(share_id, "consented", "checking", now)
    reason = FAILED_REASON.format(why="faces could still be seen after blurring")
    assert shares.set_status(
        share_id, "checking", "owner_only", now, reason, {"failed_step": "check"}
    )
    page.reload()
    page.wait_for_load_state("networkidle")
    row = page.locator(".share-row")
    expect(row).to_have_attribute("data-status", "owner_only")
    expect(row).to_contain_text("Failed — owner only")
    expect(row.locator(".share-decided")).to_contain_text("The check step decided")
    row.get_by_role("button", name="Re-run the checks").click()
    expect(row).to_have_attribute("data-status", "consented")
    expect(row).to_contain_text("Waiting for the checks again")
    expect(row.get_by_role("button", name="Re-run the checks")).to_have_count(0)
    row.locator("summary", has_text="History").click()
    expect(row.locator(".share-moves li")).to_have_count(4)
    expect(row.locator(".share-moves li").last).to_contain_text(
        f"Checks asked for again · by {OWNER}"
    )
    shoot(page, "shared-rerun")
    stored = shares.get(share_id)
    assert stored is not None
    assert stored.status == "consented"
    assert stored.history[-1].event == "retry"


def play_and_delete(page: Page, app: App) -> None:
    threat = next(e for e in app.events.values() if e.verdict is Verdict.THREAT)
    ranges: list[int] = []
    page.on(
        "response",
        lambda r: ranges.append(r.status) if r.url.endswith(f"/{threat.id}/clip") else None,
    )
    page.get_by_role("link", name="Timeline").click()
    page.locator(f'.event-card[data-id="{threat.id}"] a').click()
    expect(page).to_have_url(re.compile(rf"/events/{threat.id}$"))
    expect(page.get_by_role("heading", name="Threat at Front door")).to_be_visible()
    expect(page.locator("#tracks tbody tr")).to_have_count(1)
    expect(page.locator("#download")).to_have_attribute(
        "href", f"/api/events/{threat.id}/clip?download=1"
    )
    page.eval_on_selector("#clip", "v => { v.muted = true; return v.play(); }")
    wait_playing(page, "#clip", 1.0)
    page.eval_on_selector(
        "#clip",
        """v => new Promise(done => {
            v.addEventListener('seeked', done, {once: true});
            v.currentTime = 3.2;
        })""",
    )
    assert media_time(page, "#clip") >= 3.0
    assert 206 in ranges, ranges  # the clip is served in ranges (seeking works)
    page.eval_on_selector("#clip", "v => v.pause()")
    shoot(page, "event")

    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete this event?")
    dialog.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(app.url + "/")
    expect(page.locator(".event-card")).to_have_count(4)
    expect(page.locator(f'.event-card[data-id="{threat.id}"]')).to_have_count(0)
    assert page.request.get(f"{app.url}/api/events/{threat.id}").status == 404
    assert threat.clip is not None
    assert threat.snapshot is not None
    assert not threat.clip.exists()
    assert not threat.snapshot.exists()
    assert app.services.store.get_event(threat.id) is None
    media = app.services.media
    assert isinstance(media, SealedMedia)
    for path in (threat.clip, threat.snapshot):  # crypto-shredded: the keys went first
        assert not media.vault.keyring.has_key(media.vault.blob_id(path))
    assert plaintext_media_signatures(app.services.data_dir) == []


def bulk_delete(page: Page, app: App) -> None:
    cards = page.locator(".event-card")
    doomed = [cards.nth(i).get_attribute("data-id") or "" for i in (1, 2)]
    for event_id in doomed:
        page.locator(f'.event-card[data-id="{event_id}"] .select-input').check()
    expect(page.locator("#selection-count")).to_have_text("2 selected")
    shoot(page, "timeline-selected")
    page.locator("#selection-bar").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(cards).to_have_count(2)
    expect(page.locator("#selection-bar")).to_be_hidden()
    for event_id in doomed:
        event = app.events[event_id]
        assert event.clip is not None
        assert not event.clip.exists()
        assert event.snapshot is not None
        assert not event.snapshot.exists()


def set_alert_rules(page: Page, app: App) -> None:
    """At home: alert about threats and pets, but only at night."""
    home = page.locator("#rule-home")
    summary = home.locator(".rule-summary")
    expect(home.get_by_role("checkbox", name="Threat")).to_be_checked()  # the config's rule
    expect(home.get_by_role("checkbox", name="Pet")).not_to_be_checked()
    expect(summary).to_have_text("Alerts about threats, at any time.")
    expect(home.get_by_label(re.compile("from$"))).to_be_disabled()
    home.get_by_role("checkbox", name="Pet").check()
    home.get_by_label("Only between").check()
    home.get_by_label(re.compile("from$")).fill("22:30")
    home.get_by_label(re.compile("until$")).fill("06:00")
    expect(summary).to_have_text("Alerts about threats and pets, from 22:30 to 06:00.")
    page.locator("#alerts-form").get_by_role("button", name="Save").click()
    expect(page.locator(".toast").last).to_contain_text("Alert rules saved")
    stored = page.request.get(f"{app.url}/api/settings").json()["alerts"]
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert stored["home"] == {
        "verdicts": ["threat", "pet"],
        "zones": [],
        "cameras": [],
        "schedule": [{"start": "22:30", "end": "06:00", "days": days}],
    }
    assert stored["away"]["verdicts"] == ["threat", "vehicle"]  # untouched
    # The runtime's decision reads the same rows: a pet at home at 23:00 alerts, at noon not.
    household = app.services.accounts.camera_household("front")
    assert household is not None
    rule = app.services.settings.household(household, app.services.config).rule()
    assert rule is not None
    assert Verdict.PET in rule.verdicts
    night, noon = dt.datetime(2026, 12, 2, 23, 0), dt.datetime(2026, 12, 2, 12, 0)
    assert in_schedule(rule.schedule[0], night)
    assert not in_schedule(rule.schedule[0], noon)


def draw_zone_and_mask(page: Page, app: App) -> None:
    """On Front door's live picture: a porch zone (4 corners) and a mask (3 corners)."""
    page.locator("#geometry-camera").select_option("front")
    expect(page.locator("#geometry-picture")).to_be_visible()
    picture = page.locator("#geometry-svg")
    picture.scroll_into_view_if_needed()
    box = picture.bounding_box()  # in the viewport, now that it is scrolled into view
    assert box is not None

    def corner(x: float, y: float) -> None:
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])

    page.get_by_label("Zone name").fill("porch")
    for x, y in ((0.1, 0.6), (0.9, 0.6), (0.9, 0.95), (0.1, 0.95)):
        corner(x, y)
    expect(page.locator("#drawing-hint")).to_contain_text("4 corners")
    page.get_by_role("button", name="Finish shape").click()
    page.get_by_role("radio", name=re.compile(r"^Mask")).check()
    for x, y in ((0.01, 0.01), (0.99, 0.01), (0.99, 0.1)):
        corner(x, y)
    page.get_by_role("button", name="Finish shape").click()
    expect(page.locator(".shape-row")).to_have_count(2)
    expect(page.locator(".shape-label")).to_have_text("porch")
    page.locator("#geometry").get_by_role("button", name="Save").click()
    expect(page.locator(".toast").last).to_contain_text("Zones and masks saved")
    stored = page.request.get(f"{app.url}/api/cameras/front/geometry").json()
    (zone,) = stored["zones"]
    assert zone["name"] == "porch"
    corners = [(0.1, 0.6), (0.9, 0.6), (0.9, 0.95), (0.1, 0.95)]
    flat = [v for point in zone["points"] for v in point]
    assert flat == pytest.approx([v for c in corners for v in c], abs=0.01)
    assert len(stored["mask"]) == 1
    assert [(camera, list(g.zones)) for camera, g in app.drawn] == [("front", ["porch"])]


def add_and_edit_a_camera(page: Page, app: App, rtsp_url: str) -> None:
    """A dead stream is refused with the reason under its field; a real RTSP camera is tested,
    added (the runtime is told to start it) and renamed."""
    panel = page.locator("#cameras")
    expect(panel.locator(".camera-row")).to_have_count(2)
    panel.get_by_text("Add a camera").first.click()
    panel.get_by_label("Name", exact=True).fill("Garden")
    panel.get_by_label("Stream URL", exact=True).fill(f"rtsp://127.0.0.1:{free_port()}/cam")
    panel.get_by_role("button", name="Test and add").click()
    # One text for every failed connection (the stream test must not be a port scanner).
    expect(page.locator("#camera-detect-result")).to_contain_text(
        "No video from this stream", timeout=30 * MS
    )
    expect(page.locator("#camera-detect-result")).to_have_attribute("data-state", "bad")
    expect(panel.locator(".form-error")).to_contain_text("Nothing was saved")
    assert app.started == []
    panel.get_by_label("Stream URL", exact=True).fill(rtsp_url)
    panel.locator('[data-test-url="camera-detect"]').click()
    expect(page.locator("#camera-detect-result")).to_contain_text("Works: H264", timeout=30 * MS)
    shoot(page, "settings-camera-form")
    panel.get_by_role("button", name="Test and add").click()
    expect(page.locator(".toast").last).to_contain_text("Garden is recording")
    expect(panel.locator(".camera-row")).to_have_count(3)
    [(key, config)] = app.started
    assert config is not None
    assert config.inputs[0].path == rtsp_url
    assert app.services.accounts.camera_household(key) == app.services.accounts.camera_household(
        "front"
    )
    row = panel.locator(f'.camera-row[data-camera="{key}"]')
    expect(row).to_contain_text("Added here")
    row.get_by_role("button", name="Edit").click()
    expect(panel.get_by_label("Stream URL", exact=True)).to_have_value(rtsp_url)
    panel.get_by_label("Name", exact=True).fill("Back garden")
    panel.get_by_role("button", name="Test and save").click()
    expect(page.locator(".toast").last).to_contain_text("Back garden was saved")
    expect(row).to_contain_text("Back garden")
    assert app.services.cameras()[key].name == "Back garden"
    expect(panel.locator('.camera-row[data-camera="front"]')).to_contain_text("From the config")


def change_settings(page: Page, app: App) -> None:
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("#settings")).not_to_have_attribute("aria-busy", "true")
    away = page.get_by_role("radio", name=re.compile(r"^Away"))
    expect(away).to_be_checked()  # the config's default
    page.get_by_role("radio", name=re.compile(r"^Home")).check()
    expect(page.locator(".toast").last).to_contain_text("Home mode is on")
    set_alert_rules(page, app)
    add_and_edit_a_camera(page, app, app.rtsp_url)
    draw_zone_and_mask(page, app)
    page.locator("#ret-threat").fill("72")
    page.locator("#retention-form").get_by_role("button", name="Save").click()
    expect(page.locator(".toast").last).to_contain_text("Retention saved")
    stored = page.request.get(f"{app.url}/api/settings").json()
    assert stored["mode"] == "home", stored
    assert stored["retention"]["threat"] == 72, stored
    assert stored["alerts"]["home"]["verdicts"] == ["threat", "pet"], stored  # kept
    page.get_by_text("Add a member").click()
    page.get_by_label("Username").fill(MEMBER)
    page.get_by_role("button", name="Create link").click()  # they set their own password
    expect(page.locator("#link-url")).to_have_value(re.compile(r"/enrol#.{40,}"))
    expect(page.locator(".user-row")).to_have_count(2)
    expect(page.locator(".user-list")).to_contain_text(MEMBER)
    shoot(page, "settings")


def change_password(page: Page, app: App) -> None:
    page.get_by_role("link", name="Account").click()
    expect(page.locator("#tfa-status")).to_have_text("On")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".toast").last).to_contain_text("Password changed")
    # The session was rotated: the browser holds the new cookie and the page the new token.
    me = page.request.get(f"{app.url}/api/me").json()
    assert me["username"] == OWNER
    assert page.locator('meta[name="csrf-token"]').get_attribute("content") == me["csrf_token"]


def protect_recordings(page: Page, app: App) -> None:
    """Password mode from the Account page: on (the key needs the owner's password now), Lock
    now (the event's clip answers 423 Locked), off again with the password."""
    panel = page.locator("#vault-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#vault-status")).to_have_text("Off")
    expect(page.locator("#vault-warning")).to_contain_text("no recovery")
    panel.get_by_label("Your password").fill("not my password at all")
    panel.get_by_role("button", name="Protect with my password").click()
    expect(panel.locator(".form-error")).to_have_text("That is not your password.")
    panel.get_by_label("Your password").fill(NEW_PASSWORD)
    panel.get_by_role("button", name="Protect with my password").click()
    expect(page.locator("#vault-status")).to_have_text("On · unlocked")
    expect(panel.get_by_role("button", name="Stop protecting with my password")).to_be_visible()
    household = app.services.accounts.camera_household("front")
    assert household is not None
    assert app.services.keys.status(household).password_mode
    shoot(page, "account-vault")
    panel.get_by_role("button", name="Lock now").click()
    expect(page.locator("#vault-status")).to_have_text("On · locked")
    expect(page.locator("#vault-locked")).to_be_visible()
    event = next(e for e in app.services.store.events() if e.clip is not None)
    assert page.request.get(f"{app.url}/api/events/{event.id}/clip").status == 423
    panel.get_by_label("Your password").fill(NEW_PASSWORD)
    panel.get_by_role("button", name="Stop protecting with my password").click()
    expect(page.locator("#vault-status")).to_have_text("Off")
    assert page.request.get(f"{app.url}/api/events/{event.id}/clip").status == 200


def device_alerts(page: Page, app: App) -> None:
    """The Account page offers Web Push; this browser cannot subscribe (Chromium has no push in
    incognito contexts, nor a push service without the network), so turning it on must say so
    and store nothing; the service worker is registered at the root all the same."""
    panel = page.locator("#push-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#push-status")).to_have_text("Off")
    page.context.grant_permissions(["notifications"], origin=app.url)
    panel.get_by_role("button", name="Send alerts here").click()
    expect(page.locator("#push-error")).to_contain_text("push service", timeout=30 * MS)
    expect(page.locator("#push-status")).to_have_text("Off")
    household = app.services.accounts.camera_household("front")
    assert household is not None
    assert app.services.push.of_household(household) == []
    scope = page.evaluate("navigator.serviceWorker.getRegistration('/').then((r) => r && r.scope)")
    assert scope == f"{app.url}/"
    shoot(page, "account-push")


def test_owner_walks_through_the_app(app: App, page: Watched) -> None:
    started = time.monotonic()
    create_owner(page.page, app)
    page.check("setup")
    secret = turn_on_totp(page.page)
    page.check("two-factor")
    log_in_again(page.page, app, secret)
    page.check("login")
    see_timeline(page.page, app)
    page.check("timeline")
    info = watch_live(page.page)
    page.check("live view")
    share_and_withdraw(page.page, app)
    page.check("share")
    play_and_delete(page.page, app)
    page.check("event")
    bulk_delete(page.page, app)
    page.check("bulk delete")
    change_settings(page.page, app)
    page.check("settings")
    change_password(page.page, app)
    page.check("password")
    device_alerts(page.page, app)
    # Chromium itself logs this for a Playwright (incognito) context: push is not offered
    # there, and deliberately cannot be detected by the page. Any other error still fails.
    page.errors[:] = [e for e in page.errors if "Push API in incognito mode" not in e]
    page.check("device alerts")
    protect_recordings(page.page, app)
    # The one wrong password typed on purpose: Chromium logs its 400 as a console error.
    wrong = "400 (Bad Request) (" + app.url + "/api/me/encryption)"
    page.errors[:] = [e for e in page.errors if wrong not in e]
    page.check("password mode")
    print(f"live view: {info}; walk took {time.monotonic() - started:.1f} s")
