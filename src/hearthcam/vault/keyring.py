"""The key hierarchy of encryption at rest, and the vault that seals media files with it.

::

    server secret  32 random bytes in <data_dir>/secrets/master.key (0600), made once, and
                   only for a data directory with no keys and no sealed media (``Keyring.open``)
    KEK            HKDF-SHA256(server secret, info "hearthcam household-kek v1")
    household key  32 random bytes per household: an X25519 private key, stored wrapped
                   (AES-256-GCM, AAD = household id) under the KEK, or in password mode under
                   HKDF(KEK | argon2id(owner's password)), so the server alone cannot open it
    media key      32 random bytes per blob (one file), stored wrapped to the household's public
                   key (X25519 + HKDF + AES-256-GCM, AAD = blob id) in ``media_keys``

Media keys are wrapped to a public key so that *writing* needs no secret: in password mode the
cameras keep recording after a restart while nobody is logged in, and only reading needs the
owner to unlock the household (``unlock`` at login). The public key is authenticated with the KEK.

A blob id is the file's path relative to the data directory (POSIX). Every caller already holds
that path (``Event.clip``, ``Segment.path``), so deletion can destroy a key even when the file is
gone, and media.py's naming rule for derivatives finds their keys by prefix. The AAD binds a key to
that name; a writer's key lives under ``<id>.part`` until the file is finished.

Shredding deletes the wrapped key. SQLite would keep the deleted bytes in free space and in the
WAL, so every write here runs with ``PRAGMA secure_delete=ON`` and each shred ends with a
``wal_checkpoint(TRUNCATE)`` (see ``scrub``).
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha256
from pathlib import Path
from typing import Final

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.orm import Session

from hearthcam.errors import MediaLocked, StoreError
from hearthcam.layout import PART_SUFFIX, contained
from hearthcam.store.db import Store
from hearthcam.store.keys import HouseholdKeyRow, MediaKeyRow
from hearthcam.vault.inventory import first_sealed
from hearthcam.vault.sealed import CHUNK_SIZE, SealedReader, SealedWriter, new_key, salvage

SECRET_FILE: Final = Path("secrets") / "master.key"  # under the data directory
SECRET_SIZE: Final = 32
_KEK_INFO: Final = b"hearthcam household-kek v1"
_PASSWORD_KEK_INFO: Final = b"hearthcam household-kek+password v1"
_HOUSEHOLD_AAD: Final = b"hearthcam household-key v1\x00"
_PUBLIC_TAG: Final = b"hearthcam household-public v1\x00"
_MEDIA_INFO: Final = b"hearthcam media-key v1"
_MEDIA_VERSION: Final = b"\x01"
_NONCE: Final = 12
_RESTORE: Final = (
    f"restore {SECRET_FILE.as_posix()} from your backup (docs/operations.md, "
    '"Backups and refusals at start")'
)


#: Blob ids of sealed database rows rather than files (familiar faces' descriptors): the same
#: keys and crypto-shredding, but no file, so the orphan sweep must not take them for lost ones.
#: Kept equal to ``hearthcam.store.familiar.FACE_BLOB_PREFIX``'s start (the store cannot import
#: the vault).
ROW_BLOB_PREFIX = "row:"


class KeyringError(StoreError):
    """A key is missing, does not open, or cannot be used as asked."""


class SecretUnusable(KeyringError):
    """The server secret is missing where there is data it opens, unreadable, or not this data
    directory's. Never answered by making a new one: that would orphan every key and file."""


class HouseholdLocked(KeyringError, MediaLocked):
    """The household is in password mode and nobody has unlocked it since the server started."""


class WrongPassword(KeyringError):
    """The password does not open the household key."""


class NoMediaKey(KeyringError):
    """The blob has no key: it was shredded, or never sealed."""


