"""The caller's own account: who they are, TOTP enrollment, password change."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from hearthcam.accounts import LoginFailure, SessionInfo
from hearthcam.store.accounts import AccountStore
from hearthcam.web.cookies import set_session_cookie
from hearthcam.web.deps import (
    AccountUser,
    AnySession,
    EnrollSession,
    Services,
    csrf_protect,
    session_token,
)
from hearthcam.web.routes.common import errors, raise_failure
from hearthcam.web.schemas import CodeIn, MeOut, PasswordIn, TotpConfirmOut, TotpEnrollOut
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api/me", tags=["me"], dependencies=[Depends(csrf_protect)])


def describe(services: WebServices, session: SessionInfo) -> MeOut:
    """The /api/me answer for a session (pages get the same, less the token, as ``user``)."""
    user = services.accounts.user(session.user_id)
    household = None
    if session.household_id is not None:
        # Accounts has no household-name read yet; the account tables are the store's to read.
        with AccountStore(services.store).read() as tx:
            record = tx.household(session.household_id)
        household = None if record is None else record.name
    return MeOut(
        username=session.username,
        role=session.role,
        household=household,
        state=session.state,
        mfa_enabled=user is not None and user.totp_enabled,
        csrf_token=session.csrf_token,
    )


def _token(request: Request) -> str:
    token = session_token(request)
    if token is None:  # unreachable once a session dependency passed
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    return token


@router.get("", response_model=MeOut, responses=errors(401))
def me(services: Services, session: AnySession) -> MeOut:
    """The session's user, login state and CSRF token."""
    return describe(services, session)


@router.post("/totp/enroll", response_model=TotpEnrollOut, responses=errors(401, 403, 409))
def totp_enroll(request: Request, services: Services, _session: EnrollSession) -> TotpEnrollOut:
    """A new TOTP secret for the authenticator app (409 if TOTP is already on)."""
    enrollment = services.accounts.enroll_totp(_token(request), services.clock())
    return TotpEnrollOut(secret=enrollment.secret, uri=enrollment.uri)


@router.post(
    "/totp/confirm", response_model=TotpConfirmOut, responses=errors(400, 401, 403, 409, 422)
)
def totp_confirm(
    body: CodeIn,
    request: Request,
    response: Response,
    services: Services,
    _session: EnrollSession,
) -> TotpConfirmOut:
    """Turns TOTP on with a first code; the session becomes active with a new token."""
    confirmation = services.accounts.confirm_totp(_token(request), body.code, services.clock())
    result = confirmation.result
    if result.failure is LoginFailure.NO_SESSION:
        # The session was checked just before: what is missing is an enrollment to confirm.
        raise HTTPException(status.HTTP_409_CONFLICT, "no TOTP enrollment in progress")
    raise_failure(result, (status.HTTP_400_BAD_REQUEST, "invalid code"))
    token = result.token
    session = None if token is None else services.accounts.session(token, services.clock())
    if token is None or session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    set_session_cookie(response, request, services, token, session)
    return TotpConfirmOut(
        state=session.state,
        csrf_token=session.csrf_token,
        recovery_codes=list(confirmation.recovery_codes),
    )


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 403, 422, 429),
)
def change_password(
    body: PasswordIn, request: Request, services: Services, _user: AccountUser
) -> Response:
    """Changes the password; every other session of the user ends, this one gets a new token."""
    result = services.accounts.change_password(
        _token(request), body.current, body.new, services.clock()
    )
    raise_failure(result, (status.HTTP_400_BAD_REQUEST, "the current password is wrong"))
    if _user.household_id is not None:
        # Password mode: the household key follows its owner's password (the old one opened it).
        services.keys.password_changed(_user.household_id, body.current, body.new)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    token = result.token
    session = None if token is None else services.accounts.session(token, services.clock())
    if token is not None and session is not None:
        set_session_cookie(response, request, services, token, session)
    return response
