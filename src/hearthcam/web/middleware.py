"""ASGI middleware: the Host check, the request body size limit and the security headers.

All three are plain ASGI (not ``BaseHTTPMiddleware``) so streamed responses (clips, SSE, MJPEG) pass
through untouched and WebSockets are not wrapped.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = 413
MISDIRECTED = 421

# Everything from this origin only, no inline script or style: an injected <script> or
# on*= handler does not run (tests/web/test_csp_browser.py opens every page under it). The
# exceptions are what the pages do: the live view plays a MediaSource (a blob: URL) and stops
# its MJPEG fallback with a "data:," image; WebSockets and SSE are same-origin ('self').
# Framing, plugins and foreign form targets are what clickjacking needs; none is allowed.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)
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


# Names that are this machine whatever the network says (RFC 6761 reserves "localhost").
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
MAX_PORT_DIGITS = 5


def host_of(header: str) -> str | None:
    """The host of a Host header (``name``, ``name:port``, ``1.2.3.4:port``, ``[v6]:port``),
    lower-cased and without a trailing dot; None when the header is malformed."""
    if header.startswith("["):
        end = header.find("]")
        host, rest = (header[1:end], header[end + 1 :]) if end > 0 else ("", "")
        if not _is_ip(host) or ":" not in host:
            return None
    else:
        host, colon, port = header.partition(":")
        rest = colon + port
    if rest and not (rest[0] == ":" and rest[1:].isdigit() and len(rest) <= MAX_PORT_DIGITS + 1):
        return None
    host = host.lower().removesuffix(".")
    return host or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def machine_names() -> frozenset[str]:
    """This machine's host name, its first label and its mDNS name (``<label>.local``).

    No DNS query: ``getfqdn`` can stall for seconds where no resolver answers.
    """
    name = socket.gethostname().lower().removesuffix(".")
    label = name.split(".")[0]
    return frozenset(n for n in (name, label, f"{label}.local") if n and n != ".local")


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    """The names a browser may reach the app by.

    Any IP address is allowed: DNS rebinding needs a *name* the attacker controls (the page's
    origin is that name, later pointed at this box), and a browser that asked for an address
    sends that address, whose origin is this box itself. So only names are checked: the
    configured ones, loopback, this machine's own, and the one the server listens on.
    """

    names: frozenset[str]
    suffixes: tuple[str, ...] = ()

    def allows(self, header: str) -> bool:
        """Whether a request with this Host header may reach the app."""
        host = host_of(header)
        if host is None:
            return False
        if _is_ip(host):
            return True
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    @classmethod
    def build(cls, configured: tuple[str, ...], listen_host: str) -> AllowedHosts:
        """Loopback, this machine, the listen host and ``configured`` (``*.x`` allows x's
        subdomains)."""
        names = set(LOOPBACK_NAMES | machine_names())
        suffixes = []
        for entry in (*configured, listen_host):
            entry = entry.lower().removesuffix(".")
            if entry.startswith("*."):
                suffixes.append(entry[1:])
            elif entry:
                names.add(entry)
        return cls(frozenset(names), tuple(suffixes))


class HostCheck:
    """Refuses a request whose Host is not one of ``allowed`` (421), before any route runs: a
    page on a rebound name must not reach setup or the login (docs/reliability.md)."""

    def __init__(self, app: ASGIApp, allowed: AllowedHosts) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if self.allowed.allows(host):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
        else:
            await _refuse(send, MISDIRECTED, "unknown host; add it to web.allowed_hosts")
