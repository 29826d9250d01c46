"""A small world for the web tests: two households, an admin, an annotator, real media files.

Household A ("alice", owner; "mia", member) owns cameras ``front`` and ``back``; household B
("bob", owner) owns ``garage``. "ada" is an admin and "ann" an annotator, both with TOTP. The
store is real SQLite in tmp_path; clips are real H.264 MP4s and snapshots real JPEGs, sealed on
disk through the app's own media I/O (``app.open_media``), as a running hearthcam writes them.
The clock is fake and moves only when a test moves it (TOTP codes are taken at its time, and it
moves 30 s per TOTP login so no code is replayed).
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyotp
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI

from hearthcam.accounts import Accounts, LoginState, RateLimits, Role
from hearthcam.alerts.webpush import VapidKeys
from hearthcam.app import open_media
from hearthcam.config import Config, parse_config
from hearthcam.exports.jobs import Requester
from hearthcam.hub.web_links import HomeHubLinks
from hearthcam.live import LiveView
from hearthcam.pipeline.source import StreamInfo
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareRecord, receipt_digest
from hearthcam.types import Event, Frame, TrackSummary, Verdict
from hearthcam.vault.media import write_bytes
from hearthcam.web import WebServices, create_app
from tests.support.recorded import record_footage

T0 = 1_700_000_000.0
PASSWORD = "correct horse battery"
ORIGIN = "http://testserver"
IP = "testclient"
CAMERAS_A = ("front", "back")
CAMERAS_B = ("garage",)


class FakeClock:
    """Unix time that moves only when told."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def cheap_hasher() -> PasswordHasher:
    """argon2id with the cheapest parameters (tests only)."""
    return PasswordHasher.from_parameters(profiles.CHEAPEST)


def detect_image(seed: int = 0, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """A BGR image with some structure, so JPEGs of it are real pictures."""
    width, height = size
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, :, 0] = (np.arange(width)[None, :] * 2 + seed) % 256
    image[:, :, 1] = (np.arange(height)[:, None] * 2) % 256
    cv2.rectangle(image, (20 + seed % 40, 30), (60 + seed % 40, 90), (255, 255, 255), -1)
    return image


