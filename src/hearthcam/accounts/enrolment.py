"""``Enrolments``: one-time enrolment links, the only way a new user gets their first password.

An admin (admins, annotators) or an owner (members) invites a user by name: the user is created
with no password (``passwords.NO_PASSWORD``, which nothing matches) and a link whose token is
returned once. The new user opens the link, chooses a password and enrols TOTP; the last step
checks the link, the password rules and a code from the new secret, marks the link used and
opens an active session, all in one transaction, so a link works once. Resetting a user's TOTP
takes their password and TOTP away, ends their sessions and gives a new link: whoever holds only
the old password cannot sign in and enrol a second factor of their own.

Links live ``LINK_LIFETIME`` seconds; only the SHA-256 of the token is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hearthcam.accounts.errors import AccountError, PasswordRejected, UsernameTaken
from hearthcam.accounts.login import (
    Client,
    LoginFailure,
    LoginResult,
    LoginSteps,
    TotpEnrollment,
    UserInfo,
    user_info,
)
from hearthcam.accounts.passwords import (
    NO_PASSWORD,
    Passwords,
    check_username,
    password_problems,
    username_key,
)
from hearthcam.accounts.policy import LoginState, Role, needs_household
from hearthcam.accounts.sessions import new_token, token_id
from hearthcam.accounts.totp import (
    hash_recovery_code,
    match_totp,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
)
from hearthcam.store.accounts import AccountStore, AccountTx, UserRecord
from hearthcam.store.enrolment import LinkRecord

LINK_LIFETIME = 72 * 3600.0
USERNAME_TAKEN = "that username is not available; choose another"


class LinkInvalid(AccountError):
    """The enrolment link does not exist, was used, or has expired (one answer for all)."""

    def __init__(self) -> None:
        super().__init__(
            "this enrolment link is not valid: it was used, has expired or was replaced"
        )


class Enrolled(StrEnum):
    """Where a user stands with their enrolment."""

    DONE = "done"  # has a password (and TOTP where it was enrolled)
    INVITED = "invited"  # a live link waits to be used
    EXPIRED = "expired"  # no password and no live link: a new link is needed


@dataclass(frozen=True, slots=True)
class Invitation:
    """A user with a fresh link; ``token`` is shown once (as a URL) and never stored."""

    user: UserInfo
    token: str
    expires: float


@dataclass(frozen=True, slots=True)
class EnrolmentDone:
    """A completed enrolment: the new session and the recovery codes, shown once."""

    result: LoginResult
    recovery_codes: tuple[str, ...] = ()


class Enrolments:
    """Enrolment links over the accounts' store, passwords and login steps."""

    def __init__(
        self, db: AccountStore, passwords: Passwords, steps: LoginSteps, lifetime: float
    ) -> None:
        self._db = db
        self._passwords = passwords
        self._steps = steps
        self._lifetime = lifetime

    def invite(self, username: str, role: Role, household_id: int | None, now: float) -> Invitation:
        """Creates a user with no password yet and their link."""
        if needs_household(role) != (household_id is not None):
            raise AccountError(
                f"a {role.value} must belong to a household"
                if needs_household(role)
                else f"a {role.value} belongs to no household"
            )
        check_username(username)
        token = new_token()
        with self._db.write() as tx:
            if household_id is not None and tx.household(household_id) is None:
                raise AccountError(f"no household {household_id}")
            if tx.user_by_key(username_key(username)) is not None:
                raise UsernameTaken(USERNAME_TAKEN)
            user = tx.add_user(username, NO_PASSWORD, role.value, household_id, now)
            expires = self._new_link(tx, user.id, token, now)
        return Invitation(user_info(user), token, expires)

    def reset(self, user_id: int, now: float) -> Invitation | None:
        """Takes the user's password and TOTP away, ends their sessions, gives a new link."""
        token = new_token()
        with self._db.write() as tx:
            user = tx.user(user_id)
            if user is None:
                return None
            tx.set_password_hash(user_id, NO_PASSWORD)
            tx.set_totp(user_id, None, False, None)
            tx.replace_recovery_codes(user_id, [])
            tx.delete_user_sessions(user_id)
            expires = self._new_link(tx, user_id, token, now)
            return Invitation(user_info(user), token, expires)

    def state(self, user_id: int, now: float) -> Enrolled:
        """Whether the user has enrolled, has a live link, or needs a new one."""
        with self._db.read() as tx:
            user = tx.user(user_id)
            link = tx.links.for_user(user_id)
        if user is not None and user.password_hash != NO_PASSWORD:
            return Enrolled.DONE
        return Enrolled.INVITED if link is not None and link.live(now) else Enrolled.EXPIRED

    def pending(self, token: str, now: float) -> UserInfo:
        """The user a live link is for (LinkInvalid otherwise); the link stays unused."""
        with self._db.read() as tx:
            _link, user = self._live(tx, token, now)
        return user_info(user)

    def start_totp(self, token: str, now: float) -> TotpEnrollment:
        """A new TOTP secret for the link's user (each call replaces the last; not yet on)."""
        secret = new_secret()
        with self._db.write() as tx:
            _link, user = self._live(tx, token, now)
            tx.set_totp(user.id, secret, False, None)
        return TotpEnrollment(secret, provisioning_uri(secret, user.username))

    def complete(
        self, token: str, password: str, code: str, client: Client, now: float
    ) -> EnrolmentDone:
        """Sets the password and turns TOTP on once ``code`` matches; uses the link up.

        Raises LinkInvalid, PasswordRejected; a wrong code fails without using the link.
        """
        with self._db.read() as tx:
            link, user = self._live(tx, token, now)
        problems = password_problems(password, user.username)
        if problems:
            raise PasswordRejected(problems)
        encoded = self._passwords.hash(password)
        with self._db.write() as tx:
            current = tx.user(user.id)
            if current is None or current.totp_secret is None:
                return EnrolmentDone(LoginResult.failed(LoginFailure.INVALID_CODE))
            step = match_totp(current.totp_secret, code, now, None)
            if step is None:
                return EnrolmentDone(LoginResult.failed(LoginFailure.INVALID_CODE))
            if not tx.links.use(link.id, now):
                raise LinkInvalid()
            codes = new_recovery_codes()
            tx.set_password_hash(user.id, encoded)
            tx.set_totp(user.id, current.totp_secret, True, step)
            tx.replace_recovery_codes(user.id, [hash_recovery_code(c) for c in codes])
            tx.delete_user_sessions(user.id)
            tx.clear_attempts(username_key(user.username))
            tx.record_login(user.id, now)
            session = self._steps.open(
                tx, current, LoginState.ACTIVE, mfa_passed=True, client=client, now=now
            )
        return EnrolmentDone(LoginResult(state=LoginState.ACTIVE, token=session), tuple(codes))

    def _new_link(self, tx: AccountTx, user_id: int, token: str, now: float) -> float:
        expires = now + self._lifetime
        tx.links.replace(token_id(token), user_id, now, expires)
        return expires

    @staticmethod
    def _live(tx: AccountTx, token: str, now: float) -> tuple[LinkRecord, UserRecord]:
        link = tx.links.get(token_id(token)) if token else None
        user = None if link is None else tx.user(link.user_id)
        if link is None or user is None or not link.live(now):
            raise LinkInvalid()
        return link, user
