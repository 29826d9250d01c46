"""Two homes and one hub, each in its own process, as people run them: the operator's
`hearthcam hub serve` on a real PostgreSQL database with its real checks, and two homes each
`hearthcam run` over its own data directory, their events recorded by `hearthcam analyze`
from real footage (the carphone clip: a face). Each owner links with the CLI, signs up and
shares the event with the hub over the app's API; the home's real checks blur it, its delivery
sends it; the hub's own checks pass the blurred copy; an annotator enrolled by the CLI's link
annotates both over the hub's API; each owner's `hearthcam hub check` proves their own view and
not the other's; the owners compare checkpoints; one withdraws, and the hub's copy and its
annotation go. Every process stops cleanly on SIGINT, with no traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam_bench.broker import free_port, port_answers
from hearthcam_bench.redact import carphone_frames, looped, write_h264
from tests.support.hubs import served_hub
from tests.support.postgres import new_database

pytestmark = pytest.mark.integration

PASSWORD = "copper kettle on the stove"


@dataclass
class HomeProcess:
    """A home's `hearthcam run` and its owner's HTTP session."""

    config: Path
    data: Path
    process: subprocess.Popen[bytes]
    log: Path
    url: str
    web: httpx.Client

    def api(self, method: str, path: str, **options: object) -> httpx.Response:
        return self.web.request(method, path, **options)  # type: ignore[arg-type]


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def footage(tmp_path: Path) -> Path:
    """Six seconds of the carphone clip (a man talking on a phone: a face), H.264."""
    return write_h264(tmp_path / "carphone.mp4", looped(carphone_frames(), 150, (352, 288)), 25)


def _home(
    stack: ExitStack, root: Path, name: str, hub_url: str, database: str, footage: Path
) -> HomeProcess:
    data, port = root / name / "data", free_port()
    data.mkdir(parents=True)
    config = root / name / "hearthcam.yml"
    config.write_text(
        f"data_dir: {data}\nweb: {{port: {port}}}\n"
        f"cameras:\n  front:\n    name: Front door\n    inputs: [{{path: {root / 'none.mp4'}}}]\n"
    )
    assert (
        "1 events" in CliRunner().invoke(cli, ["analyze", str(footage), "-c", str(config)]).output
    )
    code = _run("hub", "code", "--database", database).strip()
    _run("hub", "link", hub_url, code, "-c", str(config), "--name", name)
    log = root / name / "run.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hearthcam", "run", "-c", str(config)],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    stack.callback(_kill, process)
    deadline = time.monotonic() + 90
    while not port_answers(port):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    url = f"http://127.0.0.1:{port}"
    web = stack.enter_context(httpx.Client(base_url=url, headers={"origin": url}, timeout=60))
    owner = {"username": f"{name}-owner", "password": PASSWORD, "household": name}
    made = web.post("/api/setup", json=owner)
    assert made.status_code == 201, made.text
    web.headers["X-CSRF-Token"] = made.json()["csrf_token"]
    return HomeProcess(config, data, process, log, url, web)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _share_with_hub(home: HomeProcess) -> str:
    [event] = home.api("GET", "/api/events").json()
    receipt = home.api("GET", f"/api/events/{event['id']}/share/receipt", params={"to": "hub"})
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["receipt"]["hub"]["operator"] == "Northwind Review Co-op"
    body = {"receipt_sha256": receipt.json()["sha256"], "to": "hub"}
    shared = home.api("POST", f"/api/events/{event['id']}/share", json=body)
    assert shared.status_code == 201, shared.text
    return str(shared.json()["id"])


def _wait_at_hub(home: HomeProcess, share_id: str) -> None:
    """Until the home's checks published the share and its delivery sent it (up to 5 min:
    the models load at the first share)."""
    deadline = time.monotonic() + 300
    while True:
        share = home.api("GET", f"/api/shares/{share_id}").json()
        hub = share.get("hub") or {}
        if hub.get("state") == "held":
            return
        assert share["status"] not in ("disposed", "owner_only"), share
        assert time.monotonic() < deadline, (share, home.log.read_text()[-3000:])
        time.sleep(1.0)


def _count(database: str, query: str) -> int:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def _annotator(hub_url: str, database: str) -> httpx.Client:
    link = _run("hub", "annotator", "add", "ada", "--database", database, "--url", hub_url)
    token = link.strip().split("#", 1)[1]
    client = httpx.Client(base_url=hub_url, headers={"origin": hub_url}, timeout=120)
    secret = client.post("/api/enrol/totp", json={"token": token}).json()["secret"]
    body = {"token": token, "password": "walks by the long quiet river path",
            "code": pyotp.TOTP(secret).now()}  # fmt: skip
    done = client.post("/api/enrol", json=body)
    assert done.status_code == 200, done.text
    client.headers["X-CSRF-Token"] = done.json()["csrf_token"]
    return client


@pytest.mark.timeout(900)
def test_two_home_processes_and_a_hub_on_postgresql(
    tmp_path: Path, postgres_host: str, footage: Path
) -> None:
    database = new_database(postgres_host)
    (tmp_path / "hub").mkdir()
    with served_hub(tmp_path / "hub", database) as hub, ExitStack() as stack:
        homes = [
            _home(stack, tmp_path, name, hub.url, database, footage) for name in ("maple", "oak")
        ]
        shares = [_share_with_hub(home) for home in homes]
        for home, share_id in zip(homes, shares, strict=True):
            _wait_at_hub(home, share_id)
        # The hub's own checks (its worker, the real models) pass both blurred copies.
        deadline = time.monotonic() + 300
        query = "SELECT count(*) FROM hub_clip_checks WHERE state = 'passed'"
        while _count(database, query) < 2:
            assert time.monotonic() < deadline, hub.said()[-3000:]
            time.sleep(1.0)

        annotator = _annotator(hub.url, database)
        stack.callback(annotator.close)
        for _ in homes:
            lease = annotator.post("/api/review/leases")
            assert lease.status_code == 201, lease.text
            clip = annotator.get(lease.json()["clip_url"])
            assert clip.status_code == 200
            assert clip.headers["content-type"] == "video/mp4"
            done = annotator.post(
                f"/api/review/leases/{lease.json()['id']}/annotation", json={"verdict": "threat"}
            )
            assert done.status_code == 201, done.text
        assert annotator.get("/api/review/queue").json()["available"] == 0
        assert _count(database, "SELECT count(*) FROM hub_annotations") == 2

        # Each owner's own check of the hub's log: one view of their clip, not the other's.
        for home in homes:
            said = " ".join(_run("hub", "check", "-c", str(home.config)).split())
            assert "checks out: 1 view of your clips (the log holds 2 entries)" in said
        # The owners compare their checkpoints: one log.
        given = tmp_path / "maple.json"
        given.write_text(_run("hub", "checkpoint", "-c", str(homes[0].config)))
        assert "of one log" in _run("hub", "compare", str(given), "-c", str(homes[1].config))

        # The first owner withdraws: the hub's copy and its annotation go, with a receipt.
        gone = homes[0].api("DELETE", f"/api/shares/{shares[0]}")
        assert gone.status_code == 200, gone.text
        [deletion] = homes[0].api("GET", "/api/hub/deletions").json()
        assert deletion["state"] == "deleted"
        assert _count(database, "SELECT count(*) FROM hub_clips") == 1
        assert _count(database, "SELECT count(*) FROM hub_annotations") == 1

        for home in homes:
            home.process.send_signal(signal.SIGINT)
            assert home.process.wait(60) == 0, home.log.read_text()[-3000:]
            assert "Traceback" not in home.log.read_text()
        hub.process.send_signal(signal.SIGINT)
        assert hub.process.wait(60) == 0, hub.said()[-3000:]
    assert "Traceback" not in hub.said()