@dataclass
class World:
    """Everything a web test needs; see the module doc."""

    root: Path
    clip_source: Path
    config: Config
    store: Store
    accounts: Accounts
    clock: FakeClock
    services: WebServices
    app: FastAPI
    household_a: int = 0
    household_b: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # username -> TOTP secret
    user_ids: dict[str, int] = field(default_factory=dict)
    recorded: set[str] = field(default_factory=set)  # cameras with footage (add_footage)

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    # Sessions ------------------------------------------------------------------------------

    def totp(self, username: str) -> str:
        """The code the user's authenticator shows now."""
        return str(pyotp.TOTP(self.secrets[username]).at(self.clock()))

    def session_token(self, username: str) -> str:
        """A fresh active session for ``username`` (through TOTP where the user has it)."""
        if username in self.secrets:
            self.clock.advance(30)  # a new TOTP step: codes are accepted once
        result = self.accounts.authenticate(
            username, PASSWORD, ip=IP, user_agent="pytest", now=self.clock()
        )
        assert result.token is not None, result
        if result.state is LoginState.MFA_PENDING:
            result = self.accounts.verify_mfa(result.token, self.totp(username), self.clock())
        assert result.state is LoginState.ACTIVE
        assert result.token is not None, result
        return result.token

    def csrf(self, token: str) -> str:
        session = self.accounts.session(token, self.clock())
        assert session is not None
        return session.csrf_token

    # Media ---------------------------------------------------------------------------------

    def add_event(
        self,
        camera: str = "front",
        wall_start: float = T0 - 600,
        verdict: Verdict = Verdict.THREAT,
        *,
        derivative: bool = False,
    ) -> Event:
        """A finished event with a real clip and snapshot in the runner's layout."""
        event_id = uuid.uuid4().hex
        day = dt.datetime.fromtimestamp(wall_start, dt.UTC).strftime("%Y-%m-%d")
        clip = self.data_dir / "clips" / camera / day / f"{event_id}.mp4"
        snapshot = self.data_dir / "snapshots" / camera / day / f"{event_id}.jpg"
        media, source = self.services.media, self.clip_source.read_bytes()
        write_bytes(media, clip, camera, source)
        ok, jpeg = cv2.imencode(".jpg", detect_image(len(event_id)))
        assert ok
        write_bytes(media, snapshot, camera, jpeg.tobytes())
        if derivative:  # e.g. a redacted copy made for sharing
            redacted = self.data_dir / "redacted" / camera / day / f"{event_id}.mp4"
            write_bytes(media, redacted, camera, source)
        track = TrackSummary(1, "person", 0.9, 0.8, 12, 1.0, 3.0, 0.1, 0.5, frozenset({"porch"}))
        event = Event(
            id=event_id,
            camera=camera,
            verdict=verdict,
            labels=("person",) if verdict is Verdict.THREAT else (),
            start=1.0,
            end=3.0,
            wall_start=wall_start,
            wall_end=wall_start + 2.0,
            score=0.9,
            zones=("porch",),
            tracks=(track,),
            snapshot=snapshot,
            clip=clip,
            alert=verdict is Verdict.THREAT,
        )
        self.store.save_event(event)
        return event

    def receipt_digest(self, event: Event) -> str:
        """The digest the owner's browser sends back after showing the share receipt."""
        receipt = self.services.sharing.receipt(event, "Front door", self.clock())
        return receipt_digest(receipt)

    def add_share(self, event: Event) -> ShareRecord:
        """Alice shares ``event`` (a household A camera's) as feedback."""
        owner = self.user_ids["alice"]
        sharing = self.services.sharing
        digest = self.receipt_digest(event)
        return sharing.share(event, self.household_a, owner, "Front door", digest, self.clock())

    def add_footage(
        self, camera: str = "front", start: float = T0 - 620, seconds: float = 60.0
    ) -> None:
        """Recorded, sealed segments of ``camera`` from ``start`` on (the recorder's own)."""
        scratch = self.root / "scratch"
        scratch.mkdir(exist_ok=True)
        record_footage(
            self.store, self.services.media, self.data_dir, camera, start, seconds, scratch=scratch
        )
        self.recorded.add(camera)

    def add_export(self, camera: str = "front") -> str:
        """A finished export of 5 s of household A's ``camera`` (asked by alice); its id."""
        if camera not in self.recorded:
            self.add_footage(camera, T0 - 620, 20.0)
        who = Requester(self.user_ids["alice"], "alice", self.household_a)
        record = self.services.exports.create(who, camera, T0 - 615, T0 - 610)
        assert self.services.exports.wait_idle(60)
        return record.id

    def feed_frame(self, camera: str = "front", seed: int = 0) -> None:
        """Gives the camera's MJPEG view a fresh detect frame."""
        image = detect_image(seed)
        view = self.services.live[camera]
        assert isinstance(view, LiveView)  # fed in this process
        view.frame(Frame(camera, seed, seed / 5, self.clock(), image))

    def add_member(self, username: str) -> int:
        """A new member of household A; returns the id."""
        user = self.accounts.create_user(
            username, PASSWORD, Role.MEMBER, self.household_a, self.clock()
        )
        return user.id


def _enroll(world: World, username: str, role: Role) -> None:
    user = world.accounts.create_user(username, PASSWORD, role, None, world.clock())
    world.user_ids[username] = user.id
    first = world.accounts.authenticate(
        username, PASSWORD, ip=IP, user_agent="pytest", now=world.clock()
    )
    assert first.token is not None
    assert first.state is LoginState.ENROLL_PENDING
    enrollment = world.accounts.enroll_totp(first.token, world.clock())
    world.secrets[username] = enrollment.secret
    code = pyotp.TOTP(enrollment.secret).at(world.clock())
    confirmed = world.accounts.confirm_totp(first.token, code, world.clock())
    assert confirmed.result.ok
    assert confirmed.result.token is not None
    world.accounts.logout(confirmed.result.token)


