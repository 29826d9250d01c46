"""ASGI middleware: the request body size limit and the security headers of every response.

Both are plain ASGI (not ``BaseHTTPMiddleware``) so streamed responses (clips, SSE, MJPEG) pass
through untouched and WebSockets are not wrapped.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = 413

# Scripts and styles stay unrestricted until the front end settles; framing, plugins and form
# targets are what clickjacking and injection need, and the app needs none of them.
CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", CSP.encode("ascii")),
    (b"cross-origin-opener-policy", b"same-origin"),
]


async def _refuse(send: Send, status: int, detail: str) -> None:
    """Answers before the app sees the request."""
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _refuse(send, 400, "malformed Content-Length")
            return
        if declared is not None and int(declared) > self.limit:
            await _refuse(send, TOO_LARGE, f"request body over {self.limit} bytes")
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the app's body read, so its exception handling answers 413.
                    raise HTTPException(TOO_LARGE, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


class SecurityHeaders:
    """Adds the security headers, and ``Cache-Control: no-store`` to API answers that set none
    (footage and account data must not linger in shared or browser caches)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
