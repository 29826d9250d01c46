"""The clips linked homes sent to a hub, sealed at rest, and the signed receipts of their deletion.

Each clip is sealed with AES-256-GCM under a key of its own, drawn at random, with the home's id
and the clip's id as associated data (a sealed file moved to another clip's row does not open).
The key lives only in the clip's row of ``hub_clips`` (the registry's database); the sealed file
(nonce, then ciphertext and tag) lives in the clips folder under a random token, so neither a
file's name nor its bytes say whose clip it is. Deleting a clip deletes its key row first, in one
transaction that checks the row was there, then its file: once the row is gone the file cannot
be opened, whatever happens to it after. Each deletion is answered with a ``DeletionReceipt``
signed by the hub's identity, which the home keeps as proof that the hub let the clip go. A clip
is kept no longer than the ``keep_until`` its home sent with it (``expire``).

Clips are held whole in memory while sealed or opened, so ``MAX_CLIP_BYTES`` bounds what one
clip may cost the hub.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import math
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from hearthcam.hub.identity import HubError, Identity, decode_b64, encode_b64, key_id_of
from hearthcam.hub.registry import (
    hub_clip_features,
    hub_clips,
    open_hub_engine,
    reading,
    writing,
)

__all__ = [
    "MAX_CLIP_BYTES",
    "ClipAlreadyHeld",
    "ClipFeatures",
    "ClipTooLarge",
    "DeletionReceipt",
    "HubClip",
    "HubClips",
    "is_clip_id",
    "parse_features",
    "receipt_from_json",
    "receipt_to_json",
    "verify_receipt",
]

MAX_CLIP_BYTES: Final = 256 * 1024 * 1024
MAX_FEATURES: Final = 64  # numbers in a clip's feature vector (the model reads 32 today)
_FEATURES_TEXT: Final = re.compile(r"[0-9]{1,4}:[0-9eE+.,-]{1,2000}")


@dataclass(frozen=True, slots=True)
class ClipFeatures:
    """The numbers the verdict model reads from a clip's event, and their version."""

    version: int
    values: tuple[float, ...]

    def text(self) -> str:
        """``version:v1,v2,...`` (what a home puts in the upload's query)."""
        return f"{self.version}:" + ",".join(format(v, ".6g") for v in self.values)


def parse_features(text: str) -> ClipFeatures | None:
    """The features ``text`` (``ClipFeatures.text``) names; None unless it is exactly that form
    with 1 to ``MAX_FEATURES`` finite numbers."""
    if not _FEATURES_TEXT.fullmatch(text):
        return None
    version, _, numbers = text.partition(":")
    try:
        values = tuple(float(n) for n in numbers.split(","))
    except ValueError:
        return None
    if not 0 < len(values) <= MAX_FEATURES or not all(math.isfinite(v) for v in values):
        return None
    return ClipFeatures(int(version), values)


KEY_SIZE: Final = 32  # AES-256
NONCE_SIZE: Final = 12  # what AES-GCM is defined for
SIGNATURE_SIZE: Final = 64
_log = logging.getLogger(__name__)

_CLIP_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX_DIGEST: Final = re.compile(r"[0-9a-f]{64}")
_KEY_ID: Final = re.compile(r"[0-9a-f]{16}")
_RECEIPT_FIELDS: Final = frozenset(
    {"home_id", "clip_id", "sha256", "deleted_at", "hub_key_id", "signature"}
)


class ClipAlreadyHeld(HubError):
    """The home sent a clip id the hub holds for it already."""

    def __init__(self) -> None:
        super().__init__("already held")