# Tests send no DNS queries: names resolve from this table (unknown names do not resolve).
DNS = {
    "push.lan-pointed.example": ["192.168.1.20"],
    "push.good.example": ["142.250.180.10"],
    "cam.example": ["192.168.1.30"],  # a camera on the LAN (app cameras must be on one)
}


def fake_dns(host: str) -> list[str]:
    """The world's resolver."""
    return DNS.get(host, [])


def any_stream_works(url: str) -> StreamInfo:
    """The stream test of the world: every URL gives a frame (tests/web/test_camera_setup.py
    tests against a real RTSP server)."""
    return StreamInfo("h264", 640, 360, 15.0, None)


def build_world(root: Path, clip_source: Path, *, users: bool = True) -> World:
    """The world of the module doc (``users=False``: no user yet, setup still open)."""
    config = _config(root)
    config.data_dir.mkdir(parents=True)
    world = _open_world(root, clip_source, config, FakeClock())
    if users:
        _populate(world)
    return world


def move_world(world: World, root: Path) -> World:
    """The world stopped, its whole data directory moved to ``root / "data"`` and opened there
    (its users, sessions and clock as they were); ``world``'s store is closed."""
    world.store.close()
    root.mkdir(parents=True, exist_ok=True)
    shutil.move(world.data_dir, root / "data")
    moved = _open_world(root, world.clip_source, _config(root), world.clock)
    moved.household_a, moved.household_b = world.household_a, world.household_b
    moved.secrets.update(world.secrets)
    moved.user_ids.update(world.user_ids)
    return moved


def _config(root: Path) -> Config:
    cameras: dict[str, dict[str, Any]] = {
        name: {"inputs": [{"path": f"{name}.mp4"}]} for name in CAMERAS_A + CAMERAS_B
    }
    cameras["front"]["name"] = "Front door"
    # "testserver" is the Host of Starlette's TestClient (the Host check refuses other names).
    web = {"allowed_hosts": ["testserver"]}
    return parse_config({"data_dir": str(root / "data"), "cameras": cameras, "web": web})


def _open_world(root: Path, clip_source: Path, config: Config, clock: FakeClock) -> World:
    store = Store.open(config.database_url, data_dir=config.data_dir)
    # A client backs off after 3 failures at one name so the throttling tests stay short.
    accounts = Accounts(store, hasher=cheap_hasher(), limits=RateLimits(per_pair=3))
    live = {name: LiveView(name) for name in config.cameras}
    push_key = VapidKeys.load_or_create(root / "vapid.pem").application_server_key
    services = WebServices(
        media=open_media(store, config.data_dir),
        config=config,
        store=store,
        accounts=accounts,
        clock=clock,
        live=live,
        push_key=push_key,
        probe_stream=any_stream_works,
        resolve_host=fake_dns,
        hub_links=HomeHubLinks(config.data_dir),  # links to a real hub where a test serves one
    )
    return World(root, clip_source, config, store, accounts, clock, services, create_app(services))


def _populate(world: World) -> None:
    accounts, now = world.accounts, world.clock()
    alice = accounts.setup("alice", PASSWORD, "Home A", CAMERAS_A, now)
    assert alice.household_id is not None
    world.household_a = alice.household_id
    world.household_b = accounts.create_household("Home B", now)
    for camera in CAMERAS_B:
        accounts.assign_camera(camera, world.household_b)
    bob = accounts.create_user("bob", PASSWORD, Role.OWNER, world.household_b, now)
    mia = accounts.create_user("mia", PASSWORD, Role.MEMBER, world.household_a, now)
    world.user_ids.update(alice=alice.id, bob=bob.id, mia=mia.id)
    _enroll(world, "ada", Role.ADMIN)
    _enroll(world, "ann", Role.ANNOTATOR)