class KeyMode(StrEnum):
    """Who can open a household key: the server alone, or the server with the owner's password."""

    SERVER = "server"
    PASSWORD = "password"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """argon2id cost of the password mode (RFC 9106 low-memory profile by default)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4


def secret_path(data_dir: Path) -> Path:
    """Where the server secret lives under ``data_dir``."""
    return data_dir / SECRET_FILE


def read_secret(path: Path) -> bytes | None:
    """The server secret in ``path``; None if there is none; SecretUnusable if the file is not
    one (unreadable, or not 32 bytes)."""
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SecretUnusable(
            f"cannot read the server secret {path}: {error.strerror or error}; {_RESTORE}"
        ) from error
    if len(secret) != SECRET_SIZE:
        raise SecretUnusable(
            f"{path}: a server secret is {SECRET_SIZE} bytes, not {len(secret)}; {_RESTORE}"
        )
    return secret


def load_or_create_secret(path: Path) -> bytes:
    """The server secret in ``path``; 32 new random bytes are written there (0600) if none.

    Unconditional: ``Keyring.open`` decides whether a data directory may get a new one."""
    secret = read_secret(path)
    if secret is not None:
        return secret
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = os.urandom(SECRET_SIZE)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: theirs is the secret
        made = read_secret(path)
        if made is None:
            raise SecretUnusable(f"{path} vanished while it was being made") from None
        return made
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    return secret


def _held_without_secret(store: Store, data_dir: Path) -> str | None:
    """What in the data directory needs its server secret (for the refusal), or None."""
    with store.read_session() as session:
        connection = session.connection()
        for table in (HouseholdKeyRow, MediaKeyRow):
            name = table.__tablename__
            if inspect(connection).has_table(name) and session.scalar(
                select(func.count()).select_from(table)
            ):
                return f"its database holds keys ({name})"
    sealed = first_sealed(data_dir)
    if sealed is not None:
        return f"{data_dir} holds sealed media ({sealed.relative_to(data_dir)})"
    return None


def _hkdf(material: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)


def _seal_key(wrapping: bytes, plain: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(wrapping).encrypt(nonce, plain, aad)


def _open_key(wrapping: bytes, wrapped: bytes, aad: bytes) -> bytes | None:
    try:
        return AESGCM(wrapping).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)
    except InvalidTag:
        return None


def _household_aad(household_id: int, mode: KeyMode) -> bytes:
    return _HOUSEHOLD_AAD + f"{mode.value}\x00{household_id}".encode()


def _media_aad(blob_id: str) -> bytes:
    # A writer's key (``<id>.part``) is bound to the id its finished file will have.
    return _MEDIA_INFO + b"\x00" + blob_id.removesuffix(PART_SUFFIX).encode()


def _wrap_media(public: X25519PublicKey, key: bytes, blob_id: str) -> bytes:
    """Wraps a media key so that only the household's private key opens it (ECIES)."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    salt = ephemeral_public + public.public_bytes_raw()
    wrapping = _hkdf(ephemeral.exchange(public), _MEDIA_INFO, salt)
    return _MEDIA_VERSION + ephemeral_public + _seal_key(wrapping, key, _media_aad(blob_id))


def _unwrap_media(private: X25519PrivateKey, wrapped: bytes, blob_id: str) -> bytes | None:
    if wrapped[:1] != _MEDIA_VERSION or len(wrapped) < 1 + 32 + _NONCE:
        return None
    ephemeral_public = wrapped[1:33]
    salt = ephemeral_public + private.public_key().public_bytes_raw()
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError:
        return None  # a low-order point: not something we wrote
    return _open_key(_hkdf(shared, _MEDIA_INFO, salt), wrapped[33:], _media_aad(blob_id))


