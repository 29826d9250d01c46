"""Known devices: the signed token a browser gets at a completed login, and its check.

A browser that has signed in as a user before is throttled on its own failures only, never on
what other clients at its address did (policy.RateLimits): an attacker guessing the owner's
password from the same LAN or NAT cannot lock the owner's own phone out. The token is
``v1.<device id>.<issued>.<mac>``, the MAC an HMAC-SHA256 under a server secret over the id,
the time and the username it was issued to; so it names no user, cannot be made without the
secret, and is worth nothing for another username.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from hearthcam.accounts.errors import AccountError

SECRET_FILE = Path("secrets") / "device-cookie.key"  # under the data directory
SECRET_BYTES = 32
DEVICE_ID_BYTES = 12
# A device unseen for this long is a stranger again (each completed login renews it).
DEVICE_LIFETIME = 180 * 24 * 3600.0
MAX_TOKEN = 128
VERSION = "v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class DeviceKeys:
    """Issues and checks known-device tokens under one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < SECRET_BYTES:
            raise AccountError("the device secret is too short")
        self._secret = secret

    @classmethod
    def load_or_create(cls, data_dir: Path) -> DeviceKeys:
        """The secret under ``data_dir`` (``SECRET_FILE``); written there (0600) if missing."""
        path = data_dir / SECRET_FILE
        if not path.is_file():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process wrote it first: theirs is the secret
                pass
            else:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(secrets.token_bytes(SECRET_BYTES))
        try:
            return cls(path.read_bytes())
        except OSError as error:
            raise AccountError(f"cannot read the device secret {path}: {error}") from error

    def _mac(self, device: str, issued: int, user_key: str) -> str:
        message = f"{VERSION}.{device}.{issued}.{user_key}".encode()
        return _b64(hmac.digest(self._secret, message, hashlib.sha256))

    def issue(self, user_key: str, now: float, device: str | None = None) -> str:
        """A token for ``user_key`` (``passwords.username_key``); ``device`` keeps an id."""
        device = device or _b64(secrets.token_bytes(DEVICE_ID_BYTES))
        issued = int(now)
        return f"{VERSION}.{device}.{issued}.{self._mac(device, issued, user_key)}"

    def device(self, token: str | None, user_key: str, now: float) -> str | None:
        """The device id if ``token`` is one this server issued to ``user_key`` and it has not
        expired; None otherwise (a forged, foreign, stale or malformed token alike)."""
        if not token or len(token) > MAX_TOKEN:
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION or not parts[2].isdigit():
            return None
        _version, device, issued_text, mac = parts
        issued = int(issued_text)
        if not hmac.compare_digest(mac, self._mac(device, issued, user_key)):
            return None
        return device if issued <= now + 60 and now < issued + DEVICE_LIFETIME else None