class ClipTooLarge(HubError):
    """A clip above ``MAX_CLIP_BYTES``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a clip is at most {limit} bytes, this one is {size}")


def is_clip_id(text: str) -> bool:
    """Whether ``text`` can be a clip id: 1 to 64 of ``A-Z a-z 0-9 _ -`` (safe in a path)."""
    return _CLIP_ID.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class HubClip:
    """One clip a home sent, as the hub keeps it (without its key)."""

    home_id: int
    clip_id: str
    receipt_digest: str
    received_at: float
    keep_until: int
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class DeletionReceipt:
    """The hub's signed word that it deleted a home's clip, and when.

    ``signature`` is Ed25519 by the hub key named ``hub_key_id`` over ``signed_bytes``."""

    home_id: int
    clip_id: str
    sha256: str
    deleted_at: int
    hub_key_id: str
    signature: bytes

    def signed_bytes(self) -> bytes:
        """Canonical JSON of every field but the signature: what the signature covers."""
        fields = {
            "home_id": self.home_id,
            "clip_id": self.clip_id,
            "sha256": self.sha256,
            "deleted_at": self.deleted_at,
            "hub_key_id": self.hub_key_id,
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _sign_receipt(
    identity: Identity, home_id: int, clip_id: str, sha256: str, deleted_at: int
) -> DeletionReceipt:
    unsigned = DeletionReceipt(home_id, clip_id, sha256, deleted_at, identity.key_id, b"")
    return DeletionReceipt(
        home_id,
        clip_id,
        sha256,
        deleted_at,
        identity.key_id,
        identity.sign(unsigned.signed_bytes()),
    )


def verify_receipt(hub_key: Ed25519PublicKey, receipt: DeletionReceipt) -> bool:
    """Whether ``hub_key`` signed ``receipt`` as it reads (and the receipt names that key)."""
    if receipt.hub_key_id != key_id_of(hub_key) or len(receipt.signature) != SIGNATURE_SIZE:
        return False
    try:
        hub_key.verify(receipt.signature, receipt.signed_bytes())
    except InvalidSignature:
        return False
    return True


def receipt_to_json(receipt: DeletionReceipt) -> dict[str, Any]:
    """A receipt as a JSON object, its signature as urlsafe base64."""
    return {
        "home_id": receipt.home_id,
        "clip_id": receipt.clip_id,
        "sha256": receipt.sha256,
        "deleted_at": receipt.deleted_at,
        "hub_key_id": receipt.hub_key_id,
        "signature": encode_b64(receipt.signature),
    }


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def receipt_from_json(value: object) -> DeletionReceipt:
    """The receipt a JSON object holds; HubError unless every field is there in its form.

    Only the shape is checked: whether the signature holds is ``verify_receipt``'s to say."""
    if not isinstance(value, dict) or set(value) != _RECEIPT_FIELDS:
        raise HubError(f"not a deletion receipt: {value!r:.200}")
    home_id, clip_id, sha256 = value["home_id"], value["clip_id"], value["sha256"]
    deleted_at, hub_key_id, signature = value["deleted_at"], value["hub_key_id"], value["signature"]
    if not (
        _whole(home_id)
        and _whole(deleted_at)
        and isinstance(clip_id, str)
        and is_clip_id(clip_id)
        and isinstance(sha256, str)
        and _HEX_DIGEST.fullmatch(sha256)
        and isinstance(hub_key_id, str)
        and _KEY_ID.fullmatch(hub_key_id)
        and isinstance(signature, str)
    ):
        raise HubError(f"not a deletion receipt: {value!r:.200}")
    try:
        raw = decode_b64(signature)
    except ValueError as error:
        raise HubError(f"not a deletion receipt: signature: {error}") from None
    if len(raw) != SIGNATURE_SIZE:
        raise HubError(f"not a deletion receipt: signature of {len(raw)} bytes")
    return DeletionReceipt(home_id, clip_id, sha256, deleted_at, hub_key_id, raw)


def _aad(home_id: int, clip_id: str) -> bytes:
    return f"{home_id}/{clip_id}".encode()


#: A sealed file's name: the 32 hex digits ``add`` draws.
_TOKEN: Final = re.compile(r"[0-9a-f]{32}")
#: How old a file no row names must be before ``sweep`` removes it, seconds.
SWEEP_AFTER_S: Final = 3600.0


