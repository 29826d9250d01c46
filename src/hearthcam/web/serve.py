"""Running the web app: uvicorn on a background thread, stopped by the caller.

The CLI owns the process's signals (SIGINT/SIGTERM stop recording cleanly), so uvicorn runs off
the main thread (``threaded_server``, shared with the review hub) and ``stop`` ends it. Open
streams (SSE, live views) are closed first and any still open after ``GRACEFUL_SECONDS`` are
cancelled, so a stop never hangs on a viewer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import uvicorn

from hearthcam.errors import HearthcamError
from hearthcam.threaded_server import GRACEFUL_SECONDS, listen, serve_in_thread
from hearthcam.web.server import create_app
from hearthcam.web.services import WebServices

# WebSocket messages from the browser are ignored; a large one is refused by uvicorn.
WS_MAX_BYTES = 64 * 1024


class ServerError(HearthcamError):
    """The web server could not start (the port is taken, the address is wrong)."""


@dataclass
class ServerHandle:
    """A running server: its address, and ``stop``."""

    server: uvicorn.Server
    thread: threading.Thread
    services: WebServices
    host: str
    port: int

    @property
    def url(self) -> str:
        """Where the app answers."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Closes the streams, stops the server and waits for its thread (idempotent)."""
        self.services.bus.close_subscribers()
        self.server.should_exit = True
        self.thread.join(timeout)
        self.services.logs.uninstall()


def start_server(
    services: WebServices, host: str = "127.0.0.1", port: int = 8971, ready_timeout: float = 15.0
) -> ServerHandle:
    """Starts the app on ``host:port`` (0: any free port) and returns once it listens.

    Raises ServerError if it cannot bind or does not start within ``ready_timeout`` seconds.
    """
    sock = listen(host, port, ServerError)
    config = uvicorn.Config(
        create_app(services),
        lifespan="on",
        ws_max_size=WS_MAX_BYTES,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        server_header=False,
        # Uvicorn would believe X-Forwarded-For from loopback; web.client_address decides
        # whose forwarding to believe (web.trusted_proxies), and nothing else may.
        proxy_headers=False,
        log_level="info",
    )
    # The System page's logs: what the box logs while it serves (web.log_buffer).
    services.logs.install()
    server, thread, bound = serve_in_thread(
        config,
        sock,
        "web",
        ready_timeout,
        lambda: ServerError(f"the web server did not start on {host}:{port}"),
        services.logs.uninstall,
    )
    return ServerHandle(server, thread, services, host, bound)
