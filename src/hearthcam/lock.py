"""The exclusive lock of a data directory: one hearthcam process at a time recovers and writes it.

``<data_dir>/hearthcam.lock`` is locked with ``flock`` for as long as the holder lives (``run``
for the server's life; ``analyze``, ``demo`` and a state-changing command with no server for their
duration). The kernel drops a ``flock`` when its process dies, so a lock left by ``kill -9`` is
free again at once; the file's content tells the next holder that the last one did not stop
cleanly (a clean release empties it). The content, one JSON object (pid, command, start time),
also lets a refused process name the holder.

Start-up recovery (``recordings.recovery``) salvages half-written files and destroys the keys of
missing ones; run beside a live recorder it destroys footage, so only the lock's holder may run it
(``app.open_store_and_media`` takes the lock as an argument).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hearthcam.errors import HearthcamError

LOCK_FILE: Final = "hearthcam.lock"
_READ_TRIES: Final = 20  # the holder writes its record just after locking: a reader may race it

log = logging.getLogger(__name__)


def lock_path(data_dir: Path) -> Path:
    """Where the lock of ``data_dir`` lives."""
    return data_dir / LOCK_FILE


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or last held) a data directory's lock."""

    pid: int
    command: str
    since: float

    def describe(self) -> str:
        """``pid 123 (hearthcam run) since 2026-12-03 14:00:01``."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} ({self.command}) since {when}"

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "command": self.command, "since": self.since})

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        """The holder a lock file names, or None if it names none (empty or half-written)."""
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["command"]), float(data["since"]))
        except (ValueError, TypeError, KeyError):
            return None


class LockError(HearthcamError):
    """The data directory's lock cannot be taken (busy, or its file cannot be opened)."""


class DataDirBusy(LockError):
    """Another process holds the data directory's lock."""

    def __init__(self, data_dir: Path, holder: Holder | None) -> None:
        self.data_dir, self.holder = data_dir, holder
        who = holder.describe() if holder is not None else "another process"
        super().__init__(
            f"data directory {data_dir} is in use by {who}: stop that hearthcam first "
            "(or give this one another data_dir)"
        )


class LockNotHeld(LockError):
    """Something that needs the data directory's lock was called without holding it."""


def this_command() -> str:
    """How this process was started, short: ``hearthcam run`` for the CLI."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in ("hearthcam", "__main__.py"):
        words = ["hearthcam", *(a for a in sys.argv[1:3] if not a.startswith("-"))]
        return " ".join(words)
    return " ".join([program, *sys.argv[1:2]])[:120]


def read_holder(data_dir: Path) -> Holder | None:
    """The holder the lock file names now (None: free, or it could not be read)."""
    for _ in range(_READ_TRIES):
        try:
            text = lock_path(data_dir).read_text(encoding="utf-8")
        except OSError:
            return None
        holder = Holder.from_json(text) if text else None
        if holder is not None:
            return holder
        time.sleep(0.01)
    return None


class DataDirLock:
    """A held lock of one data directory; ``release`` (or leaving the ``with``) gives it back."""

    def __init__(self, data_dir: Path, fd: int, holder: Holder, stale: Holder | None) -> None:
        self.data_dir = data_dir
        self.holder = holder
        self.stale = stale  # the last holder, if it died holding the lock
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path, command: str | None = None) -> DataDirLock:
        """Takes the lock of ``data_dir`` (created if missing) without waiting.

        Raises:
            DataDirBusy: another process (or another holder in this one) has it.
            LockError: the lock file cannot be made or opened (permissions).
        """
        root = data_dir.expanduser().absolute()
        path = lock_path(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise LockError(f"cannot lock {path}: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirBusy(root, read_holder(root)) from None
        except OSError:
            os.close(fd)
            raise
        previous = Holder.from_json(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        holder = Holder(os.getpid(), command or this_command(), time.time())
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.to_json().encode(), 0)
        os.fsync(fd)
        if previous is not None:
            log.warning(
                "took over a stale lock of %s: %s (%s) did not stop cleanly",
                root,
                previous.describe(),
                "it is gone" if not _alive(previous.pid) else "its pid is reused now",
            )
        return cls(root, fd, holder, previous)

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def covers(self, data_dir: Path) -> bool:
        """Whether this is a held lock of ``data_dir``."""
        return self.held and self.data_dir.resolve() == data_dir.expanduser().absolute().resolve()

    def require(self, data_dir: Path) -> None:
        """Raises LockNotHeld unless this is a held lock of ``data_dir``."""
        if not self.covers(data_dir):
            raise LockNotHeld(f"the lock of {data_dir} is not held (held: {self.data_dir})")

    def release(self) -> None:
        """Empties the record (a clean stop) and unlocks; a second call does nothing."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
