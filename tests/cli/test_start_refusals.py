"""``hearthcam run`` over a damaged data directory refuses to start, in one line, touching
nothing; a stop signal stops it in every phase (issue 14, items 2-4).

Before: a corrupt view log key left a traceback and a process that never exited (a non-daemon
thread was started before the failure); a missing master key was silently replaced, a deleted
database silently recreated (the owner setup reopened, footage set aside as unknown), a corrupt
one three SQLAlchemy tracebacks.

Real parts: the data directory is recorded by ``app.build`` (``analyze``) over a real H.264 file
with the packaged model, then damaged; ``python -m hearthcam run`` runs in a subprocess.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from hearthcam import analysis
from hearthcam.config import parse_config
from hearthcam.vault.inventory import media_files
from tests.cli.test_cli import Launcher, hearthcam, launch, run_config, wait_until
from tests.conftest import write_clip

pytestmark = pytest.mark.integration
__all__ = ["launch"]

BOUND = 60  # seconds a refused start may take, at most (it used to never end)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with sealed segments (and whatever events the clip gave), recorded by
    the app over a real file, never started by ``run``: no view log key yet."""
    work = tmp_path_factory.mktemp("recorded")
    clip = write_clip(work / "porch.mp4", seconds=6)
    data = work / "data"
    config = parse_config({"data_dir": str(data), "record": {"segment_seconds": 1}})
    analysis.analyze(str(clip), config)
    assert list((data / "recordings").rglob("*.mp4")), "the app recorded no segment"
    return data


