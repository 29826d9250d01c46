"""A push service on loopback for the Web Push tests: takes the server's POSTs as a browser
vendor's push service would, and lets a test read them as the browser would (decrypting with
the browser's keys, RFC 8291) and check the VAPID signature (RFC 8292)."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def browser_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A browser's subscription key pair: the private key and ``p256dh`` (base64url)."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return key, b64url(point)


@dataclass
class Received:
    """One message the push service took."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """A ThreadingHTTPServer on 127.0.0.1; ``status`` maps a path to the answer (201 else)."""

    status: dict[str, int] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                service.received.append(Received(self.path, headers, body))
                self.send_response(service.status.get(self.path, 201))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """An endpoint URL on this service."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def close(self) -> None:
        """Stops the server."""
        self._server.shutdown()
        self._server.server_close()


def decrypt(message: Received, key: ec.EllipticCurvePrivateKey, auth: bytes) -> Any:
    """The JSON the browser's service worker would get."""
    assert message.headers["content-encoding"] == "aes128gcm"
    plain = http_ece.decrypt(message.body, private_key=key, auth_secret=auth, version="aes128gcm")
    return json.loads(plain)


def vapid_claims(message: Received, server_key: str) -> dict[str, Any]:
    """The VAPID JWT's claims, after checking its ES256 signature against ``server_key`` (the
    application server key the browser subscribed with) and that the header names that key."""
    scheme, _, params = message.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == server_key
    header, payload, signature = fields["t"].split(".")
    raw = unb64url(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(server_key))
    public.verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    assert json.loads(unb64url(header))["alg"] == "ES256"
    claims: dict[str, Any] = json.loads(unb64url(payload))
    return claims
