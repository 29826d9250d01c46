"""An ASGI app on uvicorn in a background thread: what the web app and the review hub share.

The CLI owns the process's signals (SIGINT/SIGTERM stop things in order), so uvicorn must not
install its own: it runs off the main thread, where it leaves signals alone, and the caller stops
it (``should_exit``). The socket is bound here, in the caller, so a taken port is refused with
its reason before any thread starts; ``cannot_bind`` probes a port the same way before anything
else is made.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import uvicorn

from hearthcam.errors import HearthcamError

GRACEFUL_SECONDS: Final = 3


def _address(host: str, port: int) -> tuple[int, int, int, Any]:
    family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return family, kind, proto, address


def cannot_bind(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now (None: it can; port 0 always can). The server binds
    it again later, as this probe does (SO_REUSEADDR)."""
    if port == 0:
        return None
    try:
        family, kind, proto, address = _address(host, port)
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        return str(error.strerror or error)
    return None


def listen(host: str, port: int, error: type[HearthcamError]) -> socket.socket:
    """A bound socket; ``error`` ("cannot listen on host:port: why") if it cannot be."""
    try:
        family, kind, proto, address = _address(host, port)
        sock = socket.socket(family, kind, proto)
    except OSError as failure:
        raise error(f"cannot listen on {host}:{port}: {failure}") from failure
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as failure:
        sock.close()
        raise error(f"cannot listen on {host}:{port}: {failure.strerror}") from failure
    return sock


def serve_in_thread(
    config: uvicorn.Config,
    sock: socket.socket,
    name: str,
    ready_timeout: float,
    error: Callable[[], HearthcamError],
    on_failure: Callable[[], None] = lambda: None,
) -> tuple[uvicorn.Server, threading.Thread, int]:
    """Runs ``config``'s app on the bound ``sock`` in a daemon thread named ``name``; returns
    the server, its thread and its port once it listens. If it does not start within
    ``ready_timeout`` seconds (or its thread ends), ``on_failure`` runs and ``error()`` is
    raised."""
    server = uvicorn.Server(config)

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except SystemExit:  # uvicorn exits on a failed startup; reported below
            pass
        finally:
            sock.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    port = int(sock.getsockname()[1])
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(GRACEFUL_SECONDS)
            on_failure()
            raise error()
        time.sleep(0.02)
    return server, thread, port