@pytest.fixture
def copy(recorded: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(config, data): a copy of the recorded data directory, ``run``'s config over it."""
    config, data = run_config(tmp_path)
    shutil.copytree(recorded, data)
    return config, data


def hashes(data: Path) -> dict[Path, str]:
    """SHA-256 of every media file (and every secret) of the data directory."""
    files = [*media_files(data), *(data / "secrets").glob("*")]
    return {p.relative_to(data): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def refused(config: Path, cwd: Path) -> str:
    """Runs ``run``; asserts it exits 2 within BOUND with one error line; returns that line."""
    done = hearthcam("run", "--config", str(config), cwd=cwd, timeout=BOUND)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert all(line.startswith(("error:", "20")) for line in done.stderr.splitlines()), (
        done.stderr  # nothing but that line and log records
    )
    return errors[0]


def test_a_corrupt_view_log_key_fails_the_start_in_one_line_and_the_process_ends(
    copy: tuple[Path, Path], tmp_path: Path
) -> None:
    config, data = copy
    key = data / "secrets" / "audit-ed25519.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n")
    before = hashes(data)
    line = refused(config, tmp_path)
    assert f"cannot read the view log key {key}" in line
    assert "restore secrets/audit-ed25519.pem from your backup" in line
    assert hashes(data) == before  # checked before recovery: no Web Push key made either
    assert (data / "hearthcam.lock").read_text() == ""  # released cleanly


def test_a_missing_master_key_beside_sealed_media_is_refused_and_none_is_made(
    copy: tuple[Path, Path], tmp_path: Path
) -> None:
    config, data = copy
    secret = data / "secrets" / "master.key"
    secret.unlink()
    before = hashes(data)
    line = refused(config, tmp_path)
    assert f"no server secret at {secret}" in line
    assert "restore secrets/master.key from your backup" in line
    assert not secret.exists()
    assert not (data / "corrupt").exists()
    assert hashes(data) == before


@pytest.mark.parametrize(
    ("garble", "says"),
    [
        (lambda old: old[:20], "a server secret is 32 bytes, not 20"),
        (lambda old: bytes(b ^ 0x5A for b in old), "does not open this database's keys"),
    ],
    ids=["truncated", "another-secret"],
)
def test_a_garbled_master_key_is_refused_and_kept(
    copy: tuple[Path, Path], tmp_path: Path, garble: Callable[[bytes], bytes], says: str
) -> None:
    config, data = copy
    secret = data / "secrets" / "master.key"
    secret.write_bytes(garble(secret.read_bytes()))
    before = hashes(data)
    line = refused(config, tmp_path)
    assert says in line
    assert "restore secrets/master.key from your backup" in line
    assert not (data / "corrupt").exists()
    assert hashes(data) == before  # the garbled secret too: never overwritten


def test_media_without_their_database_are_refused_and_kept(
    copy: tuple[Path, Path], tmp_path: Path
) -> None:
    config, data = copy
    database = data / "hearthcam.db"
    database.unlink()
    before = hashes(data)
    line = refused(config, tmp_path)
    assert f"no database at {database}" in line
    assert "restore hearthcam.db from your backup" in line
    assert not database.exists()  # not made afresh: the owner setup stays closed
    assert not (data / "corrupt").exists()
    assert hashes(data) == before


def test_a_corrupt_database_is_refused_in_one_line_naming_it(
    copy: tuple[Path, Path], tmp_path: Path
) -> None:
    config, data = copy
    database = data / "hearthcam.db"
    with open(database, "r+b") as file:
        file.write(b"this is not SQLite at all")  # over the 16-byte header and beyond
    before = hashes(data)
    line = refused(config, tmp_path)
    assert f"cannot open the database {database}: file is not a database" in line
    assert not (data / "corrupt").exists()
    assert hashes(data) == before


@pytest.fixture
def busy_database(copy: tuple[Path, Path]) -> Iterator[None]:
    """Another program holds the database's write lock (a backup, an sqlite3 shell): a start
    waits on it (for its 30 s busy timeout)."""
    with closing(sqlite3.connect(copy[1] / "hearthcam.db", isolation_level=None)) as db:
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM gaps")
        yield
        db.execute("ROLLBACK")


def holds(data: Path, pid: int) -> bool:
    """Whether the lock's record names ``pid`` (written once a start has taken the lock)."""
    try:
        return f'"pid": {pid},' in (data / "hearthcam.lock").read_text()
    except FileNotFoundError:
        return False


@pytest.mark.usefixtures("busy_database")
def test_sigterm_during_a_slow_start_stops_it(
    copy: tuple[Path, Path], launch: Launcher, tmp_path: Path
) -> None:
    config, data = copy
    before = hashes(data)
    proc = launch("run", "--config", str(config))
    # The lock's record is written once the start has begun (and the database holds it there).
    wait_until(lambda: holds(data, proc.process.pid), "the start", 60, proc)
    assert "web app at" not in proc.stderr()
    code, took = proc.stop(timeout=30)
    assert code == 0, proc.stderr()  # it was killed by the signal's default action (-15)
    assert took < 15
    assert "SIGTERM: stopping" in proc.stderr()
    assert "Traceback" not in proc.stderr()
    assert hashes(data) == before


def test_a_fresh_data_directory_still_starts_and_gets_a_secret(
    launch: Launcher, tmp_path: Path
) -> None:
    config, data = run_config(tmp_path)
    proc = launch("run", "--config", str(config))
    wait_until(lambda: "web app at" in proc.stderr(), "the web app", 60, proc)
    assert "first start: create the owner account there" in proc.stderr()
    assert (data / "secrets" / "master.key").stat().st_size == 32
    code, _ = proc.stop()
    assert code == 0, proc.stderr()
    assert "stopped cleanly" in proc.stderr()


STUCK_STOP = """
    import threading
    from hearthcam.cli.stopping import Phase, StopSignals

    with StopSignals() as signals:
        signals.enter(Phase.RUNNING)
        print("running", flush=True)
        signals.stop.wait()
        signals.enter(Phase.STOPPING)
        print("stopping", flush=True)
        threading.Event().wait()  # a part that never stops
"""


def test_a_second_signal_while_stopping_exits_at_once(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STUCK_STOP)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "running\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline() == "stopping\n"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(10)
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 1
    _, stderr = proc.communicate()
    assert "SIGTERM: stopping" in stderr
    assert "SIGINT again: exiting now" in stderr
    assert "Traceback" not in stderr
