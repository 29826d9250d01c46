"""The last log records, kept in memory for the System page's logs (``GET /api/system/logs``).

``LogBuffer`` is a ``logging.Handler`` that the web server hangs on the root logger while it
serves (``serve.start_server``) and takes off when it stops; it keeps the last ``capacity``
records as plain text, oldest dropped first, so a long run holds no more than a short one.
Nothing leaves it as it was logged: credentials in URLs (``rtsp://user:***@host``) and
``password=``/``token=``/``secret=``/``key=`` values are masked when the record is kept, so a
secret that reached a log line never reaches a browser. Which camera a record is about is the
record's ``camera`` attribute, else the ``name: `` a camera's messages start with; the API shows
a household only records about its own cameras (``visible``). Request lines (``uvicorn.access``)
are not kept.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass

CAPACITY = 500
_MAX_MESSAGE = 2000  # characters kept of one record (a traceback's last lines)

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
_SECRET_VALUES = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|token|secret|api[_-]?key|key|auth|session)\b\s*[=:]\s*)"
    r"(?P<value>[\"']?)[^\s\"'&,;)]+",
    re.IGNORECASE,
)
# One line per request: it would push everything else out within minutes (and a query string
# is nobody's business on this page).
_IGNORED_LOGGERS = frozenset({"uvicorn.access"})
_CAMERA_PREFIX = re.compile(r"^(?P<camera>[A-Za-z0-9_-]{1,64}): ")


def redact(text: str) -> str:
    """``text`` with URL credentials and ``password=``-like values masked."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}***@", text)
    return _SECRET_VALUES.sub(lambda m: f"{m['key']}{m['value']}***", text)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One kept record: when, how bad, from where, about which camera (if any), and what."""

    seq: int  # increasing: a page asks for lines after the last it has
    at: float
    level: int
    logger: str
    camera: str | None
    message: str

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


class LogBuffer(logging.Handler):
    """Keeps the last ``capacity`` records (thread-safe: ``logging.Handler`` holds its lock)."""

    def __init__(self, capacity: int = CAPACITY, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._seq = 0
        self._read = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in _IGNORED_LOGGERS:
            return
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                message = f"{message} ({type(error).__name__}: {error})"
            message = redact(message)[:_MAX_MESSAGE]
            camera = getattr(record, "camera", None)
            if not isinstance(camera, str):
                match = _CAMERA_PREFIX.match(message)
                camera = match["camera"] if match else None
            with self._read:
                self._seq += 1
                self._lines.append(
                    LogLine(self._seq, record.created, record.levelno, record.name, camera, message)
                )
        except Exception:  # a log handler must never raise into the code that logged
            self.handleError(record)

    def lines(self) -> list[LogLine]:
        """Every kept line, oldest first."""
        with self._read:
            return list(self._lines)

    def install(self, logger: logging.Logger | None = None) -> None:
        """Starts keeping what ``logger`` (the root logger by default) hears."""
        target = logger or logging.getLogger()
        if self not in target.handlers:
            target.addHandler(self)

    def uninstall(self, logger: logging.Logger | None = None) -> None:
        """Stops keeping records (what was kept stays)."""
        (logger or logging.getLogger()).removeHandler(self)


def visible(
    lines: Iterable[LogLine], cameras: Collection[str] | None, known: Collection[str]
) -> list[LogLine]:
    """The lines a viewer may read: all of them for ``cameras=None`` (an admin), else those
    about one of ``cameras``, and box-wide lines (about no camera) that name none of the
    ``known`` cameras outside ``cameras`` (another household's camera stays unseen)."""
    if cameras is None:
        return list(lines)
    others = [c for c in known if c not in cameras]
    foreign = re.compile(r"\b(?:" + "|".join(map(re.escape, others)) + r")\b") if others else None
    shown = []
    for line in lines:
        if line.camera is not None and line.camera in known:
            if line.camera in cameras:
                shown.append(line)
        elif foreign is None or not foreign.search(line.message):
            shown.append(line)
    return shown
