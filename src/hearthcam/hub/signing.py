"""Signed HTTP requests and responses between a home and a hub.

Every request carries four headers: the signer's key id, the time, a random nonce and an Ed25519
signature over the method, target, time, nonce and a hash of the body. The receiver accepts it
only from a known key, within a time window, and once: a nonce it has seen within the window is a
replay. A response is signed over the request's nonce, its status and its body, so a response
cannot be moved to another request or have its status changed; the requester checks it against
the key it pinned for that peer.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hearthcam.hub.identity import HubError, Identity, decode_b64, encode_b64, key_id_of

KEY_HEADER: Final = "X-Hearthcam-Key"
TIME_HEADER: Final = "X-Hearthcam-Time"
NONCE_HEADER: Final = "X-Hearthcam-Nonce"
SIGNATURE_HEADER: Final = "X-Hearthcam-Signature"

NONCE_SIZE: Final = 16
SIGNATURE_SIZE: Final = 64
_REQUEST_TAG: Final = b"hearthcam-request-v1\n"
_RESPONSE_TAG: Final = b"hearthcam-response-v1\n"
# The forms a field must take so that the newline-joined message parses one way only.
_METHOD: Final = re.compile(r"[A-Z]+")
_TARGET: Final = re.compile(r"/[\x21-\x7e]*")  # visible ASCII, as HTTP puts it on the wire
_TIME: Final = re.compile(r"[0-9]{1,15}")
_NONCE: Final = re.compile(r"[A-Za-z0-9_-]{22}")  # 16 bytes of urlsafe base64, no padding

Reason = Literal["unknown key", "bad signature", "stale", "replayed", "missing header"]


class SignatureError(HubError):
    """A signed request or response was refused; ``reason`` says why, for logs and metrics.

    ``missing header`` covers a header that is absent or not in its form (a time that is not an
    integer, a nonce that is not 16 bytes); a signature that does not decode is a ``bad
    signature``."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason: Reason = reason
        super().__init__(f"signature refused: {reason}" + (f" ({detail})" if detail else ""))


def request_message(method: str, target: str, time_text: str, nonce: str, body: bytes) -> bytes:
    """The bytes a request's signature covers."""
    fields = (method.upper(), target, time_text, nonce, hashlib.sha256(body).hexdigest())
    return _REQUEST_TAG + "\n".join(fields).encode("utf-8")


def response_message(request_nonce: str, status: int, body: bytes) -> bytes:
    """The bytes a response's signature covers."""
    fields = (request_nonce, str(status), hashlib.sha256(body).hexdigest())
    return _RESPONSE_TAG + "\n".join(fields).encode("utf-8")


def new_nonce() -> str:
    """16 random bytes as urlsafe base64."""
    return encode_b64(secrets.token_bytes(NONCE_SIZE))


