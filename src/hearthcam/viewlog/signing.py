"""The view log's signing key and its signed tree heads (checkpoints).

The Ed25519 private key is made once under the data directory (``secrets/audit-ed25519.pem``,
mode 0600) and never leaves it; its public half is what anyone checking the log (``hearthcam
audit verify``, the owner's browser) needs. A checkpoint signs a C2SP signed-note style body,
so the text a verifier checks is plain and stable.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hearthcam.errors import StoreError

KEY_FILE = Path("secrets") / "audit-ed25519.pem"  # under the data directory
ORIGIN = "hearthcam view log"  # first line of every signed checkpoint


def _unusable(path: Path, reason: str) -> StoreError:
    return StoreError(
        f"cannot read the view log key {path}: {reason}; restore {KEY_FILE.as_posix()} from "
        "your backup (docs/operations.md), or move it aside to start a new key (checkpoints "
        "signed by the old one are then checked with its public half only)"
    )


def key_path(data_dir: Path) -> Path:
    """Where the view log's signing key lives under ``data_dir``."""
    return data_dir / KEY_FILE


class AuditKey:
    """The Ed25519 key that signs the log's checkpoints."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def load_or_create(cls, path: Path) -> AuditKey:
        """The key in ``path``; a new one is written there (0600) when there is none."""
        if path.is_file():
            return cls.load(path)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: theirs is the key
            return cls.load(path)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> AuditKey:
        """The key in ``path``; StoreError (one line, saying how to restore it) if it is
        missing, unreadable or not an Ed25519 private key."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise _unusable(path, error.strerror or str(error)) from error
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            # cryptography's own text points at its FAQ; the owner needs the file's fault.
            raise _unusable(path, "not a PEM private key (damaged or replaced)") from error
        if not isinstance(key, Ed25519PrivateKey):
            raise _unusable(path, "not an Ed25519 key")
        return cls(key)

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half, which checks checkpoints."""
        return self._private.public_key()

    def public_pem(self) -> bytes:
        """The public key as PEM (SubjectPublicKeyInfo), to hand to a verifier."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_raw(self) -> bytes:
        """The 32 raw public key bytes (what WebCrypto's ``importKey("raw")`` takes)."""
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature over ``message``."""
        return self._private.sign(message)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError if it is another kind of key."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head: the log had ``size`` entries with ``root`` at ``time_ms``."""

    size: int
    root: bytes
    time_ms: int
    signature: bytes

    @property
    def note(self) -> bytes:
        """The signed text (a C2SP signed-note body): origin, size, base64 root, time."""
        root = base64.b64encode(self.root).decode("ascii")
        return f"{ORIGIN}\n{self.size}\n{root}\n{self.time_ms}\n".encode()

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        """Whether the signature is ``key``'s over ``note``."""
        try:
            key.verify(self.signature, self.note)
        except InvalidSignature:
            return False
        return True


def checkpoint_json(checkpoint: Checkpoint, public_raw: bytes) -> str:
    """The checkpoint as the owner keeps it outside the database (``hearthcam audit checkpoint``
    prints it, the "Who viewed my clips" page stores the same fields): root in hex, signature
    and the 32-byte public key in base64."""
    return json.dumps(
        {
            "origin": ORIGIN,
            "size": checkpoint.size,
            "root": checkpoint.root.hex(),
            "time_ms": checkpoint.time_ms,
            "signature": base64.b64encode(checkpoint.signature).decode("ascii"),
            "public_key": base64.b64encode(public_raw).decode("ascii"),
        },
        indent=2,
    )


def _saved_one(value: object) -> tuple[Checkpoint, bytes | None]:
    if not isinstance(value, dict) or value.get("origin", ORIGIN) != ORIGIN:
        raise ValueError("not a hearthcam view log checkpoint")
    size, time_ms = value.get("size"), value.get("time_ms")
    root, signature, key = value.get("root"), value.get("signature"), value.get("public_key")
    if not (isinstance(size, int) and size >= 0 and isinstance(time_ms, int)):
        raise ValueError("a checkpoint's size and time_ms are whole numbers")
    if not (isinstance(root, str) and isinstance(signature, str)):
        raise ValueError("a checkpoint has a root (hex) and a signature (base64)")
    try:
        raw_root = bytes.fromhex(root)
        raw_signature = base64.b64decode(signature, validate=True)
        raw_key = None if key is None else base64.b64decode(str(key), validate=True)
    except ValueError as error:
        raise ValueError(
            f"a checkpoint's root, signature or key is not encoded right: {error}"
        ) from None
    if len(raw_root) != 32 or (raw_key is not None and len(raw_key) != 32):
        raise ValueError("a checkpoint's root and public key are 32 bytes")
    return Checkpoint(size, raw_root, time_ms, raw_signature), raw_key


def parse_saved(text: str) -> list[tuple[Checkpoint, bytes | None]]:
    """Checkpoints the owner kept: one object ``checkpoint_json`` wrote, or a list of them (the
    page's export); each with its public key if it names one. ValueError if it is neither."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"not JSON: {error}") from None
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("no checkpoint in it")
    return [_saved_one(item) for item in items]
