"""``Accounts``: the accounts API the web app and the CLI call.

Users, households and which household owns which camera; login (password, then TOTP where the
policy or the user asks for it), sessions, CSRF, password changes. Who may call what (only an
owner adds members, only an admin adds annotators) is the web layer's to decide; this class
enforces what holds whoever calls: password rules, role/household consistency, login throttling,
MFA, session lifetimes and rotation.

Every method takes ``now`` (seconds since the epoch) instead of reading a clock, so tests run
through lockouts and expiries without sleeping. Argon2 work never runs inside a write
transaction, so a login does not hold the database's write lock while it hashes.
"""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher

from hearthcam.accounts.enrolment import LINK_LIFETIME, USERNAME_TAKEN, Enrolments
from hearthcam.accounts.errors import (
    AccountError,
    NotAllowed,
    PasswordRejected,
    SetupClosed,
    UsernameTaken,
)
from hearthcam.accounts.login import (
    Client,
    LoginFailure,
    LoginResult,
    LoginSteps,
    TotpConfirmation,
    TotpEnrollment,
    UserInfo,
    second_factor_ok,
    session_info,
    user_info,
)
from hearthcam.accounts.passwords import Passwords, check_username, password_problems, username_key
from hearthcam.accounts.policy import (
    DEFAULT_MFA_ROLES,
    Action,
    LoginState,
    LoginStep,
    RateLimits,
    Role,
    client_key,
    mfa_required,
    needs_household,
    permits,
)
from hearthcam.accounts.sessions import SessionInfo, SessionPolicy, token_id
from hearthcam.accounts.totp import (
    hash_recovery_code,
    match_totp,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
)
from hearthcam.store.accounts import AccountStore, AccountTx, SessionRecord, UserRecord
from hearthcam.store.db import Store

__all__ = ["USERNAME_TAKEN", "Accounts"]