class Keyring:
    """Household and media keys over one Store; thread-safe (unwrapped household keys cached)."""

    def __init__(
        self,
        store: Store,
        secret: bytes,
        *,
        kdf: KdfParams | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) != SECRET_SIZE:
            raise ValueError(f"a server secret is {SECRET_SIZE} bytes")
        self._store = store
        self._kek = _hkdf(secret, _KEK_INFO)
        self._kdf = kdf or KdfParams()
        self._clock = clock
        self._lock = threading.Lock()
        self._private: dict[int, X25519PrivateKey] = {}
        self._public: dict[int, X25519PublicKey] = {}

    @classmethod
    def open(
        cls, store: Store, data_dir: Path, *, kdf: KdfParams | None = None, create: bool = True
    ) -> Keyring:
        """The keyring of a data directory, checked against its server secret.

        A new secret is made (with ``create``) only where nothing needs the old one: no key in
        the database and no sealed file in the data directory. Otherwise a missing, unreadable
        or foreign secret is a SecretUnusable saying how to restore it; nothing is changed.
        """
        path = secret_path(data_dir)
        secret = read_secret(path)
        if secret is None:
            held = _held_without_secret(store, data_dir)
            if held is not None:
                raise SecretUnusable(
                    f"no server secret at {path}, but {held}: {_RESTORE}; a new secret would "
                    "not open what is there, so none is made"
                )
            if not create:
                raise SecretUnusable(f"no server secret in {path.parent}: nothing is sealed")
            secret = load_or_create_secret(path)
        keyring = cls(store, secret, kdf=kdf)
        keyring._check_secret(path)
        return keyring

    def _check_secret(self, path: Path) -> None:
        """SecretUnusable if the database has household keys and this secret opens none."""
        with self._store.read_session() as session:
            rows = list(session.scalars(select(HouseholdKeyRow)))
        if rows and not any(self._opens(row) for row in rows):
            raise SecretUnusable(
                f"the server secret {path} does not open this database's keys (a secret of "
                f"another data directory, or altered): {_RESTORE}"
            )

    def _opens(self, row: HouseholdKeyRow) -> bool:
        """Whether this secret made ``row``: its public tag checks, or (server mode) its key
        opens. Either alone may fail on an altered row, which the use of it reports."""
        household = row.household_id
        if hmac.compare_digest(self._public_tag(household, row.public), row.public_tag):
            return True
        aad = _household_aad(household, KeyMode.SERVER)
        return (
            row.mode == KeyMode.SERVER.value and _open_key(self._kek, row.wrapped, aad) is not None
        )

    # Households ---------------------------------------------------------------------------------

    def ensure_household(self, household_id: int) -> None:
        """Makes the household's key (server mode) unless it has one."""
        private = X25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        with self._secure_write() as session:
            if session.get(HouseholdKeyRow, household_id) is not None:
                return
            session.add(
                HouseholdKeyRow(
                    household_id=household_id,
                    mode=KeyMode.SERVER.value,
                    wrapped=self._wrap_household(household_id, private, KeyMode.SERVER, None),
                    public=public,
                    public_tag=self._public_tag(household_id, public),
                    created=self._clock(),
                )
            )

    def mode(self, household_id: int) -> KeyMode | None:
        """The household's key mode, or None if it has no key yet."""
        row = self._household_row(household_id)
        return None if row is None else KeyMode(row.mode)

    def is_unlocked(self, household_id: int) -> bool:
        """Whether the household's media can be opened now."""
        if self.mode(household_id) is KeyMode.SERVER:
            return True
        with self._lock:
            return household_id in self._private

    def unlock(self, household_id: int, password: str) -> None:
        """Opens a password-mode household key for this process (at the owner's login)."""
        private = self._unwrap_with_password(self._require_row(household_id), password)
        with self._lock:
            self._private[household_id] = private

    def lock(self, household_id: int) -> None:
        """Forgets the household's opened key (password mode needs ``unlock`` again)."""
        with self._lock:
            self._private.pop(household_id, None)

    def enable_password(self, household_id: int, password: str) -> None:
        """Moves a household to password mode: its key is rewrapped under KEK + password."""
        row = self._require_row(household_id)
        if row.mode != KeyMode.SERVER.value:
            raise KeyringError(f"household {household_id} is in password mode already")
        self._rewrap(household_id, row, self._private_key(household_id), password)

    def change_password(self, household_id: int, old: str, new: str) -> None:
        """Rewraps a password-mode household key under a new password (a new salt too)."""
        row = self._require_row(household_id)
        self._rewrap(household_id, row, self._unwrap_with_password(row, old), new)

    def disable_password(self, household_id: int, password: str) -> None:
        """Moves a household back to server mode (the server alone opens its key again)."""
        row = self._require_row(household_id)
        self._rewrap(household_id, row, self._unwrap_with_password(row, password), None)

    def shred_household(self, household_id: int) -> int:
        """Destroys the household key and every media key of it; returns how many media keys."""
        with self._secure_write() as session:
            query = delete(MediaKeyRow).where(MediaKeyRow.household_id == household_id)
            count = int(session.execute(query).rowcount)  # type: ignore[attr-defined]
            session.execute(
                delete(HouseholdKeyRow).where(HouseholdKeyRow.household_id == household_id)
            )
        with self._lock:
            self._private.pop(household_id, None)
            self._public.pop(household_id, None)
        self.scrub()
        return count

    # Media keys ---------------------------------------------------------------------------------

    def new_media_key(self, blob_id: str, household_id: int) -> bytes:
        """Makes and stores a key for a new blob; KeyringError if the blob has one already."""
        key = new_key()
        wrapped = _wrap_media(self._public_key(household_id), key, blob_id)
        with self._secure_write() as session:
            if session.get(MediaKeyRow, blob_id) is not None:
                raise KeyringError(f"{blob_id} has a key already")
            session.add(
                MediaKeyRow(
                    blob_id=blob_id,
                    household_id=household_id,
                    wrapped=wrapped,
                    created=self._clock(),
                )
            )
        return key

    def media_key(self, blob_id: str) -> bytes:
        """The blob's key; NoMediaKey if shredded, HouseholdLocked if its household is locked."""
        with self._store.read_session() as session:
            row = session.get(MediaKeyRow, blob_id)
            if row is None:
                raise NoMediaKey(f"{blob_id} has no key (shredded or never sealed)")
            household_id, wrapped = row.household_id, row.wrapped
        key = _unwrap_media(self._private_key(household_id), wrapped, blob_id)
        if key is None:
            raise KeyringError(f"the key of {blob_id} does not open (altered or moved)")
        return key

    def has_key(self, blob_id: str) -> bool:
        """Whether the blob has a key."""
        with self._store.read_session() as session:
            return session.get(MediaKeyRow, blob_id) is not None

    def blob_ids(self, prefix: str = "", household_id: int | None = None) -> list[str]:
        """The blob ids that have keys (starting with ``prefix``, of one household), sorted."""
        query = select(MediaKeyRow.blob_id).order_by(MediaKeyRow.blob_id)
        if prefix:
            query = query.where(MediaKeyRow.blob_id.startswith(prefix, autoescape=True))
        if household_id is not None:
            query = query.where(MediaKeyRow.household_id == household_id)
        with self._store.read_session() as session:
            return list(session.scalars(query))

    def rehome(self, blob_ids: Iterable[str], household_id: int) -> int:
        """Rewraps blobs' keys to another household (a camera's footage given to its new
        household); both households must be open. Returns how many keys moved."""
        public = self._public_key(household_id)
        moved = {blob: _wrap_media(public, self.media_key(blob), blob) for blob in blob_ids}
        with self._secure_write() as session:
            for blob, wrapped in moved.items():
                query = update(MediaKeyRow).where(MediaKeyRow.blob_id == blob)
                session.execute(query.values(household_id=household_id, wrapped=wrapped))
        if moved:
            self.scrub()  # the old wrapping would still open with the old household's key
        return len(moved)

    def finish(self, temp_id: str, final_id: str) -> None:
        """Makes a writer's key (``<id>.part``) the finished file's, destroying any older one."""
        if temp_id.removesuffix(PART_SUFFIX) != final_id:
            raise ValueError(f"{temp_id} cannot become {final_id}")
        with self._secure_write() as session:
            if session.get(MediaKeyRow, temp_id) is None:
                raise NoMediaKey(f"{temp_id} has no key")
            older = delete(MediaKeyRow).where(MediaKeyRow.blob_id == final_id)
            replaced = int(session.execute(older).rowcount)  # type: ignore[attr-defined]
            query = update(MediaKeyRow).where(MediaKeyRow.blob_id == temp_id)
            session.execute(query.values(blob_id=final_id))
        if replaced:
            self.scrub()  # the older file's key (a renamed row keeps its own bytes: no scrub)

    def shred(self, blob_id: str) -> bool:
        """Destroys the blob's key for good; True if it had one."""
        return self.shred_many([blob_id]) > 0

    def shred_many(self, blob_ids: Iterable[str]) -> int:
        """Destroys the keys of many blobs with one scrub; returns how many keys went."""
        ids = list(blob_ids)
        count = 0
        with self._secure_write() as session:
            for i in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
                query = delete(MediaKeyRow).where(MediaKeyRow.blob_id.in_(ids[i : i + 500]))
                count += int(session.execute(query).rowcount)  # type: ignore[attr-defined]
        if count:
            self.scrub()
        return count

    def scrub(self) -> bool:
        """Moves the WAL into the database file and truncates it, so deleted keys survive in
        neither; True when it went all the way (False: a reader held it back, or not SQLite)."""
        journal = self._store.journal_mode()
        if journal != "wal":
            return journal != ""  # SQLite without WAL: secure_delete did it all
        # A read session: the checkpoint must not run inside a write transaction.
        with self._store.read_session() as session:
            busy, _log, _done = (
                session.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            )
        return int(busy) == 0

    # Internals ----------------------------------------------------------------------------------

    @contextmanager
    def _secure_write(self) -> Iterator[Session]:
        """A write session whose deletes and rewrites overwrite the old bytes (SQLite)."""
        with self._store.write_session() as session:
            connection = session.connection()
            sqlite = connection.dialect.name == "sqlite"
            before: object = None
            if sqlite:
                before = connection.exec_driver_sql("PRAGMA secure_delete").scalar()
                connection.exec_driver_sql("PRAGMA secure_delete=ON")
            yield session
            session.flush()  # the deletes run now, while secure_delete is on
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA secure_delete={int(str(before or 0)):d}")

    def _household_row(self, household_id: int) -> HouseholdKeyRow | None:
        with self._store.read_session() as session:
            return session.get(HouseholdKeyRow, household_id)

    def _require_row(self, household_id: int) -> HouseholdKeyRow:
        row = self._household_row(household_id)
        if row is None:
            raise KeyringError(f"household {household_id} has no key")
        return row

    def _public_tag(self, household_id: int, public: bytes) -> bytes:
        message = _PUBLIC_TAG + f"{household_id}\x00".encode() + public
        return hmac.new(self._kek, message, sha256).digest()

    def _public_key(self, household_id: int) -> X25519PublicKey:
        """The household's public key (made with the household key if it has none)."""
        with self._lock:
            cached = self._public.get(household_id)
        if cached is not None:
            return cached
        row = self._household_row(household_id)
        if row is None:
            self.ensure_household(household_id)
            row = self._require_row(household_id)
        expected = self._public_tag(household_id, row.public)
        if not hmac.compare_digest(expected, row.public_tag):
            raise KeyringError(f"the public key of household {household_id} was altered")
        public = X25519PublicKey.from_public_bytes(row.public)
        with self._lock:
            self._public[household_id] = public
        return public

    def _private_key(self, household_id: int) -> X25519PrivateKey:
        """The household's private key: cached, or unwrapped with the KEK (server mode)."""
        with self._lock:
            cached = self._private.get(household_id)
        if cached is not None:
            return cached
        row = self._require_row(household_id)
        if row.mode != KeyMode.SERVER.value:
            raise HouseholdLocked(f"household {household_id} is locked (needs the password)")
        plain = _open_key(self._kek, row.wrapped, _household_aad(household_id, KeyMode.SERVER))
        if plain is None:
            raise KeyringError(f"household {household_id}'s key does not open with this secret")
        private = X25519PrivateKey.from_private_bytes(plain)
        with self._lock:
            self._private[household_id] = private
        return private

    def _password_kek(self, password: str, salt: bytes, kdf: KdfParams) -> bytes:
        derived = hash_secret_raw(
            password.encode(),
            salt,
            time_cost=kdf.time_cost,
            memory_cost=kdf.memory_kib,
            parallelism=kdf.parallelism,
            hash_len=32,
            type=Type.ID,
        )
        return _hkdf(self._kek + derived, _PASSWORD_KEK_INFO)

    def _wrap_household(
        self,
        household_id: int,
        private: X25519PrivateKey,
        mode: KeyMode,
        password_kek: bytes | None,
    ) -> bytes:
        wrapping = self._kek if password_kek is None else password_kek
        return _seal_key(wrapping, private.private_bytes_raw(), _household_aad(household_id, mode))

    def _unwrap_with_password(self, row: HouseholdKeyRow, password: str) -> X25519PrivateKey:
        if row.mode != KeyMode.PASSWORD.value or row.salt is None:
            raise KeyringError(f"household {row.household_id} is not in password mode")
        kdf = KdfParams(row.kdf_time or 0, row.kdf_memory or 0, row.kdf_parallelism or 0)
        wrapping = self._password_kek(password, row.salt, kdf)
        aad = _household_aad(row.household_id, KeyMode.PASSWORD)
        plain = _open_key(wrapping, row.wrapped, aad)
        if plain is None:
            raise WrongPassword(f"wrong password for household {row.household_id}")
        return X25519PrivateKey.from_private_bytes(plain)

    def _rewrap(
        self,
        household_id: int,
        row: HouseholdKeyRow,
        private: X25519PrivateKey,
        password: str | None,
    ) -> None:
        """Replaces the stored household key by one wrapped for ``password`` (None: server)."""
        mode = KeyMode.SERVER if password is None else KeyMode.PASSWORD
        kdf, salt, password_kek = self._kdf, None, None
        if password is not None:
            salt = os.urandom(16)
            password_kek = self._password_kek(password, salt, kdf)
        wrapped = self._wrap_household(household_id, private, mode, password_kek)
        values = {
            "mode": mode.value,
            "wrapped": wrapped,
            "salt": salt,
            "kdf_time": None if salt is None else kdf.time_cost,
            "kdf_memory": None if salt is None else kdf.memory_kib,
            "kdf_parallelism": None if salt is None else kdf.parallelism,
        }
        with self._secure_write() as session:
            # Compare-and-swap: argon2 ran outside the write lock, so check nobody rewrapped since.
            query = update(HouseholdKeyRow).where(
                HouseholdKeyRow.household_id == household_id,
                HouseholdKeyRow.wrapped == row.wrapped,
            )
            if not session.execute(query.values(**values)).rowcount:  # type: ignore[attr-defined]
                raise KeyringError(f"household {household_id}'s key changed meanwhile; retry")
        with self._lock:
            self._private[household_id] = private
        self.scrub()  # the copy wrapped the old way must not survive in the WAL