def open_clip(engine: Engine, folder: Path, home_id: int, clip_id: str) -> bytes:
    """The bytes of the home's clip ``clip_id`` sealed in ``folder``, its key read from the
    hub's database; HubError if the hub holds no such clip or its file does not open under its
    key (damaged, or moved from another clip). Needs no identity: a worker on another node reads
    a clip with the database and the clips folder alone."""
    with reading(engine) as connection:
        row = connection.execute(
            select(hub_clips.c.file, hub_clips.c.key, hub_clips.c.sha256).where(
                hub_clips.c.home_id == home_id, hub_clips.c.clip_id == clip_id
            )
        ).first()
    if row is None:
        raise HubError(f"no clip {clip_id[:80]!r} is held for home {home_id}")
    try:
        sealed = (folder / row.file).read_bytes()
    except OSError as error:
        raise HubError(
            f"cannot read clip {clip_id!r} of home {home_id}: {error.strerror or error}"
        ) from None
    try:
        data = AESGCM(bytes(row.key)).decrypt(
            sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], _aad(home_id, clip_id)
        )
    except InvalidTag:
        raise HubError(f"clip {clip_id!r} of home {home_id} does not open: damaged") from None
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise HubError(f"clip {clip_id!r} of home {home_id} is not what was received")
    return data


def read_features(engine: Engine) -> dict[tuple[int, str], ClipFeatures]:
    """The feature vectors sent with the clips held: (home id, clip id) -> features."""
    with reading(engine) as connection:
        rows = connection.execute(select(hub_clip_features)).all()
    found = {}
    for row in rows:
        parsed = parse_features(f"{row.version}:{row.vector}")
        if parsed is not None:
            found[(int(row.home_id), row.clip_id)] = parsed
    return found


