"""Driving the ASGI app directly, for answers that never end (SSE, MJPEG).

Starlette's TestClient and httpx's ASGI transport both wait for the whole body, which an event
stream never finishes. ``AppSession`` runs the app's lifespan once and ``StreamCall`` plays the
server's part for one request: it hands over the body, collects what the app sends, and sends
``http.disconnect`` when the test is done, as a browser closing the page would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

Message = dict[str, Any]


@dataclass
class StreamCall:
    """One request in flight."""

    task: asyncio.Task[None]
    messages: asyncio.Queue[Message]
    disconnect: asyncio.Event
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = False

    async def _next(self, timeout: float) -> Message | None:
        try:
            return await asyncio.wait_for(self.messages.get(), timeout)
        except TimeoutError:
            return None

    async def started(self, timeout: float = 5.0) -> int:
        """Waits for the response start; returns the status."""
        while not self.status:
            message = await self._next(timeout)
            if message is None:
                raise AssertionError("no response started")
            self._take(message)
        return self.status

    def _take(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            self.complete = not message.get("more_body", False)

    async def read_until(self, done: Callable[[bytes], bool], timeout: float = 5.0) -> bytes:
        """Collects body bytes until ``done(body)`` or the response ends."""
        await self.started(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done(self.body) and not self.complete:
            message = await self._next(max(0.0, deadline - loop.time()))
            if message is None:
                raise AssertionError(f"timed out; body so far: {self.body[-400:]!r}")
            self._take(message)
        return self.body

    async def close(self, timeout: float = 5.0) -> None:
        """Disconnects as a client would and waits for the app to finish."""
        self.disconnect.set()
        await asyncio.wait_for(self.task, timeout)
        while not self.messages.empty():
            self._take(self.messages.get_nowait())


@dataclass
class AppSession:
    """The app with its lifespan running, and its state for requests."""

    app: FastAPI
    state: dict[str, Any]

    def call(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        query: str = "",
    ) -> StreamCall:
        """Starts a request (call ``close`` when done); a query may also come in ``path``."""
        if not query and "?" in path:
            path, query = path.split("?", 1)
        raw_headers = [(b"host", b"testserver")]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if body:
            raw_headers.append((b"content-length", str(len(body)).encode()))
        scope: Message = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": raw_headers,
            "client": ("testclient", 50000),
            "server": ("testserver", 80),
            "state": dict(self.state),
        }
        messages: asyncio.Queue[Message] = asyncio.Queue()
        disconnect = asyncio.Event()
        sent_body = False

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            await messages.put(dict(message))

        task = asyncio.create_task(self.app(scope, receive, send))
        return StreamCall(task, messages, disconnect)

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        query: str = "",
    ) -> StreamCall:
        """A whole request: the full body, or for a stream its start and first bytes."""
        call = self.call(method, path, headers, body, query)
        await call.started()
        streaming = call.headers.get("content-type", "").startswith(
            ("text/event-stream", "multipart/x-mixed-replace")
        )
        if streaming:
            await call.read_until(lambda b: len(b) > 0)
        else:
            await call.read_until(lambda _b: False)
        await call.close()
        return call


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[AppSession]:
    """Runs the app's lifespan around a block."""
    async with app.router.lifespan_context(app) as state:
        yield AppSession(app, dict(state or {}))