class MediaVault:
    """Sealed media files under the data directory, each under its own key; thread-safe."""

    def __init__(self, keyring: Keyring, data_dir: Path, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.keyring = keyring
        self.data_dir = data_dir
        self._root = data_dir.resolve()
        self._chunk_size = chunk_size

    def blob_id(self, path: Path) -> str:
        """The blob id of a file (absolute, or relative to the data directory)."""
        full = path if path.is_absolute() else self.data_dir / path
        # A key names a file by its place: a link's own name, never what it points at.
        found = contained(full, self._root, follow_links=False)
        if found is None or found == self._root:
            raise KeyringError(f"{path} is not inside {self.data_dir}")
        return found.relative_to(self._root).as_posix()

    def create(self, path: Path, household_id: int) -> SealedWriter:
        """A writer sealing a new file at ``path`` under a new key of the household.

        An existing file at ``path`` stays readable until the new one is finished, then goes
        with its key; an aborted writer destroys its own key.
        """
        final = self.blob_id(path)
        temp = final + PART_SUFFIX
        self.keyring.shred(temp)  # a killed writer's key, if recovery did not take it
        key = self.keyring.new_media_key(temp, household_id)
        return SealedWriter(
            self.data_dir / final,
            key,
            chunk_size=self._chunk_size,
            on_commit=lambda: self.keyring.finish(temp, final),
            on_abort=lambda: self.keyring.shred(temp),
        )

    def open(self, path: Path) -> SealedReader:
        """A seekable reader of a finished file's plaintext; never through a link that leads
        out of the data directory (KeyringError)."""
        blob = self.blob_id(path)
        if contained(self.data_dir / blob, self._root) is None:
            raise KeyringError(f"{path} is a link out of {self.data_dir}")
        return SealedReader(self.data_dir / blob, self.keyring.media_key(blob))

    def open_unfinished(self, part: Path) -> SealedReader:
        """A reader of a ``.part`` (being written, or left by a killed writer) up to its last
        whole chunk."""
        path = self.data_dir / self.blob_id(part)
        return SealedReader(path, self._part_key(part), unfinished=True)

    def salvage(self, part: Path, keep: Callable[[SealedReader], int] | None = None) -> int:
        """Finishes what a killed writer left in ``part``; returns the plaintext bytes kept.

        ``keep`` picks how much of the readable prefix to keep (``sealed.whole_boxes`` for
        fragmented MP4). With nothing to keep the ``.part`` and its key go.
        """
        part_id = self.blob_id(part)
        final = part_id.removesuffix(PART_SUFFIX)
        key = self._part_key(part)
        with SealedReader(self.data_dir / part_id, key, unfinished=True) as reader:
            length = reader.size if keep is None else keep(reader)
        if self.keyring.has_key(part_id):
            # Key first: if we die before the file is renamed, the next run finds the key there.
            self.keyring.finish(part_id, final)
        kept = salvage(self.data_dir / part_id, key, keep=length)
        if kept == 0:
            self.keyring.shred(final)
        return kept

    def shred(self, path: Path) -> bool:
        """Destroys the file's key, then the file (and an unfinished copy); True if it had a key.

        Key first: once it is gone the bytes are noise wherever they survive (a backup, a disk
        that kept the blocks); the file is unlinked next, and a failed unlink can be retried.
        """
        return self.shred_many([path]) > 0

    def shred_many(self, paths: Iterable[Path]) -> int:
        """Destroys many files' keys with one scrub, then the files; returns how many keys went
        (retention's batches: one checkpoint per batch, not per file)."""
        blobs = [self.blob_id(p) for p in paths]
        count = self.keyring.shred_many([*blobs, *(b + PART_SUFFIX for b in blobs)])
        for blob in blobs:
            for leftover in (self.data_dir / blob, self.data_dir / (blob + PART_SUFFIX)):
                try:
                    leftover.unlink(missing_ok=True)
                except OSError as error:
                    raise StoreError(
                        f"key of {blob} destroyed, file not deleted: {error}"
                    ) from error
        return count

    def shred_household(self, household_id: int) -> int:
        """Destroys a household's keys, then deletes its files; returns how many keys went."""
        blobs = self.keyring.blob_ids(household_id=household_id)
        count = self.keyring.shred_household(household_id)
        for blob in blobs:
            (self.data_dir / blob).unlink(missing_ok=True)
        return count

    def shred_orphans(self) -> int:
        """Destroys the keys whose files are gone (start-up recovery, before any writer runs);
        keys of sealed database rows (``ROW_BLOB_PREFIX``) have no file and are left alone."""
        gone = [
            b for b in self.keyring.blob_ids()
            if not b.startswith(ROW_BLOB_PREFIX) and not (self.data_dir / b).exists()
        ]  # fmt: skip
        return self.keyring.shred_many(gone)

    def _part_key(self, part: Path) -> bytes:
        """A ``.part``'s key: its own, or the finished file's if the writer died mid-finish."""
        part_id = self.blob_id(part)
        if not part_id.endswith(PART_SUFFIX):
            raise KeyringError(f"{part} is not a {PART_SUFFIX} file")
        try:
            return self.keyring.media_key(part_id)
        except NoMediaKey:
            return self.keyring.media_key(part_id.removesuffix(PART_SUFFIX))
