"""The control socket and the commands sent over it: a real Unix socket, a real SQLite store, the
real account and model services; the lock decides whether a command goes to a server."""

from __future__ import annotations

import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hearthcam import control
from hearthcam.accounts import Accounts, Role
from hearthcam.commands import Commands, send
from hearthcam.control import (
    AddUser,
    CommandRefused,
    ControlServer,
    PromoteModel,
    Request,
    Response,
    RollbackModel,
    ServerUnreachable,
    Serving,
    Trained,
    TrainModel,
    UserAdded,
)
from hearthcam.errors import HearthcamError
from hearthcam.lock import DataDirBusy, DataDirLock
from tests.learn.test_retrain import Home, annotate, home
from tests.learn.test_train import world

__all__ = ["home"]

PASSWORD = "correct-horse-battery"


def echo(request: Request, step: Callable[[str], None]) -> Response:
    """A handler for the protocol tests: names what it got."""
    step("thinking")
    if isinstance(request, PromoteModel):
        if request.model_id == "boom":
            raise RuntimeError("disk on fire")
        if request.model_id == "nope":
            raise CommandRefused("'nope' names 0 models")
        return Serving(request.model_id)
    return Serving(None)


def test_a_request_and_its_answer_cross_the_socket_with_progress(tmp_path: Path) -> None:
    server = ControlServer(tmp_path, echo).start()
    try:
        steps: list[str] = []
        assert control.call(tmp_path, PromoteModel("abc"), steps.append) == Serving("abc")
        assert steps == ["thinking"]
        assert control.call(tmp_path, RollbackModel()) == Serving(None)
        with pytest.raises(CommandRefused, match="'nope' names 0 models"):
            control.call(tmp_path, PromoteModel("nope"))
        with pytest.raises(CommandRefused, match="the server failed: disk on fire"):
            control.call(tmp_path, PromoteModel("boom"))
        assert control.call(tmp_path, PromoteModel("again")) == Serving("again")  # still serving
    finally:
        server.stop()
    assert not control.socket_path(tmp_path).exists()
    with pytest.raises(ServerUnreachable, match="no server answers"):
        control.call(tmp_path, RollbackModel())


def test_only_the_owner_can_reach_the_socket(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir(mode=0o755)  # a folder left too open is closed again
    server = ControlServer(tmp_path, echo).start()
    try:
        folder, sock = tmp_path / "run", control.socket_path(tmp_path)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    finally:
        server.stop()


def test_a_path_longer_than_a_socket_address_still_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert len(str(control.socket_path(deep))) > 108
    server = ControlServer(deep, echo).start()
    try:
        assert control.call(deep, PromoteModel("x")) == Serving("x")
    finally:
        server.stop()


def test_a_line_that_is_no_request_is_answered_with_why(tmp_path: Path) -> None:
    server = ControlServer(tmp_path, echo).start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(control.socket_path(tmp_path)))
            client.sendall(b'{"op": "format_disk"}\n')
            answer = client.makefile("rb").readline()
        assert b'"ok":false' in answer
        assert b"unknown op" in answer
    finally:
        server.stop()


def test_a_server_that_holds_the_lock_runs_the_commands_with_its_services(home: Home) -> None:
    events, truth = world(120, seed=2)
    annotate(home, events, truth, households=5)
    cameras = ["garden", "porch"]
    checked: list[int] = []

    def models_changed() -> None:
        checked.append(1)

    commands = Commands(home.store, home.data, lambda: cameras, models_changed)
    url = f"sqlite:///{home.data / 'hearthcam.db'}"
    with DataDirLock.acquire(home.data, control.SERVER_COMMAND):
        server = ControlServer(home.data, commands.execute).start()
        try:
            added, by_server = send(
                home.data, url, AddUser("alice", PASSWORD, "owner", "Home"), command="t"
            )
            assert by_server
            assert added == UserAdded("alice", "owner", 1)
            owners = Accounts(home.store).list_users()
            assert [(u.username, u.role) for u in owners] == [("alice", Role.OWNER)]
            assert sorted(Accounts(home.store).household_cameras(1)) == cameras
            with pytest.raises(CommandRefused, match="--household ID"):
                send(home.data, url, AddUser("bob", PASSWORD, "member", "Home"), command="t")

            steps: list[str] = []
            trained, _ = send(home.data, url, TrainModel(), command="t", step=steps.append)
            assert isinstance(trained, Trained)
            assert trained.promoted
            assert trained.candidate_metrics.false_alerts <= trained.baseline_metrics.false_alerts
            assert "gathering annotated events" in steps
            assert send(home.data, url, RollbackModel(), command="t")[0] == Serving(None)
            assert home.registry.served() is None
            promoted, _ = send(home.data, url, PromoteModel(trained.candidate_id[:8]), command="t")
            assert promoted == Serving(trained.candidate_id)
            served = home.registry.served()
            assert served is not None
            assert served.id == trained.candidate_id
            assert len(checked) == 3  # the server looked at the served model after each change
        finally:
            server.stop()


def test_with_no_server_a_command_takes_the_lock_and_runs_here(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'hearthcam.db'}"
    data.mkdir()
    added, by_server = send(
        data, url, AddUser("alice", PASSWORD, "owner", "Home"), command="hearthcam user add"
    )
    assert not by_server
    assert isinstance(added, UserAdded)
    DataDirLock.acquire(data).release()  # given back
    assert not (data / "recordings").exists()  # no recovery ran


def test_a_holder_that_serves_no_socket_refuses_the_command_naming_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'hearthcam.db'}"
    with DataDirLock.acquire(data, "hearthcam analyze"):
        started = time.monotonic()
        with pytest.raises(DataDirBusy, match=r"\(hearthcam analyze\) since"):
            send(data, url, RollbackModel(), command="hearthcam models rollback")
        assert time.monotonic() - started < 5  # no waiting for a socket that never comes


def test_a_command_waits_for_a_server_still_starting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'hearthcam.db'}"
    servers: list[ControlServer] = []
    with DataDirLock.acquire(data, control.SERVER_COMMAND):
        # The server holds the lock from its first moment but serves the socket after recovery.
        later = threading.Timer(1.0, lambda: servers.append(ControlServer(data, echo).start()))
        later.start()
        try:
            answer, by_server = send(data, url, PromoteModel("m1"), command="t", wait=20)
        finally:
            later.join()
            for server in servers:
                server.stop()
    assert by_server
    assert answer == Serving("m1")


def test_refusals_are_hearthcam_errors() -> None:
    for error in (ServerUnreachable, CommandRefused, DataDirBusy):
        assert issubclass(error, HearthcamError)