class Accounts:
    """Users, households, camera ownership, logins and sessions over one Store."""

    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        limits: RateLimits | None = None,
        sessions: SessionPolicy | None = None,
        mfa_roles: frozenset[Role] = DEFAULT_MFA_ROLES,
        link_lifetime: float = LINK_LIFETIME,
    ) -> None:
        """``hasher`` defaults to argon2-cffi's (RFC 9106 low-memory); tests pass a cheap one.

        ``enrolment``: the one-time links that give invited users their password and TOTP."""
        self._db = AccountStore(store)
        self._passwords = Passwords(hasher)
        self._policy = sessions or SessionPolicy()
        self._mfa_roles = mfa_roles
        self._steps = LoginSteps(limits or RateLimits(), self._policy, mfa_roles)
        self.enrolment = Enrolments(self._db, self._passwords, self._steps, link_lifetime)

    # Setup, households, cameras ---------------------------------------------------------------

    def users_count(self) -> int:
        """How many users exist (first-start setup is open while this is 0)."""
        with self._db.read() as tx:
            return tx.users_count()

    def setup_allowed(self) -> bool:
        """Whether first-start setup may run: only while there are no users at all."""
        return self.users_count() == 0

    def setup(
        self, username: str, password: str, household: str, cameras: Iterable[str], now: float
    ) -> UserInfo:
        """Creates the first owner, their household, and gives it every configured camera.

        Raises SetupClosed if any user exists; the check and the insert share one write
        transaction, so two setup requests racing each other cannot both succeed.
        """
        encoded = self._new_password_hash(check_username(username), password)
        with self._db.write() as tx:
            if tx.users_count():
                raise SetupClosed("setup is closed: accounts already exist")
            home = tx.add_household(household, now)
            user = tx.add_user(username, encoded, Role.OWNER.value, home.id, now)
            for camera in cameras:
                tx.assign_camera(camera, home.id)
        return user_info(user)

    def create_owner(self, username: str, password: str, household: str, now: float) -> UserInfo:
        """Creates a new household and its owner together, or neither.

        The password is checked (and hashed) before anything is written, and the household and
        the user share one write transaction: a refused password or a taken username never
        leaves a household with no owner behind.
        """
        encoded = self._new_password_hash(check_username(username), password)
        with self._db.write() as tx:
            if tx.user_by_key(username_key(username)) is not None:
                raise UsernameTaken(f"the username {username!r} is taken")
            home = tx.add_household(household, now)
            user = tx.add_user(username, encoded, Role.OWNER.value, home.id, now)
        return user_info(user)

    def create_household(self, name: str, now: float) -> int:
        """Creates a household; returns its id."""
        with self._db.write() as tx:
            return tx.add_household(name, now).id

    def assign_camera(self, camera: str, household_id: int) -> None:
        """Makes ``household_id`` the owner of ``camera`` (moving it from any other)."""
        with self._db.write() as tx:
            if tx.household(household_id) is None:
                raise AccountError(f"no household {household_id}")
            tx.assign_camera(camera, household_id)

    def unassign_camera(self, camera: str) -> None:
        """Makes ``camera`` nobody's: no household sees it any more."""
        with self._db.write() as tx:
            tx.unassign_camera(camera)

    def household_cameras(self, household_id: int) -> list[str]:
        """The cameras a household owns, by name."""
        with self._db.read() as tx:
            return tx.household_cameras(household_id)

    def camera_household(self, camera: str) -> int | None:
        """The household owning ``camera``; None if no household does (then nobody sees it)."""
        with self._db.read() as tx:
            return tx.camera_household(camera)

    # Users ------------------------------------------------------------------------------------

    def create_user(
        self, username: str, password: str, role: Role, household_id: int | None, now: float
    ) -> UserInfo:
        """Creates a user; owners and members need a household, admins and annotators none."""
        if needs_household(role) != (household_id is not None):
            raise AccountError(
                f"a {role.value} must belong to a household"
                if needs_household(role)
                else f"a {role.value} belongs to no household"
            )
        encoded = self._new_password_hash(check_username(username), password)
        with self._db.write() as tx:
            if household_id is not None and tx.household(household_id) is None:
                raise AccountError(f"no household {household_id}")
            if tx.user_by_key(username_key(username)) is not None:
                # One answer for every taken name: not whose, not which household, not even
                # the spelling the existing account has (names are unique across households).
                raise UsernameTaken(USERNAME_TAKEN)
            user = tx.add_user(username, encoded, role.value, household_id, now)
        return user_info(user)

    def user(self, user_id: int) -> UserInfo | None:
        """One user, or None."""
        with self._db.read() as tx:
            found = tx.user(user_id)
        return None if found is None else user_info(found)

    def check_password(self, user_id: int, password: str) -> bool:
        """Whether ``password`` is the user's (a signed-in user confirming a grave step, such as
        tying the household's recordings to it; not a login, so nothing is throttled here)."""
        with self._db.read() as tx:
            user = tx.user(user_id)
        return self._passwords.verify(None if user is None else user.password_hash, password)

    def list_users(self, household_id: int | None = None) -> list[UserInfo]:
        """Every user (of one household, if given), by id."""
        with self._db.read() as tx:
            return [user_info(u) for u in tx.users(household_id)]

    def delete_user(self, user_id: int) -> bool:
        """Deletes a user, their sessions and recovery codes; True if they existed."""
        with self._db.write() as tx:
            return tx.delete_user(user_id)

    def unlock_user(self, user_id: int) -> bool:
        """Forgets every failure at a user's name, from any client (an admin's action); True if
        the user exists."""
        with self._db.write() as tx:
            user = tx.user(user_id)
            if user is None:
                return False
            tx.clear_attempts(username_key(user.username))
            tx.set_lock(user_id, 0, 0.0)
            return True

    def _new_password_hash(self, username: str, password: str) -> str:
        """Checks a new password against the rules and hashes it (outside any transaction)."""
        problems = password_problems(password, username)
        if problems:
            raise PasswordRejected(problems)
        return self._passwords.hash(password)

    # Login ------------------------------------------------------------------------------------

    def authenticate(
        self,
        username: str,
        password: str,
        *,
        ip: str,
        user_agent: str,
        now: float,
        previous_token: str | None = None,
        device: str | None = None,
    ) -> LoginResult:
        """Checks a password; on success opens a session in the state the policy gives.

        Any session the client already had (``previous_token``) ends first, so a token planted
        before login is never the one that becomes logged in (session fixation). ``device`` is
        the id of a known device (``DeviceKeys.device``, already checked against ``username``):
        its attempts are counted against it alone, not against its address.
        """
        if previous_token:
            self.logout(previous_token)
        key = username_key(username)
        client = client_key(ip, device)
        with self._db.write() as tx:
            tx.prune_attempts(now - self._steps.limits.memory)
            wait = self._steps.wait(tx, key, client, now)
            if wait > 0:
                return LoginResult.failed(LoginFailure.THROTTLED, wait)
            attempt = tx.add_attempt(key, client, now)
            user = tx.user_by_key(key)
        # An unknown user is checked against the dummy hash: the same argon2 work either way.
        matched = self._passwords.verify(None if user is None else user.password_hash, password)
        if user is None or not matched:
            with self._db.write() as tx:
                self._steps.fail(tx, key, user, now)
            return LoginResult.failed(LoginFailure.INVALID_CREDENTIALS)
        rehash = (
            self._passwords.hash(password)
            if self._passwords.needs_rehash(user.password_hash)
            else None
        )
        with self._db.write() as tx:
            passed = self._password_passed(tx, user, attempt, rehash, Client(ip, user_agent), now)
            if passed.state is LoginState.ACTIVE:
                # Failures are forgiven once the whole login is done, never halfway, and only
                # this client's: the owner signing in must not wipe a guesser's count.
                tx.clear_attempts(key, client)
            return passed

    def _password_passed(
        self,
        tx: AccountTx,
        user: UserRecord,
        attempt: int,
        rehash: str | None,
        client: Client,
        now: float,
    ) -> LoginResult:
        """Opens the session once a password matched (inside the second write transaction)."""
        current = tx.user(user.id)
        # The user may have been deleted or changed their password while argon2 ran.
        if current is None or current.password_hash != user.password_hash:
            return LoginResult.failed(LoginFailure.INVALID_CREDENTIALS)
        tx.delete_attempt(attempt)
        if rehash is not None:
            tx.set_password_hash(user.id, rehash)
        state = self._steps.next(None, LoginStep.PASSWORD, current)
        if state is LoginState.ACTIVE:
            tx.record_login(user.id, now)
        token = self._steps.open(tx, current, state, mfa_passed=False, client=client, now=now)
        return LoginResult(state=state, token=token)

    def verify_mfa(
        self, token: str, code: str, now: float, device: str | None = None
    ) -> LoginResult:
        """Completes an MFA_PENDING login with a TOTP or recovery code; rotates the token.

        ``device``: as for ``authenticate``, checked against the session's user."""
        with self._db.write() as tx:
            record = self._steps.live(tx, token_id(token), now)
            if record is None or record.state != LoginState.MFA_PENDING.value:
                return LoginResult.failed(LoginFailure.NO_SESSION)
            user = tx.user(record.user_id)
            if user is None:
                return LoginResult.failed(LoginFailure.NO_SESSION)
            key = username_key(user.username)
            client = client_key(record.ip, device)
            wait = self._steps.wait(tx, key, client, now)
            if wait > 0:
                # A locked account's half-finished login is over; it starts again with a password.
                tx.delete_session(record.id)
                return LoginResult.failed(LoginFailure.THROTTLED, wait)
            if not second_factor_ok(tx, user, code, now):
                tx.add_attempt(key, client, now)
                self._steps.fail(tx, key, user, now)
                return LoginResult.failed(LoginFailure.INVALID_CODE)
            state = self._steps.next(LoginState(record.state), LoginStep.TOTP, user)
            tx.clear_attempts(key, client)
            tx.record_login(user.id, now)
            return self._steps.rotate(tx, record, user, state, now)

    # TOTP enrollment --------------------------------------------------------------------------

    def enroll_totp(self, token: str, now: float) -> TotpEnrollment:
        """Starts TOTP enrollment: a new secret, returned this once and never again.

        Allowed from ENROLL_PENDING (a role that requires TOTP) or ACTIVE (an owner or member
        turning it on). Raises NotAllowed otherwise or if TOTP is already on.
        """
        with self._db.write() as tx:
            _record, user = self._session_user(tx, token, now, Action.ENROLL_TOTP)
            if user.totp_enabled:
                raise NotAllowed("TOTP is already on; turn it off before enrolling again")
            secret = new_secret()
            # Stored but not enabled until a code proves the authenticator has it.
            tx.set_totp(user.id, secret, False, None)
            return TotpEnrollment(secret, provisioning_uri(secret, user.username))

    def confirm_totp(self, token: str, code: str, now: float) -> TotpConfirmation:
        """Turns TOTP on once a code from the new secret matches; rotates the session token.

        Every other session of the user ends (they were opened without the second factor), and
        ten recovery codes are returned, this once.
        """
        with self._db.write() as tx:
            record = self._steps.live(tx, token_id(token), now)
            if record is None or not permits(LoginState(record.state), Action.ENROLL_TOTP):
                return TotpConfirmation(LoginResult.failed(LoginFailure.NO_SESSION))
            user = tx.user(record.user_id)
            if user is None or user.totp_enabled or user.totp_secret is None:
                return TotpConfirmation(LoginResult.failed(LoginFailure.NO_SESSION))
            step = match_totp(user.totp_secret, code, now, None)
            if step is None:
                return TotpConfirmation(LoginResult.failed(LoginFailure.INVALID_CODE))
            state = self._steps.next(LoginState(record.state), LoginStep.ENROLLED, user)
            codes = new_recovery_codes()
            tx.set_totp(user.id, user.totp_secret, True, step)
            tx.replace_recovery_codes(user.id, [hash_recovery_code(c) for c in codes])
            tx.delete_user_sessions(user.id)
            if record.state == LoginState.ENROLL_PENDING.value:
                tx.clear_attempts(username_key(user.username), client_key(record.ip))
                tx.record_login(user.id, now)
            return TotpConfirmation(self._steps.rotate(tx, record, user, state, now), tuple(codes))

    def disable_totp(self, token: str, code: str, now: float) -> bool:
        """Turns TOTP off for an owner or member, given a current TOTP code; True if done.

        Raises NotAllowed for a role that requires TOTP or a session that is not active.
        """
        with self._db.write() as tx:
            record, user = self._session_user(tx, token, now, Action.USE_APP)
            if mfa_required(Role(user.role), self._mfa_roles):
                raise NotAllowed(f"TOTP is required for a {user.role}")
            key = username_key(user.username)
            client = client_key(record.ip)
            if self._steps.wait(tx, key, client, now) > 0:
                return False
            if not second_factor_ok(tx, user, code, now, recovery=False):
                tx.add_attempt(key, client, now)
                self._steps.fail(tx, key, user, now)
                return False
            tx.set_totp(user.id, None, False, None)
            tx.replace_recovery_codes(user.id, [])
            return True

    def recovery_codes_left(self, user_id: int) -> int:
        """How many unused recovery codes a user has."""
        with self._db.read() as tx:
            return tx.recovery_codes_left(user_id)

    def _session_user(
        self, tx: AccountTx, token: str, now: float, action: Action
    ) -> tuple[SessionRecord, UserRecord]:
        """The live session and its user, if the session's state permits ``action``."""
        record = self._steps.live(tx, token_id(token), now)
        user = None if record is None else tx.user(record.user_id)
        if record is None or user is None:
            raise NotAllowed("no session")
        if not permits(LoginState(record.state), action):
            raise NotAllowed(f"a {record.state} session cannot {action.value}")
        return record, user

    # Sessions ---------------------------------------------------------------------------------

    def session(self, token: str, now: float) -> SessionInfo | None:
        """The session behind a cookie, or None if there is none or it has ended.

        A pending session is returned too, with its state: the caller lets it do only what
        ``policy.permits`` allows (``SessionInfo.active`` for everything else).
        """
        if not token:
            return None
        session_id = token_id(token)
        with self._db.read() as tx:
            record = tx.session(session_id)
            user = None if record is None else tx.user(record.user_id)
        if record is None or user is None:
            return None
        if self._policy.is_expired(record.last_seen, record.expires, now):
            self.logout(token)
            return None
        if now - record.last_seen >= self._policy.touch_every:
            with self._db.write() as tx:
                tx.touch_session(session_id, now)
        return session_info(record, user)

    def logout(self, token: str) -> bool:
        """Ends the session behind a cookie; True if there was one."""
        with self._db.write() as tx:
            return tx.delete_session(token_id(token))

    def revoke_all(self, user_id: int) -> int:
        """Ends every session of a user; returns how many."""
        with self._db.write() as tx:
            return tx.delete_user_sessions(user_id)

    def prune_sessions(self, now: float) -> int:
        """Deletes every ended session (the app may call this now and then); returns how many."""
        with self._db.write() as tx:
            return tx.delete_ended_sessions(now, self._policy.idle)

    # Passwords --------------------------------------------------------------------------------

    def change_password(
        self, token: str, old_password: str, new_password: str, now: float
    ) -> LoginResult:
        """Changes the session user's password given the old one.

        Every session of the user ends; the caller gets a new ACTIVE session in the result. A
        wrong old password counts as a failed login. Raises PasswordRejected for a weak one.
        """
        with self._db.write() as tx:
            record, user = self._session_user(tx, token, now, Action.USE_APP)
        encoded = self._new_password_hash(user.username, new_password)
        key = username_key(user.username)
        with self._db.write() as tx:
            wait = self._steps.wait(tx, key, client_key(record.ip), now)
            if wait > 0:
                return LoginResult.failed(LoginFailure.THROTTLED, wait)
            attempt = tx.add_attempt(key, client_key(record.ip), now)
        if not self._passwords.verify(user.password_hash, old_password):
            with self._db.write() as tx:
                self._steps.fail(tx, key, user, now)
            return LoginResult.failed(LoginFailure.INVALID_CREDENTIALS)
        with self._db.write() as tx:
            tx.delete_attempt(attempt)
            tx.set_password_hash(user.id, encoded)
            tx.delete_user_sessions(user.id)
            client = Client(record.ip, record.user_agent)
            state = LoginState.ACTIVE
            token = self._steps.open(
                tx, user, state, mfa_passed=record.mfa_passed, client=client, now=now
            )
        return LoginResult(state=LoginState.ACTIVE, token=token)

    def set_password(self, user_id: int, new_password: str) -> bool:
        """Sets a password without the old one (an admin reset, the CLI); True if the user exists.

        Ends every session of the user and lifts any lockout.
        """
        with self._db.read() as tx:
            user = tx.user(user_id)
        if user is None:
            return False
        encoded = self._new_password_hash(user.username, new_password)
        with self._db.write() as tx:
            tx.set_password_hash(user_id, encoded)
            tx.delete_user_sessions(user_id)
            tx.clear_attempts(username_key(user.username))
            tx.set_lock(user_id, 0, 0.0)
        return True
