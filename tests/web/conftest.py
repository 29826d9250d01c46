"""Fixtures for the web tests: the world of world.py, clients logged in as each of its users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, sync_playwright

from tests.support.factories import make_h264_segment
from tests.support.required import require
from tests.support.world import ORIGIN, World, build_world

ClientFor = Callable[[str], TestClient]

# Debian's Chromium (scripts/setup.sh installs it), kept off every network but loopback.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for one test module (the browser tests' only launcher)."""
    require(CHROMIUM.is_file(), "Debian's chromium is not installed (scripts/setup.sh installs it)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def clip_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 2 s H.264 MP4 (copied for every event; encoding once is the slow part)."""
    path = tmp_path_factory.mktemp("web-media") / "clip.mp4"
    make_h264_segment(path, seconds=2.0, fps=10)
    return path


@pytest.fixture
def world(tmp_path: Path, clip_source: Path) -> Iterator[World]:
    built = build_world(tmp_path, clip_source)
    yield built
    built.services.exports.close()  # its worker may hold a job on this store
    built.store.close()


@pytest.fixture
def fresh_world(tmp_path: Path, clip_source: Path) -> Iterator[World]:
    """A world with no users yet: setup is open."""
    built = build_world(tmp_path, clip_source, users=False)
    yield built
    built.services.exports.close()
    built.store.close()


@pytest.fixture
def client_for(world: World) -> Iterator[ClientFor]:
    """``client_for(username)``: a TestClient with a fresh session of that user and its CSRF
    header; ``client_for("")`` is anonymous."""
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        headers = {"origin": ORIGIN}
        client = TestClient(world.app, headers=headers)
        client.__enter__()
        clients.append(client)
        if username:
            token = world.session_token(username)
            client.cookies.set("hc_session", token)
            client.headers["X-CSRF-Token"] = world.csrf(token)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
