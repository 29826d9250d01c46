"""Account tables: households, users, sessions, recovery codes, camera ownership, login attempts.

The tables share ``db.Base``'s metadata (``store.schema``); migrations make them.
``AccountStore`` hands out an ``AccountTx``: typed reads and writes over one transaction, so the
accounts service can check a rate limit and record an attempt atomically (a write transaction
holds SQLite's write lock from its first statement, BEGIN IMMEDIATE). Callers get frozen
records, never rows.

Secrets at rest: passwords as argon2id hashes, recovery codes as SHA-256, sessions by the SHA-256
of their token. The TOTP secret is stored as is for now (encrypting it is issue 4's work).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import (
    CursorResult,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from hearthcam.store.db import Base, Store
from hearthcam.store.enrolment import LinkTx


class _HouseholdRow(Base):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    created: Mapped[float] = mapped_column(Float)


class _UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    # Lower-cased username: the unique key, so "Alice" and "alice" cannot both exist.
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="RESTRICT"), index=True
    )
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)
    created: Mapped[float] = mapped_column(Float)
    last_login: Mapped[float | None] = mapped_column(Float)


class _SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    mfa_passed: Mapped[bool]
    created: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    expires: Mapped[float] = mapped_column(Float, index=True)
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(512))


class _RecoveryCodeRow(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[float | None] = mapped_column(Float)


class _CameraHouseholdRow(Base):
    __tablename__ = "camera_households"

    camera: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )


class _LoginAttemptRow(Base):
    """One failed (or not yet decided) login or TOTP attempt."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_user_at", "username_key", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username_key: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    # Indexed alone too: pruning old attempts runs on every login.
    at: Mapped[float] = mapped_column(Float, index=True)


@dataclass(frozen=True, slots=True)
class HouseholdRecord:
    """A household row."""

    id: int
    name: str
    created: float


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user row, secrets included: for the accounts service only, never for a response."""

    id: int
    username: str
    role: str
    household_id: int | None
    password_hash: str
    totp_secret: str | None
    totp_enabled: bool
    totp_last_step: int | None
    failed_attempts: int
    locked_until: float
    created: float
    last_login: float | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session row; ``id`` is the SHA-256 of the token, which is not stored."""

    id: str
    user_id: int
    csrf_token: str
    state: str
    mfa_passed: bool
    created: float
    last_seen: float
    expires: float
    ip: str
    user_agent: str


def _user(row: _UserRow) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        role=row.role,
        household_id=row.household_id,
        password_hash=row.password_hash,
        totp_secret=row.totp_secret,
        totp_enabled=row.totp_enabled,
        totp_last_step=row.totp_last_step,
        failed_attempts=row.failed_attempts,
        locked_until=row.locked_until,
        created=row.created,
        last_login=row.last_login,
    )


def _session(row: _SessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        csrf_token=row.csrf_token,
        state=row.state,
        mfa_passed=row.mfa_passed,
        created=row.created,
        last_seen=row.last_seen,
        expires=row.expires,
        ip=row.ip,
        user_agent=row.user_agent,
    )