class HubClips:
    """The clips held for linked homes: sealed files in ``folder``, keys in the database.

    ``identity`` is the hub's, which signs the deletion receipts. Safe to call from many
    threads."""

    def __init__(
        self,
        engine: Engine,
        folder: Path,
        identity: Identity,
        on_deleted: Callable[[int, str, float], object] = lambda home, clip, now: None,
    ) -> None:
        """``on_deleted(home_id, clip_id, now)`` hears of each clip deleted (the hub's models
        that learned from it are retired)."""
        self._engine = engine
        self._folder = folder
        self._identity = identity
        self._on_deleted = on_deleted
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise HubError(
                f"cannot make the clips folder {folder}: {error.strerror or error}"
            ) from None

    @classmethod
    def from_url(
        cls,
        url: str,
        folder: Path,
        identity: Identity,
        on_deleted: Callable[[int, str, float], object] = lambda home, clip, now: None,
    ) -> HubClips:
        """Opens the hub's database at ``url`` (migrated to this version at open) for clips
        sealed in ``folder``."""
        engine = open_hub_engine(url, "the hub's clips")
        try:
            return cls(engine, folder, identity, on_deleted)
        except HubError:
            engine.dispose()
            raise

    @property
    def engine(self) -> Engine:
        """The hub's database (the registry's tables are in it too)."""
        return self._engine

    def close(self) -> None:
        """Closes every pooled connection."""
        self._engine.dispose()

    def add(
        self,
        home_id: int,
        clip_id: str,
        data: bytes,
        receipt_digest: str,
        keep_until: int,
        now: float,
        features: ClipFeatures | None = None,
    ) -> HubClip:
        """Seals and keeps ``data`` as the home's clip ``clip_id``.

        ClipAlreadyHeld if the home sent that clip id before, ClipTooLarge above
        ``MAX_CLIP_BYTES``, HubError for an id or digest not in its form. The file is written
        whole before its row, so a row never names a missing file; a refused row's file goes."""
        if not is_clip_id(clip_id):
            raise HubError(f"not a clip id: {clip_id[:80]!r}")
        if not _HEX_DIGEST.fullmatch(receipt_digest):
            raise HubError("a consent receipt's digest is 64 lowercase hex digits")
        if len(data) > MAX_CLIP_BYTES:
            raise ClipTooLarge(len(data), MAX_CLIP_BYTES)
        key = AESGCM.generate_key(bit_length=8 * KEY_SIZE)
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = nonce + AESGCM(key).encrypt(nonce, data, _aad(home_id, clip_id))
        token = secrets.token_hex(16)
        clip = HubClip(
            home_id=home_id,
            clip_id=clip_id,
            receipt_digest=receipt_digest,
            received_at=now,
            keep_until=keep_until,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        self._write_file(token, sealed)
        try:
            with writing(self._engine) as connection:
                held = connection.execute(
                    select(hub_clips.c.id).where(
                        hub_clips.c.home_id == home_id, hub_clips.c.clip_id == clip_id
                    )
                ).first()
                if held is not None:
                    raise ClipAlreadyHeld()
                connection.execute(
                    insert(hub_clips).values(
                        home_id=home_id,
                        clip_id=clip_id,
                        receipt_digest=receipt_digest,
                        received_at=now,
                        keep_until=keep_until,
                        size=clip.size,
                        sha256=clip.sha256,
                        file=token,
                        key=key,
                    )
                )
                if features is not None:
                    connection.execute(
                        insert(hub_clip_features).values(
                            home_id=home_id, clip_id=clip_id, version=features.version,
                            vector=features.text().partition(":")[2],
                        )
                    )  # fmt: skip
        except HubError as error:
            self._remove_file(token)
            if isinstance(error.__cause__, IntegrityError):  # the unique pair, behind the check
                raise ClipAlreadyHeld() from None
            raise
        return clip

    def open(self, home_id: int, clip_id: str) -> bytes:
        """The bytes of the home's clip ``clip_id`` (``open_clip``)."""
        return open_clip(self._engine, self._folder, home_id, clip_id)

    def list(self, home_id: int) -> list[HubClip]:
        """The clips held for the home, oldest first."""
        with reading(self._engine) as connection:
            rows = connection.execute(
                select(
                    hub_clips.c.clip_id,
                    hub_clips.c.receipt_digest,
                    hub_clips.c.received_at,
                    hub_clips.c.keep_until,
                    hub_clips.c.size,
                    hub_clips.c.sha256,
                )
                .where(hub_clips.c.home_id == home_id)
                .order_by(hub_clips.c.received_at, hub_clips.c.id)
            ).all()
        return [
            HubClip(
                home_id=home_id,
                clip_id=row.clip_id,
                receipt_digest=row.receipt_digest,
                received_at=float(row.received_at),
                keep_until=int(row.keep_until),
                size=int(row.size),
                sha256=row.sha256,
            )
            for row in rows
        ]

    def features(self) -> dict[tuple[int, str], ClipFeatures]:
        """The feature vectors sent with the clips held (``read_features``)."""
        return read_features(self._engine)

    def delete(self, home_id: int, clip_id: str, now: float) -> DeletionReceipt | None:
        """Deletes the home's clip ``clip_id``: its key row, then its file; the signed receipt,
        or None if the hub held no such clip for this home (another home's clip included)."""
        with writing(self._engine) as connection:
            row = connection.execute(
                select(hub_clips.c.id, hub_clips.c.file, hub_clips.c.sha256).where(
                    hub_clips.c.home_id == home_id, hub_clips.c.clip_id == clip_id
                )
            ).first()
            if row is None:
                return None
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:  # the deleted row's bytes (its key) overwritten, not left in free pages
                connection.exec_driver_sql("PRAGMA secure_delete=ON")
            gone = connection.execute(delete(hub_clips).where(hub_clips.c.id == row.id))
            if gone.rowcount != 1:  # deleted by another request meanwhile: its receipt, not ours
                return None
            connection.execute(
                delete(hub_clip_features).where(
                    hub_clip_features.c.home_id == home_id, hub_clip_features.c.clip_id == clip_id
                )
            )
        if sqlite:  # and not left in the write-ahead log either
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        # The key is gone (committed): the file no longer opens, whatever becomes of it.
        self._remove_file(row.file)
        try:
            self._on_deleted(home_id, clip_id, now)
        except Exception:  # the clip is gone all the same: its receipt is owed
            _log.exception("after deleting a clip of home %d, its listener failed", home_id)
        return _sign_receipt(self._identity, home_id, clip_id, row.sha256, int(now))

    def expire(self, now: float) -> builtins.list[DeletionReceipt]:
        """Deletes every clip whose consented keeping time (``keep_until``) has come, whoever
        sent it (its home may be gone); a receipt for each. ``hub serve`` runs it every minute."""
        with reading(self._engine) as connection:
            due = connection.execute(
                select(hub_clips.c.home_id, hub_clips.c.clip_id).where(
                    hub_clips.c.keep_until <= int(now)
                )
            ).all()
        receipts = [self.delete(int(row.home_id), row.clip_id, now) for row in due]
        done = [r for r in receipts if r is not None]
        if done:
            _log.info("%d clips past their keeping time deleted", len(done))
        return done

    def delete_home(self, home_id: int, now: float) -> builtins.list[DeletionReceipt]:
        """Deletes every clip held for the home; a receipt for each."""
        receipts: builtins.list[DeletionReceipt] = []
        for clip in self.list(home_id):
            receipt = self.delete(home_id, clip.clip_id, now)
            if receipt is not None:
                receipts.append(receipt)
        return receipts

    def sweep(self, now: float, older_than: float = SWEEP_AFTER_S) -> int:
        """Removes the sealed files no clip row names (a crash between a deletion's two steps,
        or between writing a clip and its row) once they are ``older_than`` seconds old, and
        any half-written ``.part`` file as old; how many went. Such a file no longer opens (its
        key is gone, or was never kept): this only gives its space back. ``hub serve`` runs it
        at start and every hour."""
        with reading(self._engine) as connection:
            named = set(connection.execute(select(hub_clips.c.file)).scalars())
        removed = 0
        try:
            entries = list(os.scandir(self._folder))
        except OSError as error:
            _log.warning("cannot list the clips folder %s: %s", self._folder, error)
            return 0
        for entry in entries:
            token = entry.name
            if token.startswith(".") and token.endswith(".part"):
                token = token[1 : -len(".part")]
            elif token in named:
                continue
            if not _TOKEN.fullmatch(token) or not entry.is_file(follow_symlinks=False):
                continue  # not one of ours: left alone
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime < older_than:
                    continue  # may be a clip being received this moment
                os.unlink(entry.path)
            except OSError as error:
                _log.warning("cannot remove %s: %s", entry.path, error)
                continue
            removed += 1
        if removed:
            self._fsync_folder()
            _log.info("removed %d sealed files no clip names from %s", removed, self._folder)
        return removed

    def _write_file(self, token: str, sealed: bytes) -> None:
        """Writes a sealed clip whole or not at all: beside, fsynced, renamed, folder fsynced."""
        path = self._folder / token
        part = self._folder / f".{token}.part"
        try:
            descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(sealed)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(part, path)
            self._fsync_folder()
        except OSError as error:
            part.unlink(missing_ok=True)
            raise HubError(
                f"cannot write a clip in {self._folder}: {error.strerror or error}"
            ) from None

    def _remove_file(self, token: str) -> None:
        """Removes a sealed file whose key row is gone (or never was). A failure is logged, not
        raised: without its key the file no longer opens, so the clip is deleted all the same."""
        try:
            (self._folder / token).unlink(missing_ok=True)
            self._fsync_folder()
        except OSError as error:
            _log.warning("cannot remove a clip's file in %s: %s", self._folder, error)

    def _fsync_folder(self) -> None:
        descriptor = os.open(self._folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
