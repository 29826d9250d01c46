"""Ed25519 identities of homes and hubs: the private key file, and public keys as text.

A home and a hub each hold one Ed25519 key. The private key lives in a PEM file only its owner
may read; the public key travels as urlsafe base64 (no padding), is named by a short key id in
request headers, and is shown to people as a fingerprint they can compare out of band.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hearthcam.errors import HearthcamError

PUBLIC_KEY_SIZE: Final = 32
# Characters of urlsafe base64; the standard decoder silently drops anything else.
_B64_CHARS: Final = re.compile(r"[A-Za-z0-9_-]*")


class HubError(HearthcamError):
    """An identity file, a public key or an exchange between a home and a hub is unusable."""


def encode_b64(data: bytes) -> str:
    """``data`` as urlsafe base64 without padding: the form of keys, nonces and signatures."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_b64(text: str) -> bytes:
    """The bytes of urlsafe base64 without padding; ValueError unless ``text`` is that exactly.

    Strict, so one value has one spelling: stray characters, padding and non-zero spare bits
    (which the standard decoder accepts) are refused."""
    if not _B64_CHARS.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not urlsafe base64 without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError(f"not urlsafe base64: {error}") from None
    if encode_b64(data) != text:
        raise ValueError("not the canonical urlsafe base64 of any bytes")
    return data


def b64_field(value: object, name: str, error: type[Exception]) -> bytes:
    """The bytes a JSON field ``name`` holds as ``decode_b64`` text; ``error`` (the caller's
    kind of "not whole") naming the field otherwise."""
    if not isinstance(value, str):
        raise error(f"{name} is not base64 text")
    try:
        return decode_b64(value)
    except ValueError as failure:
        raise error(f"{name}: {failure}") from None


def raw_public(public: Ed25519PublicKey) -> bytes:
    """The 32 bytes of a public key."""
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public: Ed25519PublicKey) -> str:
    """The short name of a public key in headers: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def fingerprint_of(public: Ed25519PublicKey) -> str:
    """A public key's full SHA-256 in groups of four hex digits, for people to compare."""
    digest = hashlib.sha256(raw_public(public)).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """The public key a person or a peer gave as urlsafe base64; HubError if it is not one."""
    cleaned = text.strip()  # pasted keys often carry a newline
    try:
        raw = decode_b64(cleaned)
    except ValueError as error:
        raise HubError(f"not a public key ({error}): {cleaned[:60]!r}") from None
    if len(raw) != PUBLIC_KEY_SIZE:
        raise HubError(f"a public key is {PUBLIC_KEY_SIZE} bytes, this one is {len(raw)}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as error:
        raise HubError(f"not an Ed25519 public key: {error}") from None


@dataclass(frozen=True, eq=False, repr=False)
class Identity:
    """One Ed25519 key pair: who a home or a hub is, and what signs its messages.

    Two identities are equal when their public keys are: private key objects compare by
    identity, so a key loaded twice would otherwise differ from itself."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_raw(self) -> bytes:
        """The 32 bytes of the public key."""
        return raw_public(self.public)

    @property
    def public_b64(self) -> str:
        """The public key as urlsafe base64 without padding (what a peer pins)."""
        return encode_b64(self.public_raw)

    @property
    def key_id(self) -> str:
        """The public key's short name (``key_id_of``)."""
        return key_id_of(self.public)

    def fingerprint(self) -> str:
        """The public key's full SHA-256 in groups of four hex digits, for people to compare."""
        return fingerprint_of(self.public)

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self.private.sign(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return self.public_raw == other.public_raw

    def __hash__(self) -> int:
        return hash(self.public_raw)

    def __repr__(self) -> str:
        return f"Identity(key_id={self.key_id!r})"


def load_or_create(path: Path) -> Identity:
    """The identity in ``path`` (PEM, PKCS8, unencrypted); a new one is written there if none.

    A file others may read or write is refused rather than fixed: the key may already have
    leaked, and its owner should know."""
    if not path.exists():
        _create(path)
    return _load(path)


def _load(path: Path) -> Identity:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = path.read_bytes()
    except OSError as error:
        raise HubError(f"cannot read the identity file {path}: {error.strerror or error}") from None
    if mode & 0o077:
        raise HubError(
            f"the identity file {path} is open to other users (mode {mode:04o}); "
            f"run chmod 600 {path}"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # TypeError: an encrypted key. The library's message says nothing a person can act on.
        raise HubError(
            f"the identity file {path} is not an unencrypted Ed25519 private key in PEM"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise HubError(
            f"the identity file {path} holds a {type(key).__name__}, not an Ed25519 private key"
        )
    return Identity(key)


def _create(path: Path) -> None:
    """Writes a new key to ``path`` whole or not at all: a crash leaves no half-written key."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    part = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        # A link, not a rename: if another process made the key first, theirs stays and
        # both load it (a rename would leave each with a different key).
        with contextlib.suppress(FileExistsError):
            os.link(part, path)
        _fsync_directory(path.parent)
    except OSError as error:
        raise HubError(
            f"cannot write the identity file {path}: {error.strerror or error}"
        ) from None
    finally:
        part.unlink(missing_ok=True)


def _fsync_directory(folder: Path) -> None:
    """Makes the rename itself durable, so a power cut cannot lose a key already handed out."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