def sign_request(
    identity: Identity,
    method: str,
    target: str,
    body: bytes,
    now: float,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that sign a request for ``target`` (path and query) with ``body``.

    ``nonce`` is for tests and for callers that must know it before sending (to check the
    response); by default a fresh one is drawn."""
    nonce = new_nonce() if nonce is None else nonce
    _check_form(method.upper(), target, nonce)
    time_text = str(int(now))
    signature = identity.sign(request_message(method, target, time_text, nonce, body))
    return {
        KEY_HEADER: identity.key_id,
        TIME_HEADER: time_text,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: encode_b64(signature),
    }


def _check_form(method: str, target: str, nonce: str) -> None:
    """Refuses to sign fields that would make the message ambiguous (a caller's bug)."""
    if not _METHOD.fullmatch(method):
        raise ValueError(f"not an HTTP method: {method!r}")
    if not _TARGET.fullmatch(target):
        raise ValueError(f"not a request target (path and query): {target!r}")
    if not _NONCE.fullmatch(nonce):
        raise ValueError(f"a nonce is {NONCE_SIZE} bytes of urlsafe base64: {nonce!r}")


class RequestVerifier:
    """Checks the signed requests a server receives; remembers nonces to refuse replays.

    ``keys`` maps a key id to the public key it names (None for a stranger). One verifier serves
    every request of a server: it is safe to call from many threads."""

    def __init__(
        self,
        keys: Callable[[str], Ed25519PublicKey | None],
        window_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        # (key id, nonce) -> when it was accepted, oldest first (dicts keep insertion order).
        self._seen: dict[tuple[str, str], float] = {}

    @property
    def remembered(self) -> int:
        """How many nonces are remembered now (bounded by the rate of requests times 2 windows)."""
        with self._lock:
            return len(self._seen)

    def verify(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> str:
        """The key id that signed this request; SignatureError if it is not to be accepted."""
        found = {name.lower(): value for name, value in headers.items()}
        key_id = found.get(KEY_HEADER.lower())
        time_text = found.get(TIME_HEADER.lower())
        nonce = found.get(NONCE_HEADER.lower())
        signature_text = found.get(SIGNATURE_HEADER.lower())
        if key_id is None or time_text is None or nonce is None or signature_text is None:
            raise SignatureError("missing header")
        if not _TIME.fullmatch(time_text):
            raise SignatureError("missing header", f"{TIME_HEADER} is not unix seconds")
        if not _NONCE.fullmatch(nonce):
            raise SignatureError("missing header", f"{NONCE_HEADER} is not 16 bytes of base64")
        public = self._keys(key_id)
        if public is None:
            raise SignatureError("unknown key", repr(key_id[:32]))
        now = self._clock()
        if abs(now - int(time_text)) > self._window_s:
            raise SignatureError("stale", f"signed at {time_text}, now {int(now)}")
        message = request_message(method, target, time_text, nonce, body)
        _check_signature(public, signature_text, message)
        # Only the nonce check and its record need the lock: checking a signature takes longer.
        with self._lock:
            self._prune(now)
            if (key_id, nonce) in self._seen:
                raise SignatureError("replayed")
            self._seen[(key_id, nonce)] = now
        return key_id

    def _prune(self, now: float) -> None:
        """Forgets nonces older than two windows: their requests are stale by now anyway.

        A nonce accepted at ``seen`` was signed at ``seen + window`` at the latest (a signer's
        clock may run ahead), so a replay of it is stale from ``seen + 2 * window`` on."""
        cutoff = now - 2 * self._window_s
        while self._seen:
            oldest, seen = next(iter(self._seen.items()))
            if seen >= cutoff:
                break
            del self._seen[oldest]


def sign_response(
    identity: Identity, request_nonce: str, status: int, body: bytes
) -> dict[str, str]:
    """The headers that sign a response to the request that carried ``request_nonce``."""
    signature = identity.sign(response_message(request_nonce, status, body))
    return {KEY_HEADER: identity.key_id, SIGNATURE_HEADER: encode_b64(signature)}


def verify_response(
    pinned: Ed25519PublicKey,
    request_nonce: str,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
) -> None:
    """Checks that the peer whose key was pinned sent this response to this request."""
    found = {name.lower(): value for name, value in headers.items()}
    key_id = found.get(KEY_HEADER.lower())
    signature_text = found.get(SIGNATURE_HEADER.lower())
    if key_id is None or signature_text is None:
        raise SignatureError("missing header")
    if key_id != key_id_of(pinned):
        raise SignatureError("unknown key", f"signed by {key_id[:32]!r}, not the pinned key")
    _check_signature(pinned, signature_text, response_message(request_nonce, status, body))


def _check_signature(public: Ed25519PublicKey, signature_text: str, message: bytes) -> None:
    try:
        signature = decode_b64(signature_text)
    except ValueError:
        raise SignatureError("bad signature", "not urlsafe base64") from None
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError("bad signature", f"{len(signature)} bytes, not {SIGNATURE_SIZE}")
    try:
        public.verify(signature, message)
    except InvalidSignature:
        raise SignatureError("bad signature") from None
