"""The steps of a login inside one account transaction, and the results a login returns.

Throttling is keyed on the client (``policy.client_key``: an address or a known device) and on
the client with the lower-cased username, whether or not such a user exists, so the answers
(and their timing) are the same for a real and an invented name. An attempt is written
*before* the password is checked and removed only once it has succeeded: concurrent guesses then
each take a slot under the write lock instead of all reading the same old count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hearthcam.accounts.policy import (
    LoginState,
    LoginStep,
    RateLimits,
    Role,
    backoff_until,
    next_state,
)
from hearthcam.accounts.sessions import SessionInfo, SessionPolicy, new_csrf, new_token, token_id
from hearthcam.accounts.totp import clean_code, hash_recovery_code, looks_like_totp, match_totp
from hearthcam.store.accounts import AccountTx, SessionRecord, UserRecord


class LoginFailure(StrEnum):
    """Why a login step failed, in words safe to show: none says whether a user exists."""

    INVALID_CREDENTIALS = "invalid_credentials"
    THROTTLED = "throttled"
    INVALID_CODE = "invalid_code"
    NO_SESSION = "no_session"  # missing, expired, or not in the state this step needs


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of a login step: a state and a fresh token, or a failure."""

    state: LoginState | None = None
    token: str | None = None
    failure: LoginFailure | None = None
    retry_after: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the step succeeded (``token`` then holds the new session's cookie value)."""
        return self.failure is None

    @classmethod
    def failed(cls, reason: LoginFailure, retry_after: float = 0.0) -> LoginResult:
        """A failure; ``retry_after`` (seconds) only for THROTTLED."""
        return cls(failure=reason, retry_after=retry_after)


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    """A new TOTP secret: shown once as a QR code of ``uri``, never returned again."""

    secret: str
    uri: str


@dataclass(frozen=True, slots=True)
class TotpConfirmation:
    """The outcome of confirming an enrollment; the recovery codes are shown once."""

    result: LoginResult
    recovery_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as the rest of the app may see them: no hash, no TOTP secret."""

    id: int
    username: str
    role: Role
    household_id: int | None
    totp_enabled: bool
    created: float
    last_login: float | None
    locked_until: float


def user_info(user: UserRecord) -> UserInfo:
    """The shareable view of a user record."""
    return UserInfo(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        household_id=user.household_id,
        totp_enabled=user.totp_enabled,
        created=user.created,
        last_login=user.last_login,
        locked_until=user.locked_until,
    )


def session_info(record: SessionRecord, user: UserRecord) -> SessionInfo:
    """What a request learns from its session."""
    return SessionInfo(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        household_id=user.household_id,
        state=LoginState(record.state),
        csrf_token=record.csrf_token,
        mfa_passed=record.mfa_passed,
        created=record.created,
        expires=record.expires,
    )


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from, as recorded on its session."""

    ip: str
    user_agent: str


class LoginSteps:
    """The steps a login is made of, over an open transaction, under one set of policies."""

    def __init__(
        self, limits: RateLimits, policy: SessionPolicy, mfa_roles: frozenset[Role]
    ) -> None:
        self.limits = limits
        self.policy = policy
        self.mfa_roles = mfa_roles

    def wait(self, tx: AccountTx, key: str, client: str, now: float) -> float:
        """Seconds until ``client`` (``policy.client_key``) may try ``key`` again (0.0: now)."""
        limits = self.limits
        since = now - limits.memory
        pair, pair_last = tx.pair_failures(key, client, since)
        times = tx.ip_failure_times(client, since)
        until = max(
            backoff_until(pair, pair_last, limits.per_pair, limits),
            backoff_until(len(times), max(times, default=0.0), limits.per_client, limits),
        )
        return max(0.0, until - now)

    def fail(self, tx: AccountTx, key: str, user: UserRecord | None, now: float) -> None:
        """Copies a user's recent failure count onto their row (for admins to see who is being
        guessed at); ``locked_until`` stays 0, as no account is locked as a whole."""
        # Counted for unknown names too, so a failure costs the same work either way.
        count, _last = tx.username_failures(key, now - self.limits.memory)
        if user is not None:
            tx.set_lock(user.id, count, 0.0)

    def live(self, tx: AccountTx, session_id: str, now: float) -> SessionRecord | None:
        """The session if it has not ended; an ended one is deleted on sight."""
        record = tx.session(session_id)
        if record is None:
            return None
        if self.policy.is_expired(record.last_seen, record.expires, now):
            tx.delete_session(session_id)
            return None
        return record

    def next(self, current: LoginState | None, step: LoginStep, user: UserRecord) -> LoginState:
        """The state machine's answer for ``user`` taking ``step`` from ``current``."""
        return next_state(
            current,
            step,
            role=Role(user.role),
            totp_enabled=user.totp_enabled,
            mfa_roles=self.mfa_roles,
        )

    def open(
        self,
        tx: AccountTx,
        user: UserRecord,
        state: LoginState,
        *,
        mfa_passed: bool,
        client: Client,
        now: float,
    ) -> str:
        """Stores a new session with a fresh token and CSRF token; returns the raw token."""
        tx.delete_ended_sessions(now, self.policy.idle)
        token = new_token()
        tx.add_session(
            SessionRecord(
                id=token_id(token),
                user_id=user.id,
                csrf_token=new_csrf(),
                state=state.value,
                mfa_passed=mfa_passed,
                created=now,
                last_seen=now,
                expires=self.policy.expires(state, now),
                ip=client.ip,
                user_agent=client.user_agent,
            )
        )
        return token

    def rotate(
        self, tx: AccountTx, record: SessionRecord, user: UserRecord, state: LoginState, now: float
    ) -> LoginResult:
        """Replaces a session with a new token in ``state`` once a second factor passed."""
        tx.delete_session(record.id)
        client = Client(record.ip, record.user_agent)
        token = self.open(tx, user, state, mfa_passed=True, client=client, now=now)
        return LoginResult(state=state, token=token)


def second_factor_ok(
    tx: AccountTx, user: UserRecord, code: str, now: float, *, recovery: bool = True
) -> bool:
    """Checks a TOTP code (once per time step) or, if allowed, an unused recovery code."""
    if not user.totp_enabled or user.totp_secret is None:
        return False
    cleaned = clean_code(code)
    if looks_like_totp(cleaned):
        step = match_totp(user.totp_secret, cleaned, now, user.totp_last_step)
        # The claim is what stops a replay racing this one: only one of them can move the step.
        return step is not None and tx.claim_totp_step(user.id, step)
    return recovery and tx.use_recovery_code(user.id, hash_recovery_code(cleaned), now)
