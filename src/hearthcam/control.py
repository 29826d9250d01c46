"""The control channel of a running server: a Unix socket only its owner can reach.

``hearthcam run`` serves ``<data_dir>/run/control.sock`` (folder 0700, socket 0600, and the peer's
uid is checked too). A command that changes state while a server holds the data directory
(``user add``, ``models promote|rollback``, ``train``) sends its request here, so the server's own
services do the work and nothing else writes the data directory beside it.

The protocol is JSON lines, one request per connection: the client sends one line
``{"op": ..., "args": {...}}``; the server answers with any number of progress lines
``{"step": "..."}`` and then one final line, ``{"ok": true, "result": {...}}`` or
``{"ok": false, "error": "..."}``. This module knows the messages and the socket, not what they
do: the server runs a handler it is given (``commands.Commands.execute``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final

from hearthcam.errors import HearthcamError

SERVER_COMMAND: Final = "hearthcam run"  # how the lock names a holder that serves the socket
RUN_DIR: Final = "run"
SOCKET_NAME: Final = "control.sock"
_MAX_LINE: Final = 64 * 1024
_READ_TIMEOUT: Final = 10.0
_SUN_PATH_MAX: Final = 100  # sockaddr_un holds 108 bytes; longer paths go through /proc

log = logging.getLogger(__name__)


def socket_path(data_dir: Path) -> Path:
    """Where the control socket of ``data_dir`` lives."""
    return data_dir / RUN_DIR / SOCKET_NAME


# --- errors --------------------------------------------------------------------------------------


class ControlError(HearthcamError):
    """The control channel failed, or the server refused the request."""


class ServerUnreachable(ControlError):
    """No server answers on the control socket."""


class CommandRefused(ControlError):
    """The command ran and was refused (a wrong role, an unknown model id, ...)."""


class ProtocolError(ControlError):
    """A line on the socket is not a message of this protocol."""


# --- messages ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddUser:
    """``hearthcam user add``."""

    username: str
    password: str
    role: str
    household: str  # a name (first owner, a new household) or an id


@dataclass(frozen=True, slots=True)
class PromoteModel:
    """``hearthcam models promote ID`` (an id prefix)."""

    model_id: str


@dataclass(frozen=True, slots=True)
class RollbackModel:
    """``hearthcam models rollback``."""


@dataclass(frozen=True, slots=True)
class TrainModel:
    """``hearthcam train``."""

    test_fraction: float = 0.25
    seed: int = 0


Request = AddUser | PromoteModel | RollbackModel | TrainModel


@dataclass(frozen=True, slots=True)
class UserAdded:
    """The user a request added."""

    username: str
    role: str
    household_id: int | None


@dataclass(frozen=True, slots=True)
class Serving:
    """The model served now (None: the built-in rules)."""

    model_id: str | None


@dataclass(frozen=True, slots=True)
class MetricsSummary:
    """One model's held-out numbers, as ``train`` prints them."""

    threat_recall: float
    threat_precision: float
    alerts: int
    false_alerts: int
    false_alerts_per_camera_day: float
    confusion: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class Trained:
    """What a training run did (``learn.retrain.Outcome`` without the live objects)."""

    candidate_id: str
    promoted: bool
    why: str
    baseline: str  # the model compared against: an id, or "rules"
    candidate_metrics: MetricsSummary
    baseline_metrics: MetricsSummary
    train: int
    test: int
    split_note: str


Response = UserAdded | Serving | Trained

_REQUESTS: Final[dict[str, type[Request]]] = {
    "user_add": AddUser,
    "models_promote": PromoteModel,
    "models_rollback": RollbackModel,
    "train": TrainModel,
}
_OPS: Final = {kind: op for op, kind in _REQUESTS.items()}
_RESPONSES: Final[dict[str, type[Response]]] = {
    "user_added": UserAdded,
    "serving": Serving,
    "trained": Trained,
}
_KINDS: Final = {kind: name for name, kind in _RESPONSES.items()}


