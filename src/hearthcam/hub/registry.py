"""The hub's registry of linked homes, and the one-time codes a home links with.

The hub keeps its own database (a SQLite file or a PostgreSQL URL), apart from any home's: its
tables in their own ``metadata`` (``hub_clips`` is ``hub.clips``'s: the keys of the clips held).
The same database also holds the home's schema, for the hub's accounts and view log
(``Store.open``, migrated by the home's revisions and recorded in ``alembic_version``); the hub's
tables have revisions of their own (``hub/migrations``, recorded in ``hub_alembic_version``,
``SCHEMA``), which ``open_hub_engine`` runs with ``store.migrate``'s machinery: under a lock, a
SQLite file copied first, all or nothing. A change to these tables comes with a revision
(``tests/hub/test_migrations.py`` compares the two; docs/upgrading.md).

A link code is shown once to the hub's operator, who passes it to a home's owner out of band; the
hub keeps only its SHA-256, so a copy of the database links nobody. Writes hold the database's
write lock from their first statement (``store.engine``: BEGIN IMMEDIATE on SQLite, an advisory
lock on PostgreSQL), so checking a code, linking the home and using the code up are one step:
a code links exactly one home even when two links race.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from hearthcam.errors import HearthcamError
from hearthcam.hub.identity import HubError, key_id_of, public_key_from_b64
from hearthcam.store.engine import WRITE_LOCK, build_engine
from hearthcam.store.migrate import Schema, migrate

__all__ = [
    "CODE_ALPHABET",
    "SCHEMA",
    "VERSION_TABLE",
    "HubRegistry",
    "LinkRefused",
    "metadata",
    "normalize_code",
]

# Crockford's base32: digits and capitals without I, L, O and U, so a code read aloud or copied
# by hand has one spelling. 10 characters carry 50 bits: not guessable within a code's life.
CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH: Final = 10
# What a person may type for a character the alphabet leaves out (Crockford's decoding).
_LOOKALIKES: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})
BUSY_TIMEOUT_S: Final = 30.0

metadata = MetaData()

hub_link_codes = Table(
    "hub_link_codes",
    metadata,
    Column("code_sha256", String(64), primary_key=True),  # of the normalized code
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Column("note", Text, nullable=False, default=""),
)

hub_homes = Table(
    "hub_homes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("public_key", Text, nullable=False),  # urlsafe base64, no padding
    Column("name", Text, nullable=False),
    Column("linked_at", Float, nullable=False),
    Column("unlinked_at", Float, nullable=True),
)

# The clips linked homes sent (``hub.clips``): each row holds the only key to its sealed file,
# so deleting the row makes the file unreadable even before the file itself is gone.
hub_clips = Table(
    "hub_clips",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("home_id", Integer, ForeignKey("hub_homes.id"), nullable=False),
    Column("clip_id", String(64), nullable=False),  # the home's pseudonymous id of the clip
    Column("receipt_digest", String(64), nullable=False),  # hex SHA-256 of the consent receipt
    Column("received_at", Float, nullable=False),
    Column("keep_until", BigInteger, nullable=False),  # unix seconds
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),  # of the plaintext
    Column("file", String(64), nullable=False, unique=True),  # random token naming the file
    Column("key", LargeBinary, nullable=False),  # AES-256-GCM key of this clip alone
    UniqueConstraint("home_id", "clip_id"),
)

# What the home's model read from the event a clip shows (``pipeline.features``: counts, sizes,
# movement and dwell of what was followed, the event's length and hour of day), sent with the
# clip so that the hub can train on annotated clips; deleted with its clip (``hub.clips``).
hub_clip_features = Table(
    "hub_clip_features",
    metadata,
    Column("home_id", Integer, primary_key=True),
    Column("clip_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),  # pipeline.features.FEATURES_VERSION
    Column("vector", Text, nullable=False),  # comma-separated numbers, FEATURE_NAMES order
)

# The hub's own checks of each clip a home sent (``hub.checks``), before any annotator may be
# offered it: ``passed``, or ``refused`` (the clip deleted, the reason and the deletion receipt
# kept for its home to read). No row: not checked yet, offered to nobody.
hub_clip_checks = Table(
    "hub_clip_checks",
    metadata,
    Column("home_id", Integer, primary_key=True),
    Column("clip_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("checked_at", Float, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("receipt", Text, nullable=True),  # the deletion receipt's JSON, for a refused clip
)

# Models the hub signed for homes to pull (``hub.models``): the manifest (with its lineage of
# pseudonymous clip tokens) as signed, the signature, and the model file. ``retired``: a clip of
# its lineage was withdrawn, so it is offered to no home again.
hub_models = Table(
    "hub_models",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("manifest", Text, nullable=False),  # canonical JSON, exactly the signed bytes
    Column("signature", LargeBinary, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("retired_at", Float, nullable=True),
)

# The workbench at the hub (``hub.desk``): one annotator's short hold on one checked clip. A
# lease row names the clip by (home, clip id); the annotator is a user of the hub's accounts.
hub_leases = Table(
    "hub_leases",
    metadata,
    Column("id", String(32), primary_key=True),  # random hex, the lease id the annotator sees
    Column("annotator_id", Integer, nullable=False, index=True),
    Column("home_id", Integer, nullable=False),
    Column("clip_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # annotate.workbench.LeaseState
    Column("taken_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Index("ix_hub_leases_clip", "home_id", "clip_id", "state"),
)

# What annotators recorded of the clips: the verdict and corrected keyframe boxes. Deleted with
# their clip (withdrawn, unlinked, expired, refused): no annotation outlives its clip.
hub_annotations = Table(
    "hub_annotations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("home_id", Integer, nullable=False),
    Column("clip_id", String(64), nullable=False),
    Column("lease_id", String(32), nullable=False, unique=True),
    Column("annotator_id", Integer, nullable=False),
    Column("verdict", String(32), nullable=False),
    Column("reason", String(16), nullable=True),
    Column("keyframes", Text, nullable=False),  # JSON: [{frame, boxes: [{xyxy, label, track}]}]
    Column("created_at", Float, nullable=False),
    Index("ix_hub_annotations_clip", "home_id", "clip_id"),
)

# The hub's revisions, kept apart from the home's in the one database both schemas share.
VERSION_TABLE: Final = "hub_alembic_version"
SCHEMA: Final = Schema(
    what="the hub's database",
    scripts=Path(__file__).with_name("migrations"),
    version_table=VERSION_TABLE,
    lock=0x6875626D6967,  # "hubmig": not the home's migration lock, so each migrates alone
    label="hub-",
    secrets="the keys of the clips held",
    tables=frozenset(metadata.tables),
)

Refusal = Literal["unknown or used code", "expired code", "already linked"]


class LinkRefused(HubError):
    """A link the registry will not make; ``reason`` says why (the hub answers it as is)."""

    def __init__(self, reason: Refusal) -> None:
        self.reason: Refusal = reason
        super().__init__(reason)


def open_hub_engine(url: str, what: str) -> Engine:
    """An engine over the hub's database at ``url``, its tables migrated to this version's
    revision (the registry, clips, models, checks and desk each open theirs so; two processes
    opening it at once migrate it once); HubError naming ``what``, also for a database a newer
    version migrated."""
    engine = build_engine(url, BUSY_TIMEOUT_S, wal=True)
    try:
        migrate(engine, schema=SCHEMA)
    except (SQLAlchemyError, HearthcamError) as error:
        engine.dispose()
        shown = make_url(url).render_as_string(hide_password=True)
        raise HubError(f"cannot open {what} in {shown}: {error}") from error
    return engine


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection to read the hub's database; its errors become HubError."""
    try:
        with engine.connect() as connection:
            yield connection
    except SQLAlchemyError as error:
        raise HubError(f"hub database read failed: {error}") from error


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its first statement; commits on success;
    its errors become HubError."""
    try:
        with (
            engine.connect() as connection,
            connection.execution_options(**{WRITE_LOCK: True}).begin(),
        ):
            yield connection
    except SQLAlchemyError as error:
        raise HubError(f"hub database write failed: {error}") from error


def normalize_code(code: str) -> str:
    """The one spelling of a code as typed: upper case, without dashes or spaces, lookalikes
    read as the digits they stand for."""
    kept = "".join(code.split()).replace("-", "").upper()
    return kept.translate(_LOOKALIKES)


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode("utf-8")).hexdigest()


class HubRegistry:
    """The linked homes and the link codes of one hub; safe to call from many threads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str) -> HubRegistry:
        """Opens the hub's database at ``url``, migrated to this version's tables."""
        return cls(open_hub_engine(url, "the hub database"))

    def close(self) -> None:
        """Closes every pooled connection."""
        self._engine.dispose()

    def new_code(self, now: float, ttl_s: float = 600.0, note: str = "") -> str:
        """A new one-time link code, valid ``ttl_s`` seconds, as ``XXXXX-XXXXX``.

        Shown once: only its hash is kept. ``note`` is for the operator (whom it was for)."""
        if ttl_s <= 0:
            raise ValueError(f"a code must live a while, not {ttl_s} s")
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        row = {
            "code_sha256": _code_hash(code),
            "created_at": now,
            "expires_at": now + ttl_s,
            "used_at": None,
            "note": note,
        }
        with writing(self._engine) as connection:
            connection.execute(insert(hub_link_codes).values(row))
        half = CODE_LENGTH // 2
        return f"{code[:half]}-{code[half:]}"

    def link(self, code: str, public_b64: str, name: str, now: float) -> int:
        """Links the home whose public key is ``public_b64`` with ``code``; its home id.

        LinkRefused when the code is unknown, used or expired, or the key is linked already; a
        refused link leaves the code as it was. A key that was unlinked links again under its
        old home id (same key, same home), with the new name."""
        public = public_key_from_b64(public_b64)
        key_id = key_id_of(public)
        digest = _code_hash(code)
        with writing(self._engine) as connection:
            found = connection.execute(
                select(hub_link_codes.c.expires_at, hub_link_codes.c.used_at).where(
                    hub_link_codes.c.code_sha256 == digest
                )
            ).one_or_none()
            if found is None or found.used_at is not None:
                raise LinkRefused("unknown or used code")
            if found.expires_at <= now:
                raise LinkRefused("expired code")
            home = connection.execute(
                select(hub_homes.c.id, hub_homes.c.unlinked_at).where(hub_homes.c.key_id == key_id)
            ).one_or_none()
            if home is not None and home.unlinked_at is None:
                raise LinkRefused("already linked")
            fields = {"public_key": public_b64.strip(), "name": name, "linked_at": now}
            if home is None:
                inserted = connection.execute(
                    insert(hub_homes).values(key_id=key_id, unlinked_at=None, **fields)
                )
                primary = inserted.inserted_primary_key
                if primary is None:
                    raise HubError("the hub database gave the new home no id")
                home_id = int(primary[0])
            else:
                connection.execute(
                    update(hub_homes)
                    .where(hub_homes.c.id == home.id)
                    .values(unlinked_at=None, **fields)
                )
                home_id = int(home.id)
            # Conditional, as a second line behind the write lock: a code is used once.
            used = connection.execute(
                update(hub_link_codes)
                .where(hub_link_codes.c.code_sha256 == digest, hub_link_codes.c.used_at.is_(None))
                .values(used_at=now)
            )
            if used.rowcount != 1:
                raise LinkRefused("unknown or used code")
        return home_id

    def public_key(self, key_id: str) -> Ed25519PublicKey | None:
        """The public key of the linked home named ``key_id``; None if none is linked now."""
        with reading(self._engine) as connection:
            text = connection.execute(
                select(hub_homes.c.public_key).where(
                    hub_homes.c.key_id == key_id, hub_homes.c.unlinked_at.is_(None)
                )
            ).scalar_one_or_none()
        return None if text is None else public_key_from_b64(text)

    def home_id(self, key_id: str) -> int | None:
        """The id of the linked home named ``key_id``; None if none is linked now."""
        with reading(self._engine) as connection:
            found = connection.execute(
                select(hub_homes.c.id).where(
                    hub_homes.c.key_id == key_id, hub_homes.c.unlinked_at.is_(None)
                )
            ).scalar_one_or_none()
        return None if found is None else int(found)

    def unlink(self, key_id: str, now: float) -> bool:
        """Unlinks the home named ``key_id``; False if it was not linked."""
        with writing(self._engine) as connection:
            done = connection.execute(
                update(hub_homes)
                .where(hub_homes.c.key_id == key_id, hub_homes.c.unlinked_at.is_(None))
                .values(unlinked_at=now)
            )
        return done.rowcount == 1