def _rowcount(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


class AccountTx:
    """Typed account reads and writes inside one transaction."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self.links = LinkTx(session)

    # Households and cameras -------------------------------------------------------------------

    def add_household(self, name: str, now: float) -> HouseholdRecord:
        """Creates a household."""
        row = _HouseholdRow(name=name, created=now)
        self._s.add(row)
        self._s.flush()
        return HouseholdRecord(row.id, row.name, row.created)

    def household(self, household_id: int) -> HouseholdRecord | None:
        """The household with this id, or None."""
        row = self._s.get(_HouseholdRow, household_id)
        return None if row is None else HouseholdRecord(row.id, row.name, row.created)

    def households(self) -> list[HouseholdRecord]:
        """Every household, by id."""
        rows = self._s.scalars(select(_HouseholdRow).order_by(_HouseholdRow.id))
        return [HouseholdRecord(r.id, r.name, r.created) for r in rows]

    def assign_camera(self, camera: str, household_id: int) -> None:
        """Makes ``household_id`` the owner of ``camera`` (a camera has one household)."""
        row = self._s.get(_CameraHouseholdRow, camera)
        if row is None:
            self._s.add(_CameraHouseholdRow(camera=camera, household_id=household_id))
        else:
            row.household_id = household_id

    def unassign_camera(self, camera: str) -> None:
        """Makes ``camera`` nobody's (it was removed)."""
        row = self._s.get(_CameraHouseholdRow, camera)
        if row is not None:
            self._s.delete(row)

    def household_cameras(self, household_id: int) -> list[str]:
        """The cameras a household owns, by name."""
        query = (
            select(_CameraHouseholdRow.camera)
            .where(_CameraHouseholdRow.household_id == household_id)
            .order_by(_CameraHouseholdRow.camera)
        )
        return list(self._s.scalars(query))

    def camera_household(self, camera: str) -> int | None:
        """The household that owns ``camera``, or None if none does."""
        row = self._s.get(_CameraHouseholdRow, camera)
        return None if row is None else row.household_id

    # Users ------------------------------------------------------------------------------------

    def users_count(self) -> int:
        """How many users exist."""
        return int(self._s.scalar(select(func.count()).select_from(_UserRow)) or 0)

    def add_user(
        self, username: str, password_hash: str, role: str, household_id: int | None, now: float
    ) -> UserRecord:
        """Creates a user; the unique username key is the caller's to check first."""
        row = _UserRow(
            username=username,
            username_key=username.lower(),
            password_hash=password_hash,
            role=role,
            household_id=household_id,
            totp_enabled=False,
            failed_attempts=0,
            locked_until=0.0,
            created=now,
        )
        self._s.add(row)
        self._s.flush()
        return _user(row)

    def user(self, user_id: int) -> UserRecord | None:
        """The user with this id, or None."""
        row = self._s.get(_UserRow, user_id)
        return None if row is None else _user(row)

    def user_by_key(self, key: str) -> UserRecord | None:
        """The user whose lower-cased username is ``key``, or None."""
        row = self._s.scalars(select(_UserRow).where(_UserRow.username_key == key)).first()
        return None if row is None else _user(row)

    def users(self, household_id: int | None = None) -> list[UserRecord]:
        """Every user (of one household, if given), by id."""
        query = select(_UserRow).order_by(_UserRow.id)
        if household_id is not None:
            query = query.where(_UserRow.household_id == household_id)
        return [_user(r) for r in self._s.scalars(query)]

    def delete_user(self, user_id: int) -> bool:
        """Deletes a user with their sessions and recovery codes; True if they existed."""
        # Explicit, not only ON DELETE CASCADE: a connection without foreign_keys=ON would
        # otherwise leave live sessions behind for a deleted user.
        self._s.execute(delete(_SessionRow).where(_SessionRow.user_id == user_id))
        self._s.execute(delete(_RecoveryCodeRow).where(_RecoveryCodeRow.user_id == user_id))
        self.links.delete_for(user_id)
        return _rowcount(self._s.execute(delete(_UserRow).where(_UserRow.id == user_id))) > 0

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replaces a user's password hash."""
        self._s.execute(
            update(_UserRow).where(_UserRow.id == user_id).values(password_hash=password_hash)
        )

    def set_totp(self, user_id: int, secret: str | None, enabled: bool, step: int | None) -> None:
        """Sets a user's TOTP secret, whether it is enabled, and the last step used."""
        self._s.execute(
            update(_UserRow)
            .where(_UserRow.id == user_id)
            .values(totp_secret=secret, totp_enabled=enabled, totp_last_step=step)
        )

    def claim_totp_step(self, user_id: int, step: int) -> bool:
        """Records ``step`` as used if it is later than the last used one; False on a replay."""
        # Compare-and-set in one statement: two requests with the same code cannot both win.
        result = self._s.execute(
            update(_UserRow)
            .where(
                _UserRow.id == user_id,
                or_(_UserRow.totp_last_step.is_(None), _UserRow.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return _rowcount(result) == 1

    def set_lock(self, user_id: int, failed_attempts: int, locked_until: float) -> None:
        """Mirrors a user's failure count and lockout onto their row."""
        self._s.execute(
            update(_UserRow)
            .where(_UserRow.id == user_id)
            .values(failed_attempts=failed_attempts, locked_until=locked_until)
        )

    def record_login(self, user_id: int, now: float) -> None:
        """Notes a completed login and clears the user's failure count."""
        self._s.execute(
            update(_UserRow)
            .where(_UserRow.id == user_id)
            .values(last_login=now, failed_attempts=0, locked_until=0.0)
        )

    # Recovery codes ---------------------------------------------------------------------------

    def replace_recovery_codes(self, user_id: int, code_hashes: Iterable[str]) -> None:
        """Replaces every recovery code of a user."""
        self._s.execute(delete(_RecoveryCodeRow).where(_RecoveryCodeRow.user_id == user_id))
        self._s.add_all(_RecoveryCodeRow(user_id=user_id, code_hash=h) for h in code_hashes)

    def use_recovery_code(self, user_id: int, code_hash: str, now: float) -> bool:
        """Marks an unused recovery code of this user used; False if there is none such."""
        result = self._s.execute(
            update(_RecoveryCodeRow)
            .where(
                _RecoveryCodeRow.user_id == user_id,
                _RecoveryCodeRow.code_hash == code_hash,
                _RecoveryCodeRow.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return _rowcount(result) > 0

    def recovery_codes_left(self, user_id: int) -> int:
        """How many unused recovery codes a user has."""
        query = select(func.count()).where(
            _RecoveryCodeRow.user_id == user_id, _RecoveryCodeRow.used_at.is_(None)
        )
        return int(self._s.scalar(query) or 0)

    # Sessions ---------------------------------------------------------------------------------

    def add_session(self, record: SessionRecord) -> None:
        """Stores a new session."""
        self._s.add(
            _SessionRow(
                id=record.id,
                user_id=record.user_id,
                csrf_token=record.csrf_token,
                state=record.state,
                mfa_passed=record.mfa_passed,
                created=record.created,
                last_seen=record.last_seen,
                expires=record.expires,
                ip=record.ip[:64],
                user_agent=record.user_agent[:512],
            )
        )

    def session(self, session_id: str) -> SessionRecord | None:
        """The session with this id (token hash), or None."""
        row = self._s.get(_SessionRow, session_id)
        return None if row is None else _session(row)

    def touch_session(self, session_id: str, now: float) -> None:
        """Notes that a session was just used."""
        self._s.execute(
            update(_SessionRow).where(_SessionRow.id == session_id).values(last_seen=now)
        )

    def delete_session(self, session_id: str) -> bool:
        """Ends one session; True if it existed."""
        result = self._s.execute(delete(_SessionRow).where(_SessionRow.id == session_id))
        return _rowcount(result) > 0

    def delete_user_sessions(self, user_id: int) -> int:
        """Ends every session of a user; returns how many."""
        result = self._s.execute(delete(_SessionRow).where(_SessionRow.user_id == user_id))
        return _rowcount(result)

    def delete_ended_sessions(self, now: float, idle: float) -> int:
        """Deletes sessions past their absolute end or idle for ``idle`` seconds."""
        ended = or_(_SessionRow.expires <= now, _SessionRow.last_seen <= now - idle)
        return _rowcount(self._s.execute(delete(_SessionRow).where(ended)))

    def user_session_ids(self, user_id: int) -> list[str]:
        """The ids of a user's sessions."""
        query = select(_SessionRow.id).where(_SessionRow.user_id == user_id)
        return list(self._s.scalars(query))

    # Login attempts ---------------------------------------------------------------------------

    def add_attempt(self, key: str, ip: str, now: float) -> int:
        """Records an attempt as failed until ``delete_attempt`` says otherwise; returns its id."""
        row = _LoginAttemptRow(username_key=key[:64], ip=ip[:64], at=now)
        self._s.add(row)
        self._s.flush()
        return row.id

    def delete_attempt(self, attempt_id: int) -> None:
        """Forgets one attempt (it turned out not to be a failure)."""
        self._s.execute(delete(_LoginAttemptRow).where(_LoginAttemptRow.id == attempt_id))

    def clear_attempts(self, key: str, ip: str | None = None) -> int:
        """Forgets the failures of a username (from one client, if ``ip`` is given: a login
        completed there); returns how many."""
        query = delete(_LoginAttemptRow).where(_LoginAttemptRow.username_key == key[:64])
        if ip is not None:
            query = query.where(_LoginAttemptRow.ip == ip[:64])
        return _rowcount(self._s.execute(query))

    def username_failures(self, key: str, since: float) -> tuple[int, float]:
        """How many failures a username has since ``since``, and the time of the last one."""
        query = select(func.count(), func.max(_LoginAttemptRow.at)).where(
            _LoginAttemptRow.username_key == key[:64], _LoginAttemptRow.at > since
        )
        count, last = self._s.execute(query).one()
        return int(count or 0), float(last or 0.0)

    def pair_failures(self, key: str, ip: str, since: float) -> tuple[int, float]:
        """How many failures a username has from one client since ``since``, and the last's time
        (``ip`` holds what an attempt is counted against: an address or a known device)."""
        query = select(func.count(), func.max(_LoginAttemptRow.at)).where(
            _LoginAttemptRow.username_key == key[:64],
            _LoginAttemptRow.ip == ip[:64],
            _LoginAttemptRow.at > since,
        )
        count, last = self._s.execute(query).one()
        return int(count or 0), float(last or 0.0)

    def ip_failure_times(self, ip: str, since: float) -> list[float]:
        """The times of an address's failures since ``since``."""
        query = select(_LoginAttemptRow.at).where(
            _LoginAttemptRow.ip == ip[:64], _LoginAttemptRow.at > since
        )
        return [float(t) for t in self._s.scalars(query)]

    def prune_attempts(self, before: float) -> int:
        """Forgets attempts older than ``before``; returns how many."""
        result = self._s.execute(delete(_LoginAttemptRow).where(_LoginAttemptRow.at < before))
        return _rowcount(result)


class AccountStore:
    """Opens account transactions on a Store's database."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @contextmanager
    def read(self) -> Iterator[AccountTx]:
        """A read-only transaction."""
        with self._store.read_session() as session:
            yield AccountTx(session)

    @contextmanager
    def write(self) -> Iterator[AccountTx]:
        """A transaction holding the write lock, committed when the block ends without error."""
        with self._store.write_session() as session:
            yield AccountTx(session)
