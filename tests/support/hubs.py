"""A real review hub on loopback for tests, and a home linked to it as `hearthcam hub link` does.

The hub runs in-process (uvicorn in a thread, ``hub.server.start_hub``) over a SQLite file, with
its clip store, its view log and the terms its operator states; it can be stopped and started
again on the same port (a hub that goes away and comes back). ``link_home`` links a data
directory with a one-time code and writes ``hub.json`` and the home's identity where the CLI
writes them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hearthcam.accounts import Accounts
from hearthcam.hub import linking
from hearthcam.hub.checks import HubChecks
from hearthcam.hub.clips import HubClips
from hearthcam.hub.desk import HubDesk
from hearthcam.hub.home import HomeLink
from hearthcam.hub.identity import Identity, load_or_create
from hearthcam.hub.models import HubModels
from hearthcam.hub.registry import HubRegistry
from hearthcam.hub.server import HubServer, hub_app, start_hub
from hearthcam.hub.terms import HubTerms
from hearthcam.hub.workbench import HubWorkbench
from hearthcam.pipeline.detect import Detector
from hearthcam.store.db import Store
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey
from hearthcam_bench.broker import free_port, port_answers
from tests.support.world import cheap_hasher

TERMS = HubTerms("Northwind Review Co-op", "Portugal", 14)


@dataclass
class TestHub:
    """A hub and what it keeps (``database``: its SQLite file; ``folder``: its sealed clips)."""

    __test__ = False  # not a test class

    root: Path
    terms: HubTerms | None = TERMS
    identity: Identity = field(init=False)
    registry: HubRegistry = field(init=False)
    clips: HubClips = field(init=False)
    models: HubModels = field(init=False)
    store: Store = field(init=False)
    log: AuditLog = field(init=False)
    server: HubServer | None = field(init=False, default=None)
    checks: HubChecks | None = None  # the hub's own checks, when a test gives them
    workbench: HubWorkbench | None = None  # the people's pages, once ``open_workbench`` ran
    port: int = 0
    database_url: str | None = None  # default: a SQLite file under ``root``

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        url = self.database_url or f"sqlite:///{self.database}"
        self.identity = load_or_create(self.root / "hub-identity.pem")
        # As `hub serve` opens it: the view log's tables migrated first, its key beside.
        self.store = Store.open(url)
        self.log = AuditLog(self.store, AuditKey.load_or_create(self.root / "hub-audit.pem"))
        self.registry = HubRegistry.open(url)
        self.models = HubModels.from_url(url, self.identity)
        # As `hub serve` wires them: a deleted clip retires the models that learned from it,
        # and takes its leases and annotations with it (once there is a workbench).
        self.forget: list[Callable[[int, str, float], object]] = []

        def deleted(home_id: int, clip_id: str, now: float) -> None:
            self.models.retire_clip(home_id, clip_id, now)
            for listener in self.forget:
                listener(home_id, clip_id, now)

        self.clips = HubClips.from_url(url, self.folder, self.identity, on_deleted=deleted)

    def open_workbench(
        self,
        checks: HubChecks,
        clock: Callable[[], float] = time.time,
        detector: Callable[[], Detector | None] = lambda: None,
        **rules: Any,
    ) -> HubWorkbench:
        """The workbench as `hub serve` makes it (accounts over the hub's database, a cheap
        password hasher), served from the next ``start``; ``checks`` become the hub's."""
        self.checks = checks
        url = self.database_url or f"sqlite:///{self.database}"
        desk = HubDesk.from_url(url, self.clips, checks, self.log, detector=detector, **rules)
        self.forget.append(desk.forget_clip)
        self.workbench = HubWorkbench(Accounts(self.store, hasher=cheap_hasher()), desk, clock)
        return self.workbench

    @property
    def database(self) -> Path:
        return self.root / "hub.sqlite"

    @property
    def folder(self) -> Path:
        return self.root / "clips"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serves on its port (any free one the first time, the same one after)."""
        app = hub_app(
            self.registry, self.identity, log=self.log, clips=self.clips, terms=self.terms,
            models=self.models, checks=self.checks, workbench=self.workbench,
        )  # fmt: skip
        self.server = start_hub(app, "127.0.0.1", self.port)
        self.port = self.server.port

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def close(self) -> None:
        self.stop()
        if self.workbench is not None:
            self.workbench.desk.close()
        self.clips.close()
        self.models.close()
        self.registry.close()
        self.store.close()


def home_config(root: Path) -> tuple[Path, Path]:
    """A home's config file for `hearthcam run` (camera front, any free port) and its data
    directory, made under ``root``."""
    data, config_file = root / "home", root / "hearthcam.yml"
    data.mkdir()
    config_file.write_text(
        f"data_dir: {data}\nweb: {{port: 0}}\n"
        "cameras:\n  front:\n    name: Front door\n    inputs: [{path: front.mp4}]\n"
    )
    return config_file, data


def link_home(data_dir: Path, hub: TestHub, name: str = "Maple Street") -> HomeLink:
    """Links ``data_dir``'s home to ``hub`` with a fresh one-time code; writes ``hub.json``."""
    return linking.link_home(data_dir, hub.url, hub.registry.new_code(time.time()), name)


@dataclass
class ServedHub:
    """`hearthcam hub serve` in its own process, started with the terms of ``TERMS``."""

    process: subprocess.Popen[bytes]
    port: int
    database: str  # its --database URL
    folder: Path  # its --data folder
    stderr: Path  # what it said

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def said(self) -> str:
        return self.stderr.read_text()


@contextmanager
def served_hub(root: Path, database: str | None = None) -> Iterator[ServedHub]:
    """`python -m hearthcam hub serve` on a free loopback port over ``database`` (by default
    ``root/hub.db``) with its keys in ``root/hub``, once it answers and has printed its
    fingerprint; killed on the way out if the test did not stop it (the test judges how it
    stopped)."""
    database, port = database or f"sqlite:///{root / 'hub.db'}", free_port()
    folder, stderr = root / "hub", root / "hub.stderr"
    with open(stderr, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hearthcam", "hub", "serve", "--database", database,
             "--data", str(folder), "--port", str(port), "--operator", TERMS.operator,
             "--annotators-in", TERMS.annotators_in, "--keep-days", str(TERMS.keep_days)],
            stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    served = ServedHub(process, port, database, folder, stderr)
    try:
        deadline = time.monotonic() + 60
        while not (port_answers(port) and "fingerprint" in served.said()):
            assert served.process.poll() is None, served.said()
            assert time.monotonic() < deadline, served.said()
            time.sleep(0.1)
        yield served
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()