def _build(cls: type[Any], data: object) -> Any:
    """A message dataclass from its JSON object (nested summaries too); ProtocolError if not."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{cls.__name__}: expected an object")
    try:
        values = {}
        for f in fields(cls):
            value = data[f.name]
            if f.type == "MetricsSummary":  # postponed annotations: the type's name
                value = _build(MetricsSummary, value)
            values[f.name] = value
        return cls(**values)
    except (KeyError, TypeError) as error:
        raise ProtocolError(f"{cls.__name__}: {error}") from None


def encode_request(request: Request) -> bytes:
    """One request line."""
    return _line({"op": _OPS[type(request)], "args": asdict(request)})


def decode_request(line: bytes) -> Request:
    """The request of a line; ProtocolError if it is none."""
    data = _parse(line)
    kind = _REQUESTS.get(str(data.get("op")))
    if kind is None:
        raise ProtocolError(f"unknown op {data.get('op')!r}")
    request: Request = _build(kind, data.get("args", {}))
    return request


def encode_response(response: Response) -> bytes:
    """The final line of a request that succeeded."""
    return _line({"ok": True, "kind": _KINDS[type(response)], "result": asdict(response)})


def encode_failure(message: str) -> bytes:
    """The final line of a request that was refused or failed."""
    return _line({"ok": False, "error": message})


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _parse(line: bytes) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except ValueError:
        raise ProtocolError("not a JSON line") from None
    if not isinstance(data, dict):
        raise ProtocolError("not a JSON object")
    return data


# --- the socket ----------------------------------------------------------------------------------


@contextmanager
def _short_address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits ``sockaddr_un``: the path itself, or (when too long,
    as pytest's temp folders can be) the same place reached through ``/proc/self/fd``."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


Handler = Callable[[Request, Callable[[str], None]], Response]


class ControlServer:
    """Serves the control socket of a data directory on a thread; ``stop`` ends it."""

    def __init__(self, data_dir: Path, handler: Handler) -> None:
        self.path = socket_path(data_dir)
        self._handler = handler
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        folder = self.path.parent
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode passes through the umask; an old folder may differ
        self.path.unlink(missing_ok=True)  # a socket left by a killed server: the lock is ours
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _short_address(self.path) as address:
                self._socket.bind(address)
            os.chmod(self.path, 0o600)  # nobody else can reach the 0700 folder meanwhile
            self._socket.listen(8)
            self._socket.settimeout(0.25)  # accept wakes up to look at the stop flag
        except OSError as error:
            self._socket.close()
            raise ControlError(f"cannot serve {self.path}: {error}") from None
        self._thread = threading.Thread(target=self._serve, name="control")

    def start(self) -> ControlServer:
        """Starts accepting on its own thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops accepting and removes the socket (a command sent now finds no server), then
        waits for the requests in progress (a training run: until it ends)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._socket.close()
        self.path.unlink(missing_ok=True)
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stop.is_set():
                    log.exception("control socket")
                return
            # One thread a request: a training run must not hold up a ``user add``.
            thread = threading.Thread(target=self._answer, args=(connection,), name="control-req")
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            if _peer_uid(connection) not in (None, os.getuid()):
                _send(connection, encode_failure("the control socket serves its owner only"))
                return
            connection.settimeout(_READ_TIMEOUT)  # a client that sends nothing must not hang stop
            try:
                request = decode_request(connection.makefile("rb").readline(_MAX_LINE))
            except (ProtocolError, OSError) as error:
                _send(connection, encode_failure(f"bad request: {error}"))
                return
            connection.settimeout(None)  # the answer may take a training run

            def step(what: str) -> None:
                # A client that left does not stop the work: its progress lines go nowhere.
                _send(connection, _line({"step": what}))

            try:
                reply = encode_response(self._handler(request, step))
            except HearthcamError as error:
                reply = encode_failure(str(error))
            except Exception as error:  # the server keeps serving; the client hears why
                log.exception("control request %s failed", type(request).__name__)
                reply = encode_failure(f"the server failed: {error}")
            if not _send(connection, reply):
                log.warning("control: the client left before its answer")


def _send(connection: socket.socket, data: bytes) -> bool:
    """Sends ``data``; False if the client is gone."""
    try:
        connection.sendall(data)
    except OSError:
        return False
    return True


def _peer_uid(connection: socket.socket) -> int | None:
    """The uid of the process at the other end (Linux ``SO_PEERCRED``), None where unknown."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    raw = connection.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def call(
    data_dir: Path, request: Request, step: Callable[[str], None] = lambda _: None
) -> Response:
    """Sends ``request`` to the server of ``data_dir`` and returns its answer.

    Raises:
        ServerUnreachable: no server listens on the socket.
        CommandRefused: the server ran the request and refused it (its message).
        ProtocolError: the answer is not of this protocol.
    """
    path = socket_path(data_dir)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        try:
            with _short_address(path) as address:
                client.connect(address)
        except OSError as error:  # no socket, nobody listening, or no permission
            raise ServerUnreachable(f"no server answers on {path}: {error.strerror}") from None
        try:
            client.sendall(encode_request(request))
            client.shutdown(socket.SHUT_WR)
            for line in client.makefile("rb"):
                answer = _answer_of(line, step)
                if answer is not None:
                    return answer
        except OSError as error:
            # Not retried: the server may have run the request before the connection broke.
            raise ControlError(f"the server at {path} broke the connection: {error}") from None
    raise ProtocolError(f"the server at {path} closed the connection without an answer")


def _answer_of(line: bytes, step: Callable[[str], None]) -> Response | None:
    """The answer a line carries (None for a progress line, passed to ``step``)."""
    data = _parse(line)
    if "step" in data:
        step(str(data["step"]))
        return None
    if data.get("ok") is not True:
        raise CommandRefused(str(data.get("error", "refused")))
    kind = _RESPONSES.get(str(data.get("kind")))
    if kind is None:
        raise ProtocolError(f"unknown answer {data.get('kind')!r}")
    response: Response = _build(kind, data.get("result"))
    return response
