"""The data directory's lock: one holder at a time, across processes; a killed holder's lock is
taken over; recovery needs it held."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hearthcam import app
from hearthcam.cli import cli
from hearthcam.config import parse_config
from hearthcam.lock import LOCK_FILE, DataDirBusy, DataDirLock, LockNotHeld, read_holder
from hearthcam.pipeline.detect import ScriptedDetector
from tests.conftest import ClipFactory

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hearthcam.lock import DataDirLock
    lock = DataDirLock.acquire(Path(sys.argv[1]), "hearthcam run")
    print("held", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of ``tmp_path / "data"`` (until the test ends)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "data")], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()
    process.stdout.close()


def test_the_lock_file_names_its_holder_and_a_clean_release_empties_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DataDirLock.acquire(data, "hearthcam analyze") as lock:
        assert lock.held
        assert lock.stale is None
        record = json.loads((data / LOCK_FILE).read_text())
        assert record["pid"] == os.getpid()
        assert record["command"] == "hearthcam analyze"
        assert read_holder(data) == lock.holder
        assert (data / LOCK_FILE).stat().st_mode & 0o777 == 0o600
    assert not lock.held
    assert (data / LOCK_FILE).read_text() == ""
    assert read_holder(data) is None
    DataDirLock.acquire(data).release()  # free again, and no stale warning for a clean stop


@pytest.mark.integration
def test_a_second_holder_in_another_process_is_refused_naming_the_first(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with pytest.raises(DataDirBusy) as refused:
        DataDirLock.acquire(data, "hearthcam run")
    assert refused.value.holder is not None
    assert refused.value.holder.pid == holder.pid
    message = str(refused.value)
    assert str(data) in message
    assert f"pid {holder.pid} (hearthcam run) since " in message
    assert "stop that hearthcam first" in message
    holder.terminate()  # a process that ends lets go of its lock
    holder.wait()
    with DataDirLock.acquire(data) as lock:
        assert lock.held


@pytest.mark.integration
def test_a_lock_left_by_kill_9_is_taken_over_and_said_so(
    holder: subprocess.Popen[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder.send_signal(signal.SIGKILL)
    assert holder.wait() == -signal.SIGKILL
    with caplog.at_level(logging.WARNING), DataDirLock.acquire(tmp_path / "data") as lock:
        assert lock.stale is not None
        assert lock.stale.pid == holder.pid
        assert lock.stale.command == "hearthcam run"
    assert f"took over a stale lock of {tmp_path / 'data'}: pid {holder.pid}" in caplog.text
    assert "did not stop cleanly" in caplog.text


def test_a_second_holder_in_the_same_process_is_refused_too(tmp_path: Path) -> None:
    first = DataDirLock.acquire(tmp_path / "data")
    with pytest.raises(DataDirBusy, match=f"pid {os.getpid()}"):
        DataDirLock.acquire(tmp_path / "data")
    first.release()
    first.release()  # a second release does nothing
    DataDirLock.acquire(tmp_path / "data").release()


def test_recovery_needs_the_held_lock_of_that_data_directory(tmp_path: Path) -> None:
    config = parse_config({"data_dir": str(tmp_path / "data")})
    with DataDirLock.acquire(tmp_path / "other") as other, pytest.raises(LockNotHeld):
        app.open_store_and_media(config, other)
    lock = DataDirLock.acquire(tmp_path / "data")
    lock.release()
    with pytest.raises(LockNotHeld):
        app.open_store_and_media(config, lock)
    assert not (tmp_path / "data" / "hearthcam.db").exists()  # refused before opening anything
    with DataDirLock.acquire(tmp_path / "data") as lock:
        store, _media = app.open_store_and_media(config, lock)
        store.close()


def test_build_takes_the_lock_and_close_gives_it_back(tmp_path: Path) -> None:
    config = parse_config({"data_dir": str(tmp_path / "data"), "web": {"enabled": False}})
    runtime = app.build(config, detector=ScriptedDetector([]), alerts=False)
    try:
        with pytest.raises(DataDirBusy):
            app.build(config, detector=ScriptedDetector([]), alerts=False)
    finally:
        runtime.close()
    with DataDirLock.acquire(tmp_path / "data") as lock:
        again = app.build(config, detector=ScriptedDetector([]), alerts=False, lock=lock)
        again.close()
        assert lock.held  # a lock the caller gave stays the caller's


def test_analyze_into_a_data_directory_a_server_holds_is_refused(
    make_clip: ClipFactory, tmp_path: Path
) -> None:
    clip = make_clip(seconds=1)
    config = tmp_path / "hearthcam.yml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    with DataDirLock.acquire(tmp_path / "data", "hearthcam run"):
        result = CliRunner().invoke(cli, ["analyze", str(clip), "--config", str(config)])
    assert result.exit_code == 2
    assert f"is in use by pid {os.getpid()} (hearthcam run)" in result.output
    assert not (tmp_path / "data" / "hearthcam.db").exists()  # refused before recovery
