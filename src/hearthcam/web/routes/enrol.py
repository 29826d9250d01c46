"""Enrolment by one-time link, and the password strength check the meters ask.

Both work without a session (an invited user has none yet; setup has none either), so they sit
with login on the public router: no CSRF token to echo, a browser's cross-site POST is refused
by its Origin. The link's token travels in the body, never in a URL a log could keep. The last
step signs the new user in (any session the browser had ends first).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from hearthcam.accounts import LinkInvalid
from hearthcam.accounts.login import Client
from hearthcam.accounts.passwords import password_problems
from hearthcam.accounts.strength import MIN_SCORE, estimate
from hearthcam.web.deps import Services, same_origin_only, session_token
from hearthcam.web.routes.common import client_ip, errors, open_session, raise_failure, user_agent
from hearthcam.web.user_schemas import (
    EnrolIn,
    EnrolledOut,
    EnrolmentOut,
    StrengthIn,
    StrengthOut,
    TokenIn,
    TotpSecretOut,
)

router = APIRouter(prefix="/api", tags=["auth"], dependencies=[Depends(same_origin_only)])


@router.post("/enrol/info", response_model=EnrolmentOut, responses=errors(403, 422))
def enrolment_info(body: TokenIn, services: Services) -> EnrolmentOut:
    """Who a live link is for; ``valid`` false for a used, expired, replaced or unknown one."""
    try:
        user = services.accounts.enrolment.pending(body.token, services.clock())
    except LinkInvalid:
        return EnrolmentOut(valid=False)
    return EnrolmentOut(valid=True, username=user.username, role=user.role)


@router.post("/enrol/totp", response_model=TotpSecretOut, responses=errors(400, 403, 422))
def enrolment_totp(body: TokenIn, services: Services) -> TotpSecretOut:
    """A new TOTP secret for the link's user; it is on once the last step's code matches."""
    found = services.accounts.enrolment.start_totp(body.token, services.clock())
    return TotpSecretOut(secret=found.secret, uri=found.uri)


@router.post("/enrol", response_model=EnrolledOut, responses=errors(400, 401, 403, 422))
def enrol(body: EnrolIn, request: Request, response: Response, services: Services) -> EnrolledOut:
    """Sets the password, turns TOTP on and uses the link up; signs the new user in."""
    client = Client(client_ip(request, services), user_agent(request))
    done = services.accounts.enrolment.complete(
        body.token, body.password, body.code, client, services.clock()
    )
    raise_failure(done.result, (401, "invalid code"))
    # Only once the link worked: a bad link must not sign the browser out of anything.
    previous = session_token(request)
    if previous:
        services.accounts.logout(previous)
    state = open_session(response, request, services, done.result)
    return EnrolledOut(
        state=state.state, csrf_token=state.csrf_token, recovery_codes=list(done.recovery_codes)
    )


@router.post("/password/strength", response_model=StrengthOut, responses=errors(403, 422))
def password_strength(body: StrengthIn) -> StrengthOut:
    """zxcvbn's score of a password and the verdict the password rules give it: the same
    function setup, enrolment and a password change call, so the meter cannot disagree."""
    found = estimate(body.password, (body.username,) if body.username else ())
    problems = password_problems(body.password, body.username)
    return StrengthOut(
        score=found.score,
        acceptable=not problems,
        min_score=MIN_SCORE,
        reason=problems[0] if problems else "",
    )
