"""Enrolment links over a real SQLite file: stored hashed, used once, expire, a TOTP reset takes
the password and TOTP away; and the zxcvbn rule on new passwords."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import text

from hearthcam.accounts import (
    Accounts,
    Enrolled,
    EnrolmentDone,
    LinkInvalid,
    LoginFailure,
    LoginState,
    PasswordRejected,
    Role,
)
from hearthcam.accounts.login import Client
from hearthcam.accounts.passwords import password_problems
from hearthcam.accounts.sessions import token_id
from hearthcam.accounts.strength import MIN_SCORE, estimate
from hearthcam.store.db import Store
from tests.support.account_factories import PASSWORD, T0

CLIENT = Client("192.0.2.7", "pytest")
NEW = "a kettle sings at dusk"


def finish(accounts: Accounts, token: str, now: float = T0) -> tuple[str, EnrolmentDone]:
    enrollment = accounts.enrolment.start_totp(token, now)
    code = pyotp.TOTP(enrollment.secret).at(now)
    done = accounts.enrolment.complete(token, NEW, code, CLIENT, now)
    return enrollment.secret, done


def test_invited_annotator_enrols_once_and_signs_in(accounts: Accounts, store: Store) -> None:
    invite = accounts.enrolment.invite("rita", Role.ANNOTATOR, None, T0)
    assert accounts.enrolment.state(invite.user.id, T0) is Enrolled.INVITED
    # Only the token's hash is stored.
    with store.read_session() as session:
        stored = session.execute(text("SELECT id FROM enrolment_links")).scalars().all()
    assert stored == [token_id(invite.token)]
    assert invite.token not in stored
    # No password yet: nothing signs in.
    assert not accounts.authenticate("rita", "", ip="x", user_agent="t", now=T0).ok
    assert accounts.enrolment.pending(invite.token, T0).username == "rita"

    secret, done = finish(accounts, invite.token)
    assert done.result.state is LoginState.ACTIVE
    assert len(done.recovery_codes) == 10
    assert accounts.enrolment.state(invite.user.id, T0) is Enrolled.DONE

    # Used once: every later use is refused, whatever the step.
    with pytest.raises(LinkInvalid):
        accounts.enrolment.pending(invite.token, T0)
    with pytest.raises(LinkInvalid):
        accounts.enrolment.start_totp(invite.token, T0)
    with pytest.raises(LinkInvalid):
        accounts.enrolment.complete(invite.token, NEW, "000000", CLIENT, T0)

    login = accounts.authenticate("rita", NEW, ip="x", user_agent="t", now=T0 + 60)
    assert login.state is LoginState.MFA_PENDING
    assert login.token is not None
    code = pyotp.TOTP(secret).at(T0 + 60)
    assert accounts.verify_mfa(login.token, code, T0 + 60).state is LoginState.ACTIVE


def test_link_expires(accounts: Accounts) -> None:
    invite = accounts.enrolment.invite("rita", Role.ANNOTATOR, None, T0)
    later = invite.expires
    with pytest.raises(LinkInvalid):
        accounts.enrolment.pending(invite.token, later)
    with pytest.raises(LinkInvalid):
        accounts.enrolment.start_totp(invite.token, later)
    assert accounts.enrolment.state(invite.user.id, later) is Enrolled.EXPIRED


def test_wrong_code_or_weak_password_does_not_use_the_link(accounts: Accounts) -> None:
    invite = accounts.enrolment.invite("rita", Role.ADMIN, None, T0)
    accounts.enrolment.start_totp(invite.token, T0)
    wrong = accounts.enrolment.complete(invite.token, NEW, "000000", CLIENT, T0)
    assert wrong.result.failure is LoginFailure.INVALID_CODE
    with pytest.raises(PasswordRejected, match="easy to guess"):
        accounts.enrolment.complete(invite.token, "password1234", "000000", CLIENT, T0)
    _secret, done = finish(accounts, invite.token)
    assert done.result.ok


def test_reset_takes_password_and_totp_and_gives_a_new_link(accounts: Accounts) -> None:
    invite = accounts.enrolment.invite("rita", Role.ANNOTATOR, None, T0)
    _secret, done = finish(accounts, invite.token)
    reset = accounts.enrolment.reset(invite.user.id, T0 + 10)
    assert reset is not None
    assert reset.token != invite.token
    assert accounts.session(done.result.token or "", T0 + 10) is None
    user = accounts.user(invite.user.id)
    assert user is not None
    assert not user.totp_enabled
    # The old password is gone: whoever has it cannot sign in and enrol their own TOTP.
    assert not accounts.authenticate("rita", NEW, ip="x", user_agent="t", now=T0 + 20).ok
    assert accounts.enrolment.state(invite.user.id, T0 + 20) is Enrolled.INVITED
    _secret, again = finish(accounts, reset.token, T0 + 30)
    assert again.result.ok
    assert accounts.enrolment.reset(999_999, T0) is None


def test_a_new_link_replaces_the_old(accounts: Accounts) -> None:
    invite = accounts.enrolment.invite("rita", Role.ANNOTATOR, None, T0)
    reset = accounts.enrolment.reset(invite.user.id, T0)
    assert reset is not None
    with pytest.raises(LinkInvalid):
        accounts.enrolment.pending(invite.token, T0)
    assert accounts.enrolment.pending(reset.token, T0).username == "rita"


def test_invite_keeps_the_role_rules(accounts: Accounts, home: int) -> None:
    member = accounts.enrolment.invite("kid", Role.MEMBER, home, T0)
    assert member.user.household_id == home
    with pytest.raises(Exception, match="must belong to a household"):
        accounts.enrolment.invite("kid2", Role.MEMBER, None, T0)
    with pytest.raises(Exception, match="belongs to no household"):
        accounts.enrolment.invite("rev", Role.ANNOTATOR, home, T0)
    with pytest.raises(Exception, match="not available"):
        accounts.enrolment.invite("ALICE", Role.MEMBER, home, T0)


@pytest.mark.parametrize(
    ("password", "acceptable"),
    [
        ("password1234", False),
        ("qwertyuiop12", False),
        ("aaaaaaaaaaaaaaaa", False),
        ("hearthcam2026", False),
        ("abcdefghijkl", False),
        (PASSWORD, True),
        ("a kettle sings at dusk", True),
    ],
)
def test_zxcvbn_rule(password: str, acceptable: bool) -> None:
    assert (estimate(password, ("alice",)).score >= MIN_SCORE) is acceptable
    problems = password_problems(password, "bob")
    assert (not problems) is acceptable, problems
    if not acceptable:
        assert problems[0].startswith("a password this easy to guess is refused")


def test_change_password_refuses_a_guessable_one(accounts: Accounts, home: int) -> None:
    login = accounts.authenticate("alice", PASSWORD, ip="x", user_agent="t", now=T0)
    assert login.token is not None
    with pytest.raises(PasswordRejected, match="easy to guess"):
        accounts.change_password(login.token, PASSWORD, "letmein12345", T0)
